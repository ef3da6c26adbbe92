"""The one tree of edgespace errors.

Every error edgespace raises on purpose subclasses :class:`EdgespaceError`, and, where the
cause is a bad value, also :class:`ValueError`, so ``except ValueError`` keeps working for
callers who do not know edgespace. One type per domain:

* :class:`SpecError`: an architecture spec or an estimate argument;
* :class:`ProfileError`: a hardware profile file or name;
* :class:`BudgetError`: an energy budget or a feasibility argument;
* :class:`SearchError`: a space, objective, constraint, sampler, storage or journal;
* :class:`CalibrationError`: a calibration or capture file, or calibration input;
* :class:`UnavailableError`: a backend, provider or meter that is not present here.

The command line prints any of them as one line and exits 2.
"""

from __future__ import annotations


class EdgespaceError(Exception):
    """Root of all edgespace errors."""


class SpecError(EdgespaceError, ValueError):
    """An architecture spec (or an arch-def string) holds a value outside what is allowed."""


class SpecTypeError(SpecError, TypeError):
    """An argument that must be an ArchSpec (or another edgespace type) is something else; a
    TypeError too, so ``except TypeError`` keeps working."""


class ProfileError(EdgespaceError, ValueError):
    """A hardware profile is missing, malformed, or holds a value outside what is allowed."""


class BudgetError(EdgespaceError, ValueError):
    """A budget field is missing, negative, out of range or inconsistent with another field."""


class SearchError(EdgespaceError, ValueError):
    """A search was given a bad space, objective, constraint, sampler or storage, a stored study
    does not match the search asked for, or its journal file is damaged."""


class UnavailableError(EdgespaceError, RuntimeError):
    """An optional backend or meter (TensorRT, NVML, Jetson rails, ...) is not present here."""


class CalibrationError(EdgespaceError, ValueError):
    """Calibration input is unusable: too few networks, no node times, a bad calibration or
    capture file (the message names the file, the entry and the field)."""


class IngestError(CalibrationError):
    """A profile file cannot be read or is not in the format its reader expects."""


class NotFoundError(UnavailableError, ValueError):
    """A backend, provider or meter name that nothing here provides (a typo, or an optional
    package that is not installed); the message lists what exists."""
