"""RAPL on faithful powercap trees (laid out as the Linux powercap sysfs documents): counter
wraparound with and without a readable ``max_energy_range_uj``, and several packages summed."""

from __future__ import annotations

import time

import pytest

from edgespace.meters import RaplMeter


def _domain(root, name: str, energy_uj: int, range_uj: str | None):
    d = root / name
    d.mkdir()
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    if range_uj is not None:
        (d / "max_energy_range_uj").write_text(f"{range_uj}\n")
    return d


def test_two_packages_sum_and_a_wrap_uses_the_range(tmp_path):
    a = _domain(tmp_path, "intel-rapl:0", 262_143_000_000, "262143328850")
    b = _domain(tmp_path, "intel-rapl:1", 5_000_000, "262143328850")
    _domain(tmp_path, "intel-rapl:0:0", 1, "262143328850")  # a sub-domain (core, uncore): inside package 0, not summed
    meter = RaplMeter(root=tmp_path)
    assert [d.name for d in meter.domains] == ["intel-rapl:0", "intel-rapl:1"]
    token = meter.begin_window()
    (a / "energy_uj").write_text("1000000\n")  # wrapped: 328,850 uJ to the top, then 1 J
    (b / "energy_uj").write_text("7500000\n")
    time.sleep(0.002)  # longer than RAPL's 1 ms update period
    w = meter.end_window(token)
    assert w.energy_mj == pytest.approx((328_850 + 1_000_000 + 2_500_000) / 1e3)
    assert w.energy_mj > 0 and w.duration_s >= 0


@pytest.mark.parametrize("range_text", [None, "garbage", "0"])
def test_a_wrap_without_a_usable_range_reports_no_energy_and_why(tmp_path, range_text):
    d = _domain(tmp_path, "intel-rapl:0", 9_000_000, range_text)
    meter = RaplMeter(root=tmp_path)
    token = meter.begin_window()
    (d / "energy_uj").write_text("1000000\n")  # went down: wrapped, by an unknown range
    w = meter.end_window(token)
    assert w.energy_mj is None and w.avg_power_w is None
    # (the field is being renamed energy_unavailable_reason; read whichever this tree has)
    reason = getattr(w, "energy_unavailable_reason", None) or getattr(w, "unavailable_reason", None)
    assert "intel-rapl:0/energy_uj wrapped" in reason and "max_energy_range_uj is unreadable" in reason
    # without a wrap the same meter still measures
    token = meter.begin_window()
    (d / "energy_uj").write_text("3000000\n")
    time.sleep(0.002)
    assert meter.end_window(token).energy_mj == pytest.approx(2000.0)
    # a counter that did not move, or a window under the update period: no energy, never 0.0
    token = meter.begin_window()
    time.sleep(0.002)
    still = meter.end_window(token)
    assert still.energy_mj is None and "fewer than two distinct readings" in still.energy_unavailable_reason
    meter.update_period_s = 60.0  # a counter this slow: any window here is shorter
    token = meter.begin_window()
    (d / "energy_uj").write_text("3000100\n")
    short = meter.end_window(token)
    assert short.energy_mj is None and "update period (60 s)" in short.energy_unavailable_reason
