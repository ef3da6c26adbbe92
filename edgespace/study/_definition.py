"""A study's definition: the checked inputs of a search, the study's default name, and the
definition stored in the study's user attrs (so that a worker elsewhere rebuilds the same
search, and a resumed search with another definition is refused)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from edgespace.study._errors import SearchError
from edgespace.study._evaluate import BUDGET_COLUMNS, accuracy_ref
from edgespace.study._space import Space
from edgespace.study._storage import check_study_name, open_storage

__all__ = [
    "stored_search_args",
    "DEFINITION_KEY",
    "RUN_KEY",
    "RECORD_KEY",
    "CONSTRAINT_KEY",
    "FORMAT",
    "resolve_profile",
    "check_space",
    "check_budget_constraints",
    "build_definition",
    "default_study_name",
    "check_definition",
    "load_search",
    "CALIBRATION_KEY",
    "pack_calibration",
    "unpack_calibration",
]

#: Study user attr holding the definition (space, profile, objectives, constraints, accuracy);
#: a worker rebuilds the search from it. Study user attr holding the last run's settings.
#: Trial user attr holding a trial's full record.
DEFINITION_KEY = "edgespace"
RUN_KEY = "edgespace_run"
#: Study user attr holding the calibration itself (compressed), so that workers and resumed
#: searches use the very same one; its summary (id, provenance, held-out error) is part of
#: the definition.
CALIBRATION_KEY = "edgespace_calibration"
RECORD_KEY = "edgespace"
#: The one Optuna constraint key a trial carries (``Trial.set_constraint``): the sum of the
#: positive constraint values (0 when feasible), which is what NSGA-II ranks infeasible trials
#: by; the separate values are in the trial's record. One key keeps it one storage write.
CONSTRAINT_KEY = "edgespace_violation"
FORMAT = 1


def resolve_profile(profile):
    """The HardwareProfile and how the definition names it (a YAML file: its absolute path)."""
    from edgespace.profiles import HardwareProfile, load_profile

    prof = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
    if (
        isinstance(profile, (str, os.PathLike))
        and Path(profile).suffix in (".yaml", ".yml")
        and Path(profile).is_file()
    ):
        ref = str(Path(profile).resolve())
    else:
        ref = prof.name
    return prof, ref


def check_space(space) -> Space:
    if isinstance(space, str):
        from edgespace.study._named_space import named_space

        return named_space(space)
    if not isinstance(space, Space):
        raise SearchError(
            f"space={space!r}: give an EfficientNetSpace, a MobileNetSpace, their union (a | b) or a name"
        )
    return space


def check_budget_constraints(constraints, budget) -> None:
    if budget is not None:
        return
    for c in constraints:
        if c.text is not None and any(k in c.text for k in BUDGET_COLUMNS):
            raise SearchError(
                f"constraint {c.text!r} needs an energy budget: pass budget=Budget(...) "
                "(CLI: --battery-wh, --frames-per-day, ...)"
            )


def build_definition(
    space, profile_ref, objectives, constraints, accuracy, ambient_c, budget=None, calibration=None
) -> dict:
    out = {
        "format": FORMAT,
        "space": space.to_dict(),
        "profile": profile_ref,
        "objectives": [o.name for o in objectives],
        "constraints": [c.text for c in constraints if c.text is not None],
        "callable_constraints": sum(c.fn is not None for c in constraints),
        "accuracy": accuracy_ref(accuracy),
        "ambient_c": ambient_c,
    }
    if budget is not None:  # only then, so that studies made before budgets existed still resume
        out["budget"] = budget.to_dict()
    if calibration is not None:  # likewise
        out["calibration"] = calibration.summary()
    return out


def pack_calibration(calibration) -> dict:
    """The calibration as a study user attr: its id and its file's JSON, zlib-compressed and
    base64-encoded (a 40-network calibration is a few hundred kB of JSON)."""
    import base64
    import zlib

    text = json.dumps(calibration.to_dict(), allow_nan=False, default=float)
    return {"id": calibration.id, "zlib_base64": base64.b64encode(zlib.compress(text.encode(), 9)).decode()}


def unpack_calibration(attr: dict, where: str):
    """The calibration stored by :func:`pack_calibration` (its id checked)."""
    import base64
    import zlib

    from edgespace.cost import calibration_from_dict

    try:
        text = zlib.decompress(base64.b64decode(attr["zlib_base64"])).decode()
        doc = json.loads(text)
    except Exception as exc:
        raise SearchError(f"{where}: the stored calibration cannot be read ({type(exc).__name__}: {exc})") from None
    cal = calibration_from_dict(doc, f"{where}: stored calibration {attr.get('id', '')}".rstrip())
    if cal.id != attr.get("id"):
        raise SearchError(
            f"{where}: the stored calibration hashes to {cal.id!r}, not its recorded id {attr.get('id')!r}"
        )
    return cal


def default_study_name(definition: dict, sampler, seed) -> str:
    key = json.dumps({**definition, "sampler": str(sampler), "seed": seed}, sort_keys=True)
    return f"{definition['space']['name'].replace('+', '-')}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def check_definition(study, definition: dict) -> None:
    """Store ``definition`` in a new study; refuse a study that holds another one."""
    stored = study.user_attrs.get(DEFINITION_KEY)
    if stored is None:
        if study.trials:
            raise SearchError(
                f"study {study.study_name!r} already holds {len(study.trials)} trials but was not made by "
                "edgespace.search; choose another study name"
            )
        study.set_user_attr(DEFINITION_KEY, definition)
        return
    diff = [
        k for k in definition if json.dumps(stored.get(k), sort_keys=True) != json.dumps(definition[k], sort_keys=True)
    ]
    if diff:
        details = "; ".join(f"{k}: stored {stored.get(k)!r}, asked {definition[k]!r}" for k in diff)
        raise SearchError(
            f"study {study.study_name!r} exists with another definition ({details}); use another --study name "
            "to start a new search, or the same definition to resume"
        )


def load_search(storage, study_name: str, *, with_attrs: bool = False):
    """The stored definition and last run settings of an edgespace study (for workers); with
    ``with_attrs`` also all of the study's user attrs."""
    store, _ = open_storage(storage, check_study_name(study_name))
    try:
        # the studies' names and attributes only: a study summary reads every trial of every study
        summaries = {s.study_name: s for s in store.get_all_studies()}
    except Exception as exc:
        raise SearchError(f"storage {storage!r}: cannot read studies: {exc}") from None
    if study_name not in summaries:
        raise SearchError(
            f"study {study_name!r} not found in {storage!r}; there: {', '.join(sorted(summaries)) or 'no studies'}"
        )
    attrs = summaries[study_name].user_attrs
    if DEFINITION_KEY not in attrs:
        raise SearchError(f"study {study_name!r} was not made by edgespace.search (no stored definition)")
    if with_attrs:
        return attrs[DEFINITION_KEY], attrs.get(RUN_KEY, {}), attrs
    return attrs[DEFINITION_KEY], attrs.get(RUN_KEY, {})


def stored_search_args(definition: dict, run: dict, study_name: str, *, accuracy=None, accuracy_hint: str) -> dict:
    """The :func:`search` keywords a stored study's definition and run record hold: ``profile``,
    ``accuracy`` (the published model it names; ``accuracy`` given is used as it is), ``ambient_c``,
    ``budget``, ``sampler`` and ``population_size``. A study searched with another accuracy model
    cannot be rebuilt: the :class:`SearchError` ends with ``accuracy_hint`` (what to pass instead)."""
    acc = definition.get("accuracy", "published:ptq")
    if accuracy is None and not acc.startswith("published:"):
        raise SearchError(f"study {study_name!r} uses accuracy model {acc!r}; {accuracy_hint}")
    if accuracy is None and acc != "published:ptq":
        from edgespace.accuracy import PublishedAccuracy

        accuracy = PublishedAccuracy(quantization=acc.split(":", 1)[1])
    from edgespace.budget import Budget

    return {
        "profile": definition["profile"],
        "accuracy": accuracy,
        "ambient_c": definition.get("ambient_c"),
        "budget": Budget.from_dict(definition["budget"]) if definition.get("budget") else None,
        "sampler": run.get("sampler", "nsga2"),
        "population_size": run.get("population_size", 50),
    }
