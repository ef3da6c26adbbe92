"""Data files shipped with edgespace (read with importlib.resources)."""
