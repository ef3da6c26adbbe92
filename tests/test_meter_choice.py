"""Meters chosen by the device that ran, and windows that cannot pass a non-reading off as a
measurement. Fake meters and a fake NVML/torch CUDA stand in for hardware this machine lacks."""

from __future__ import annotations

import sys
import time
import types

import pytest

from edgespace import meters
from edgespace.meters import MeterInitError, NotFoundError, NullMeter, NvmlMeter, PowerMeter, get_meter


class Counter(PowerMeter):
    """A cumulative counter read from a list (synthetic readings)."""

    name = "fake-counter"
    domain = "cpu-package"
    update_period_s = 0.01

    def __init__(self, readings=(0.0, 5.0)) -> None:
        self.readings = list(readings)

    @classmethod
    def unavailable_reason(cls, **probe) -> str | None:
        return None

    def _read_mj(self) -> float:
        return self.readings.pop(0)


def test_a_counter_that_did_not_move_gives_none_and_the_reason_never_zero():
    m = Counter((12.0, 12.0))
    token = m.begin_window()
    time.sleep(0.02)
    w = m.end_window(token)
    assert w.energy_mj is None and "fewer than two distinct readings" in w.energy_unavailable_reason


def test_a_window_shorter_than_the_update_period_gives_none_and_the_reason():
    m = Counter((0.0, 3.0))
    w = m.end_window(m.begin_window())  # microseconds, against a 10 ms update period
    assert w.energy_mj is None and "shorter than the meter's update period (0.01 s)" in w.energy_unavailable_reason
    m = Counter((0.0, 3.0))
    token = m.begin_window()
    time.sleep(0.02)
    assert m.end_window(token).energy_mj == 3.0


def test_rapl_and_nvml_declare_their_update_period():
    assert meters.RaplMeter.update_period_s == 0.001 and NvmlMeter.update_period_s > 0


def _fake(name, domain, ok=True):
    class Fake(Counter):
        pass

    Fake.name, Fake.domain = name, domain
    if not ok:
        Fake.unavailable_reason = classmethod(lambda cls, **probe: f"{name}: absent (fake)")
    Fake.for_torch_device = classmethod(lambda cls, device: (cls(), setattr(cls, "device", device))[0])
    return Fake


def test_a_cpu_run_never_reads_a_gpu_board(monkeypatch):
    monkeypatch.setitem(meters.METERS, "jetson", _fake("jetson", "module-input", ok=False))
    monkeypatch.setitem(meters.METERS, "rapl", _fake("rapl", "cpu-package", ok=False))
    monkeypatch.setitem(meters.METERS, "nvml", _fake("nvml", "gpu-board"))
    for m in (get_meter("auto", device="cpu"), get_meter()):
        assert isinstance(m, NullMeter) and "rapl: absent" in m.reason and "cpu run" in m.reason
    with pytest.raises(NotFoundError, match="meter='nvml' cannot measure a run on cpu"):
        get_meter("nvml", device="cpu")
    monkeypatch.setitem(meters.METERS, "rapl", _fake("rapl", "cpu-package"))
    assert get_meter(device="cpu").domain == "cpu-package"


def test_a_gpu_run_reads_the_nvml_device_of_its_torch_device(monkeypatch):
    fake = _fake("nvml", "gpu-board")
    monkeypatch.setitem(meters.METERS, "jetson", _fake("jetson", "module-input", ok=False))
    monkeypatch.setitem(meters.METERS, "nvml", fake)
    m = get_meter("auto", device="cuda:1")
    assert m.domain == "gpu-board" and fake.device == "cuda:1"
    with pytest.raises(NotFoundError, match="meter='rapl' cannot measure a run on cuda:1"):
        get_meter("rapl", device="cuda:1")


class FakeNvml(types.ModuleType):
    """pynvml's lookups, recording which was used (synthetic: no GPU here)."""

    def __init__(self):
        super().__init__("pynvml")
        self.calls = []

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.calls.append(("uuid", uuid))
        return ("h", uuid)

    def nvmlDeviceGetHandleByPciBusId(self, bus):
        self.calls.append(("pci", bus))
        return ("h", bus)

    def nvmlDeviceGetHandleByIndex(self, i):
        self.calls.append(("index", i))
        return ("h", i)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return 1000


def test_nvml_finds_the_torch_device_by_uuid_then_pci_bus_id_never_by_cuda_index(monkeypatch):
    torch = pytest.importorskip("torch")
    nvml = FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    props = types.SimpleNamespace(uuid="5b4c1f2e-0000-1111-2222-333344445555", pci_bus_id=0x65, pci_device_id=0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    m = NvmlMeter.for_torch_device("cuda:1")  # CUDA_VISIBLE_DEVICES=3 would make this NVML's GPU 3
    assert nvml.calls == [("uuid", "GPU-5b4c1f2e-0000-1111-2222-333344445555")] and m.name.startswith("nvml:GPU-")
    nvml.calls.clear()
    props.uuid = None
    NvmlMeter.for_torch_device(1)
    assert nvml.calls == [("pci", "00000000:65:00.0")]
    with pytest.raises(MeterInitError, match="not a CUDA device"):
        NvmlMeter.for_torch_device("cpu")
