"""Confirmation measures the machine it runs on, and says so: a study of another device is
refused (or timed here as a labelled proxy), a point keeps its batch and placement or fails with
the reason, and every row names its power meter and what the meter covers.

The meters here are fakes standing in for hardware this machine lacks (no RAPL, no GPU); the
ONNX Runtime runs are real."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import edgespace as es
from edgespace import meters
from edgespace.meters import PowerMeter
from edgespace.study import MobileNetSpace, SearchError, search
from edgespace.study._confirm import CONFIRMATION_COLUMNS, confirm_points

TINY_SPACE = MobileNetSpace(
    families=("mobilenetv3_small",),
    widths=(0.35, 0.5),
    width_step=0.15,
    resolutions=(96, 112),
    resolution_step=16,
    precisions=("fp32",),
)


class FakeCpuPackageMeter(PowerMeter):
    """A RAPL-like counter (synthetic: 10 W, updated every millisecond)."""

    name = "fake-rapl"
    domain = "cpu-package"
    update_period_s = 0.001

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @classmethod
    def unavailable_reason(cls, **probe) -> str | None:
        return None

    def _read_mj(self) -> float:
        return float(np.floor((time.perf_counter() - self.t0) * 1e3)) * 10.0  # 10 W = 10 mJ per ms


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("edgespace-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGESPACE_CACHE_DIR", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def jetson_result():
    return search(
        TINY_SPACE, "jetson-orin-nano-8gb", "accuracy,latency_ms", n_trials=4, sampler="grid", seed=0, storage="memory"
    )


def test_a_jetson_front_is_refused_here_naming_both_machines(jetson_result):
    with pytest.raises(SearchError) as err:
        jetson_result.confirm(1, rounds=1)
    msg = str(err.value)
    assert "'jetson-orin-nano-8gb'" in msg and "profile 'host'" in msg and "proxy=True" in msg
    assert jetson_result.confirmations().empty  # nothing ran, nothing stored
    with pytest.raises(SearchError, match="jetson-orin-nano-8gb"):
        confirm_points(jetson_result.pareto_front(), profile=jetson_result.profile)


def test_the_cli_refuses_a_jetson_confirmation_without_a_traceback(capsys):
    from edgespace.cli import main

    argv = [
        "search",
        "--profile",
        "jetson-orin-nano-8gb",
        "--trials",
        "2",
        "--storage",
        "memory",
        "--confirm",
        "1",
        "--quiet",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "jetson-orin-nano-8gb" in err and "--confirm-proxy" in err and "Traceback" not in err


def test_a_proxy_run_carries_no_jetson_label_on_a_measured_value(jetson_result, onnx_cache, monkeypatch):
    monkeypatch.setitem(meters.METERS, "rapl", FakeCpuPackageMeter)
    frame = jetson_result.confirm(1, by="latency_ms", rounds=1, proxy=True)
    assert list(frame.columns) == list(CONFIRMATION_COLUMNS) and len(frame) == 1
    row = frame.iloc[0]
    assert row.status == "ok" and row.measured_latency_ms > 0
    assert row.profile == "host" and row.proxy_for == "jetson-orin-nano-8gb"
    assert row["mode"] is None and row.placement is None  # no 25W, no auto on a host timing
    assert row.predicted_latency_ms is None and row.latency_error_pct is None
    assert row.latency_source == "proxy: timed on host for jetson-orin-nano-8gb"
    # the CPU run read the CPU-domain meter, and the row says which
    assert row.meter == "fake-rapl" and row.meter_domain == "cpu-package" and row.measured_energy_mj > 0


def test_batch_and_placement_are_kept_or_the_point_fails_with_the_reason(onnx_cache):
    front = search(
        TINY_SPACE, "host", "accuracy,latency_ms", n_trials=4, sampler="grid", storage="memory"
    ).pareto_front()
    point = front.head(1)
    points = pd.concat([point.assign(batch=32), point.assign(placement="npu")], ignore_index=True)
    rows = confirm_points(points, profile="host", rounds=1)
    assert rows[0]["status"].startswith("failed: batch 32 is not measured") and rows[0]["batch"] == 32
    assert rows[1]["status"].startswith("failed: placement 'npu' is not measured")
    assert all(r["measured_latency_ms"] is None for r in rows)


def test_confirmation_rows_name_their_meter_and_why_energy_is_missing(onnx_cache, monkeypatch):
    # a GPU board meter that works must never read a CPU run: none is found, and the row says so
    class FakeBoard(FakeCpuPackageMeter):
        name, domain = "fake-nvml", "gpu-board"

    class NoRapl(FakeCpuPackageMeter):
        unavailable_reason = classmethod(lambda cls, **probe: "RAPL: not readable (fake)")

    monkeypatch.setitem(meters.METERS, "nvml", FakeBoard)
    monkeypatch.setitem(meters.METERS, "rapl", NoRapl)
    front = search(
        TINY_SPACE, "host", "accuracy,latency_ms", n_trials=4, sampler="grid", storage="memory"
    ).pareto_front()
    row = confirm_points(front.head(1), profile=es.load_profile("jetson-orin-nano-8gb").name, proxy=True, rounds=1)[0]
    assert row["status"] == "ok" and row["meter"] == "none" and row["meter_domain"] is None
    assert row["measured_energy_mj"] is None and "RAPL: not readable (fake)" in row["energy_unavailable_reason"]
    assert "fake-nvml" not in row["energy_unavailable_reason"]
