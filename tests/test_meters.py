"""Power meters and metered Measurements: energy per inference from a real ONNX Runtime run
read through a powercap tree we drive ourselves, feasibility from a real Measurement, and the
Jetson readers (tegrastats logs, INA3221 sysfs trees) on fixtures laid out as NVIDIA documents and on real logs from public repositories."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import edgespace as es
from edgespace.budget import Budget, BudgetError, feasibility
from edgespace.meters import MeterInitError, NullMeter, RaplMeter
from edgespace.runners import OnnxRuntimeRunner, TimingPlan
from edgespace.runners._export import export_many

TINY = es.ArchSpec("mobilenetv3_small", 0.35, 1.0, 64)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    path = export_many([TINY])[0]
    yield path
    mp.undo()


class PowercapCounter:
    """A powercap tree as the kernel lays it out (``intel-rapl:0/energy_uj``,
    ``max_energy_range_uj``), whose counter a thread advances at ``power_w``: a real counter
    source that a RaplMeter reads like the kernel's."""

    def __init__(self, root, power_w: float, start_uj: int = 0, range_uj: int = 262143328850) -> None:
        self.dom = root / "intel-rapl:0"
        self.dom.mkdir(parents=True)
        (self.dom / "name").write_text("package-0\n")
        (self.dom / "max_energy_range_uj").write_text(f"{range_uj}\n")
        self.power_w, self.start_uj, self.range_uj = power_w, start_uj, range_uj
        self.write(start_uj)
        self.stop = threading.Event()
        self.t0 = time.perf_counter()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def write(self, uj: int) -> None:
        tmp = self.dom / "energy_uj.tmp"
        tmp.write_text(f"{uj % self.range_uj}\n")
        tmp.replace(self.dom / "energy_uj")

    def _run(self) -> None:
        while not self.stop.wait(0.001):
            self.write(self.start_uj + int(self.power_w * (time.perf_counter() - self.t0) * 1e6))

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def metered(tmp_path, tiny_onnx):
    counter = PowercapCounter(tmp_path, power_w=6.0)
    meter = RaplMeter(root=tmp_path)
    m = OnnxRuntimeRunner().measure(
        tiny_onnx,
        TINY,
        threads=1,
        timing=TimingPlan(warmup=3, runs=400, rounds=4, profile=False),
        meter=meter,
        idle_s=0.3,
    )
    counter.close()
    return m


def test_energy_per_inference_is_the_window_divided_by_the_inferences(metered):
    m = metered
    assert m.runs == 400 and m.meter == "rapl" and m.meter_domain == "cpu-package"
    assert m.energy_window_mj > 0 and m.energy_window_s > 0
    assert m.energy_per_inference_mj == pytest.approx(m.energy_window_mj / m.runs, rel=1e-12)
    assert m.energy_mj == m.energy_per_inference_mj  # energy_mj means per inference, as on an Estimate
    # the counter ran at 6 W: the meter's average over the window says so (loosely: the writer
    # thread steps every millisecond and may lag on a busy machine)
    assert m.avg_power_w == pytest.approx(6.0, rel=0.3)
    assert m.avg_power_w == pytest.approx(m.energy_window_mj / 1e3 / m.energy_window_s, rel=1e-9)
    # idle power was measured before the window, reported apart and not subtracted
    assert m.idle_power_w == pytest.approx(6.0, rel=0.3)
    assert m.energy_unavailable_reason is None
    d = m.to_dict()
    assert d["energy_mj"] == m.energy_per_inference_mj and d["energy_window_mj"] == m.energy_window_mj


def test_a_real_measurement_goes_through_feasibility_per_inference(metered):
    budget = Budget(battery_wh=10.0, frames_per_day=10_000)
    r = feasibility(budget, estimate=metered)
    by_number = feasibility(budget, energy_per_frame_mj=metered.energy_per_inference_mj)
    # per inference, not the window total (a 400-run window is not 40 frames' worth per frame)
    assert r.energy_per_frame_j == pytest.approx(metered.energy_per_inference_mj / 1e3, rel=1e-12)
    assert r.verdict == by_number.verdict
    assert r.energy_per_frame_j < metered.energy_window_mj / 1e3 / 10


def test_an_unmetered_measurement_gives_feasibility_its_reason(tiny_onnx):
    m = OnnxRuntimeRunner().measure(
        tiny_onnx,
        TINY,
        threads=1,
        timing=TimingPlan(warmup=1, runs=5, rounds=1, profile=False),
        meter=NullMeter("no power meter available: RAPL: no package domain"),
    )
    assert m.energy_mj is None and m.energy_window_mj is None and m.idle_power_w is None and m.meter_domain == ""
    with pytest.raises(BudgetError, match="RAPL: no package domain"):
        feasibility(Budget(battery_wh=10.0, frames_per_day=100), estimate=m)


def test_measurement_and_window_have_only_their_units_last_names(metered):
    for old in ("latency_ms_p50", "latency_ms_robust", "latency_ms_calibration", "peak_memory_bytes"):
        assert not hasattr(metered, old), old
    null = NullMeter("no meter here")
    window = null.end_window(null.begin_window())
    assert window.energy_unavailable_reason == "no meter here" and not hasattr(window, "unavailable_reason")


def test_rapl_window_survives_a_counter_wrap(tmp_path):
    # the counter is moved by hand (no thread), so the energy in the window is exact whatever the
    # machine's load: 10 J from 999.9 J on a 1,000 J range wraps after 0.1 J
    counter = PowercapCounter(tmp_path, power_w=0.0, start_uj=999_900_000, range_uj=1_000_000_000)
    counter.close()
    meter = RaplMeter(root=tmp_path)
    token = meter.begin_window()
    counter.write(999_900_000 + 10_000_000)
    time.sleep(0.05)
    w = meter.end_window(token)
    assert w.energy_mj == pytest.approx(10_000.0, rel=1e-9)


# ----------------------------------------------------------------------------- Jetson: tegrastats

# One line each as NVIDIA documents tegrastats output (Jetson Linux Developer Guide, "tegrastats
# Utility"): L4T 32 on Nano and Xavier NX (rails as current/average in mW, no unit), JetPack 6 on
# an Orin Nano (a timestamp first, the unit written out), L4T 32 on an AGX Xavier (per-subsystem
# rails only).
NANO = (
    "RAM 1587/3964MB (lfb 190x4MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
    "CPU [14%@1479,5%@1479,2%@1479,4%@1479] EMC_FREQ 3%@1600 GR3D_FREQ 0%@921 APE 25 PLL@29C CPU@31.5C "
    "PMIC@100C GPU@30C AO@36.5C thermal@30.75C POM_5V_IN {p}/{p} POM_5V_GPU 40/40 POM_5V_CPU 479/479"
)
XAVIER_NX = (
    "RAM 2276/7771MB (lfb 1095x4MB) SWAP 0/3885MB (cached 0MB) CPU [4%@1190,3%@1190,2%@1190,2%@1190,off,off] "
    "EMC_FREQ 0% GR3D_FREQ 0%@306 APE 150 MTS fg 0% bg 0% AO@38.5C GPU@38.5C PMIC@100C AUX@38C CPU@40C "
    "thermal@38.9C VDD_IN {p}/{p} VDD_CPU_GPU_CV 514/514 VDD_SOC 1232/1232"
)
ORIN_NANO = (
    "11-29-2026 23:10:{s:02d} RAM 2113/7620MB (lfb 6x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [2%@{cpu},1%@{cpu},0%@{cpu},0%@{cpu},0%@{cpu},3%@{cpu}] EMC_FREQ 0%@3199 GR3D_FREQ 0%@[918] "
    "NVENC off NVDEC off NVJPG off VIC off APE 200 cpu@48.5C soc2@47.968C soc0@47.875C gpu@48.031C tj@48.5C "
    "VDD_IN {p}mW/{a}mW VDD_CPU_GPU_CV 1234mW/1234mW VDD_SOC 1479mW/1479mW"
)


def orin_lines(powers_mw, cpu: int = 1510, per_second: int = 100) -> list[str]:
    """Synthetic JetPack 6 lines in NVIDIA's documented format: ``per_second`` lines a second,
    each with its timestamp and the rail's running average as tegrastats prints it."""
    out, total = [], 0.0
    for k, p in enumerate(powers_mw):
        total += p
        out.append(ORIN_NANO.format(s=k // per_second, cpu=cpu, p=p, a=round(total / (k + 1))))
    return out


AGX_XAVIER = (
    "RAM 3190/31919MB (lfb 6656x4MB) SWAP 0/15959MB (cached 0MB) CPU [1%@1190,0%@1190,0%@1190,0%@1190,"
    "off,off,off,off] EMC_FREQ 0% GR3D_FREQ 0%@318 APE 150 MTS fg 0% bg 0% AO@39C GPU@39.5C Tdiode@41.5C "
    "PMIC@100C AUX@39C CPU@40C thermal@39.6C Tboard@39C GPU 0/0 CPU 153/153 SOC 1071/1071 CV 0/0 "
    "VDDRQ 306/306 SYS5V 1453/1453"
)


def test_tegrastats_lines_in_nvidias_formats_parse_to_the_module_input_rail():
    from edgespace.meters.tegrastats import parse_tegrastats

    nano = parse_tegrastats(NANO.format(p=2130))
    assert nano.module_input_rail() == "POM_5V_IN" and nano.power_mw["POM_5V_IN"][0] == 2130
    assert set(nano.power_mw) == {"POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"}  # RAM, SWAP, IRAM are not rails
    assert nano.cpu_mhz[0] == 1479 and nano.gpu_mhz[0] == 921
    nx = parse_tegrastats(XAVIER_NX.format(p=4023))
    assert nx.module_input_rail() == "VDD_IN" and nx.power_mw["VDD_IN"][0] == 4023 and nx.gpu_mhz[0] == 306
    orin = parse_tegrastats(ORIN_NANO.format(s=4, cpu=1510, p=5084, a=5084))
    assert orin.module_input_rail() == "VDD_IN" and orin.power_mw["VDD_IN"][0] == 5084
    assert orin.cpu_mhz[0] == 1510 and orin.gpu_mhz[0] == 918 and orin.stamps[0].second == 4
    agx = parse_tegrastats(AGX_XAVIER)
    with pytest.raises(es.EdgespaceError, match="no module-input rail.*SYS5V"):
        agx.module_input_rail()
    with pytest.raises(es.EdgespaceError, match="line 1: not a tegrastats line"):
        parse_tegrastats("hello\n")


def test_tegrastats_window_energy_per_inference_and_its_edge_cases(tmp_path):
    from edgespace.meters.tegrastats import parse_tegrastats, window_energy

    # 10 ms lines: 5 W for the first half second, then 8 W while a model runs
    lines = orin_lines([5000 if k < 50 else 8000 for k in range(200)])
    path = tmp_path / "tegrastats.log"
    path.write_text("\n".join(lines) + "\n")
    log = parse_tegrastats(path, interval_s=0.01)
    w = window_energy(log, 0.6, 1.5, inferences=300)
    assert w["rail"] == "VDD_IN" and w["meter_domain"] == "module-input" and w["samples"] == 91
    assert w["energy_window_mj"] == pytest.approx(8.0 * 0.9 * 1e3)
    assert w["energy_per_inference_mj"] == pytest.approx(w["energy_window_mj"] / 300)
    assert w["avg_power_w"] == pytest.approx(8.0)
    short = window_energy(log, 0.601, 0.605, inferences=1)
    assert short["energy_window_mj"] is None and "0 VDD_IN sample(s)" in short["energy_unavailable_reason"]
    one = window_energy(log, 0.6, 0.605, inferences=1)
    assert one["energy_window_mj"] is None and "1 VDD_IN sample(s)" in one["energy_unavailable_reason"]
    agx = window_energy(parse_tegrastats("\n".join([AGX_XAVIER] * 10)), 0.0, 0.05, inferences=5)
    assert agx["energy_per_inference_mj"] is None and "no module-input rail" in agx["energy_unavailable_reason"]


def test_nvpmodel_mode_tags_a_capture_and_disagreeing_clocks_are_refused():
    from edgespace.calibration import tag_mode
    from edgespace.meters.tegrastats import parse_tegrastats

    nano = parse_tegrastats(NANO.format(p=2130))
    assert tag_mode("jetson-nano-4gb", "NV Power Mode: MAXN\n0", nano) == "10W"
    with pytest.raises(es.EdgespaceError, match="CPU ran at 1479 MHz but mode 5W .* caps it at 918 MHz"):
        tag_mode("jetson-nano-4gb", "NV Power Mode: 5W\n1", nano)
    orin = parse_tegrastats(ORIN_NANO.format(s=0, cpu=1728, p=9000, a=9000))
    assert tag_mode("jetson-orin-nano-8gb", "NV Power Mode: MAXN_SUPER\n2", orin) == "MAXN_SUPER"
    with pytest.raises(es.EdgespaceError, match="clocks disagree"):
        tag_mode("jetson-orin-nano-8gb", "NV Power Mode: 15W\n0", orin)
    with pytest.raises(es.EdgespaceError, match="'40W' is not a mode of jetson-orin-nano-8gb"):
        tag_mode("jetson-orin-nano-8gb", "NV Power Mode: 40W\n3")


def test_a_capture_set_with_a_tegrastats_log_gives_energy_per_inference(tmp_path):
    import json
    import shutil
    from pathlib import Path

    from edgespace.calibration import read_capture_set

    data = Path(__file__).resolve().parent / "data"
    spec = es.ArchSpec("mobilenetv3_small", 0.35, 1.0, 64)
    name = "mobilenetv3_small_w0.35_d1_r64"
    d = tmp_path / "captures"
    d.mkdir()
    (d / "manifest.json").write_text(
        json.dumps(
            {
                "format": "edgespace-captures/1",
                "models": [{"name": name, "onnx": f"{name}.onnx", "spec": spec.to_dict()}],
            }
        )
    )
    shutil.copy(data / "ort_profile_mnv3s_w035_r64.json", d / f"{name}.ort.json")
    (d / f"{name}.latency.json").write_text(json.dumps({"latency_ms": 3.0, "threads": 4}))
    # 15W caps the GPU at 612 MHz: the log shows it there
    lines = [
        line.replace("@[918]", "@[612]") for line in orin_lines([4000 if k < 20 else 6000 for k in range(150)], 1497)
    ]
    (d / "tegrastats.log").write_text("\n".join(lines) + "\n")
    (d / "device.json").write_text(
        json.dumps({"nvpmodel": "NV Power Mode: 15W\n0", "tegrastats": "tegrastats.log", "interval_ms": 10})
    )
    (d / f"{name}.energy.json").write_text(
        json.dumps(
            {
                "tegrastats": "tegrastats.log",
                "interval_ms": 10,
                "window_start_s": 0.3,
                "window_end_s": 1.3,
                "inferences": 333,
            }
        )
    )
    found = read_capture_set(d)
    e = found.energy[0]
    assert found.metered == 1 and e["energy_per_inference_mj"] == pytest.approx(6.0 * 1.0 * 1e3 / 333)
    assert found.mode_for("jetson-orin-nano-8gb") == "15W"


# ----------------------------------------------------------------------------- Jetson: INA3221 sysfs


def _write(path, text) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")


def nano_tree(root):
    """L4T 32 (Jetson Nano): ina3221x, iio:device0, rail_name_N and in_power/voltage/current N (mW/mV/mA)."""
    dev = root / "ina3221x" / "6-0040" / "iio:device0"
    for k, (name, mw) in enumerate((("POM_5V_IN", 2130), ("POM_5V_GPU", 40), ("POM_5V_CPU", 479))):
        _write(dev / f"rail_name_{k}", name)
        _write(dev / f"in_power{k}_input", mw)
        _write(dev / f"in_voltage{k}_input", 5000)
        _write(dev / f"in_current{k}_input", mw // 5)
    return dev / "in_power0_input"


def xavier_nx_tree(root):
    """L4T 32 (Jetson Xavier NX): ina3221x, iio:device0, VDD_IN / VDD_CPU_GPU_CV / VDD_SOC."""
    dev = root / "ina3221x" / "7-0040" / "iio:device0"
    for k, (name, mw) in enumerate((("VDD_IN", 4023), ("VDD_CPU_GPU_CV", 514), ("VDD_SOC", 1232))):
        _write(dev / f"rail_name_{k}", name)
        _write(dev / f"in_power{k}_input", mw)
    return dev / "in_power0_input"


def orin_tree(root, labels=("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")):
    """JetPack 5/6 (Orin Nano/NX): ina3221, hwmon, inN_label with inN_input (mV) and currN_input (mA)."""
    hw = root / "ina3221" / "1-0040" / "hwmon" / "hwmon3"
    for k, (name, mv, ma) in enumerate(zip(labels, (5080, 5080, 5080), (1000, 243, 291), strict=True), start=1):
        _write(hw / f"in{k}_label", name)
        _write(hw / f"in{k}_input", mv)
        _write(hw / f"curr{k}_input", ma)
    _write(hw / "in7_label", "sum of shunt voltages")  # a label with no current: not a rail
    _write(hw / "in7_input", 0)
    return hw


@pytest.mark.parametrize(
    "tree, rail, watts",
    [(nano_tree, "POM_5V_IN", 2.130), (xavier_nx_tree, "VDD_IN", 4.023), (orin_tree, "VDD_IN", 5.080)],
)
def test_ina3221_meter_reads_the_module_input_rail_by_label(tmp_path, tree, rail, watts):
    from edgespace.meters import JetsonMeter

    tree(tmp_path)
    meter = JetsonMeter(interval_s=0.005, root=tmp_path, check_platform=False)
    assert meter.rail == rail and meter.power_w() == pytest.approx(watts)
    # an immediate end is shorter than the sampling interval: one reading, no energy, the reason
    short = meter.end_window(meter.begin_window())
    assert (
        short.energy_mj is None
        and short.samples == 1
        and "shorter than the sampling interval" in (short.energy_unavailable_reason)
    )
    token = meter.begin_window()
    time.sleep(0.03)
    w = meter.end_window(token)
    assert w.samples >= 3 and w.domain == "module-input"
    assert w.energy_mj == pytest.approx(watts * w.duration_s * 1e3, rel=1e-6)


def test_ina3221_window_integrates_a_change_and_refuses_below_two_samples(tmp_path):
    from edgespace.meters import JetsonMeter
    from edgespace.meters.jetson_ina3221 import window_from_samples

    hw = orin_tree(tmp_path)
    meter = JetsonMeter(interval_s=0.002, root=tmp_path, check_platform=False)
    token = meter.begin_window()
    time.sleep(0.05)
    _write(hw / "curr1_input", 2000)  # 5.08 W -> 10.16 W
    time.sleep(0.05)
    w = meter.end_window(token)
    assert 5.08 * 1.02 < w.avg_power_w < 10.16 * 0.98 and w.samples >= 3
    one = window_from_samples([(0.0, 5.0)])
    assert one.energy_mj is None and "1 VDD_IN sample(s)" in one.energy_unavailable_reason
    none = window_from_samples([])
    assert none.energy_mj is None and "0 VDD_IN sample(s)" in none.energy_unavailable_reason
    same = window_from_samples([(0.0, 5.0), (0.0, 5.0)])  # one reading repeated is not two
    assert same.energy_mj is None and "1 VDD_IN sample(s)" in same.energy_unavailable_reason
    assert window_from_samples([(0.0, 4.0), (0.5, 6.0)]).energy_mj == pytest.approx(2500.0)


def test_ina3221_without_a_module_input_rail_or_rails_says_why(tmp_path):
    from edgespace.meters import JetsonMeter

    orin_tree(tmp_path, labels=("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"))  # AGX Orin: per-subsystem rails
    with pytest.raises(MeterInitError, match="no module-input rail.*VIN_SYS_5V0"):
        JetsonMeter(root=tmp_path, check_platform=False)
    with pytest.raises(MeterInitError, match="no INA3221 power rails"):
        JetsonMeter(root=tmp_path / "empty", check_platform=False)
    with pytest.raises(MeterInitError, match="not a Jetson"):
        JetsonMeter(root=tmp_path)  # this machine is not one


def _stamped(seconds, powers_mw) -> str:
    """Synthetic JetPack 5 log at tegrastats' default 1 s interval: one line per listed second
    (a second left out is a second tegrastats skipped), running averages as tegrastats prints."""
    lines, total = [], 0.0
    for k, (sec, p) in enumerate(zip(seconds, powers_mw, strict=True)):
        total += p
        stamp = f"11-29-2026 23:{10 + sec // 60:02d}:{sec % 60:02d}"
        lines.append(ORIN_NANO.format(s=0, cpu=1510, p=p, a=round(total / (k + 1)))[19:].join([stamp, ""]))
    return "\n".join(lines) + "\n"


def test_a_jetpack5_log_that_skips_seconds_spans_its_real_duration_and_reports_the_gaps():
    from edgespace.meters.tegrastats import parse_tegrastats, window_energy

    seconds = [s for s in range(106) if s not in (17, 58, 59)]  # 103 lines over 105 s
    log = parse_tegrastats(_stamped(seconds, [5000] * len(seconds)), interval_s=1.0)
    assert log.lines == 103 and log.timed_by == "timestamps"
    assert log.times_s[-1] == 105.0  # line count x interval would say 102 s
    assert log.gaps() == [(17, 2.0), (57, 3.0)]
    w = window_energy(log, 0.0, 105.0)
    assert w["energy_window_mj"] == pytest.approx(5.0 * 105.0 * 1e3) and w["samples"] == 103
    # without timestamps (L4T 32) the interval is all there is, and no gap can be told
    plain = parse_tegrastats("\n".join([XAVIER_NX.format(p=4023)] * 5), interval_s=0.5)
    assert plain.timed_by == "interval" and list(plain.times_s) == [0.0, 0.5, 1.0, 1.5, 2.0] and plain.gaps() == []


REAL_LOGS = Path(__file__).parent / "data" / "tegrastats"  # sources in SOURCES.md there


def test_a_real_jetpack_log_that_skips_seconds_spans_its_real_105_s_as_one_run():
    """A real Orin log (not synthetic): 103 lines printed over 105 s. Its own running averages
    follow every line, so it is one run, and the last average tegrastats printed is the mean of
    the current values read here (both in whole mW)."""
    from edgespace.meters.tegrastats import parse_tegrastats, window_energy

    log = parse_tegrastats(REAL_LOGS / "orin_jetpack_skips_seconds.log", interval_s=1.0)
    assert log.lines == 103 and log.timed_by == "timestamps"
    assert log.times_s[-1] == 105.0  # 102 s by line count
    assert log.gaps() == [(16, 2.0), (46, 2.0), (79, 2.0)]
    assert log.run_starts() == [0]
    vdd_in = log.power_mw["VDD_IN"]
    assert log.module_input_rail() == "VDD_IN" and abs(vdd_in.mean() - log.average_mw["VDD_IN"][-1]) <= 1.0
    w = window_energy(log, 0.0, 105.0)
    assert w["samples"] == 103 and w["energy_window_s"] == 105.0
    assert vdd_in.min() / 1e3 < w["avg_power_w"] < vdd_in.max() / 1e3


def test_a_real_agx_orin_log_has_no_module_input_rail_and_energy_says_so():
    from edgespace.meters.tegrastats import TegrastatsError, parse_tegrastats, window_energy

    log = parse_tegrastats(REAL_LOGS / "agx_orin_jetpack6.log", interval_s=1.0)
    assert log.lines == 15 and log.times_s[-1] == 15.0 and log.gaps() == [(4, 2.0)] and log.run_starts() == [0]
    assert log.gpu_mhz[0] == 305 and log.cpu_mhz[0] == 1728
    with pytest.raises(TegrastatsError, match="no module-input rail.*VDD_CPU_CV, VDD_GPU_SOC, VIN_SYS_5V0"):
        log.module_input_rail()
    w = window_energy(log, 0.0, 15.0)
    assert w["energy_window_mj"] is None and "module-input" in w["energy_unavailable_reason"]


def test_two_runs_appended_to_one_log_are_found_split_and_refused_as_one_series():
    from edgespace.meters.tegrastats import parse_tegrastats, window_energy

    first = _stamped(range(10), [5000, 5200, 5100, 6000, 6100, 6000, 5900, 6000, 6050, 6000])
    second = _stamped(range(30, 36), [4000, 4100, 4000, 4050, 4000, 4000])  # a later run: average resets
    log = parse_tegrastats(first + second, interval_s=1.0)
    assert log.run_starts() == [0, 10]
    runs = log.runs()
    assert [r.lines for r in runs] == [10, 6] and runs[1].power_mw["VDD_IN"][0] == 4000
    assert runs[1].times_s[-1] == 5.0 and "run 2: lines 11-16" in runs[1].source
    w = window_energy(log, 0.0, 5.0)
    assert w["energy_window_mj"] is None and "2 tegrastats runs appended" in w["energy_unavailable_reason"]
    assert window_energy(runs[0], 0.0, 9.0)["energy_window_mj"] is not None
    # a run appended at the same power is still found when its clock goes back
    again = parse_tegrastats(first + _stamped(range(3), [5000, 5000, 5000]), interval_s=1.0)
    assert again.run_starts() == [0, 10]


def _ort_events(names_per_run):
    """Synthetic ONNX Runtime trace events: one model_run per list, its kernels in order."""
    events, ts = [], 1
    for names in names_per_run:
        run = {"cat": "Session", "name": "model_run", "ts": ts, "dur": 100 * len(names) + 10, "args": {}}
        events.append(run)
        for k, name in enumerate(names):
            args = {"op_name": "Conv", "provider": "CPUExecutionProvider"}
            events.append({"cat": "Node", "name": name, "ts": ts + 1 + 100 * k, "dur": 10 * (k + 1), "args": args})
        ts += 100 * len(names) + 20
    return events


def test_repeated_kernel_names_in_an_ort_profile_are_kept_apart_by_order():
    from edgespace.runners._ort_profile import read_ort_profile

    # very old ONNX Runtime: every kernel named "_kernel_time"
    prof = read_ort_profile(_ort_events([["_kernel_time"] * 3] * 3))
    assert [(n.name, n.time_us) for n in prof.nodes] == [
        ("_kernel_time", 10.0),
        ("_kernel_time#1", 20.0),
        ("_kernel_time#2", 30.0),
    ]  # not one node of 60 us


def test_repeated_kernel_names_that_do_not_line_up_across_runs_are_refused():
    from edgespace.calibration import IngestError
    from edgespace.runners._ort_profile import read_ort_profile

    with pytest.raises(IngestError, match="occur a different number of times in different runs"):
        read_ort_profile(_ort_events([["_kernel_time"] * 3, ["_kernel_time"] * 3, ["_kernel_time"] * 4]))


def test_each_backend_says_once_why_it_cannot_run_and_availability_follows(tmp_path):
    from edgespace.meters import METERS
    from edgespace.runners.common import RUNNERS

    for cls in [*METERS.values(), *RUNNERS.values()]:
        reason = cls.unavailable_reason()
        assert reason is None or (isinstance(reason, str) and reason), cls
        assert cls.is_available() is (reason is None), cls
        assert "is_available" not in vars(cls), f"{cls.__name__}: availability is derived in the base class"
    # a meter that is not here says the same thing from its probe and from its constructor
    reason = RaplMeter.unavailable_reason(root=tmp_path)
    assert reason and str(tmp_path) in reason
    with pytest.raises(MeterInitError, match="no package domain"):
        RaplMeter(root=tmp_path)
