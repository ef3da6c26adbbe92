"""The stages of edgespace, in the order the code needs them.

A module may import (at module level or inside a function) only from its own stage or from an
earlier one, and never from another subpackage's private module (``edgespace.<pkg>._name``);
it goes through that subpackage's public names. ``tests/test_architecture.py`` parses every
module with :mod:`ast` and holds this.

1. **base** (``_errors``, ``_json``, ``_paths``, ``_cache``, ``_ops``, ``_ort_session``, ...):
   errors, JSON, paths, the operator classes and the one ONNX Runtime session factory; they
   know nothing of networks or devices.
2. **spec** (``archs``, ``_spec``, ``spec``): the design point and its families.
3. **layers** (``_layer_table``, ``_layer_walk``, ``_layer_walk_vit``, ``_liveness``, ``layers``): the per-operator table of a spec.
4. **real runs** (``_build``, ``_precision``, ``exporters``, ``meters``, ``runners``): real modules, exported graphs and
   timed, metered runs. They need a spec, not a device description.
5. **profiles**: device descriptions; the host probe measures this machine with the session
   factory of the base stage, so profiles sit above the runs and do not load the runners.
6. **cost**: the analytic models over layer tables and profiles, and the calibration door
   (``CalibrationBase``, ``as_calibration``, ``load_calibration``) that every estimate uses.
7. **accuracy**: the published-results model and evaluators (a real module for the latter).
8. **budget**: energy budgets over estimates or measurements.
9. **study**: spaces, searches, storage, confirmations (cost, accuracy, budget and runs).
10. **calibration**: measuring loops, fits and file formats; it implements the cost door and
    registers its loaders there, so nothing below it imports it.
11. **report**: figures and HTML over studies, calibrations and budgets.
12. **api** (the ``edgespace`` package itself, ``_version``): the top-level names.
13. **cli** (``cli``, ``__main__``): the command line over the public functions.
"""

from __future__ import annotations

__all__ = ["STAGES", "stage_of"]

#: Stage name -> the top-level names (subpackages or modules under ``edgespace``) in it.
STAGES: dict[str, tuple[str, ...]] = {
    "base": (
        "_errors",
        "_lazy",
        "_json",
        "_json_input",
        "_paths",
        "_cache",
        "_timing",
        "_ops",
        "_ort_session",
        "_stages",
        "_version",
        "data",
    ),
    "spec": ("archs", "_spec", "spec"),
    "layers": ("_layer_table", "_layer_walk", "_layer_walk_vit", "_liveness", "layers"),
    "real runs": ("_build", "_precision", "exporters", "meters", "runners"),
    "profiles": ("profiles",),
    "cost": ("cost",),
    "accuracy": ("accuracy",),
    "budget": ("budget",),
    "study": ("study",),
    "calibration": ("calibration",),
    "report": ("report",),
    "api": ("",),
    "cli": ("cli", "__main__"),
}


def stage_of(module: str) -> int:
    """The position of ``module`` (a dotted name under ``edgespace``) in :data:`STAGES`."""
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 and parts[0] == "edgespace" else ""
    for k, names in enumerate(STAGES.values()):
        if head in names:
            return k
    raise KeyError(f"{module}: in no stage of edgespace._stages.STAGES")
