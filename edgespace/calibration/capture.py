"""Time a capture set with ONNX Runtime on the device it is meant for.

    python -m edgespace.calibration.capture DIR [--threads N] [--provider CUDAExecutionProvider]
        [--tegrastats] [--energy-s 2]

For every ``NAME.onnx`` in ``DIR`` (written by ``edgespace export``), writes ``NAME.latency.json``
(median latency over interleaved rounds, without the profiler) and ``NAME.ort.json`` (a profiled
session's trace, for per-node times and memory). Then ``edgespace calibrate --from DIR`` fits the
device's latency model.

On a Jetson, ``--tegrastats`` also meters energy without edgespace on the device: the script
starts ``tegrastats --interval 10 --logfile DIR/tegrastats.log`` (NVIDIA's utility, as root),
notes when its first line appears, runs each model back to back for ``--energy-s`` seconds and
writes ``NAME.energy.json`` (the window as seconds from the log's first line, and the number of
inferences), and records ``nvpmodel -q`` and the log in ``DIR/device.json``. ``edgespace
calibrate --from DIR`` turns the module-input rail over each window into energy per inference
and tags the captures with the profile's power mode (refused when the clocks disagree).

This file needs only the standard library, NumPy and onnxruntime (no torch, no edgespace), so it
can be copied to a device on its own and run there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _session(ort, path, threads, provider, profile_prefix=None):
    # A copy of edgespace._ort_session.make_session's options (sequential, N intra-op threads, one
    # inter-op thread): this script must run on a device where edgespace is not installed.
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    if profile_prefix is not None:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), so, providers=[provider])


def _feed(np, session):
    inp = session.get_inputs()[0]
    side = int(inp.shape[2]) if isinstance(inp.shape[2], int) else 224
    dtype = np.uint8 if "uint8" in inp.type else np.float32
    return {inp.name: np.random.default_rng(0).integers(0, 256, (1, 3, side, side)).astype(dtype)}


def _start_tegrastats(d: Path, interval_ms: int):
    """Start tegrastats logging into ``d/tegrastats.log``; (process, wall time of its first line)."""
    import subprocess

    log = d / "tegrastats.log"
    if log.exists():
        log.unlink()
    try:
        proc = subprocess.Popen(["tegrastats", "--interval", str(interval_ms), "--logfile", str(log)])
    except FileNotFoundError:
        raise SystemExit(
            "capture: --tegrastats: the tegrastats utility is not on PATH (a Jetson with L4T has it)"
        ) from None
    deadline = time.time() + 5
    while time.time() < deadline:
        if log.exists() and log.stat().st_size > 0:
            return proc, time.perf_counter()
        time.sleep(0.001)
    proc.terminate()
    raise SystemExit(f"capture: --tegrastats: {log} got no line within 5 s (run as root: sudo)")


def _nvpmodel() -> str:
    import subprocess

    try:
        return subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return ""


def capture(
    directory,
    *,
    threads: int = 1,
    provider: str = "CPUExecutionProvider",
    rounds: int = 5,
    round_s: float = 0.2,
    profile_runs: int = 20,
    tegrastats: bool = False,
    energy_s: float = 2.0,
    interval_ms: int = 10,
    out=sys.stdout,
) -> list[Path]:
    """Time and profile every model in ``directory`` (and, with ``tegrastats``, meter each one's
    energy window); returns the files written."""
    import numpy as np
    import onnxruntime as ort

    d = Path(directory)
    models = sorted(p for p in d.glob("*.onnx"))
    if not models:
        raise SystemExit(
            f"capture: {d}: no .onnx files (write a capture set with `edgespace export --capture-set {d}`)"
        )
    if provider not in ort.get_available_providers():
        raise SystemExit(
            f"capture: --provider {provider}: not available; available: {', '.join(ort.get_available_providers())}"
        )
    sessions = []
    for p in models:
        s = _session(ort, p, threads, provider)
        f = _feed(np, s)
        for _ in range(5):
            s.run(None, f)
        sessions.append((p, s, f))
    lat = {p: [] for p in models}
    for r in range(rounds):  # interleaved: a slow spell of the device hits every model alike
        for p, s, f in sessions:
            t_end = time.perf_counter() + round_s
            one = []
            while time.perf_counter() < t_end or len(one) < 3:
                t0 = time.perf_counter()
                s.run(None, f)
                one.append(time.perf_counter() - t0)
            lat[p].append(float(np.median(one)) * 1e3)
        print(f"round {r + 1}/{rounds} timed", file=out, flush=True)
    written = []
    if tegrastats:
        proc, t_log0 = _start_tegrastats(d, interval_ms)
        try:
            time.sleep(0.5)
            for p, s, f in sessions:  # each model back to back for energy_s: its metered window
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < energy_s:
                    s.run(None, f)
                    n += 1
                t1 = time.perf_counter()
                name = p.name[: -len(".onnx")]
                e_p = d / f"{name}.energy.json"
                e_p.write_text(
                    json.dumps(
                        {
                            "tegrastats": "tegrastats.log",
                            "interval_ms": interval_ms,
                            "window_start_s": t0 - t_log0,
                            "window_end_s": t1 - t_log0,
                            "inferences": n,
                        }
                    )
                )
                written.append(e_p)
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        (d / "device.json").write_text(
            json.dumps({"nvpmodel": _nvpmodel(), "tegrastats": "tegrastats.log", "interval_ms": interval_ms})
        )
        written.append(d / "device.json")
    del sessions
    meta = {"onnxruntime": ort.__version__, "provider": provider, "threads": threads, "rounds": rounds}
    for p in models:
        name = p.name[: -len(".onnx")]
        lat_p = d / f"{name}.latency.json"
        lat_p.write_text(json.dumps({"latency_ms": float(np.median(lat[p])), "round_medians_ms": lat[p], **meta}))
        with tempfile.TemporaryDirectory() as tmp:
            s = _session(ort, p, threads, provider, profile_prefix=os.path.join(tmp, "ort"))
            f = _feed(np, s)
            for _ in range(profile_runs + 1):
                s.run(None, f)
            trace = s.end_profiling()
            shutil.move(trace, d / f"{name}.ort.json")
        written += [lat_p, d / f"{name}.ort.json"]
        print(f"{name}: {np.median(lat[p]):.3f} ms", file=out, flush=True)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgespace.calibration.capture", description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--provider", default="CPUExecutionProvider")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--round-s", type=float, default=0.2)
    ap.add_argument("--profile-runs", type=int, default=20)
    ap.add_argument("--tegrastats", action="store_true", help="Jetson: meter each model's energy with tegrastats")
    ap.add_argument("--energy-s", type=float, default=2.0, help="seconds of back-to-back runs per metered window")
    a = ap.parse_args(argv)
    if a.threads < 1 or a.rounds < 1 or a.round_s <= 0 or a.profile_runs < 1:
        ap.error("--threads, --rounds and --profile-runs must be >= 1 and --round-s > 0")
    capture(
        a.directory,
        threads=a.threads,
        provider=a.provider,
        rounds=a.rounds,
        round_s=a.round_s,
        profile_runs=a.profile_runs,
        tegrastats=a.tegrastats,
        energy_s=a.energy_s,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
