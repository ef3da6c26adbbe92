"""A stored study read back as a :class:`~edgespace.study.SearchResult` (for reports, the CLI and
anyone holding a storage and a study name); it runs nothing and creates no storage."""

from __future__ import annotations

from edgespace.study._definition import DEFINITION_KEY, load_search
from edgespace.study._errors import SearchError
from edgespace.study._named_space import space_from_dict
from edgespace.study._objectives import parse_constraints, parse_objectives
from edgespace.study._result import SearchResult
from edgespace.study._storage import open_storage, storage_file

__all__ = ["load_result", "result_from_study"]


def result_from_study(study, storage: str | None = None) -> SearchResult:
    """The :class:`SearchResult` of an Optuna study made by :func:`edgespace.search` (its
    definition read from the study's user attrs); ``storage`` describes where it lives."""
    from edgespace.profiles import load_profile

    definition = study.user_attrs.get(DEFINITION_KEY)
    if not definition:
        raise SearchError(f"study {study.study_name!r}: not made by edgespace.search (no stored definition)")
    if storage is None:
        storage = getattr(getattr(study, "_storage", None), "__class__", type(None)).__name__
    return SearchResult(
        study,
        space=space_from_dict(definition["space"]),
        profile=load_profile(definition["profile"]),
        objectives=parse_objectives(definition["objectives"]),
        constraints=parse_constraints(definition["constraints"]),
        storage=storage,
    )


def load_result(storage, study_name: str) -> SearchResult:
    """The :class:`SearchResult` of the stored study ``study_name`` in ``storage`` (a URL,
    ``journal:PATH`` or a journal path; None: the default journal), rebuilt from its stored
    definition; runs nothing. A journal or SQLite file that is not there is an error naming it
    (opening it would create an empty one)."""
    import optuna

    path = storage_file(storage, study_name)
    if path is not None and not path.is_file():
        hint = "; give --storage (a URL, journal:PATH or a journal path)" if storage is None else ""
        raise SearchError(f"study {study_name!r}: no storage file {path}{hint}")
    load_search(storage, study_name)  # a study edgespace did not make is named as such
    store, store_text = open_storage(storage, study_name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return result_from_study(optuna.load_study(study_name=study_name, storage=store), store_text)
