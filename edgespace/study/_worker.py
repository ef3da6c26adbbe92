"""``run_worker``: join a stored study from another process or machine and evaluate its trials
with the space, profile, objectives, constraints and calibration its definition holds."""

from __future__ import annotations

import os
from collections.abc import Callable

from edgespace.study._definition import (
    CALIBRATION_KEY,
    FORMAT,
    load_search,
    stored_search_args,
    unpack_calibration,
)
from edgespace.study._errors import SearchError
from edgespace.study._loop import search
from edgespace.study._named_space import space_from_dict
from edgespace.study._result import SearchResult

__all__ = ["run_worker"]


def run_worker(
    storage,
    study_name: str,
    *,
    n_trials: int | None = None,
    accuracy=None,
    seed: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    calibration=None,
    **kwargs,
) -> SearchResult:
    """Join the study ``study_name`` in ``storage`` and evaluate trials until it holds
    ``n_trials`` (default: the target of the search that defined it). The space, profile,
    objectives, constraints and calibration come from the study's stored definition;
    ``calibration`` (optional) must be the one the study holds (same id), else it is refused."""
    definition, run, attrs = load_search(storage, study_name, with_attrs=True)
    stored_cal = attrs.get(CALIBRATION_KEY)
    if calibration is not None:
        from edgespace.cost import as_calibration

        try:
            given = as_calibration(calibration)
        except Exception as exc:
            raise SearchError(f"calibration: {exc}") from None
        where = f" ({calibration})" if isinstance(calibration, (str, os.PathLike)) else ""
        if stored_cal is None:
            raise SearchError(
                f"study {study_name!r} was searched without a calibration; the calibration{where} "
                f"(id {given.id}) is refused: run the worker without --calibration"
            )
        if given.id != stored_cal.get("id"):
            raise SearchError(
                f"study {study_name!r} uses calibration {stored_cal.get('id')}; the calibration{where} "
                f"is {given.id}: refused (run the worker without --calibration to use the study's)"
            )
    cal = unpack_calibration(stored_cal, f"study {study_name!r}") if stored_cal is not None else None
    if definition.get("format") != FORMAT:
        raise SearchError(
            f"study {study_name!r}: stored definition format {definition.get('format')!r}; this edgespace reads {FORMAT}"
        )
    if definition.get("callable_constraints"):
        raise SearchError(
            f"study {study_name!r} has {definition['callable_constraints']} callable constraint(s), which cannot "
            "be stored; run its workers from Python with search(..., study_name=...) instead"
        )
    args = stored_search_args(
        definition,
        run,
        study_name,
        accuracy=accuracy,
        accuracy_hint="pass the same model to run_worker(accuracy=...)",
    )
    return search(
        space_from_dict(definition["space"]),
        args.pop("profile"),
        definition["objectives"],
        definition["constraints"],
        n_trials=run.get("n_trials", 1000) if n_trials is None else n_trials,
        storage=storage,
        study_name=study_name,
        seed=seed,
        **args,
        progress=progress,
        calibration=cal,
        **kwargs,
    )
