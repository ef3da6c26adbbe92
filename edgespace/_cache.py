"""Where edgespace caches what it measured or built (host profile, ONNX exports, calibrations).

One function for every package, so that ``$EDGESPACE_CACHE_DIR`` moves all of it at once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["CACHE_DIR_ENV", "cache_dir"]

#: Environment variable overriding the cache directory.
CACHE_DIR_ENV = "EDGESPACE_CACHE_DIR"


def cache_dir() -> Path:
    """``$EDGESPACE_CACHE_DIR``, else the platform's user cache directory plus ``edgespace``
    (``~/.cache/edgespace`` on Linux, honouring ``$XDG_CACHE_HOME``). Not created here."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "edgespace"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "edgespace" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgespace"
