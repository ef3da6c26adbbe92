"""``edgespace report``: one self-contained HTML report of a stored search study."""

from __future__ import annotations


def configure(sub) -> None:
    p = sub.add_parser("report", help="write a stored search study as one self-contained HTML report (opens offline)")
    p.add_argument(
        "--storage",
        help="the study's storage (URL, journal:PATH or a journal path); "
        "default: the journal file under $EDGESPACE_RUN_DIR or ./runs",
    )
    p.add_argument("--study", required=True, help="the study name (see `edgespace search` output)")
    p.add_argument("--out", required=True, help="the HTML file to write, e.g. report.html")
    p.add_argument("--calibration", help="a calibration file (edgespace calibrate) to show predicted vs measured")
    p.add_argument("--title", help="the report's title (default: the study's name and profile)")
    p.set_defaults(func=_run)


def write_report(result, out: str, *, calibration: str | None = None, title: str | None = None) -> str:
    """Write ``result``'s report to ``out``; return a one-line summary (path and size)."""
    from edgespace.report import report

    path = report(
        result,
        out,
        calibration=calibration,
        title=title or f"edgespace report: {result.study_name} on {result.profile.name}",
    )
    return f"report: {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)"


def _run(args) -> int:
    from edgespace.study import load_result

    if not args.out.lower().endswith((".html", ".htm")):
        raise ValueError(f"report: --out {args.out!r}: allowed: a file name ending in .html")
    result = load_result(args.storage, args.study)
    print(write_report(result, args.out, calibration=args.calibration, title=args.title))
    return 0
