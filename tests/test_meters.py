"""Power meters and metered Measurements: energy per inference from a real ONNX Runtime run
read through a powercap tree we drive ourselves, feasibility from a real Measurement, and the
Jetson readers (tegrastats logs, INA3221 sysfs trees) on fixtures laid out as NVIDIA documents."""

from __future__ import annotations

import threading
import time

import pytest

import edgespace as es
from edgespace.budget import Budget, BudgetError, feasibility
from edgespace.meters import NullMeter, RaplMeter
from edgespace.runners import OnnxRuntimeRunner, export_many

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
    m = OnnxRuntimeRunner().measure(tiny_onnx, TINY, threads=1, warmup=3, runs=400, rounds=4, profile=False,
                                     meter=meter, idle_s=0.3)  # fmt: skip
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
    m = OnnxRuntimeRunner().measure(tiny_onnx, TINY, threads=1, warmup=1, runs=5, rounds=1, profile=False,
                                     meter=NullMeter("no power meter available: RAPL: no package domain"))  # fmt: skip
    assert m.energy_mj is None and m.energy_window_mj is None and m.idle_power_w is None and m.meter_domain == ""
    with pytest.raises(BudgetError, match="RAPL: no package domain"):
        feasibility(Budget(battery_wh=10.0, frames_per_day=100), estimate=m)


def test_old_measurement_names_still_read_with_a_deprecation_warning(metered):
    with pytest.warns(DeprecationWarning, match="latency_p50_ms"):
        assert metered.latency_ms_p50 == metered.latency_p50_ms
    with pytest.warns(DeprecationWarning, match="peak_activation_bytes"):
        assert metered.peak_memory_bytes is metered.peak_activation_bytes


def test_rapl_window_survives_a_counter_wrap(tmp_path):
    counter = PowercapCounter(tmp_path, power_w=50.0, start_uj=999_900_000, range_uj=1_000_000_000)
    meter = RaplMeter(root=tmp_path)
    token = meter.begin_window()
    time.sleep(0.2)  # 50 W x 0.2 s = 10 J: the counter wraps after 0.1 J
    w = meter.end_window(token)
    counter.close()
    assert w.energy_mj == pytest.approx(50.0 * w.duration_s * 1e3, rel=0.1)
