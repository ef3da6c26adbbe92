"""Test-wide settings.

``host`` is pinned to a profile file measured once (``tests/data/host_pinned.yaml``), so that no
test's figures depend on the machine that runs it; the tests of the host measurement itself unset
the pin. Child processes started by the tests inherit it through the environment.
"""

import os
from pathlib import Path

PINNED_HOST_PROFILE = Path(__file__).parent / "data" / "host_pinned.yaml"

os.environ["EDGESPACE_HOST_PROFILE"] = str(PINNED_HOST_PROFILE)
