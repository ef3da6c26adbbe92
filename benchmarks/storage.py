"""Trials per second of one search on each storage, side by side in one run.

    python benchmarks/storage.py --postgres postgresql://user:pw@127.0.0.1/db [--trials 1000] [--workers 1,2]

For each storage (journal file, SQLite file, PostgreSQL) one process runs ``search`` on the
MobileNet space (NSGA-II, population 50) to ``--trials`` complete trials on a fresh study and
the rate is trials / wall seconds. Then ``--workers`` processes (for each count) start together
on one fresh PostgreSQL study, each run as ``edgespace worker`` until the study holds
``--trials`` trials; their rate is the study's trials / wall seconds of the slowest. Each
configuration runs ``--repeats`` times, interleaved, and the median with its range is kept.
The ratios (PostgreSQL / journal; N workers / 1 worker) are what to compare across machines:
absolute rates depend on the machine and on how busy it is.
Writes ``benchmarks/results/storage.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROFILE = "jetson-orin-nano-8gb"


def _search_cmd(storage: str, study: str, trials: int) -> list[str]:
    return [
        sys.executable, "-m", "edgespace", "search", "--profile", PROFILE, "--space", "mobilenet",
        "--trials", str(trials), "--storage", storage, "--study", study, "--seed", "1", "--quiet",
    ]  # fmt: skip


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _single(storage: str, trials: int) -> float:
    study = f"b{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    subprocess.run(_search_cmd(storage, study, trials), check=True, env=_env(), capture_output=True)
    return trials / (time.perf_counter() - t0)


def _workers(url: str, trials: int, n: int) -> float:
    study = f"w{uuid.uuid4().hex[:8]}"
    # define the study with no trials, then start n workers together on it
    subprocess.run(_search_cmd(url, study, 0), check=True, env=_env(), capture_output=True)
    cmd = [
        sys.executable,
        "-m",
        "edgespace",
        "worker",
        "--storage",
        url,
        "--study",
        study,
        "--trials",
        str(trials),
        "--quiet",
    ]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed: {err.decode()[-400:]}")
    return trials / (time.perf_counter() - t0)


def _summary(rates: list[float]) -> dict:
    return {
        "median": round(statistics.median(rates), 2),
        "min": round(min(rates), 2),
        "max": round(max(rates), 2),
        "runs": [round(r, 2) for r in rates],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="a PostgreSQL URL (a scratch database)")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--note", default="", help="what else the machine was doing")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="edgespace-bench-"))
    counts = [int(w) for w in args.workers.split(",")]
    rates: dict[str, list[float]] = {}
    for r in range(args.repeats):
        for name, storage in (
            ("journal", f"journal:{tmp / f'j{r}.journal'}"),
            ("sqlite", f"sqlite:///{tmp / f's{r}.db'}"),
            ("postgresql", args.postgres),
        ):
            rates.setdefault(name, []).append(_single(storage, args.trials))
            print(name, round(rates[name][-1], 2), "trials/s", flush=True)
        for n in counts:
            key = f"postgresql_{n}_workers"
            rates.setdefault(key, []).append(_workers(args.postgres, args.trials, n))
            print(key, round(rates[key][-1], 2), "trials/s", flush=True)
    summary = {k: _summary(v) for k, v in rates.items()}
    med = {k: v["median"] for k, v in summary.items()}
    ratios = {"postgresql_over_journal": round(med["postgresql"] / med["journal"], 3)}
    for n in counts[1:]:
        ratios[f"{n}_workers_over_1"] = round(
            med[f"postgresql_{n}_workers"] / med[f"postgresql_{counts[0]}_workers"], 3
        )
    import optuna

    import edgespace

    result = {
        "benchmark": "storage",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"edgespace": edgespace.__version__, "optuna": optuna.__version__},
        "command": "python benchmarks/storage.py --postgres <url> "
        + " ".join(a for a in sys.argv[1:] if "://" not in a and a != "--postgres"),
        "trials": args.trials,
        "trials_per_s": summary,
        "ratios": ratios,
        "targets": {"postgresql_within_2x_of_journal": ratios["postgresql_over_journal"] >= 0.5}
        | {f"{n}_workers_at_least_1.7x": ratios.get(f"{n}_workers_over_1", 0) >= 1.7 for n in counts[1:] if n == 2},
        "note": args.note,
    }
    out = ROOT / "benchmarks" / "results" / "storage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(ratios), f"wrote {out}")


if __name__ == "__main__":
    main()
