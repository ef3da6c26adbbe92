"""Reading a calibration file (``format: edgespace-calibration/1``, written by
:meth:`Calibration.save`): its runs and samples checked, the model refitted (deterministic; a
document already loaded in this process reuses its fitted model). Registered with the
calibration door under that format."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from edgespace._errors import CalibrationError
from edgespace.calibration._calibrate import Calibration
from edgespace.calibration._fitting import _fit, _report
from edgespace.calibration._model import FEATURES, SegmentLatencyModel

__all__ = ["calibration_from_doc"]


#: Models refitted on load, by the hash of what they were fitted on: the fit is deterministic,
#: and a search, its workers and its confirmations load the same file more than once.
_FITTED: dict[str, SegmentLatencyModel] = {}


def calibration_from_doc(data: dict, p) -> Calibration:
    """The calibration a file written by :meth:`Calibration.save` holds (``data``, read from
    ``p``), its model refitted (deterministic; a document already loaded in this process reuses
    its fitted model). Registered with the calibration door under :data:`FORMAT`."""
    for key in ("provenance", "runs", "samples", "model"):
        if key not in data:
            raise CalibrationError(f"{p}: {key}: missing")
    samples = pd.DataFrame(data["samples"])
    missing = [c for c in ("run", *FEATURES, "time_us") if c not in samples.columns]
    if missing:
        raise CalibrationError(f"{p}: samples: missing columns {missing}")
    runs = pd.DataFrame([{"run": k, **r} for k, r in enumerate(data["runs"])]).set_index("run")
    params = {k: v for k, v in data["model"].get("params", {}).items()}
    key = hashlib.sha1(
        json.dumps([data["samples"], data["runs"], params], sort_keys=True, default=float).encode()
    ).hexdigest()
    model = _FITTED.get(key)
    if model is None:
        model = _fit(samples, runs, params)
        _FITTED[key] = model
        while len(_FITTED) > 8:
            _FITTED.pop(next(iter(_FITTED)))
    report = data.get("report", {})
    if (report.get("interval") or {}) and "quantile" not in report["interval"]:
        # stated by an earlier version (one band for every network): recomputed from the runs
        report = {**report, **_report(samples, runs, model, params)}
    power = {}
    if data.get("power"):
        from edgespace.calibration._power import PowerModel

        try:
            power = {m: PowerModel.from_dict(d) for m, d in data["power"].items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"{p}: power: {type(exc).__name__}: {exc}") from None
    cal = Calibration(
        profile=data.get("profile", "custom"),
        provenance=data["provenance"],
        samples=samples,
        runs=runs,
        report=report,
        model=model,
        applies_to=data.get("applies_to") or {},
        power=power,
    )
    cal.check_stored_id(p, data.get("id"))
    return cal
