"""Measure many networks on a many-core machine at once, one process per physical core, and keep
the runs in a file that any machine can refit from.

Why: a quiet 1-thread host calibration of ~400 networks takes 25-40 minutes in one process; on a
16-core machine with one process per core it takes a few. Each process pins itself to its core
and measures its share interleaved and reference-paired (:func:`edgespace.calibration._loop.collect`),
and also times the reference network itself, so that its level can be put on one scale: every
shard's latencies are multiplied by ``(median of the shards' reference latencies) / (its own
reference latency)``. Neighbours on other cores share the last-level cache and memory bandwidth,
so the absolute level is that of a loaded chip; the rescaling takes out what differs between
shards (the paired ratio is what the calibration learns from; the level is one constant).

The runs file (JSON, gzip) holds per network: its spec, the shard, the raw and rescaled latency,
the spread, and the profiled node times — what :func:`edgespace.calibration.calibrate` needs, as
``(spec, NodeProfile, e2e_ms)`` triples (:func:`load_runs`).
"""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import os
from pathlib import Path

FORMAT = "edgespace-sharded-runs/1"


def physical_cpus() -> list[int]:
    """One CPU of each physical core this process may use (hyperthread siblings skipped where
    the kernel says which they are)."""
    cpus = sorted(os.sched_getaffinity(0))
    seen, out = set(), []
    for c in cpus:
        try:
            sib = Path(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list").read_text().strip()
        except OSError:
            sib = str(c)
        if sib not in seen:
            seen.add(sib)
            out.append(c)
    return out


def _shard(job: dict) -> dict:
    os.sched_setaffinity(0, set(job["cpus"]))
    from edgespace import ArchSpec
    from edgespace.calibration._loop import collect
    from edgespace.runners import REFERENCE_SPEC

    specs = [ArchSpec(**d) for d in job["specs"]]
    try:
        ms = collect(specs + [REFERENCE_SPEC], threads=job["threads"], rounds=job["rounds"], cache_dir=job["cache"])
    except Exception as exc:  # noqa: BLE001 - one shard's failure is recorded, the others go on
        return {"shard": job["shard"], "error": f"{type(exc).__name__}: {exc}", "runs": []}
    runs = []
    for m in ms:
        prof = m.node_profile
        runs.append(
            {
                "spec": m.spec.to_dict(),
                "latency_ms": float(m.latency_calibration_ms),
                "spread_pct": float(m.latency_spread_pct),
                "nodes": [[n.name, n.op_type, float(n.time_us)] for n in prof.nodes] if prof else [],
                "profile_source": getattr(prof, "source", ""),
                "runtime_version": m.runtime_version,
            }
        )
    ref = runs.pop()
    return {"shard": job["shard"], "cpus": job["cpus"], "reference_ms": ref["latency_ms"], "runs": runs}


def measure_sharded(specs, *, shards: int, threads: int = 1, rounds: int = 10, cache_dir=None, log=print) -> dict:
    """Measure ``specs`` in ``shards`` processes (``threads`` CPUs each, one per physical core
    where possible); the runs document (see the module's docstring)."""
    import numpy as np

    from edgespace.runners import REFERENCE_SPEC, export_many

    cpus = physical_cpus()
    if len(cpus) < shards * threads:
        cpus = sorted(os.sched_getaffinity(0))
    shards = max(1, min(shards, len(cpus) // threads))
    export_many([REFERENCE_SPEC], cache_dir)  # every shard finds it cached: no two write one file
    jobs = [
        {
            "shard": k,
            "cpus": cpus[k * threads : (k + 1) * threads],
            "specs": [s.to_dict() for s in specs[k::shards]],
            "threads": threads,
            "rounds": rounds,
            "cache": str(cache_dir) if cache_dir else None,
        }
        for k in range(shards)
    ]
    log(f"measuring {len(specs)} networks in {shards} processes on CPUs {[j['cpus'] for j in jobs]}")
    with mp.get_context("spawn").Pool(shards) as pool:
        done = []
        for res in pool.imap_unordered(_shard, jobs):
            done.append(res)
            log(
                f"  shard {res['shard']}: {len(res['runs'])} runs"
                + (f", FAILED {res['error']}" if "error" in res else "")
            )
    refs = [d["reference_ms"] for d in done if "reference_ms" in d]
    level = float(np.median(refs)) if refs else float("nan")
    runs = []
    for d in sorted(done, key=lambda d: d["shard"]):
        for r in d["runs"]:
            r["shard"] = d["shard"]
            r["latency_rescaled_ms"] = r["latency_ms"] * level / d["reference_ms"]
            runs.append(r)
    return {
        "format": FORMAT,
        "shards": [{k: d.get(k) for k in ("shard", "cpus", "reference_ms", "error")} for d in done],
        "reference": REFERENCE_SPEC.short_name(),
        "reference_level_ms": level,
        "threads": threads,
        "rounds": rounds,
        "runs": runs,
    }


def save_runs(doc: dict, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        json.dump(doc, f)


def run_items(doc: dict) -> dict:
    """``{spec: (spec, NodeProfile, rescaled e2e ms)}`` from a runs document."""
    from edgespace import ArchSpec
    from edgespace.runners._ort_profile import NodeProfile, NodeTime

    items = {}
    for r in doc["runs"]:
        spec = ArchSpec(**r["spec"])
        prof = NodeProfile(nodes=tuple(NodeTime(*n) for n in r["nodes"]), source=r.get("profile_source", ""))
        items[spec] = (spec, prof, r["latency_rescaled_ms"])
    return items


def load_runs(path) -> tuple[dict, dict]:
    """(the runs document, :func:`run_items` of it)."""
    with gzip.open(path, "rt") as f:
        doc = json.load(f)
    if doc.get("format") != FORMAT:
        raise SystemExit(f"{path}: not a {FORMAT} file (format {doc.get('format')!r})")
    return doc, run_items(doc)
