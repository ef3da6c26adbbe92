"""The one tree of edgespace errors.

Every error edgespace raises on purpose subclasses :class:`EdgespaceError`, and, where the
cause is a bad value, also :class:`ValueError`, so ``except ValueError`` keeps working for
callers who do not know edgespace.
"""

from __future__ import annotations


class EdgespaceError(Exception):
    """Root of all edgespace errors."""


class SpecError(EdgespaceError, ValueError):
    """An architecture spec (or an arch-def string) holds a value outside what is allowed."""


class ProfileError(EdgespaceError, ValueError):
    """A hardware profile is missing, malformed, or holds a value outside what is allowed."""


class UnavailableError(EdgespaceError, RuntimeError):
    """An optional backend or meter (TensorRT, NVML, Jetson rails, ...) is not present here."""
