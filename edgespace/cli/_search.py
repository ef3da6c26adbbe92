"""``edgespace search`` (a multi-objective search, printed as its Pareto front) and
``edgespace worker`` (join a stored study from another process or machine)."""

from __future__ import annotations

import json
import sys
import time

from edgespace._json import jsonable
from edgespace.cli._budget import add_budget_options, budget_from_args
from edgespace.cli._common import int_option, positive_seconds
from edgespace.cli._refine import add_refine_options, check_refine_args, print_rounds, run_refine
from edgespace.spec import PRECISIONS
from edgespace.study import SPACE_NAMES

_SPACES = SPACE_NAMES  # the study's named spaces: one list
_SHOWN = (
    "accuracy",
    "energy_mj",
    "sustained_latency_ms",
    "mode",
    "precision",
    "family",
    "width",
    "depth",
    "resolution",
)
_FORMATS = {
    "accuracy": "{:.2f}",
    "energy_mj": "{:.2f}",
    "sustained_latency_ms": "{:.2f}",
    "width": "{:g}",
    "depth": "{:g}",
    "accuracy_per_joule": "{:.1f}",
    "sustained_fps": "{:.1f}",
    "latency_ms": "{:.2f}",
    "total_memory_mb": "{:.1f}",
    "fps": "{:.1f}",
    "sustained_energy_mj": "{:.2f}",
    "peak_activation_mb": "{:.2f}",
    "days_autonomy": "{:.1f}",
}


def _add_run_options(p) -> None:
    p.add_argument(
        "--storage",
        help="an Optuna storage URL (sqlite:///x.db, postgresql://user:pw@host/db), "
        "journal:PATH, or 'memory'; default: a journal file under $EDGESPACE_RUN_DIR or ./runs",
    )
    p.add_argument("--seed", type=int_option)
    p.add_argument(
        "--stale-after-s",
        type=positive_seconds,
        default=600.0,
        help="journal storages: a RUNNING trial older than this is presumed dead and queued again",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--calibration",
        metavar="FILE",
        help="a calibration file (edgespace calibrate): latency from it where it applies; stored with the study",
    )


def configure(sub) -> None:
    p = sub.add_parser("search", help="multi-objective search of a design space; prints the Pareto front")
    p.add_argument("--profile", required=True, help="a profile name (see `edgespace profiles list`) or a YAML path")
    p.add_argument("--space", default="all", help=f"one of: {', '.join(_SPACES)} (default: all)")
    p.add_argument("--objectives", default="accuracy,energy_mj", help="comma-separated; an unknown one lists them")
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help="e.g. 'sustained_latency_ms<=33', 'fits_memory', 'energy_mj<=70' (repeatable)",
    )
    p.add_argument("--trials", type=int_option, default=1000, help="total complete trials of the study (default 1000)")
    p.add_argument("--sampler", default="nsga2", help="nsga2 (default), tpe, random, grid")
    p.add_argument("--study", help="study name (default: derived from the search's definition; the same name resumes)")
    p.add_argument("--precisions", default=",".join(PRECISIONS), help="comma-separated (default: fp32,fp16,int8)")
    p.add_argument("--modes", help="comma-separated power modes (default: every mode of the profile)")
    p.add_argument(
        "--batches", default="1", help="comma-separated batch sizes, images per call (default 1; e.g. 1,8,32)"
    )
    p.add_argument(
        "--placements",
        help="comma-separated placements to search, e.g. auto,dla on Jetson Orin NX / AGX Orin "
        "(default: auto only, no placement dimension)",
    )
    p.add_argument("--population-size", type=int_option, default=50, help="NSGA-II population (one evaluation batch)")
    p.add_argument(
        "--report",
        metavar="HTML",
        help="also write the search as one self-contained HTML report (e.g. runs/report.html)",
    )
    add_budget_options(p, required=False)  # constrain with e.g. --constraint 'days_autonomy>=7'
    c = p.add_argument_group(
        "confirm the front (real runs on this machine: ONNX Runtime, or LiteRT / ExecuTorch on XNNPACK)"
    )
    c.add_argument(
        "--confirm",
        type=int_option,
        metavar="K",
        help="after the search, run K front points and show predicted vs measured",
    )
    c.add_argument(
        "--confirm-by", metavar="OBJECTIVE", help="the best K by this objective (default: K spread along the front)"
    )
    c.add_argument(
        "--backend",
        default="onnxruntime",
        help="runtime that times --confirm: onnxruntime (default), litert or executorch (XNNPACK on this CPU)",
    )
    c.add_argument("--threads", type=int_option, help="runtime threads for --confirm (default 1)")
    c.add_argument(
        "--confirm-proxy",
        action="store_true",
        help="time the front of another device's study on this machine as a proxy (rows say profile host)",
    )
    c.add_argument("--confirm-rounds", type=int_option, help="interleaved timing rounds for --confirm (default 10)")
    add_refine_options(c)
    _add_run_options(p)
    p.set_defaults(func=_run_search)

    w = sub.add_parser("worker", help="join a stored search study and evaluate its trials")
    w.add_argument("--storage", required=True, help="the study's storage (URL or journal path)")
    w.add_argument("--study", required=True, help="the study name")
    w.add_argument("--trials", type=int_option, help="the study's total of complete trials (default: as defined)")
    w.add_argument("--seed", type=int_option)
    w.add_argument(
        "--stale-after-s",
        type=positive_seconds,
        default=600.0,
        help="a RUNNING trial older than this (s) is presumed dead and queued again",
    )
    w.add_argument("--json", action="store_true")
    w.add_argument("--quiet", action="store_true")
    w.add_argument(
        "--calibration",
        metavar="FILE",
        help="check that the study uses this calibration (the worker always uses the study's own)",
    )
    w.set_defaults(func=_run_worker)


class _Progress:
    """A rich progress bar on stderr (transient), fed by ``search(progress=...)``."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.label = label
        self.bar = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=None)
        return self

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _run_search(args) -> int:
    from edgespace.study import named_space, search

    if args.space not in _SPACES:
        raise ValueError(f"--space {args.space!r}: allowed: {', '.join(_SPACES)}")
    try:
        batches = [int(b) for b in _split(args.batches) or ()]
    except ValueError:
        raise ValueError(f"--batches {args.batches!r}: allowed: comma-separated integers 1 to 4096") from None
    space = named_space(
        args.space,
        precisions=_split(args.precisions),
        modes=_split(args.modes),
        placements=_split(args.placements),
        batches=batches,
    )
    budget = budget_from_args(args, "search", profile=args.profile)
    if args.report is not None and not args.report.lower().endswith((".html", ".htm")):
        raise ValueError(f"search: --report {args.report!r}: allowed: a file name ending in .html")
    if args.confirm is None and (args.threads is not None or args.confirm_rounds is not None):
        raise ValueError(
            "search: --threads and --confirm-rounds apply only with --confirm K (they time the front's runs)"
        )
    from edgespace.study import MEASURED_MACHINE

    if args.backend not in MEASURED_MACHINE:
        raise ValueError(f"search: --backend {args.backend!r}: allowed: {', '.join(MEASURED_MACHINE)}")
    check_refine_args(args)
    args.threads = 1 if args.threads is None else args.threads
    args.confirm_rounds = 10 if args.confirm_rounds is None else args.confirm_rounds
    if args.report is not None:  # checked before the search, not after it
        from edgespace._paths import report_file
        from edgespace.study import storage_files

        report_file(args.report, "search: --report", ValueError, protected=storage_files(args.storage or ""))
    t0 = time.perf_counter()
    with _Progress(not (args.quiet or args.json), "search") as progress:
        result = search(
            space,
            args.profile,
            args.objectives,
            args.constraint,
            n_trials=args.trials,
            sampler=args.sampler,
            storage=args.storage,
            study_name=args.study,
            seed=args.seed,
            population_size=args.population_size,
            stale_after_s=args.stale_after_s,
            progress=progress,
            budget=budget,
            calibration=args.calibration,
        )
    confirmed = None
    if args.confirm is not None and (args.confirm < 1 or args.threads < 1 or args.confirm_rounds < 1):
        raise ValueError("search: --confirm, --threads and --confirm-rounds: allowed: integers >= 1")
    if args.refine is not None:
        with _Progress(not (args.quiet or args.json), f"refine: {args.confirm} points a round") as progress:
            confirmed = run_refine(result, args, progress)
    elif args.confirm is not None:
        with _Progress(not (args.quiet or args.json), f"confirm {args.confirm} front points") as progress:
            confirmed = result.confirm(
                args.confirm,
                backend=args.backend,
                threads=args.threads,
                by=args.confirm_by,
                rounds=args.confirm_rounds,
                progress=progress,
                proxy=args.confirm_proxy,
            )
    rc = _print(result, args, time.perf_counter() - t0, confirmed)
    if args.report is not None:
        from edgespace.cli._report import write_report

        print(write_report(result, args.report), file=sys.stderr if args.json else sys.stdout)
    return rc


def _run_worker(args) -> int:
    from edgespace.study import run_worker

    t0 = time.perf_counter()
    with _Progress(not (args.quiet or args.json), f"worker {args.study}") as progress:
        result = run_worker(
            args.storage,
            args.study,
            n_trials=args.trials,
            seed=args.seed,
            stale_after_s=args.stale_after_s,
            progress=progress,
            calibration=args.calibration,
        )
    return _print(result, args, time.perf_counter() - t0)


def _print(result, args, seconds: float, confirmed=None) -> int:
    frame = result.trials_frame()
    complete = frame[frame["state"] == "COMPLETE"] if len(frame) else frame
    n_feasible = int(complete["feasible"].sum()) if len(complete) else 0
    front = result.pareto_front()
    objectives = [o.name for o in result.objectives]
    extra = [c for c in ("days_autonomy",) if c in front.columns]
    if "placement" in front.columns and front["placement"].nunique() > 1:
        extra.append("placement")
    # how many profile inputs behind each row are estimates (every figure says where it came from)
    extra += [c for c in ("n_estimated_inputs", "latency_source") if c in front.columns]
    shown = list(dict.fromkeys([*objectives, *_SHOWN, *extra]))
    if args.json:
        rows = front[[c for c in ["number", *shown] if c in front.columns]].to_dict(orient="records")
        doc = {
            "study": result.study_name,
            "storage": result.storage,
            "profile": result.profile.name,
            "objectives": [{"name": o.name, "direction": o.direction} for o in result.objectives],
            "constraints": [str(c) for c in result.constraints],
            "trials": len(frame),
            "complete": len(complete),
            "feasible": n_feasible,
            "evaluated_now": result.told,
            "seconds": round(seconds, 3),
            "front": rows,
            "calibration": result.calibration.summary() if result.calibration is not None else None,
        }
        if confirmed is not None:
            doc["confirmations"] = confirmed.to_dict(orient="records")
        if getattr(args, "refine", None) is not None:
            doc["refine_rounds"] = result.refine_rounds().to_dict(orient="records")
        print(json.dumps(jsonable(doc)))
        return 0
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    cons = "; ".join(str(c) for c in result.constraints) or "none"
    title = (
        f"Pareto front: {', '.join(f'{o.name} ({o.direction[:3]})' for o in result.objectives)} on {result.profile.name}"
        f" | constraints: {cons}"
    )
    table = Table(title=title)
    for c in shown:
        table.add_column(c, justify="right")
    for r in front.to_dict(orient="records"):
        table.add_row(*[_FORMATS.get(c, "{}").format(r[c]) if r.get(c) is not None else "-" for c in shown])
    console.print(table)
    console.print(
        f"study {result.study_name!r} ({result.storage}): {len(complete)} complete trials "
        f"({result.told} evaluated now, {n_feasible} feasible), {len(front)} on the front, {seconds:.1f} s"
    )
    if confirmed is not None:
        _print_confirmations(console, confirmed)
    if getattr(args, "refine", None) is not None:
        print_rounds(console, result.refine_rounds())
    return 0


def _print_confirmations(console, frame) -> None:
    """Predicted against measured, side by side, with the error."""
    from rich.table import Table

    from edgespace.spec import ARCH_COLUMNS
    from edgespace.study import CONFIRMATION_COLUMNS

    def fmt(v, spec: str) -> str:
        return "-" if v is None or (isinstance(v, float) and v != v) else spec.format(v)

    table = Table(title="confirmed on this machine: predicted vs measured")
    shown = (*ARCH_COLUMNS, "mode", "profile")  # the design point and the machine measured; then the measurement
    cols = (*shown, *CONFIRMATION_COLUMNS[CONFIRMATION_COLUMNS.index("threads") :])
    for c in cols:
        table.add_column(c, justify="right")
    specs = {
        "width": "{:g}",
        "depth": "{:g}",
        "predicted_latency_ms": "{:.3f}",
        "measured_latency_ms": "{:.3f}",
        "latency_error_pct": "{:+.1f}",
        "predicted_energy_mj": "{:.2f}",
        "measured_energy_mj": "{:.2f}",
        "energy_error_pct": "{:+.1f}",
    }
    for r in frame.to_dict(orient="records"):
        table.add_row(*[fmt(r.get(c), specs.get(c, "{}")) for c in cols])
    console.print(table)
    ok = frame[(frame["status"] == "ok") & frame["latency_error_pct"].notna()]
    if len(ok):
        err = ok["latency_error_pct"].astype(float).abs()
        console.print(
            f"{int((err <= 10).sum())}/{len(ok)} confirmed points within ±10% of the predicted latency "
            f"(median |error| {err.median():.1f}%)"
        )
