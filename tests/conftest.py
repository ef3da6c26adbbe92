"""Test-wide settings.

``host`` is pinned to a profile file measured once (``tests/data/host_pinned.yaml``), so that no
test's figures depend on the machine that runs it; the tests of the host measurement itself unset
the pin. Child processes started by the tests inherit it through the environment. The
``litert_converter`` fixture gives the tests that convert to LiteRT its converter interpreter.
"""

import os
from pathlib import Path

import pytest

PINNED_HOST_PROFILE = Path(__file__).parent / "data" / "host_pinned.yaml"

os.environ["EDGESPACE_HOST_PROFILE"] = str(PINNED_HOST_PROFILE)

#: Set where the LiteRT converter environment was created before the tests (CI does): its absence then fails.
REQUIRE_LITERT_ENV = "EDGESPACE_TEST_LITERT"


@pytest.fixture(scope="session")
def litert_converter():
    """The LiteRT converter's interpreter, which edgespace creates on the first LiteRT export (~1 GB,
    about a minute). Without it the tests that convert to LiteRT skip and say so, except where
    ``$EDGESPACE_TEST_LITERT`` is set (CI creates the environment first): there they fail."""
    from edgespace.exporters._litert_env import converter_python

    found = converter_python()
    if found is None:
        why = "the LiteRT converter environment is not cached here (export(format='litert') creates it, ~1 GB)"
        if os.environ.get(REQUIRE_LITERT_ENV):
            pytest.fail(f"{why}, and ${REQUIRE_LITERT_ENV} says it was created before the tests")
        pytest.skip(why)
    return found
