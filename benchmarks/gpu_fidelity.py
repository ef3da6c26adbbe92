"""GPU calibration fidelity, end to end in one command: measure, calibrate, predict held-out networks.

    python benchmarks/gpu_fidelity.py --out-dir benchmarks/results              # on an NVIDIA GPU
    python benchmarks/gpu_fidelity.py --dry-run --out-dir /tmp/dry              # its code path on the CPU
    python benchmarks/gpu_fidelity.py --quick --cpu --out cpu_fidelity.json     # ONNX Runtime, anywhere
    python benchmarks/gpu_fidelity.py --from-runs RUNS.jsonl --check RESULT.json --out again.json

GPU path (torch with CUDA and a visible device): the board's idle power once it has settled, then
``--networks`` specs drawn over four families (each family's range corners plus a Latin
hypercube) at ``--precision`` (fp16), each built once and timed with the ``torch-cuda`` runner at
every ``--batches`` size as an unfused CUDA graph (CUDA events; NVML energy per image over a window
of at least 2 s, the runner's rule; per-second telemetry); then the per-batch GPU model
(:mod:`edgespace.calibration._gpu`) fitted, and per batch the network-held-out (5-fold) latency
and energy-per-image errors beside the uncalibrated profile's errors on the same networks. Last,
``--fused N`` published networks through ``torch.compile`` (fused + CUDA graph) at batch 1
against the uncalibrated profile (which models fused execution). ``--budget-s`` bounds the wall
time: measuring stops (keeping time for the fused networks) and the script writes what it has.

Every run is appended to ``gpu_fidelity_runs.jsonl`` as it completes (a killed run keeps them);
``gpu_fidelity.json`` holds the machine (device, driver, torch/CUDA versions), the command, the
date, the figures and ``meets`` with ``meets_why``. ``--from-runs`` recomputes that JSON from a runs
file, anywhere; ``--check`` compares it with a stored result (exit 1 on a difference).

``--dry-run`` runs the GPU path's code on the CPU (eager torch, no meter, tiny networks, batches
1 and 4): everything but CUDA. ``--cpu`` is the ONNX Runtime path against the ``host`` profile.
Targets: held-out latency within ±10% for >= 90% of networks per batch, energy per image within
±15% for >= 90%.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import gc
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gpu_fidelity_figures import check, load_records, print_figures, result, telemetry  # noqa: E402

from edgespace import ArchSpec, mobilenet
from edgespace.calibration import draw_specs
from edgespace.runners._timing import TimingPlan, WallTimer, latency_summary, time_calls
from edgespace.runners.torch_cuda import cuda_unavailable_reason
from edgespace.spec import efficientnet_preset

FORMAT = "edgespace-gpu-fidelity/2"
TINY_RANGES = {"width": (0.35, 0.75), "depth": (0.5, 1.0), "resolution": (64, 128)}
#: Result file per path (the runs file is ``<stem>_runs.jsonl`` beside it): a CPU run or a dry run
#: never overwrites a GPU result.
RESULT_FILES = {
    "gpu": "gpu_fidelity.json",
    "cpu": "gpu_fidelity_cpu.json",
    "dry-run": "gpu_fidelity_dry_run.json",
    "from-runs": "gpu_fidelity_recomputed.json",
}
FUSED_NETWORKS = (
    ("efficientnet", 1.0, 1.0, 224),
    ("mobilenetv2", 1.0, 1.0, 224),
    ("mobilenetv3_large", 1.0, 1.0, 224),
)
#: Seconds kept for each fused network (compiling takes 14-35 s each on an H200, plus its window).
FUSED_RESERVE_S = 40.0


def fused_specs(precision: str) -> list[ArchSpec]:
    return [
        efficientnet_preset("b0", precision=precision)
        if fam == "efficientnet"
        else mobilenet(fam, w, r, precision=precision)
        for fam, w, _d, r in FUSED_NETWORKS
    ]


def run_record(m, phase: str) -> dict:
    """Everything a Measurement of the GPU runners says, as plain data (one runs-file line)."""
    d = m.to_dict()
    d.pop("node_profile", None)
    d["phase"] = phase
    d["batch"] = int(getattr(m, "batch", m.spec.batch))
    return json.loads(json.dumps(d, default=float))


def profile_for(device: str) -> str:
    name = device.upper()
    if "H200" in name:
        return "nvidia-h200"
    if "H100" in name:
        return "nvidia-h100"
    raise SystemExit(f"gpu_fidelity: no shipped profile for GPU {device!r}; pass --profile NAME")


def machine(gpu: bool) -> dict:
    """Where the runs were taken: host, Python and package versions, the GPU and its driver."""
    out = {"host": platform.node(), "python": platform.python_version(), "cpu": platform.processor() or "?"}
    try:
        import torch

        out["torch"], out["cuda"] = torch.__version__, torch.version.cuda
        if gpu:
            out["device"] = torch.cuda.get_device_name(0)
            out["cudnn"] = torch.backends.cudnn.version()
            out["compute_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    except Exception as exc:  # noqa: BLE001 - a version lookup must not stop the benchmark
        out["torch"] = f"unavailable ({exc})"
    try:
        import timm

        out["timm"] = timm.__version__
    except Exception:  # noqa: BLE001, S110 - reported as absent
        pass
    if gpu:
        try:
            import pynvml

            pynvml.nvmlInit()
            drv = pynvml.nvmlSystemGetDriverVersion()
            out["driver"] = drv.decode() if isinstance(drv, bytes) else str(drv)
            h = pynvml.nvmlDeviceGetHandleByIndex(0)
            out["power_limit_w"] = pynvml.nvmlDeviceGetPowerManagementLimit(h) / 1e3
        except Exception as exc:  # noqa: BLE001
            out["driver"] = f"unavailable ({exc})"
    return out


def cpu_runs(specs, batches, runs: int, rounds: int, sink) -> list[dict]:
    """The ONNX Runtime path: one thread, sequential."""
    import onnxruntime as ort

    from edgespace._ort_session import make_session
    from edgespace.runners import export_many

    out = []
    for step, (spec, path) in enumerate(zip(specs, export_many(specs), strict=True), 1):
        sess = make_session(path, 1)
        name = sess.get_inputs()[0].name
        rng = np.random.default_rng(0)
        for b in batches:
            feed = {name: rng.integers(0, 256, size=(b, 3, spec.resolution, spec.resolution)).astype(np.uint8)}
            run = time_calls(lambda s=sess, f=feed: s.run(None, f), WallTimer(), warmup=2, runs=runs, rounds=rounds)
            rec = {
                "phase": "unfused",
                "spec": dataclasses.replace(spec, batch=b).to_dict(),
                "batch": b,
                "round_medians_ms": list(latency_summary(run, rounds)["round_medians_ms"]),
                "runtime_version": f"onnxruntime {ort.__version__}",
                "backend": "onnxruntime",
                "precision": spec.precision,
                "execution": "onnxruntime CPUExecutionProvider, 1 thread, sequential",
            }
            sink(rec)
            out.append(rec)
        print(f"  [{step}/{len(specs)}] {spec.short_name()}", flush=True)
    return out


class TorchRuns:
    """The GPU path (``device="cuda"``) or its dry run on the CPU: the idle power, the unfused runs,
    then the fused networks, each written to the runs file as it completes, within the budget."""

    def __init__(self, args, device: str, t0: float, sink, notes: list) -> None:
        from edgespace.meters import NullMeter, get_meter

        self.args, self.device, self.t0, self.sink, self.notes = args, device, t0, sink, notes
        self.gpu = device != "cpu"
        self.meter = get_meter("nvml", device=device) if self.gpu else NullMeter("dry run on the CPU: no GPU meter")
        # the runner's rules: warm-up outside the window, an energy window of at least 2 s (NVML's
        # counter is averaged over tens of ms), five rounds, the idle power measured once, apart
        self.kw = {
            "timing": TimingPlan(warmup=20, runs=200 if self.gpu else 20, rounds=5),
            "idle_s": 0.0,
            "energy_min_s": 2.0,
        }

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def idle(self) -> dict:
        from edgespace.runners import settled_idle_power

        window = 3.0 if self.gpu else 0.0
        idle_w, settle_s = settled_idle_power(self.meter, window, notes=self.notes)
        telemetry = getattr(self.meter, "telemetry", None)
        print(f"idle: {idle_w if idle_w is None else round(idle_w, 1)} W after {settle_s:.1f} s to settle", flush=True)
        return {
            "power_w": idle_w,
            "settle_s": settle_s if idle_w is not None else None,
            "window_s": window if idle_w is not None else None,
            "meter": self.meter.name,
            "telemetry_at_start": list(telemetry()) if telemetry is not None else None,
            "unavailable_reason": getattr(self.meter, "reason", None),
        }

    def _measure(self, runner, spec, phase: str, **kw) -> dict | None:
        try:
            m = runner.measure(None, spec, precision=self.args.precision, meter=self.meter, **self.kw, **kw)
        except Exception as exc:  # noqa: BLE001 - one network's failure (memory, compiler) is reported, not fatal
            self.notes.append(f"{phase} {spec.short_name()}: failed: {type(exc).__name__}: {exc}"[:500])
            print(self.notes[-1], flush=True)
            return None
        rec = run_record(m, phase)
        self.sink(rec)
        e = f"{m.energy_mj:.3f} mJ/img" if m.energy_mj is not None else "no energy"
        extra = f", compile {m.compile_s:.1f} s" if phase == "fused" and m.compile_s else ""
        print(
            f"  {phase} {m.spec.short_name()}: {m.latency_p50_ms:.3f} ms/call (spread {m.latency_spread_pct:.1f}%), "
            f"{e}, host-bound {m.host_bound}{extra} [{self.elapsed():.0f} s]",
            flush=True,
        )
        return rec

    def unfused(self, specs, batches, reserve_s: float) -> list[dict]:
        import torch

        from edgespace._build import build
        from edgespace.runners.torch_cuda import TorchCudaRunner

        runner = TorchCudaRunner(device=self.device, compile=False)
        out: list[dict] = []
        per_net = 0.0
        for i, spec in enumerate(specs):
            left = self.args.budget_s - self.elapsed() - reserve_s
            if left < max(per_net, 1.0):
                self.notes.append(
                    f"time budget: stopped after {i} of {len(specs)} networks ({left:.0f} s left before the "
                    f"{reserve_s:.0f} s kept for the fused networks; one network took up to {per_net:.0f} s)"
                )
                print(self.notes[-1], flush=True)
                break
            t_net = time.perf_counter()
            model = build(spec)
            for b in batches:
                rec = self._measure(runner, dataclasses.replace(spec, batch=b), "unfused", model=model)
                out += [rec] if rec is not None else []
            per_net = max(per_net, time.perf_counter() - t_net)
            del model
            gc.collect()
            if self.gpu:
                torch.cuda.empty_cache()
        return out

    def fused(self, specs):
        """Yields each fused record (None for one not run) as it completes."""
        from edgespace.runners.torch_cuda import TorchCudaRunner

        compiled = TorchCudaRunner(device=self.device, compile=True)
        for spec in specs:
            if self.gpu and self.args.budget_s - self.elapsed() < FUSED_RESERVE_S:
                self.notes.append(f"time budget: fused {spec.short_name()} not run")
                print(self.notes[-1], flush=True)
                yield None
                continue
            yield self._measure(compiled, dataclasses.replace(spec, batch=1), "fused")


def write(doc: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=float))
    tmp.replace(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=None, help="folder for the result and runs files (default benchmarks/results)")
    ap.add_argument("--out", default=None, help="result JSON (default gpu_fidelity.json, or _cpu, _dry_run...)")
    ap.add_argument("--runs-jsonl", default=None, metavar="FILE", help="runs file (default: next to the JSON)")
    ap.add_argument("--quick", action="store_true", help="10 networks, fewer runs (CI; a first look)")
    ap.add_argument("--cpu", action="store_true", help="the ONNX Runtime CPU path even where a GPU is present")
    ap.add_argument("--dry-run", action="store_true", help="the GPU path's code on the CPU (eager, no meter)")
    ap.add_argument("--networks", type=int, default=None, help="networks to measure (default 22; --quick 10)")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,32; CPU 1,4)")
    ap.add_argument("--profile", default=None, help="uncalibrated profile (default from the GPU's name)")
    ap.add_argument("--precision", default="fp16", help="fp16 (default) or fp32: the specs are drawn at it")
    ap.add_argument("--fused", type=int, default=3, metavar="N", help="published networks compiled, last (<= 3)")
    ap.add_argument("--budget-s", type=float, default=300.0, help="wall-time budget of the measuring (s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-runs", default=None, metavar="FILE", help="no measuring: recompute from a runs file")
    ap.add_argument("--check", default=None, metavar="JSON", help="with --from-runs: compare with a stored result")
    args = ap.parse_args(argv)
    n = args.networks if args.networks is not None else (10 if args.quick or args.dry_run else 22)
    if not 10 <= n <= 40:
        ap.error(f"--networks {n}: allowed: 10 to 40 (the held-out report needs 10)")
    if args.precision not in ("fp16", "fp32"):
        ap.error(f"--precision {args.precision}: allowed: fp16, fp32 (the specs are drawn at the precision run)")
    if not 0 <= args.fused <= 3:
        ap.error(f"--fused {args.fused}: allowed: 0 to 3")
    if args.check and not args.from_runs:
        ap.error("--check needs --from-runs")
    reason = cuda_unavailable_reason()
    gpu = reason is None and not (args.cpu or args.dry_run or args.from_runs)
    if not gpu and not (args.cpu or args.dry_run or args.from_runs) and not args.quick:
        print(f"no CUDA device ({reason}): the ONNX Runtime CPU path", flush=True)
    batches = [int(b) for b in (args.batches or ("1,32" if gpu else "1,4")).split(",")]
    out_dir = Path(args.out_dir) if args.out_dir else None
    kind = "from-runs" if args.from_runs else "gpu" if gpu else "dry-run" if args.dry_run else "cpu"
    out = Path(args.out) if args.out else (out_dir or Path("benchmarks/results")) / RESULT_FILES[kind]
    runs_path = Path(args.runs_jsonl) if args.runs_jsonl else out.with_name(f"{out.stem}_runs.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    notes: list[str] = []
    doc: dict = {
        "format": FORMAT,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]) if argv is None else " ".join(["gpu_fidelity.py", *argv]),
    }
    if args.from_runs:
        records = load_records(args.from_runs)
        head = next((r for r in records if r.get("phase") == "idle"), {})
        records = [r for r in records if r.get("phase") != "idle"]
        if not records:
            raise SystemExit(f"gpu_fidelity: {args.from_runs} holds no runs")
        doc.update(machine=head.get("machine"), idle=head.get("idle"), measured_by=head.get("command"))
        first = records[0]
        stored_profile = json.loads(Path(args.check).read_text()).get("profile") if args.check else None
        profile = (
            args.profile
            or stored_profile
            or (profile_for(first["device_name"]) if first.get("device_name", "cpu") != "cpu" else "host")
        )
        batches = sorted({int(r["batch"]) for r in records if r.get("phase", "unfused") == "unfused"})
        doc.update(
            path="from-runs",
            runs_file=Path(args.from_runs).name,
            device=first.get("device_name"),
            backend=first.get("backend"),
            runtime=first.get("runtime_version"),
        )
    else:
        runs_path.write_text("")  # a fresh runs file per run

        def sink(rec: dict) -> None:
            with runs_path.open("a") as f:
                f.write(json.dumps(rec, default=float) + "\n")

        if gpu or args.dry_run:
            import torch

            device = "cuda" if gpu else "cpu"
            name = torch.cuda.get_device_name(0) if gpu else "cpu (dry run)"
            profile = args.profile or (profile_for(name) if gpu else "nvidia-h200")
            ranges = None if gpu else TINY_RANGES
            specs = draw_specs(n, cover=True, seed=args.seed, precision=args.precision, ranges=ranges)
            fused = fused_specs(args.precision)[: args.fused] if gpu else specs[: args.fused]
            print(
                f"{'GPU' if gpu else 'dry run'}: {name}, {n} networks x batches {batches}, {args.precision}, "
                f"unfused CUDA graphs, then {len(fused)} fused; profile {profile}; budget {args.budget_s:.0f} s",
                flush=True,
            )
            doc.update(path="gpu" if gpu else "dry-run", machine=machine(gpu), backend="torch-cuda")
            torch_runs = TorchRuns(args, device, t0, sink, notes)
            doc["idle"] = torch_runs.idle()
            sink({"phase": "idle", "idle": doc["idle"], "machine": doc["machine"], "command": doc["command"]})
            records = torch_runs.unfused(specs, batches, FUSED_RESERVE_S * len(fused) if gpu else 0.0)
        else:
            profile = args.profile or "host"
            specs = draw_specs(
                n, cover=True, seed=args.seed, families=("mobilenetv3_small", "mobilenetv2"), ranges=TINY_RANGES
            )
            print(f"CPU path: {n} networks x batches {batches} on ONNX Runtime; profile {profile}", flush=True)
            doc.update(path="cpu", machine=machine(False), backend="onnxruntime", gpu_unavailable_reason=reason)
            records = cpu_runs(specs, batches, runs=6 if args.quick else 30, rounds=3, sink=sink)
        doc["runs_file"] = runs_path.name
    if not records:
        raise SystemExit(f"gpu_fidelity: no run completed; see {runs_path}")

    def finish() -> None:
        doc.update(result(records, profile, batches), notes=notes)
        doc.update(precision=records[0].get("precision", "fp32"), execution=records[0].get("execution"))
        doc["telemetry"] = telemetry(records)
        doc["budget"] = {"budget_s": args.budget_s, "stopped_early": any(x.startswith("time budget") for x in notes)}
        doc["timing_s"] = {"total": time.perf_counter() - t0}
        write(doc, out)

    finish()  # the unfused figures are on disk before anything is compiled
    print(f"\n{doc['path']} path, profile {profile}: held-out (5-fold) error per batch")
    print_figures(doc)
    print(f"wrote {out} and {doc['runs_file']} ({doc['timing_s']['total']:.0f} s)", flush=True)
    if not args.from_runs and (gpu or args.dry_run):
        for rec in torch_runs.fused(fused):
            if rec is not None:
                records.append(rec)
            finish()
        for r in doc["fused_check"]:
            print(
                f"  fused {r['network']}: measured {r['measured_ms']:.3f} ms, profile "
                f"{r['uncalibrated_predicted_ms']:.3f} ms ({r['error_pct']:+.1f}%), host-bound {r['host_bound']}"
            )
        print(f"rewrote {out} with the fused networks ({doc['timing_s']['total']:.0f} s)", flush=True)
    if args.check:
        diffs = check(doc, args.check)
        print("check: " + ("the recomputed figures match the stored result" if not diffs else "; ".join(diffs)))
        return 1 if diffs else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
