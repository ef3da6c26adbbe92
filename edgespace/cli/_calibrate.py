"""``edgespace calibrate``: measure real ONNX Runtime runs here and fit the per-operator model."""

from __future__ import annotations

import json

from edgespace.calibration._draw import DEFAULT_FAMILIES


def configure(sub) -> None:
    p = sub.add_parser("calibrate", help="measure ONNX Runtime runs on this machine and fit the latency model",
                       description="Draw random specs, export them (child process), time them with ONNX Runtime "
                                   "(interleaved rounds, profiled), fit the per-operator latency model and write "
                                   "a calibration file with provenance.")  # fmt: skip
    p.add_argument("--profile", default="host", help="base hardware profile (default: host)")
    p.add_argument("--samples", type=int, default=30, help="networks to measure (>= 3; default 30)")
    p.add_argument("--threads", type=int, default=None,
                   help="ONNX Runtime intra-op threads (default 1; with --from: as the captures say)")
    p.add_argument("--seed", type=int, default=0, help="seed for drawing specs")
    p.add_argument("--families", default=",".join(DEFAULT_FAMILIES), help="comma-separated families to draw from")
    p.add_argument("--rounds", type=int, default=10, help="interleaved timing rounds (default 10)")
    p.add_argument("--from", dest="from_dir", default=None, metavar="DIR",
                   help="calibrate from profiles captured on a device (a capture set written by "
                        "`edgespace export`) instead of measuring here")
    p.add_argument("--out", default=None, help="calibration file to write (default: the cache directory)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run)


def _report(cal, path) -> None:
    print(f"wrote {path}")
    print(f"  {cal.provenance['networks']} networks, {cal.provenance['segments']} segments, "
          f"{cal.provenance['runtime']}, {cal.provenance['threads']} thread(s)")  # fmt: skip
    for name, rep in cal.report.items():
        print(f"  {name}: {rep['within_10pct']:.0%} within ±10%, MAPE {rep['mape_pct']:.1f}%, "
              f"Kendall τ {rep['kendall_tau']:.2f} (n={rep['n']})")  # fmt: skip


def _run_from(args) -> int:
    from collections import Counter
    from pathlib import Path

    from edgespace.calibration import calibrate
    from edgespace.calibration._captures import read_capture_set
    from edgespace.calibration._loop import default_calibration_path
    from edgespace.profiles import load_profile

    base = load_profile(args.profile)  # a bad name fails before any file is read
    found = read_capture_set(args.from_dir)
    if found.missing:
        shown = ", ".join(found.missing[:5]) + (" ..." if len(found.missing) > 5 else "")
        print(f"note: {len(found.missing)} model(s) in {args.from_dir} have no capture files, skipped: {shown}")
    if len(found.items) < 3:
        raise ValueError(f"--from {args.from_dir}: {len(found.items)} captured model(s); need at least 3 "
                         "(NAME.ort.json, or NAME.profile.json + NAME.times.json, next to each NAME.onnx)")
    e2e = Counter(found.e2e_from if len(set(found.e2e_from)) < 4 else ["per-model files"])
    cal = calibrate(base, found.items, threads=args.threads if args.threads is not None else found.threads,
                    note=f"ingested from {Path(args.from_dir).resolve().name}: {found.runtime}; "
                         f"end-to-end latency from {dict(e2e)}")  # fmt: skip
    cal.provenance["runtime"] = found.runtime
    out = args.out if args.out is not None else default_calibration_path(base.name, cal.threads)
    if args.json:
        path = cal.save(out)
        print(json.dumps({"path": str(path), "provenance": cal.provenance, "report": cal.report}, indent=1))
        return 0
    _report(cal, cal.save(out))
    return 0


def _run(args) -> int:
    if args.out is not None:  # before minutes of measuring, not after
        from edgespace._errors import CalibrationError
        from edgespace._paths import output_file

        output_file(args.out, "--out", CalibrationError)
    if args.from_dir is not None:
        return _run_from(args)
    from edgespace.calibration._loop import run_calibration
    from edgespace.cli._common import parse_families

    args.threads = 1 if args.threads is None else args.threads
    families = parse_families(args.families)
    if args.threads < 1:
        raise ValueError(f"--threads {args.threads}: allowed: an integer >= 1")
    if args.rounds < 1:
        raise ValueError(f"--rounds {args.rounds}: allowed: an integer >= 1")
    if args.json:
        cal, path, ms = run_calibration(args.profile, args.samples, threads=args.threads, seed=args.seed,
                                        families=families, rounds=args.rounds, out=args.out)  # fmt: skip
    else:
        cal, path, ms = _with_bar(run_calibration, args, families)
    if args.json:
        print(json.dumps({"path": str(path), "provenance": cal.provenance, "report": cal.report}, indent=1))
        return 0
    _report(cal, path)
    return 0


def _with_bar(run_calibration, args, families):
    """The calibration loop with a progress bar per stage (export, measure, fit)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=False) as bar:  # fmt: skip
        labels = {"export": f"export {args.samples} networks",
                  "measure": f"measure ({args.threads} thread{'s' if args.threads > 1 else ''})", "fit": "fit"}  # fmt: skip
        tasks: dict = {}

        def progress(stage: str, step: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(labels.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=step, total=total)

        return run_calibration(args.profile, args.samples, threads=args.threads, seed=args.seed, families=families,
                               rounds=args.rounds, out=args.out, progress=progress)  # fmt: skip
