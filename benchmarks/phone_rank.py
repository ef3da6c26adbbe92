"""Rank agreement between ONNX Runtime, LiteRT and ExecuTorch on this CPU, and a LiteRT (and
ExecuTorch) calibration's held-out accuracy, from the same runs.

    python benchmarks/phone_rank.py                   # 20 networks, 64-128 px; writes benchmarks/results/phone_rank.json
    python benchmarks/phone_rank.py --networks 24 --rounds 10 --out /tmp/r.json

1. Draw ``--networks`` specs over the five families (Latin hypercube; width 0.35-1.0, depth
   0.5-1.0, 64-128 px: small, so that the exports and the run stay within minutes).
2. Export each (fp32) to ONNX, ExecuTorch (.pte, XNNPACK) and LiteRT (.tflite): in child
   processes, cached, so this process never imports torch and a rerun skips the exports.
3. Time at ``--threads`` pinned threads: ``--rounds`` rounds, each visiting every network on
   every runtime in turn (``--calls`` back-to-back calls, their median), so a noisy spell hits
   all three alike. A network's latency per runtime is the fastest of its round medians (the
   robust figure on a shared machine: noise only adds time), or their median (``--statistic``).
4. Kendall τ (scipy.stats.kendalltau) between the runtimes' latencies over the networks.
5. Per-operator profiles of every network (``--profile-runs`` runs each): ExecuTorch's event
   tracer (ETDump, XNNPACK's own operator times) and ONNX Runtime's profiler. LiteRT's Python
   API has none (its ``benchmark_model`` on a phone does: see the phone capture sets).
6. ``edgespace.calibrate('host', runs)`` fitted to the same latencies several ways, each reported
   as the share of networks within ±10% when held out of the fit (5 folds):
   ``litert_end_to_end`` and ``executorch_end_to_end`` (totals only, split by a roofline);
   ``executorch_per_operator`` (ETDump) and ``onnxruntime_per_operator`` (its profiler), the
   per-operator calibrations; and ``litert_split_by_executorch`` (LiteRT's latencies, split over
   segments by ExecuTorch's profile of the same network: both run XNNPACK's kernels), which
   separates the model's form from the runtime.
7. The noise ceiling: per runtime, the share of networks whose fastest even-numbered and fastest
   odd-numbered round agree within ±10% (no model can beat the measurement's own repeatability).

``--latencies-from JSON`` reuses a stored run's round medians (the same networks) and only
profiles and fits again: a later fitting method judged on the same latencies.

The machine's load average before and after is stored with the result; on a busy machine
(load above half the cores, or round spreads above 10%) the JSON says so. Rerun on a quiet
machine to reproduce: the exports are cached, the timing takes a few minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _results import write_result  # noqa: E402

RUNTIMES = ("onnxruntime", "litert", "executorch")


def main(argv=None) -> int:
    from scipy.stats import kendalltau

    from edgespace.calibration import calibrate, draw_specs
    from edgespace.exporters import cached_phone_models
    from edgespace.runners import TimingPlan, get_runner
    from edgespace.runners._export import export_many

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--calls", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--statistic", choices=("min", "median"), default="min", help="over the round medians")
    ap.add_argument("--profile-runs", type=int, default=20, help="runs of each per-operator profile")
    ap.add_argument("--resolution", default="64,128", help="resolution range LO,HI of the drawn networks")
    ap.add_argument(
        "--latencies-from",
        default=None,
        metavar="JSON",
        help="reuse the latencies a stored run measured (same networks): profile and fit again only",
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    load_before = os.getloadavg()
    t0 = time.time()
    lo, hi = (int(x) for x in args.resolution.split(","))
    ranges = {"width": (0.35, 1.0), "depth": (0.5, 1.0), "resolution": (lo, hi)}
    specs = draw_specs(args.networks, ranges=ranges, seed=args.seed, design="lhs")
    print(f"{len(specs)} networks; exporting (cached)", flush=True)
    paths = {"onnxruntime": [str(p) for p in export_many(specs)]}
    print(f"  onnx {time.time() - t0:.0f}s", flush=True)
    paths["executorch"] = [str(p) for p in cached_phone_models(specs, "executorch", "fp32")]
    print(f"  executorch {time.time() - t0:.0f}s", flush=True)
    paths["litert"] = [str(p) for p in cached_phone_models(specs, "litert", "fp32")]
    t_export = time.time() - t0
    print(f"  litert {t_export:.0f}s", flush=True)

    runners = {rt: get_runner(rt) for rt in RUNTIMES}
    plan = TimingPlan(warmup=3, runs=args.calls, rounds=1, profile=False)
    medians = {rt: np.zeros((args.rounds, len(specs))) for rt in RUNTIMES}
    last = {rt: [None] * len(specs) for rt in RUNTIMES}
    t1 = time.time()
    stored = None
    if args.latencies_from is not None:  # the stored run's round medians; one short run for each Measurement
        stored = json.loads(Path(args.latencies_from).read_text())
        if [n["spec"] for n in stored["networks"]] != [s.to_dict() for s in specs]:
            raise SystemExit(f"--latencies-from {args.latencies_from}: not the networks drawn here")
        for rt in RUNTIMES:
            medians[rt] = np.array([n[f"{rt}_round_medians_ms"] for n in stored["networks"]]).T
            for i, spec in enumerate(specs):
                last[rt][i] = runners[rt].measure(paths[rt][i], spec, threads=args.threads, timing=plan)
    for r in range(args.rounds if stored is None else 0):
        for i, spec in enumerate(specs):
            for rt in RUNTIMES:
                m = runners[rt].measure(paths[rt][i], spec, threads=args.threads, timing=plan)
                medians[rt][r, i] = m.latency_p50_ms
                last[rt][i] = m
        print(f"  round {r + 1}/{args.rounds} {time.time() - t1:.0f}s", flush=True)
    t_time = time.time() - t1

    reduce = np.min if args.statistic == "min" else np.median
    lat = {rt: reduce(medians[rt], axis=0) for rt in RUNTIMES}
    spread = {rt: (medians[rt].max(0) - medians[rt].min(0)) / medians[rt].min(0) * 100 for rt in RUNTIMES}
    taus = {}
    for a, b in (("onnxruntime", "litert"), ("onnxruntime", "executorch"), ("litert", "executorch")):
        res = kendalltau(lat[a], lat[b])
        taus[f"{a}~{b}"] = {"tau": float(res.statistic), "p_value": float(res.pvalue)}
    ratios = {
        f"{rt}/onnxruntime": {
            "median": float(np.median(lat[rt] / lat["onnxruntime"])),
            "min": float(np.min(lat[rt] / lat["onnxruntime"])),
            "max": float(np.max(lat[rt] / lat["onnxruntime"])),
        }
        for rt in ("litert", "executorch")
    }
    t2 = time.time()
    per_op = {"executorch": [], "onnxruntime": []}
    one = TimingPlan(warmup=1, runs=1, rounds=1, profile=True, profile_runs=args.profile_runs)
    for i, spec in enumerate(specs):
        per_op["executorch"].append(
            runners["executorch"].measure(paths["executorch"][i], spec, threads=args.threads, timing=one).node_profile
        )
        per_op["onnxruntime"].append(
            runners["onnxruntime"].profile(paths["onnxruntime"][i], spec, threads=args.threads, runs=args.profile_runs)
        )
    t_profile = time.time() - t2
    print(f"  profiled {t_profile:.0f}s", flush=True)

    def runs_of(rt: str, profiles=None) -> list:
        return [
            dataclasses.replace(
                last[rt][i],
                # the calibration fits to the median of round_medians_ms: give it the chosen statistic
                round_medians_ms=(float(lat[rt][i]),),
                latency_robust_ms=float(medians[rt][:, i].min()),
                latency_spread_pct=float(spread[rt][i]),
                node_profile=None if profiles is None else profiles[i],
            )
            for i in range(len(specs))
        ]

    fits = {
        "litert_end_to_end": ("litert", None, "LiteRT totals, each split over its segments by a roofline"),
        "executorch_end_to_end": ("executorch", None, "ExecuTorch totals, each split by a roofline"),
        "executorch_per_operator": ("executorch", per_op["executorch"], "ExecuTorch totals, split by its ETDump"),
        "onnxruntime_per_operator": (
            "onnxruntime",
            per_op["onnxruntime"],
            "ONNX Runtime totals, split by its profiler",
        ),
        "litert_split_by_executorch": (
            "litert",
            per_op["executorch"],
            "LiteRT totals, split by ExecuTorch's ETDump of the same network (both run XNNPACK's kernels)",
        ),
    }
    calibrations = {}
    for label, (rt, profiles, how) in fits.items():
        cal = calibrate("host", runs_of(rt, profiles), threads=args.threads, note=f"benchmarks/phone_rank.py, {label}")
        calibrations[label] = {
            "id": cal.id,
            "latencies_of": rt,
            "segment_times_from": how,
            "networks": len(specs),
            "held_out_5fold": cal.report.get("held_out_5fold"),
            "in_sample": cal.report.get("in_sample"),
            "runtime": cal.provenance.get("runtime"),
        }
        print(f"  {label}: held out within ±10% {cal.report['held_out_5fold']['within_10pct']:.0%}", flush=True)
    ceiling = {}
    for rt in RUNTIMES:
        even, odd = medians[rt][::2].min(0), medians[rt][1::2].min(0)
        ceiling[rt] = float(np.mean(np.abs(even - odd) / np.minimum(even, odd) <= 0.10))
    load_after = os.getloadavg()
    cores = os.cpu_count() or 1
    med_spread = {rt: float(np.median(spread[rt])) for rt in RUNTIMES}
    busy = max(load_before[0], load_after[0]) > cores / 2 or max(med_spread.values()) > 10
    doc = {
        "what": "Kendall tau between ONNX Runtime, LiteRT and ExecuTorch latencies (fp32, XNNPACK for the phone "
        "runtimes) on this CPU, and the held-out accuracy of calibrations fitted to the LiteRT and ExecuTorch runs",
        "threads": args.threads,
        "rounds": int(medians["litert"].shape[0]),
        "calls_per_round": args.calls,
        "statistic": f"per network and runtime: the {args.statistic} over rounds of each round's median call time",
        "machine_busy": bool(busy),
        "latencies_from": None
        if stored is None
        else {
            "file": Path(args.latencies_from).name,
            "date": stored["date"],
            "command": stored["command"],
            "load_average_1min": stored["load_average_1min"],
            "median_round_spread_pct": stored["median_round_spread_pct"],
            "note": "latencies, Kendall tau and noise ceiling are that run's; the per-operator profiles and "
            "the fits were made again in this run (load_average_1min below is this run's)",
        },
        "load_average_1min": {"before": load_before[0], "after": load_after[0], "cores": cores},
        "median_round_spread_pct": med_spread,
        "seconds": {"export": round(t_export, 1), "timing": round(t_time, 1), "profiling": round(t_profile, 1)},
        "target": "a calibration predicts >= 90% of held-out networks within ±10% at 1 thread",
        "held_out_within_10pct": {k: (c["held_out_5fold"] or {}).get("within_10pct") for k, c in calibrations.items()},
        "noise_ceiling_within_10pct": {
            "what": "per runtime, the share of networks whose fastest even and fastest odd round agree within ±10%",
            **ceiling,
        },
        "kendall_tau": taus,
        "latency_ratio": ratios,
        "calibration": calibrations,
        "networks": [
            {
                "spec": s.to_dict(),
                **{f"{rt}_ms": float(lat[rt][i]) for rt in RUNTIMES},
                **{f"{rt}_spread_pct": float(spread[rt][i]) for rt in RUNTIMES},
                **{f"{rt}_round_medians_ms": [float(x) for x in medians[rt][:, i]] for rt in RUNTIMES},
            }
            for i, s in enumerate(specs)
        ],
    }
    path = write_result("phone_rank", doc, args.out)
    print({k: round(v["tau"], 3) for k, v in taus.items()})
    print("noise ceiling (round halves agree within ±10%):", ceiling)
    print(f"machine busy: {busy} (load {load_before[0]:.1f} -> {load_after[0]:.1f} on {cores} cores)")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
