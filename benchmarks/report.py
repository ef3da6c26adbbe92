"""Size and time of the HTML report for the front page's main job.

    python benchmarks/report.py [--trials 2000] [--repeats 3]

Runs the main job's search (``all`` on ``jetson-orin-nano-8gb``, accuracy and energy_mj,
``sustained_latency_ms <= 33``) into a journal file, then writes its report with
``edgespace.report`` from the stored study (as ``edgespace report`` does) ``--repeats`` times:
the file's size, how much of it is plotly.js, and the time to read the study and write the page
(median with its spread). Stored in ``benchmarks/results/report.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

import edgespace as es  # noqa: E402
from edgespace.report import report  # noqa: E402
from edgespace.study import load_result  # noqa: E402

PROFILE = "jetson-orin-nano-8gb"
CONSTRAINT = "sustained_latency_ms<=33"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", metavar="PATH", help="result file (default benchmarks/results/report.json)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edgespace-report-bench-") as tmp:
        storage = f"journal:{Path(tmp) / 'study.log'}"
        t0 = time.perf_counter()
        es.search(
            "all", PROFILE, "accuracy,energy_mj", CONSTRAINT, n_trials=args.trials, storage=storage, study_name="main"
        )
        search_s = time.perf_counter() - t0
        times, size = [], None
        for k in range(args.repeats):
            out = Path(tmp) / f"report-{k}.html"
            t0 = time.perf_counter()
            report(load_result(storage, "main"), out)
            times.append(time.perf_counter() - t0)
            size = out.stat().st_size
            html = out.read_text()
        plotly_bytes = max((len(s) for s in html.split("<script") if "plotly" in s[:4000].lower()), default=0)
    doc = {
        "trials": args.trials,
        "profile": PROFILE,
        "constraint": CONSTRAINT,
        "search_s": round(search_s, 2),
        "report_bytes": size,
        "plotly_js_bytes_approx": plotly_bytes,
        "report_s": {
            "median": statistics.median(times),
            "min": min(times),
            "max": max(times),
            "repeats": args.repeats,
        },
    }
    print(
        f"{args.trials} trials searched in {search_s:.1f} s; report {size / 1e6:.2f} MB "
        f"(plotly.js ≈ {plotly_bytes / 1e6:.1f} MB), written in {doc['report_s']['median']:.1f} s "
        f"(median of {args.repeats}; {min(times):.1f}-{max(times):.1f} s)"
    )
    print(f"stored: {write_result('report', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
