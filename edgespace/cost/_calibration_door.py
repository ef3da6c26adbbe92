"""The calibration door: what cost asks of a calibration, and how a calibration given as a file
or as stored JSON becomes one.

The interface lives here, beside the estimate that uses it (as Optuna keeps ``BaseStorage`` and
``get_storage`` beside the study); :mod:`edgespace.calibration` implements it and registers a
loader for each file format it writes (``register_calibration_format``). A file's ``format`` tag
picks its loader. The packages in :data:`CALIBRATION_PROVIDERS` register their loaders when
imported; the door imports them the first time it meets a tag it does not know, so a calibration
file loads wherever a profile is accepted without the caller importing its implementation.
"""

from __future__ import annotations

import abc
import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgespace._errors import CalibrationError
from edgespace._paths import read_input

__all__ = [
    "APPLIES_KEYS",
    "CALIBRATION_PROVIDERS",
    "CalibrationBase",
    "as_calibration",
    "calibration_from_dict",
    "load_calibration",
    "register_calibration_format",
]

#: The keys a calibration applies to (what a measurement was taken on): an estimate uses the
#: calibrated model only where profile, mode and precision match; the others are recorded so
#: that a GPU (trtexec, NVML) or Jetson (tegrastats) calibration goes through the same door.
APPLIES_KEYS = ("profile", "mode", "precision", "runtime", "provider", "threads", "batch")

#: Packages that register calibration loaders when imported (tried for an unknown format tag).
CALIBRATION_PROVIDERS: list[str] = ["edgespace.calibration"]

#: format tag -> loader(doc, where) -> CalibrationBase
_LOADERS: dict[str, Callable[[dict, str], CalibrationBase]] = {}


class CalibrationBase(abc.ABC):
    """The door every calibration goes through (per-operator CPU/ONNX Runtime fits,
    GPU calibrations from CUDA-graph / TensorRT runs): cost asks only :meth:`applies`,
    :meth:`predict_resolutions_ms` and :meth:`predict_energy_mj`; studies store :meth:`to_dict`
    (reloaded by :func:`load_calibration`, which dispatches on the file's ``format``) and show
    :meth:`summary`. ``id`` is a short hash of the content."""

    id: str
    applies_to: dict

    @property
    def source(self) -> str:
        """How latencies from this calibration are labelled: ``calibrated:<id>``."""
        return f"calibrated:{self.id}"

    @abc.abstractmethod
    def applies(self, profile: str, mode: str, precision: str, batch: int = 1) -> bool:
        """Whether this calibration describes ``profile``'s ``mode`` at ``precision`` and ``batch``."""

    @abc.abstractmethod
    def predict_resolutions_ms(
        self, family: str, width: float, depth: float, num_classes: int, precision: str, resolutions, batch: int = 1
    ) -> np.ndarray:
        """Latency per call of ``batch`` images (ms) of one structure at each of ``resolutions``."""

    @abc.abstractmethod
    def predict_energy_mj(self, mode: str, specs) -> np.ndarray | None:
        """Metered-model energy per image (mJ) of ``specs`` in ``mode``, or None where it has none."""

    def latency_band(self, specs) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(low_factors, high_factors, coverage)`` for each of ``specs``: the calibration
        states that the share ``coverage`` of networks like those it measured and held out of
        its fit have their latency within ``[low_factor, high_factor]`` times the prediction;
        None where it states no interval."""
        return None

    def energy_band(self, mode: str, specs) -> tuple[np.ndarray, np.ndarray, float] | None:
        """``(low_factors, high_factors, coverage)`` around the metered energy of ``mode`` for
        each of ``specs``; None where the calibration states no energy interval."""
        return None

    def with_runs(self, measurements, *, note: str = "") -> CalibrationBase:
        """A new calibration fitted to this one's runs plus ``measurements`` (real runs of
        the networks a search confirmed, timed and profiled as this calibration's own were).
        It has a new ``id``. A calibration that cannot take such runs raises
        :class:`CalibrationError` naming its kind."""
        raise CalibrationError(
            f"{type(self).__name__} {self.id}: cannot take confirmed runs into its fit; refine needs a "
            "per-operator calibration (edgespace calibrate, or calibrate --from a capture set)"
        )

    @abc.abstractmethod
    def summary(self) -> dict:
        """What a study stores in its definition and a report shows."""

    @abc.abstractmethod
    def to_dict(self) -> dict:
        """The file's JSON (with ``format`` and ``id``)."""

    def check_stored_id(self, path, stored) -> None:
        """Refuse a file whose stored ``id`` is not the hash of what it holds (it was edited); a
        file without an id keeps the recomputed one, labelled ``<id>-edited``."""
        if stored is None or stored == f"{self.id}-edited":
            self.id = f"{self.id}-edited"
            return
        if stored != self.id:
            raise CalibrationError(
                f"{path}: id: stored {stored!r}, content hashes to {self.id!r}: the file was edited; "
                "calibrate again (or remove the id to accept the edit)"
            )


def register_calibration_format(fmt: str, loader: Callable[[dict, str], CalibrationBase]) -> None:
    """Make :func:`load_calibration` read documents whose ``format`` is ``fmt`` with
    ``loader(doc, where)`` (``where`` names the file or the store, for error messages)."""
    _LOADERS[fmt] = loader


def _loader(fmt) -> Callable[[dict, str], CalibrationBase] | None:
    if fmt not in _LOADERS:
        for name in CALIBRATION_PROVIDERS:
            importlib.import_module(name)
    return _LOADERS.get(fmt)


def calibration_from_dict(doc, where: str = "<calibration>") -> CalibrationBase:
    """The calibration a JSON document describes (a file's content, or a study's stored copy),
    by its ``format`` tag."""
    if not isinstance(doc, dict):
        raise CalibrationError(f"{where}: expected a JSON object with a 'format', got {type(doc).__name__}")
    loader = _loader(doc.get("format"))
    if loader is None:
        allowed = " or ".join(repr(f) for f in _LOADERS) or "a registered calibration format"
        raise CalibrationError(f"{where}: format: {doc.get('format')!r}: expected {allowed}")
    from edgespace.cost._calibration_checks import check_calibration_numbers

    check_calibration_numbers(where, doc, CalibrationError)  # with or without an id
    return loader(doc, where)


def load_calibration(path: str | os.PathLike) -> CalibrationBase:
    """Read a calibration file of any registered kind, by its ``format``."""
    p = Path(path)
    try:
        doc = json.loads(read_input(p, CalibrationError))
    except FileNotFoundError:
        raise CalibrationError(f"{p}: no such calibration file") from None
    except OSError as exc:
        raise CalibrationError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{p}: not JSON ({exc})") from None
    return calibration_from_dict(doc, str(p))


def as_calibration(obj, *, what: str = "calibration") -> CalibrationBase | None:
    """None, a calibration (any :class:`CalibrationBase`), or the path of a calibration file
    (loaded)."""
    if obj is None or isinstance(obj, CalibrationBase):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load_calibration(obj)
    raise CalibrationError(
        f"{what}={obj!r}: give a calibration (edgespace.calibrate(...)) or the path of a calibration file"
    )
