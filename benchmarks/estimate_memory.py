"""Peak memory of ``estimate_many`` per row count: what a large screening needs.

    python benchmarks/estimate_memory.py [--rows 200000,1000000,2000000] [--profile jetson-orin-nano-8gb]

Each row count runs in a fresh process (so peaks do not mix): the design-point frame is built,
then one ``estimate_many`` call on one power mode. Reported per count: the process's peak
resident memory (``ru_maxrss``) before and after the call, the size of the result frame, the
time, and the bytes per row above the baseline. ``estimate_many`` evaluates each network
structure in chunks of ``CHUNK_ROWS`` rows, so what grows with the row count is the input and
the result frame (about a kilobyte a row); the per-layer intermediates stay per chunk. The
stated ceiling for N rows is baseline + N x the largest bytes-per-row measured.
Writes ``benchmarks/results/estimate_memory.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _one(rows: int, profile: str) -> dict:
    from benchmarks.estimate import grid
    from edgespace import load_profile
    from edgespace.cost import estimate_many
    from edgespace.cost._estimate_many import CHUNK_ROWS

    prof = load_profile(profile)
    mode = next(iter(prof.modes))
    frame = grid(rows, 1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    out = estimate_many(frame, prof, mode)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "rows": len(frame),
        "chunk_rows": CHUNK_ROWS,
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(frame) / seconds),
        "peak_rss_before_bytes": before,
        "peak_rss_bytes": peak,
        "result_frame_bytes": int(out.memory_usage(deep=True).sum()),
        "bytes_per_row_above_baseline": round((peak - before) / len(frame)),
    }


def ceiling(runs: list[dict]) -> dict:
    """Peak memory as a fixed part plus a part per row (input and result frames included): the
    steepest slope between consecutive row counts, through the smallest run."""
    runs = sorted(runs, key=lambda r: r["rows"])
    slopes = [
        (b["peak_rss_bytes"] - a["peak_rss_bytes"]) / (b["rows"] - a["rows"])
        for a, b in zip(runs, runs[1:], strict=False)
    ] or [runs[0]["peak_rss_bytes"] / runs[0]["rows"]]
    per_row = max(slopes)
    fixed = max(0.0, runs[0]["peak_rss_bytes"] - per_row * runs[0]["rows"])
    return {
        "fixed_bytes": round(fixed),
        "bytes_per_row": round(per_row),
        "rule": "peak resident memory ~ fixed_bytes + rows x bytes_per_row (one mode; the result has rows x modes rows)",
        "10M_rows_bytes": round(fixed + 10_000_000 * per_row),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="200000,1000000,2000000")
    parser.add_argument("--profile", default="jetson-orin-nano-8gb")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(_one(args.one, args.profile)))
        return
    runs = []
    for rows in (int(r) for r in args.rows.split(",")):
        r = subprocess.run(
            [sys.executable, __file__, "--one", str(rows), "--profile", args.profile],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(json.dumps(runs[-1]))
    import numpy
    import pandas

    import edgespace

    result = {
        "benchmark": "estimate_memory",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "node": platform.node(),
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "versions": {"edgespace": edgespace.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__},
        "command": "python benchmarks/estimate_memory.py " + " ".join(sys.argv[1:]),
        "profile": args.profile,
        "runs": runs,
        "ceiling": ceiling(runs),
        "note": "peak RSS from ru_maxrss, one fresh process per row count; the machine was shared (busy) when measured",
    }
    out = ROOT / "benchmarks" / "results" / "estimate_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
