"""The figures of ``gpu_fidelity.py`` from its runs alone (the same on the device and in a
``--from-runs`` recompute anywhere): calibration errors per batch, ``meets`` and why, the fused
networks against the profile, the telemetry, and the check against a stored result."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from edgespace import ArchSpec, estimate
from edgespace.calibration._gpu import calibrate_gpu

TARGETS = {"latency_within_10pct": 0.9, "energy_within_15pct": 0.9}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One run as the runs file holds it, with the fields calibration reads."""

    spec: ArchSpec
    batch: int
    round_medians_ms: tuple[float, ...]
    energy_mj: float | None = None
    backend: str = "onnxruntime"
    runtime_version: str = ""
    device_name: str = "cpu"
    execution: str = ""
    precision: str = "fp32"
    meter: str = "none"
    phase: str = "unfused"
    host_bound: bool | None = None
    compile_s: float | None = None


def load_records(path) -> list[dict]:
    """The runs file's lines (a run killed mid-line leaves a partial last line: skipped, said)."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                print(f"  {path}:{n}: not a complete JSON line; skipped", flush=True)
    if not out:
        raise SystemExit(f"gpu_fidelity: {path} holds no runs")
    return out


def _held(errors: dict | None, key: str) -> str:
    return f"{round(errors[key] * errors['n'])} of {errors['n']} networks ({errors[key]:.0%})"


def summary(cal, batches) -> dict:
    """Per batch: held-out, in-sample and uncalibrated errors; ``meets`` (bool, None where nothing
    was measured) and ``meets_why`` (the figure against the target, or why there is none)."""
    lat, en, meets, why = {}, {}, {}, {}
    for b in batches:
        rep = cal.report["by_batch"].get(str(b), {})
        rl = rep.get("latency", {})
        lat[str(b)] = {k: rl.get(f) for k, f in (("held_out", "held_out_5fold"), ("in_sample", "in_sample"))}
        lat[str(b)]["uncalibrated"] = rl.get("uncalibrated")
        lat[str(b)]["held_out_by_family"] = rl.get("held_out_by_family")
        energy = rep.get("energy", {})
        en[str(b)] = (
            {"unavailable": energy["unavailable"]}
            if "unavailable" in energy
            else {k: energy.get(f) for k, f in (("held_out", "held_out_5fold"), ("in_sample", "in_sample"))}
            | {"uncalibrated": energy.get("uncalibrated")}
        )
        held, n = lat[str(b)]["held_out"], rep.get("n", 0)
        t = TARGETS["latency_within_10pct"]
        meets[f"latency_b{b}"] = bool(held and held["within_10pct"] >= t)
        why[f"latency_b{b}"] = (
            f"held-out (5-fold) latency within ±10% for {_held(held, 'within_10pct')}; target {t:.0%}"
            if held
            else f"no held-out figure: {n} networks measured at batch {b} (10 needed)"
        )
        eh, t = en[str(b)].get("held_out"), TARGETS["energy_within_15pct"]
        if "unavailable" in en[str(b)]:
            meets[f"energy_b{b}"] = None
            why[f"energy_b{b}"] = f"energy not measured: {en[str(b)]['unavailable']}"
        else:
            meets[f"energy_b{b}"] = bool(eh and eh["within_15pct"] >= t)
            why[f"energy_b{b}"] = (
                f"held-out (5-fold) energy per image within ±15% for {_held(eh, 'within_15pct')}; target {t:.0%}"
                if eh
                else f"no held-out figure: {n} networks metered at batch {b} (10 needed)"
            )
    return {"latency": lat, "energy": en, "meets": meets, "meets_why": why}


def fused_rows(records: list[dict], profile: str) -> list[dict]:
    rows = []
    for r in records:
        spec = ArchSpec(**r["spec"])
        measured = float(np.median(r["round_medians_ms"]))
        predicted = estimate(spec, profile).latency_ms
        rows.append(
            {
                "network": spec.short_name(),
                "measured_ms": measured,
                "uncalibrated_predicted_ms": predicted,
                "error_pct": (predicted - measured) / measured * 100,
                "host_bound": r.get("host_bound"),
                "host_call_ms": r.get("host_call_ms"),
                "compile_s": r.get("compile_s"),
                "energy_mj": r.get("energy_mj"),
                "execution": r.get("execution"),
            }
        )
    return rows


def result(records: list[dict], profile: str, batches) -> dict:
    """The figures from the runs alone (the same on the device and in a --from-runs recompute)."""
    unfused = [r for r in records if r.get("phase", "unfused") == "unfused"]
    runs = [read_record(r) for r in unfused]
    doc: dict = {"profile": profile, "batches": batches, "targets": TARGETS}
    doc["networks"] = len({dataclasses.replace(r.spec, batch=1) for r in runs})
    doc["host_bound_runs"] = sum(bool(r.get("host_bound")) for r in records)
    if doc["networks"] and all(sum(r.batch == b for r in runs) >= 7 for b in batches):
        cal = calibrate_gpu(profile, runs, note="benchmarks/gpu_fidelity.py")
        doc.update(summary(cal, batches), report=cal.report, provenance=cal.provenance)
        doc["runs"] = cal.runs.drop(columns=["spec"]).replace({np.nan: None}).to_dict(orient="records")
    else:
        doc["meets"] = {f"{k}_b{b}": False for b in batches for k in ("latency", "energy")}
        doc["meets_why"] = {k: f"too few runs to calibrate ({len(runs)} unfused runs)" for k in doc["meets"]}
    doc["fused_check"] = fused_rows([r for r in records if r.get("phase") == "fused"], profile)
    return doc


def read_record(rec: dict) -> RunRecord:
    keep = {f.name for f in dataclasses.fields(RunRecord)}
    d = {k: v for k, v in rec.items() if k in keep}
    return RunRecord(**{**d, "spec": ArchSpec(**d["spec"]), "round_medians_ms": tuple(d["round_medians_ms"])})


def telemetry(records: list[dict]) -> list[dict]:
    """Per run: the board's power, temperature and SM clock over its window (NVML, once a second)."""
    keys = ("avg_power_w", "peak_power_w", "sustained_power_w", "peak_temperature_c", "sustained_sm_clock_mhz")
    return [
        {
            "network": ArchSpec(**r["spec"]).short_name(),
            "phase": r.get("phase", "unfused"),
            "batch": r["batch"],
            **{k: r.get(k) for k in keys},
            "energy_window_s": r.get("energy_window_s"),
            "series_t_s_temp_c_sm_mhz_power_w": r.get("telemetry_series", []),
        }
        for r in records
        if r.get("telemetry_series") or r.get("avg_power_w") is not None
    ]


def check(doc: dict, stored_path: str) -> list[str]:
    """Differences between a recomputed result and a stored one (figures to 1e-6 relative)."""
    stored = json.loads(Path(stored_path).read_text())
    diffs = []
    for key in ("meets", "networks", "host_bound_runs"):
        if doc.get(key) != stored.get(key):
            diffs.append(f"{key}: recomputed {doc.get(key)!r}, stored {stored.get(key)!r}")
    for part in ("latency", "energy"):
        for b, figures in doc.get(part, {}).items():
            for kind, e in figures.items():
                s = stored.get(part, {}).get(b, {}).get(kind)
                if isinstance(e, dict) and not all(
                    np.isclose(e[k], (s or {}).get(k, np.nan), rtol=1e-6) for k in e if isinstance(e[k], float)
                ):
                    diffs.append(f"{part} batch {b} {kind}: recomputed {e}, stored {s}")
    return diffs


def print_figures(doc: dict) -> None:
    for b in doc["batches"]:
        lat, e = doc.get("latency", {}).get(str(b), {}), doc.get("energy", {}).get(str(b), {})
        held, unc = lat.get("held_out"), lat.get("uncalibrated")
        line = f"  batch {b:>3}: "
        line += (
            f"latency within ±10% {held['within_10pct']:.0%} (MAPE {held['mape_pct']:.1f}%)" if held else "no held-out"
        )
        line += f" | uncalibrated {unc['within_10pct']:.0%} (MAPE {unc['mape_pct']:.1f}%)" if unc else ""
        if "unavailable" in e:
            line += f" | energy: {e['unavailable']}"
        elif e.get("held_out"):
            line += f" | energy/image within ±15% {e['held_out']['within_15pct']:.0%}"
            line += f" (uncalibrated MAPE {e['uncalibrated']['mape_pct']:.0f}%)"
        print(line)
        for fam, f in (lat.get("held_out_by_family") or {}).items():
            print(
                f"      {fam:26s} {f['n']:2d} networks, within ±10% {f['within_10pct']:.0%}, MAPE {f['mape_pct']:.1f}%"
            )
    for r in doc.get("fused_check", []):
        print(
            f"  fused {r['network']}: measured {r['measured_ms']:.3f} ms, profile {r['uncalibrated_predicted_ms']:.3f} ms"
        )
    print(f"meets: {doc['meets']}", flush=True)
