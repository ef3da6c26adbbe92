"""Physics invariants over EVERY shipped profile, mode and placement: a busy device draws at
least its idle power, a faster clock is never slower, a lower power mode is not faster unless the
published caps say so (and the profile says it), and no mode or power domain draws more than its
budget. A profile edit that breaks one of these fails here, whatever the device."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from edgespace import ArchSpec
from edgespace._layer_table import layer_skeleton
from edgespace.cost import estimate
from edgespace.cost._evaluate import evaluate
from edgespace.cost._params import compile_mode
from edgespace.profiles import load_profile

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "hwprofiles").glob("*.yaml"))

# Compute-bound, memory-bound and fallback-heavy networks at each precision.
SPECS = [
    ArchSpec(f, w, d, r, q)
    for f, w, d, r in (
        ("mobilenetv2", 1.0, 1.0, 224),
        ("efficientnet", 1.0, 1.0, 224),
        ("mobilenetv3_large", 1.0, 1.0, 224),
        ("efficientnet", 1.4, 1.8, 380),
    )
    for q in ("fp32", "fp16", "int8")
]


def _mode_placements(profile):
    for mode in profile.modes.values():
        for placement in mode.placement_names:
            yield mode, placement


@pytest.mark.parametrize("name", SHIPPED)
def test_busy_static_power_is_at_least_idle(name):
    for mode in load_profile(name).modes.values():
        assert mode.static_w >= mode.idle_w, (name, mode.name)
        for d in mode.power.domains.values():
            assert d.static_w.value <= mode.static_w and d.static_w.value < d.budget_w.value


@pytest.mark.parametrize("name", SHIPPED)
def test_a_faster_clock_is_never_slower(name):
    profile = load_profile(name)
    for mode, placement in _mode_placements(profile):
        mp = compile_mode(mode, placement)
        assert np.all(np.diff(mp.dvfs_clock_hz) < 0)
        for spec in SPECS:
            sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
            ev = evaluate(sk, mp, spec.precision, np.array([spec.resolution]))
            if not ev.runnable:
                continue
            lat = ev.level_latency_s[0]
            # levels run from the highest clock down: latency never falls as the clock does
            assert np.all(np.diff(lat) >= -1e-12 * lat[:-1]), (name, mode.name, placement, spec.short_name(), lat)


def _order(mode):
    return (mode.budget_w, mode.primary.clock_hz * (mode.primary.units.value if mode.primary.units else 1))


@pytest.mark.parametrize("name", SHIPPED)
def test_a_lower_mode_is_not_faster_unless_the_profile_says_so(name):
    profile = load_profile(name)
    modes = sorted(profile.modes.values(), key=_order)
    for lo, hi in itertools.pairwise(modes):
        excused = hi.slower_than is not None and lo.name in hi.slower_than.modes
        for spec in SPECS:
            e_lo, e_hi = estimate(spec, profile, lo.name), estimate(spec, profile, hi.name)
            if not (e_lo.runnable and e_hi.runnable):
                continue
            if excused:
                assert "[" in hi.slower_than.source  # the exception cites a published cap
                continue
            assert e_hi.latency_ms <= e_lo.latency_ms * (1 + 1e-9), (name, lo.name, hi.name, spec.short_name())


@pytest.mark.parametrize("name", SHIPPED)
def test_power_never_exceeds_the_mode_or_domain_budget(name):
    profile = load_profile(name)
    for mode, placement in _mode_placements(profile):
        mp = compile_mode(mode, placement)
        for spec in SPECS:
            sk = layer_skeleton(spec.family, spec.width, spec.depth, spec.num_classes)
            ev = evaluate(sk, mp, spec.precision, np.array([spec.resolution]))
            if not ev.runnable:
                continue
            assert ev.avg_power_w[0] <= mode.budget_w * (1 + 1e-9), (name, mode.name, placement, spec.short_name())
            assert ev.avg_power_w[0] >= mode.static_w * (1 - 1e-9)
            for d, p in zip(mode.power.domains.values(), ev.domain_power_w[0], strict=True):
                assert d.static_w.value <= p <= d.budget_w.value * (1 + 1e-9), (name, mode.name, spec.short_name(), p)


def test_coral_max_clock_is_not_slower_and_its_cpu_fallback_runs_at_pi5_speed():
    """The defect the power domains fix: the 4.5 W USB budget caps the TPU, not the Pi 5 host."""
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "int8")
    assert estimate(spec, "coral-edge-tpu", "max").latency_ms <= estimate(spec, "coral-edge-tpu", "std").latency_ms
    fp32 = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp32")  # the Edge TPU is int8-only: all on the host CPU
    on_coral = estimate(fp32, "coral-edge-tpu", "max")
    on_pi = estimate(fp32, "raspberry-pi-5", "active-cooler")
    assert set(on_coral.layers["engine"]) == {"cpu"}
    # same A76 cluster: within the USB round trip of the Pi 5 profile's own figure
    assert on_coral.latency_ms == pytest.approx(on_pi.latency_ms, rel=0.15)


def test_precision_fallback_stays_on_the_same_engine_first():
    spec = ArchSpec("mobilenetv2", 1.0, 1.0, 224, "int8")
    e = estimate(spec, "jetson-nano-4gb", "10W")
    assert not e.fallback_ops and set(e.layers.loc[e.layers["bound"] != "fused", "precision"]) == {"fp16"}
    fp16 = estimate(ArchSpec("mobilenetv2", 1.0, 1.0, 224, "fp16"), "jetson-nano-4gb", "10W")
    assert e.latency_ms == pytest.approx(fp16.latency_ms, rel=1e-9)  # the same fp16 kernels


def test_a_mode_order_exception_must_cite_a_source_and_name_real_modes():
    import yaml

    from edgespace import ProfileError
    from edgespace.profiles import builtin_profile_dir, validate_profile

    data = yaml.safe_load((builtin_profile_dir() / "jetson-orin-nx-16gb.yaml").read_text())
    data["modes"]["25W"]["slower_than"] = {"modes": ["15W"], "source": "[nvp] 25W caps the GPU at 408 MHz"}
    assert validate_profile(data).mode("25W").slower_than.modes == ("15W",)
    data["modes"]["25W"]["slower_than"] = {"modes": ["99W"], "source": "[nvp] x"}
    with pytest.raises(ProfileError, match=r"slower_than\.modes: '99W' is not a mode"):
        validate_profile(data)
    data["modes"]["25W"]["slower_than"] = {"modes": ["15W"], "source": "[nope] x"}
    with pytest.raises(ProfileError, match=r"slower_than\.source cites \[nope\]"):
        validate_profile(data)
