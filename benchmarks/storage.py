"""Trials per second of a search on each storage, as the study grows, and of N workers on one
PostgreSQL study.

    python benchmarks/storage.py --postgres postgresql://user:pw@127.0.0.1/db [--trials 10000] [--repeats 3]
    python benchmarks/storage.py --postgres URL --only workers [--worker-trials 2000] [--workers 1,2,4]

``storages``: for each storage (journal file, SQLite file, PostgreSQL) one process runs
``edgespace.search`` on the default space (``all``, NSGA-II, population 50, the same seed) to
``--trials`` complete trials on a fresh study. The rate of each thousand trials is taken from
the search's own progress (the process start and the imports are not counted): the first
thousand is the rate at 1,000 trials, its ratio to the last thousand the slowdown as the study
grows. ``workers``: a study is defined (no trials), then N ``edgespace worker`` processes start
together on it until it holds ``--worker-trials`` trials; the rate is those trials over the time
from the first trial's start to the last trial's end, read from the study (process starts are
not counted). Each configuration runs ``--repeats`` times, interleaved; the median and range
are kept, with the machine's load average before and after each run (the machine may be
shared: compare the ratios, and rerun ``--only workers`` on a quiet or bigger machine).
Writes ``benchmarks/results/storage.json`` (``--only`` keeps the other part of an existing file).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import RESULTS, provenance, write_result  # noqa: E402

PROFILE = "jetson-orin-nano-8gb"
SPACE = "all"
SEED = 1


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _child(storage: str, study: str, trials: int) -> None:
    """One search in this process; prints its progress marks (complete trials, seconds)."""
    import edgespace as es

    marks: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    es.search(
        SPACE,
        PROFILE,
        n_trials=trials,
        storage=storage,
        study_name=study,
        seed=SEED,
        progress=lambda done, total: marks.append((done, time.perf_counter() - t0)),
    )
    print(json.dumps({"marks": marks, "seconds": time.perf_counter() - t0}))


def _per_thousand(marks: list, trials: int) -> list[float]:
    def at(k: int) -> float:
        return next(t for done, t in marks if done >= k) if k else 0.0

    step = min(1000, trials)
    return [round(step / (at(k) - at(k - step)), 2) for k in range(step, trials + 1, step)]


def _single(storage: str, trials: int) -> dict:
    study = f"b{uuid.uuid4().hex[:8]}"
    before = _load()
    cmd = [sys.executable, __file__, "--child", storage, "--study", study, "--trials", str(trials)]
    out = subprocess.run(cmd, check=True, env=_env(), capture_output=True, text=True).stdout
    run = json.loads(out.strip().splitlines()[-1])
    per = _per_thousand(run["marks"], trials)
    return {
        "trials_per_s": round(trials / run["seconds"], 2),
        "per_thousand": per,
        "last_over_first": round(per[0] / per[-1], 3),
        "load_before": before,
        "load_after": _load(),
    }


def _study_rate(url: str, study: str) -> tuple[int, float]:
    import optuna

    from edgespace.study._storage import open_storage

    store, _ = open_storage(url, study)
    trials = [t for t in optuna.load_study(study_name=study, storage=store).trials if t.state.name == "COMPLETE"]
    start = min(t.datetime_start for t in trials)
    end = max(t.datetime_complete for t in trials)
    return len(trials), len(trials) / (end - start).total_seconds()


def _workers(url: str, trials: int, n: int, server_pid: int | None) -> dict:
    study = f"w{uuid.uuid4().hex[:8]}"
    define = [sys.executable, "-m", "edgespace", "search", "--profile", PROFILE, "--space", SPACE]
    define += ["--trials", "0", "--storage", url, "--study", study, "--seed", str(SEED), "--quiet"]
    subprocess.run(define, check=True, env=_env(), capture_output=True)
    cmd = [sys.executable, "-m", "edgespace", "worker", "--storage", url, "--study", study]
    cmd += ["--trials", str(trials), "--quiet"]
    before, cpu, server = _load(), _children_cpu_s(), _server_cpu_s(server_pid)
    procs = [subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(n)]
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed: {err.decode()[-400:]}")
    cpu = _children_cpu_s() - cpu
    done, rate = _study_rate(url, study)
    # one more worker on the finished study: what starting and stopping a worker costs
    idle = _children_cpu_s()
    subprocess.run(cmd[:-2] + [str(done), "--quiet"], check=True, env=_env(), capture_output=True)
    idle = _children_cpu_s() - idle
    out = {
        "trials_per_s": round(rate, 2),
        "complete": done,
        "workers_cpu_ms_per_trial": round(1000 * cpu / done, 2),
        "worker_start_cpu_s": round(idle, 2),
        "work_cpu_ms_per_trial": round(1000 * (cpu - n * idle) / done, 2),
    }
    if server is not None:
        out["server_cpu_ms_per_trial"] = round(1000 * (_server_cpu_s(server_pid) - server) / done, 2)
    return {**out, "load_before": before, "load_after": _load()}


def _children_cpu_s() -> float:
    import resource

    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _server_cpu_s(pid: int | None) -> float | None:
    """CPU seconds of the PostgreSQL server (its postmaster, the backends it reaped and those
    running), from /proc; None without ``--server-pid``."""
    if pid is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")

    def fields(p: int) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    total = sum(int(x) for x in fields(pid)[11:15])  # utime stime cutime cstime
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            total += sum(int(x) for x in fields(int(child))[11:13])
        except OSError:
            pass  # ended meanwhile: counted in cutime once reaped
    return total / tick


def _summary(runs: list[dict]) -> dict:
    rates = [r["trials_per_s"] for r in runs]
    out = {"median": round(statistics.median(rates), 2), "min": min(rates), "max": max(rates), "runs": runs}
    for key in ("workers_cpu_ms_per_trial", "work_cpu_ms_per_trial", "server_cpu_ms_per_trial"):
        if key in runs[0]:
            out[key] = round(statistics.median(r[key] for r in runs), 2)
    if "last_over_first" in runs[0]:
        slow = [r["last_over_first"] for r in runs]
        first = [r["per_thousand"][0] for r in runs]
        last = [r["per_thousand"][-1] for r in runs]
        out["first_thousand_median"] = round(statistics.median(first), 2)
        out["last_thousand_median"] = round(statistics.median(last), 2)
        out["last_over_first"] = {"median": round(statistics.median(slow), 3), "min": min(slow), "max": max(slow)}
    return out


def _storages(args, tmp: Path) -> dict:
    runs: dict[str, list] = {}
    for r in range(args.repeats):
        for name, storage in (
            ("journal", f"journal:{tmp / f'j{r}.journal'}"),
            ("sqlite", f"sqlite:///{tmp / f's{r}.db'}"),
            ("postgresql", args.postgres),
        ):
            runs.setdefault(name, []).append(_single(storage, args.trials))
            print(name, runs[name][-1]["trials_per_s"], "trials/s", runs[name][-1]["per_thousand"], flush=True)
    summary = {k: _summary(v) for k, v in runs.items()}
    first = {k: v["first_thousand_median"] for k, v in summary.items()}
    ratio = round(first["postgresql"] / first["journal"], 3)
    return {
        "trials": args.trials,
        "space": SPACE,
        "storages": summary,
        "postgresql_over_journal_first_thousand": ratio,
        "targets": {
            "postgresql_within_2x_of_journal_at_1000": ratio >= 0.5,
            "slowdown_first_to_last_thousand_at_most_1.5x": all(
                v["last_over_first"]["median"] <= 1.5 for v in summary.values()
            ),
        },
    }


def _workers_part(args) -> dict:
    counts = [int(w) for w in args.workers.split(",")]
    runs: dict[str, list] = {}
    for _ in range(args.repeats):
        for n in counts:
            runs.setdefault(str(n), []).append(_workers(args.postgres, args.worker_trials, n, args.server_pid))
            print(f"{n} workers", runs[str(n)][-1]["trials_per_s"], "trials/s", flush=True)
    summary = {k: _summary(v) for k, v in runs.items()}
    one = summary[str(counts[0])]["median"]
    speedup = {k: round(v["median"] / one, 3) for k, v in summary.items()}
    # Where a worker has a core of its own, N workers reach N / (work CPU a trial at N); one
    # server core serves at most 1 / (its CPU a trial) whatever the number of workers.
    last = summary[str(counts[-1])]
    bound = {
        "workers_each_on_a_core": {k: round(int(k) * 1000 / v["work_cpu_ms_per_trial"], 1) for k, v in summary.items()}
    }
    if "server_cpu_ms_per_trial" in last:
        bound["server_core_at_most"] = round(1000 / last["server_cpu_ms_per_trial"], 1)
    return {
        "trials": args.worker_trials,
        "space": SPACE,
        "workers": summary,
        "speedup_over_one": speedup,
        "cpu_bound_trials_per_s": bound,
        "targets": {"2_workers_at_least_1.7x": speedup["2"] >= 1.7} if "2" in speedup else {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (a scratch database)")
    parser.add_argument("--trials", type=int, default=10000, help="trials of each single-process run")
    parser.add_argument("--worker-trials", type=int, default=2000, help="trials of each worker run")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=("storages", "workers"))
    parser.add_argument(
        "--server-pid", type=int, help="the PostgreSQL server's postmaster pid (same machine): its CPU per trial"
    )
    parser.add_argument("--note", default="", help="what else the machine was doing")
    parser.add_argument("--out", default=str(RESULTS / "storage.json"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--study", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.study, args.trials)
        return
    if not args.postgres:
        parser.error("--postgres URL is required")
    out = Path(args.out)
    doc = json.loads(out.read_text()) if args.only and out.is_file() else {}
    doc = {k: v for k, v in doc.items() if k in ("storages", "workers")}
    doc["cpus"] = os.cpu_count()
    doc["load_at_start"] = _load()
    tmp = Path(tempfile.mkdtemp(prefix="edgespace-bench-"))
    # the server's address and password stay out of the stored command
    sys.argv = [a if "://" not in a else "<url>" for a in sys.argv]
    stamp = {"command": provenance()["command"], "date": provenance()["date"], "note": args.note}
    if args.only in (None, "storages"):
        doc["storages"] = {**_storages(args, tmp), **stamp}
    if args.only in (None, "workers"):
        doc["workers"] = {**_workers_part(args), **stamp}
    doc["load_at_end"] = _load()
    path = write_result("storage", doc, out)
    print(json.dumps({k: doc[k].get("targets") for k in ("storages", "workers") if k in doc}), f"wrote {path}")


if __name__ == "__main__":
    main()
