"""Energy from a ``tegrastats`` log recorded on a Jetson (edgespace need not be installed there).

On the device, next to a capture set (see :mod:`edgespace.calibration.capture`)::

    sudo tegrastats --interval 10 --logfile tegrastats.log &      # one line per 10 ms
    python capture.py DIR --tegrastats tegrastats.log --nvpmodel "$(nvpmodel -q)"
    sudo tegrastats --stop

tegrastats prints one line per interval; power rails appear as ``NAME current/average`` in
milliwatts, with the unit written out since JetPack 5 (NVIDIA's Jetson Linux Developer Guide,
"tegrastats Utility"; the rail names per module in its "Platform Power and Performance"
pages):

* Jetson Nano (L4T 32): ``... POM_5V_IN 2130/2130 POM_5V_GPU 40/40 POM_5V_CPU 479/479``
* Jetson Xavier NX (L4T 32): ``... VDD_IN 4023/4023 VDD_CPU_GPU_CV 514/514 VDD_SOC 1232/1232``
* Jetson Orin Nano / NX (JetPack 5/6): ``11-29-2026 23:10:04 RAM ... VDD_IN 5084mW/5084mW
  VDD_CPU_GPU_CV 1234mW/1234mW VDD_SOC 1479mW/1479mW`` (a timestamp starts each line)

CPU clocks appear as ``CPU [12%@1479,off,...]`` and the GPU's as ``GR3D_FREQ 0%@921`` (Nano,
Xavier) or ``GR3D_FREQ 0%@[918,918]`` (Orin, per GPC).

Energy per inference comes from the **module input** rail (``VDD_IN``; ``POM_5V_IN`` on the
Nano): the power the whole module draws, the figure a battery sees. Modules without one (AGX
Xavier, AGX Orin: their rails are per subsystem) are refused with that reason, never summed
into something else. The log's lines are the samples; the capture script records each model's
timed window as offsets from the log's first line, and the samples inside it are integrated
(trapezoid rule). Fewer than two samples in a window: None with the reason.

Time comes from the lines' own timestamps where they carry one (JetPack 5/6: tegrastats skips
seconds under load, so line count × interval is shorter than the log), from the interval only
where they do not; :meth:`TegrastatsLog.gaps` lists the skips. Two runs appended to one file
(the running average resets, or the clock goes back) are found by
:meth:`TegrastatsLog.run_starts` and split by :meth:`TegrastatsLog.runs`; a window over such a
log is refused with that reason.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgespace._errors import EdgespaceError

__all__ = ["TegrastatsError", "TegrastatsLog", "parse_tegrastats", "MODULE_INPUT_RAILS", "window_energy"]

#: Rails that measure the module's input power, in order of preference.
MODULE_INPUT_RAILS = ("VDD_IN", "POM_5V_IN")
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]*)\s+(\d+)(?:mW)?/(\d+)(?:mW)?(?=\s|$)")
_STAMP = re.compile(r"^(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})\s+")
_CPU = re.compile(r"\bCPU \[([^\]]*)\]")
_GPU = re.compile(r"\bGR3D_FREQ \d+%@(?:\[([\d,]+)\]|(\d+))")
# fields that look like rails but are not (RAM 1216/3964MB, SWAP 0/1982MB, IRAM 0/252kB, ...)
_NOT_RAILS = {"RAM", "SWAP", "IRAM", "EMC_FREQ", "GR3D_FREQ"}


class TegrastatsError(EdgespaceError, ValueError):
    """A tegrastats log cannot be read or does not hold what was asked of it."""


@dataclass
class TegrastatsLog:
    """Parsed tegrastats lines: ``power_mw[rail]`` (instantaneous, one value per line),
    ``cpu_mhz`` / ``gpu_mhz`` (highest clock on each line, NaN where absent), ``stamps`` (the
    JetPack 5+ timestamp of each line, or None), and the sampling ``interval_s``."""

    power_mw: dict = field(default_factory=dict)
    cpu_mhz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gpu_mhz: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stamps: list = field(default_factory=list)
    interval_s: float = 0.01
    source: str = "<text>"
    #: the running average tegrastats prints after each rail's current value (mW)
    average_mw: dict = field(default_factory=dict)

    @property
    def lines(self) -> int:
        return len(self.cpu_mhz)

    @property
    def timed_by(self) -> str:
        """``"timestamps"`` where every line carries one (JetPack 5/6), else ``"interval"``."""
        return "timestamps" if self.stamps and all(st is not None for st in self.stamps) else "interval"

    @property
    def times_s(self) -> np.ndarray:
        """Time of each line from the first, in seconds. From the lines' own timestamps where
        every line has one (a log that skips seconds spans its real duration): the lines printed
        within one whole second are placed ``interval_s`` apart from its start. Without
        timestamps (L4T 32): line k at k × ``interval_s``."""
        if self.timed_by == "interval":
            return np.arange(self.lines) * self.interval_s
        t0 = self.stamps[0]
        out = np.empty(self.lines)
        prev, within = None, 0
        for k, st in enumerate(self.stamps):
            within = within + 1 if st == prev else 0
            prev = st
            out[k] = (st - t0).total_seconds() + within * self.interval_s
        return out

    def gaps(self, tolerance_s: float = 0.5) -> list[tuple[int, float]]:
        """``(line, seconds)`` for every line that came later than the interval after the one
        before it (by more than ``tolerance_s``; timestamps have whole-second resolution): the
        log skipped samples there. Empty for a log without timestamps (nothing to tell)."""
        if self.timed_by == "interval" or self.lines < 2:
            return []
        dt = np.diff(self.times_s)
        late = np.nonzero(dt > self.interval_s + tolerance_s)[0]
        return [(int(k + 1), float(dt[k])) for k in late]

    def run_starts(self) -> list[int]:
        """First line of each run in the log: 0, and every line where tegrastats started again
        (a run appended to the same file): the module-input rail's running average reset to the
        current value instead of following the previous average, or the timestamps went back."""
        starts = [0]
        rail = next((r for r in MODULE_INPUT_RAILS if r in self.average_mw), None)
        cur = self.power_mw.get(rail) if rail else None
        avg = self.average_mw.get(rail) if rail else None
        n_in_run = 1
        for k in range(1, self.lines):
            back = self.stamps[k] is not None and self.stamps[k - 1] is not None and self.stamps[k] < self.stamps[k - 1]
            reset = False
            if avg is not None and np.isfinite([avg[k - 1], avg[k], cur[k]]).all():
                expected = (avg[k - 1] * n_in_run + cur[k]) / (n_in_run + 1)
                # averages are printed in whole mW: allow the rounding of both
                reset = abs(avg[k] - cur[k]) <= 1 and abs(avg[k] - expected) > 2
            if back or reset:
                starts.append(k)
                n_in_run = 1
            else:
                n_in_run += 1
        return starts

    def runs(self) -> list[TegrastatsLog]:
        """The log split at :meth:`run_starts`, one :class:`TegrastatsLog` per run."""
        starts = self.run_starts() + [self.lines]
        out = []
        for a, b in zip(starts, starts[1:], strict=False):
            out.append(
                TegrastatsLog(
                    {k: v[a:b] for k, v in self.power_mw.items()},
                    self.cpu_mhz[a:b],
                    self.gpu_mhz[a:b],
                    self.stamps[a:b],
                    self.interval_s,
                    f"{self.source} (run {len(out) + 1}: lines {a + 1}-{b})",
                    {k: v[a:b] for k, v in self.average_mw.items()},
                )
            )
        return out

    def module_input_rail(self) -> str:
        """The module-input rail (:data:`MODULE_INPUT_RAILS`), or :class:`TegrastatsError` naming
        the rails the log has."""
        for name in MODULE_INPUT_RAILS:
            if name in self.power_mw:
                return name
        raise TegrastatsError(
            f"{self.source}: no module-input rail ({' or '.join(MODULE_INPUT_RAILS)}); the log has "
            f"{', '.join(sorted(self.power_mw)) or 'no power rails'} (per-subsystem rails are not "
            "summed into a module figure)"
        )


def parse_tegrastats(path_or_text, *, interval_s: float = 0.01) -> TegrastatsLog:
    """Parse a tegrastats log (a path, or the text itself); ``interval_s`` is the
    ``--interval`` it ran with (ms / 1000)."""
    if isinstance(path_or_text, (str, os.PathLike)) and "\n" not in str(path_or_text) and Path(path_or_text).is_file():
        src = str(path_or_text)
        try:
            text = Path(path_or_text).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise TegrastatsError(f"{src}: cannot read ({exc})") from None
    elif isinstance(path_or_text, os.PathLike):
        raise TegrastatsError(f"{path_or_text}: no such tegrastats log")
    else:
        text, src = str(path_or_text), "<text>"
    if not (isinstance(interval_s, (int, float)) and interval_s > 0):
        raise TegrastatsError(f"interval_s={interval_s!r}: allowed: seconds > 0 (tegrastats --interval / 1000)")
    power: dict[str, list] = {}
    average: dict[str, list] = {}
    cpu, gpu, stamps = [], [], []
    n = 0
    for k, line in enumerate(text.splitlines()):
        line = line.strip()
        if not line:
            continue
        m = _STAMP.match(line)
        stamp = None
        if m:
            stamp = _dt.datetime.strptime(m.group(1), "%m-%d-%Y %H:%M:%S")
            line = line[m.end() :]
        if not line.startswith("RAM "):
            raise TegrastatsError(
                f"{src}: line {k + 1}: not a tegrastats line (expected 'RAM used/totalMB ...'): {line[:60]!r}"
            )
        found = [(name, float(inst), float(avg)) for name, inst, avg in _RAIL.findall(line) if name not in _NOT_RAILS]
        for table, col in ((power, 1), (average, 2)):
            rails = {f[0]: f[col] for f in found}
            for name, v in rails.items():
                table.setdefault(name, [np.nan] * n).append(v)
            for name in table:
                if name not in rails:
                    table[name].append(np.nan)
        c = _CPU.search(line)
        freqs = [int(f) for f in re.findall(r"@(\d+)", c.group(1))] if c else []
        cpu.append(max(freqs) if freqs else np.nan)
        g = _GPU.search(line)
        if g:
            gpu.append(max(int(x) for x in (g.group(1) or g.group(2)).split(",")))
        else:
            gpu.append(np.nan)
        stamps.append(stamp)
        n += 1
    if n == 0:
        raise TegrastatsError(f"{src}: no tegrastats lines")
    return TegrastatsLog(
        {k: np.array(v, dtype=float) for k, v in power.items()},
        np.array(cpu, float),
        np.array(gpu, float),
        stamps,
        float(interval_s),
        src,
        {k: np.array(v, dtype=float) for k, v in average.items()},
    )


def window_energy(log: TegrastatsLog, start_s: float, end_s: float, *, inferences: int | None = None) -> dict:
    """Module-input energy over ``[start_s, end_s]`` (seconds from the log's first line).

    Returns ``energy_window_mj``, ``energy_window_s``, ``energy_per_inference_mj`` (window ÷
    ``inferences``), ``avg_power_w``, ``samples``, ``rail``, ``meter_domain`` and
    ``energy_unavailable_reason`` (None, or why the energy is None)."""
    out = {
        "energy_window_mj": None,
        "energy_window_s": float(end_s - start_s),
        "energy_per_inference_mj": None,
        "avg_power_w": None,
        "samples": 0,
        "rail": None,
        "meter_domain": "module-input",
        "energy_unavailable_reason": None,
    }
    try:
        rail = log.module_input_rail()
    except TegrastatsError as exc:
        out["energy_unavailable_reason"] = str(exc)
        return out
    out["rail"] = rail
    starts = log.run_starts()
    if len(starts) > 1:
        out["energy_unavailable_reason"] = (
            f"{log.source}: {len(starts)} tegrastats runs appended in one log (they start at lines "
            f"{', '.join(str(k + 1) for k in starts)}); offsets from its first line are ambiguous: "
            "split it with TegrastatsLog.runs()"
        )
        return out
    t = log.times_s
    p = log.power_mw[rail]
    inside = (t >= start_s) & (t <= end_s) & np.isfinite(p)
    out["samples"] = int(inside.sum())
    if out["samples"] < 2:
        out["energy_unavailable_reason"] = (
            f"{log.source}: {out['samples']} {rail} sample(s) in the window "
            f"{start_s:.3f}-{end_s:.3f} s (at least 2 needed; log every "
            f"{log.interval_s * 1e3:g} ms over {log.lines} lines)"
        )
        return out
    ts, ps = t[inside], p[inside] / 1e3
    energy_j = float(np.sum(0.5 * (ps[1:] + ps[:-1]) * np.diff(ts)))
    span = float(ts[-1] - ts[0])
    out["avg_power_w"] = energy_j / span if span > 0 else float(ps.mean())
    # the samples span slightly less than the window: the average power covers the whole of it
    out["energy_window_mj"] = out["avg_power_w"] * out["energy_window_s"] * 1e3
    if inferences:
        out["energy_per_inference_mj"] = out["energy_window_mj"] / inferences
    return out
