"""A calibration refitted with more runs: the networks a search confirmed, folded into the
calibration's own samples (what :meth:`Calibration.with_runs` returns, and what a search's
refine rounds use)."""

from __future__ import annotations

import datetime as _dt

import pandas as pd

from edgespace._errors import CalibrationError
from edgespace.calibration._calibrate import Calibration
from edgespace.calibration._fitting import _fit, _report, training_samples

__all__ = ["fold_runs"]


def _check_run(cal: Calibration, m, k: int) -> None:
    """A run folded into ``cal`` must be timed as its own runs were: same threads, provider and
    precision, with node times."""
    spec = getattr(m, "spec", None)
    if spec is None or getattr(m, "node_profile", None) is None:
        raise CalibrationError(f"run {k}: no node profile; fold only runs measured with profile=True")
    want = cal.applies_to
    got = {
        "threads": getattr(m, "threads", None),
        "provider": getattr(m, "provider", None),
        "precision": spec.precision,
    }
    for key, value in got.items():
        if want.get(key) not in (None, value):
            raise CalibrationError(
                f"run {k} ({spec.short_name()}): {key} {value!r}; calibration {cal.id} was measured with "
                f"{key} {want[key]!r}: a run folded into it must be timed the same way"
            )


def fold_runs(cal: Calibration, measurements, *, note: str = "") -> Calibration:
    """``cal`` refitted on its runs plus ``measurements`` (:class:`~edgespace.runners.Measurement`
    with node profiles, timed as the calibration's own networks were: see :func:`_check_run`).
    The new calibration has a new ``id``, its held-out error and interval recomputed over all of
    its networks, and its provenance says what it was refined from (``refined``: one entry per
    fold, with the earlier id and the networks added). Power models are kept as they were (the
    confirmed runs are not metered in the same way)."""
    items = list(measurements)
    if not items:
        raise CalibrationError(f"calibration {cal.id}: no runs to fold in")
    for k, m in enumerate(items):
        _check_run(cal, m, k)
    new_samples, new_runs = training_samples(items, normalize=bool(cal.provenance.get("normalized_to_e2e", True)))
    offset = int(cal.runs.index.max()) + 1 if len(cal.runs) else 0
    new_samples["run"] = new_samples["run"] + offset
    new_runs.index = new_runs.index + offset
    samples = pd.concat([cal.samples, new_samples[list(cal.samples.columns)]], ignore_index=True)
    runs = pd.concat([cal.runs, new_runs[list(cal.runs.columns)]])
    runs.index.name = "run"
    params = dict(cal.to_dict(with_id=False)["model"]["params"])
    model = _fit(samples, runs, params)
    prov = dict(cal.provenance)
    prov.update(
        date=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        networks=int(len(runs)),
        segments=int(len(samples)),
        families=sorted({r["family"] for r in runs["spec"]}),
    )
    prov["refined"] = [
        *prov.get("refined", []),
        {"from": cal.id, "networks_added": len(items), **({"note": note} if note else {})},
    ]
    return Calibration(
        profile=cal.profile,
        provenance=prov,
        samples=samples,
        runs=runs,
        report=_report(samples, runs, model, params),
        model=model,
        applies_to=dict(cal.applies_to),
        power=dict(cal.power),
    )
