"""``edgespace calibrate``: measure real ONNX Runtime runs here and fit the per-operator model."""

from __future__ import annotations

import contextlib
import json

from edgespace.calibration import DEFAULT_FAMILIES
from edgespace.cli._common import int_option


def configure(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure ONNX Runtime runs on this machine and fit the latency model",
        description="Draw random specs, export them (child process), time them with ONNX Runtime "
        "(interleaved rounds, profiled), fit the per-operator latency model and write "
        "a calibration file with provenance.",
    )
    p.add_argument("--profile", default="host", help="base hardware profile (default: host)")
    p.add_argument("--samples", type=int_option, default=30, help="networks to measure (>= 3; default 30)")
    p.add_argument(
        "--threads",
        type=int_option,
        default=None,
        help="ONNX Runtime intra-op threads (default 1; with --from: as the captures say)",
    )
    p.add_argument("--seed", type=int_option, default=0, help="seed for drawing specs")
    p.add_argument(
        "--design",
        default="lhs",
        choices=("spread", "lhs", "random"),
        help="how the networks are chosen: lhs (default: corners, then a Latin hypercube over the knobs), "
        "spread (corners, then k-medoids over the latency model's features) or random",
    )
    p.add_argument("--families", default=",".join(DEFAULT_FAMILIES), help="comma-separated families to draw from")
    p.add_argument("--rounds", type=int_option, default=10, help="interleaved timing rounds (default 10)")
    p.add_argument(
        "--from",
        dest="from_dir",
        default=None,
        metavar="DIR",
        help="calibrate from profiles captured on a device (a capture set written by "
        "`edgespace export`) instead of measuring here",
    )
    p.add_argument("--out", default=None, help="calibration file to write (default: the cache directory)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    g = p.add_argument_group("GPU calibration (end-to-end runs on an NVIDIA GPU)")
    g.add_argument(
        "--backend",
        default="onnxruntime",
        choices=("onnxruntime", "litert", "executorch", "torch-cuda", "tensorrt"),
        help="runner to measure with (default onnxruntime; litert/executorch: the phone runtimes on this CPU "
        "through XNNPACK (ExecuTorch per operator, LiteRT end-to-end); torch-cuda/tensorrt need an NVIDIA GPU)",
    )
    g.add_argument("--batches", default="1,32", help="GPU: comma-separated batch sizes, each fitted (default 1,32)")
    g.add_argument(
        "--precision",
        default="fp16",
        help="GPU: fp16 (default), fp32 (TF32 off) or int8 (tensorrt); the networks are drawn at it",
    )
    g.add_argument(
        "--compile", action="store_true", help="torch-cuda: torch.compile reduce-overhead (fused; slow to compile)"
    )
    p.set_defaults(func=_run)


def _report(cal, path) -> None:
    print(f"wrote {path}")
    print(
        f"  {cal.provenance['networks']} networks, {cal.provenance['segments']} segments, "
        f"{cal.provenance['runtime']}, {cal.provenance['threads']} thread(s)"
    )
    for name, rep in cal.report.items():
        print(
            f"  {name}: {rep['within_10pct']:.0%} within ±10%, MAPE {rep['mape_pct']:.1f}%, "
            f"Kendall τ {rep['kendall_tau']:.2f} (n={rep['n']})"
        )
    if "held_out_5fold" not in cal.report:
        print(
            f"  held_out_5fold: none ({cal.provenance['networks']} networks; a held-out error needs at least 10): "
            "the figure above is in-sample"
        )


def _run_from(args) -> int:
    from edgespace.calibration import calibrate_from_captures

    cal, path, found = calibrate_from_captures(args.profile, args.from_dir, threads=args.threads, out=args.out)
    if found.missing:
        shown = ", ".join(found.missing[:5]) + (" ..." if len(found.missing) > 5 else "")
        print(f"note: {len(found.missing)} model(s) in {args.from_dir} have no capture files, skipped: {shown}")
    if args.json:
        print(json.dumps({"path": str(path), "provenance": cal.provenance, "report": cal.report}, indent=1))
        return 0
    _report(cal, path)
    return 0


def _run_gpu(args) -> int:
    """Measure ``--samples`` networks (<= 40) at each batch on the GPU backend, fit the per-batch
    latency and energy model over the profile's roofline terms, write the calibration file."""
    from edgespace.calibration import run_gpu_calibration
    from edgespace.cli._common import parse_families

    try:
        batches = sorted({int(b) for b in args.batches.split(",")})
    except ValueError:
        raise ValueError(f"--batches {args.batches!r}: allowed: comma-separated integers 1 to 4096") from None
    cal, path = run_gpu_calibration(
        args.profile,
        args.samples,
        backend=args.backend,
        batches=batches,
        precision=args.precision,
        compile=args.compile,
        families=parse_families(args.families),
        seed=args.seed,
        out=args.out,
        progress=None if args.json else lambda i, n, s, *_: print(f"  [{i}/{n}] {s}", flush=True),
    )
    if args.json:
        print(
            json.dumps({"path": str(path), "provenance": cal.provenance, "report": cal.report}, indent=1, default=float)
        )
        return 0
    print(f"wrote {path}")
    for b, rep in cal.report["by_batch"].items():
        kind = "held out" if "held_out_5fold" in rep["latency"] else "in-sample (too few networks to hold any out)"
        lat = rep["latency"].get("held_out_5fold", rep["latency"]["in_sample"])
        line = f"  batch {b}, {kind}: latency {lat['within_10pct']:.0%} within ±10%, MAPE {lat['mape_pct']:.1f}% (n={rep['n']})"
        en = rep.get("energy", {})
        if "unavailable" not in en:
            e = en.get("held_out_5fold", en.get("in_sample"))
            line += f"; energy/image {e['within_15pct']:.0%} within ±15%"
        print(line)
    return 0


def _run(args) -> int:
    if args.out is not None:  # before minutes of measuring, not after
        from edgespace import CalibrationError
        from edgespace._paths import output_file

        output_file(args.out, "--out", CalibrationError)
    if args.backend in ("torch-cuda", "tensorrt"):
        return _run_gpu(args)
    if args.backend != "onnxruntime" and args.from_dir is not None:
        raise ValueError(f"--from reads device captures; --backend {args.backend} measures here: pass one of them")
    if args.from_dir is not None:
        return _run_from(args)
    from edgespace.calibration import run_calibration
    from edgespace.cli._common import parse_families

    args.threads = 1 if args.threads is None else args.threads
    families = parse_families(args.families)
    if args.threads < 1:
        raise ValueError(f"--threads {args.threads}: allowed: an integer >= 1")
    if args.rounds < 1:
        raise ValueError(f"--rounds {args.rounds}: allowed: an integer >= 1")
    with _stage_bar(args) as progress:
        cal, path, _ = run_calibration(
            args.profile,
            args.samples,
            backend=args.backend,
            threads=args.threads,
            seed=args.seed,
            families=families,
            rounds=args.rounds,
            out=args.out,
            progress=progress,
            design=args.design,
        )
    if args.json:
        print(json.dumps({"path": str(path), "provenance": cal.provenance, "report": cal.report}, indent=1))
        return 0
    _report(cal, path)
    return 0


@contextlib.contextmanager
def _stage_bar(args):
    """A progress callback drawing a bar per stage (export, measure, fit), or None with --json."""
    if args.json:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    ) as bar:
        labels = {
            "export": f"export {args.samples} networks",
            "measure": f"measure ({args.threads} thread{'s' if args.threads > 1 else ''})",
            "fit": "fit",
        }
        tasks: dict = {}

        def progress(stage: str, step: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=step, total=total)

        yield progress
