"""Energy-budget feasibility: hand-computed balances, the hourly simulation's clipping, the
duty-cycle model against a Monte Carlo run, clear errors, and the ``budget`` command."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import edgespace
from edgespace.budget import Budget, BudgetError, budget_metrics, feasibility
from edgespace.budget._units import daylight_profile
from edgespace.cli import main

ROOT = Path(__file__).resolve().parent.parent
WH = 3600.0

# the exercise: 50 Wh battery, 8 Wh/day of solar, 2,000 triggered frames a day, 7 cloudy days
EXERCISE = dict(battery_wh=50, solar_wh_per_day=8, frames_per_day=2000, cloudy_days=7)


# -- the exercise's arithmetic ------------------------------------------------------------------


def test_exercise_with_no_idle_draw_matches_the_hand_arithmetic():
    r = feasibility(Budget(**EXERCISE), energy_per_frame_mj=70)
    # 50 Wh over 7 sunless days for 2,000 frames a day: 180,000 J / 14,000 frames
    assert r.allowance_j["autonomy_daily"] == pytest.approx(50 * WH / 7 / 2000)  # 12.857 J
    assert r.allowance_j["autonomy_daily"] == pytest.approx(12.857, abs=1e-3)
    # a sunny day pays for 8 Wh / 2,000 frames = 14.4 J per frame
    assert r.allowance_j["energy_neutral"] == pytest.approx(8 * WH / 2000)
    assert r.feasible and r.verdict == "feasible"
    assert r.daily_terms_j["inference"] == pytest.approx(2000 * 0.070)
    assert r.dominant_term == "inference"
    assert r.days_autonomy == pytest.approx(50 * WH / 140)
    assert r.horizon_days == 14  # the cloudy week plus a week to recover


def test_exercise_hourly_allowance_counts_the_night_before_the_sun_returns():
    # The hourly model starts full at midnight, has 7 sunless days, then waits for sunrise on
    # day 7: the allowance is the tightest (capacity + harvest so far) / (frames so far) over the
    # hours of day 7, computed here from the half-sine directly.
    r = feasibility(Budget(**EXERCISE), energy_per_frame_mj=70)
    r_, s_ = 6.0, 18.0
    a = np.clip(np.arange(24.0), r_, s_)
    b = np.clip(np.arange(24.0) + 1, r_, s_)
    w = (np.cos(np.pi * (a - r_) / 12) - np.cos(np.pi * (b - r_) / 12)) / 2
    harvest_so_far = np.cumsum(8 * WH * w)
    frames_so_far = (7 * 24 + np.arange(1, 25)) * 2000 / 24
    expected = np.min((50 * WH + harvest_so_far) / frames_so_far)
    assert r.allowance_j["never_empty_hourly"] == pytest.approx(expected, rel=1e-6)
    assert 12.0 < expected < 12.857  # stricter than the daily sizing rule
    assert r.max_energy_per_frame_j == pytest.approx(expected, rel=1e-6)
    b = Budget(**EXERCISE)
    assert feasibility(b, energy_per_frame_j=expected * 0.999).feasible
    assert not feasibility(b, energy_per_frame_j=expected * 1.01).feasible


def test_exercise_with_an_always_on_orin_nano_idle_floor_is_infeasible():
    b = Budget.from_profile("jetson-orin-nano-8gb", "7W", **EXERCISE)
    assert b.idle_w == 3.0 and b.policy == "always_on"
    r = feasibility(b, energy_per_frame_mj=70)
    assert not r.feasible
    idle_j = 3.0 * 86_400
    assert r.daily_terms_j["idle_awake"] == pytest.approx(idle_j)
    assert r.dominant_term == "idle_awake"
    assert r.days_autonomy == pytest.approx(50 * WH / (idle_j + 140))  # 0.69 days
    assert r.allowance_j["energy_neutral"] == pytest.approx((8 * WH - idle_j) / 2000)  # -115.2 J
    assert r.max_energy_per_frame_j < 0
    assert r.max_frames_per_day == 0
    assert r.first_empty_hour is not None and r.first_empty_hour < 24  # empty on the first day
    assert any(line.startswith("FAIL energy neutral") for line in r.reasons)
    assert "none fits" in r.to_text()


def test_migration_season_halves_the_allowance():
    base = feasibility(Budget(**EXERCISE), energy_per_frame_mj=70)
    doubled = feasibility(Budget(**{**EXERCISE, "frames_per_day": 4000}), energy_per_frame_mj=70)
    assert doubled.allowance_j["autonomy_daily"] == pytest.approx(base.allowance_j["autonomy_daily"] / 2)
    assert doubled.feasible


# -- the hourly simulation ----------------------------------------------------------------------


def test_zero_harvest_battery_empties_mid_horizon_at_the_hand_computed_hour():
    # 10 Wh, 1,000 frames/day at 1 J, 0.1 W awake idle, always on, no harvest:
    # 9,640 J per day, 401.67 J per hour; 36,000 J last 89.6 hours.
    b = Budget(battery_wh=10, frames_per_day=1000, idle_w=0.1)
    per_hour = (1000 + 0.1 * 86_400) / 24
    assert feasibility(b, energy_per_frame_j=1.0, horizon_days=3).feasible
    r = feasibility(b, energy_per_frame_j=1.0, horizon_days=4)
    assert not r.feasible
    assert r.days_autonomy == pytest.approx(36_000 / 9_640)
    frame = r.to_frame()
    assert frame["soc_wh"].iloc[23] * WH == pytest.approx(36_000 - 9_640)  # linear drain, day 0
    assert r.first_empty_hour == 89
    left_at_89 = 36_000 - 89 * per_hour
    assert r.time_empty_h == pytest.approx((per_hour - left_at_89) / per_hour + 6)  # part of hour 89, then 90..95
    assert r.energy_unmet_j == pytest.approx(4 * 9_640 - 36_000)
    assert (frame["soc_wh"] >= 0).all() and frame["soc_wh"].iloc[-1] == 0
    assert r.allowance_j["energy_neutral"] == pytest.approx(-8.64)  # reported, but not required with no harvest
    assert "not required: no harvest" in r.reasons[1]


def test_harvest_that_fills_the_battery_is_clipped_at_capacity():
    # 10 Wh battery half full, 20 Wh/day at 90% efficiency, nothing drawn: the first day stores
    # 5 Wh and throws 13 Wh away, every later day throws all 18 Wh away.
    b = Budget(battery_wh=10, solar_wh_per_day=20, charge_efficiency=0.9, initial_soc_fraction=0.5)
    r = feasibility(b, energy_per_frame_j=0.0, horizon_days=3)
    frame = r.to_frame()
    assert frame["soc_wh"].max() == pytest.approx(10) and (frame["soc_wh"] <= 10 + 1e-9).all()
    assert r.energy_clipped_j / WH == pytest.approx(13 + 18 + 18)
    assert frame.groupby("day")["clipped_wh"].sum().tolist() == pytest.approx([13, 18, 18])
    assert r.feasible and r.time_empty_h == 0
    # the harvest follows the daylight half-sine: nothing at night, the most around noon
    assert frame.loc[frame.hour < 6, "harvest_wh"].sum() == 0
    assert frame.loc[frame.day == 0, "harvest_wh"].idxmax() in (11, 12)


def test_usable_fraction_and_initial_charge_scale_the_capacity():
    b = Budget(battery_wh=100, usable_fraction=0.8, initial_soc_fraction=0.5, frames_per_day=100)
    r = feasibility(b, energy_per_frame_j=10.0, horizon_days=60)
    assert r.usable_j == pytest.approx(80 * WH)
    # 1,000 J a day from 40 Wh = 144,000 J: empty during day 144 -> beyond 60 days; fine
    assert r.feasible and r.to_frame()["soc_wh"].iloc[-1] == pytest.approx(40 - 60 * 1000 / WH)
    assert r.allowance_j["never_empty_hourly"] == pytest.approx(40 * WH / (60 * 100))


def test_per_day_series_of_harvest_and_frames():
    # two dark days with 500 frames, then two bright days with 100: daily-resolution runs
    b = Budget(battery_wh=1, solar_wh_per_day=[0, 0, 10, 10], frames_per_day=[500, 500, 100, 100])
    r = feasibility(b, energy_per_frame_j=2.0)
    assert r.horizon_days == 4
    assert r.frames_per_day == 300 and r.daily_harvest_j == pytest.approx(5 * WH)
    assert r.allowance_j["autonomy_daily"] == pytest.approx(WH / 1000)  # 1 Wh over the first 1,000 frames
    # hourly, the battery must also carry day 2's six dark hours (25 more frames) until sunrise
    assert r.allowance_j["never_empty_hourly"] == pytest.approx(WH / (1000 + 6 * 100 / 24))  # 3.512 J
    assert r.feasible
    between = feasibility(b, energy_per_frame_j=3.55)  # allowed by the daily rule, not by the hours
    # 50 J left at the end of day 1; 100/24 frames x 3.55 J = 14.8 J an hour: empty in hour 3 of day 2
    assert not between.feasible and between.first_empty_hour == 2 * 24 + 3
    with pytest.raises(BudgetError, match=r"Budget\.solar_wh_per_day: the series has 4 days but the horizon is 5"):
        feasibility(b, energy_per_frame_j=2.0, horizon_days=5)


def test_max_frames_per_day_is_the_edge_of_feasibility():
    b = Budget(**EXERCISE)
    r = feasibility(b, energy_per_frame_j=5.0)
    f = r.max_frames_per_day
    assert 0 < f < 50 * WH / 7 / 5  # below the daily rule's 5,143 frames
    assert feasibility(b.replace(frames_per_day=f), energy_per_frame_j=5.0).feasible
    assert not feasibility(b.replace(frames_per_day=f * 1.01), energy_per_frame_j=5.0).feasible


# -- the duty cycle ------------------------------------------------------------------------------


def test_on_trigger_terms_match_the_poisson_closed_form():
    # 3,600 frames a day, uniform: 150 per hour, rate 1/24 per s; timeout 24 s -> exp(-1)
    b = Budget(
        battery_wh=50,
        frames_per_day=3600,
        policy="on_trigger",
        idle_timeout_s=24,
        idle_w=1.0,
        sleep_w=0.1,
        wake_energy_j=2.0,
        wake_s=0.0,
    )
    t = feasibility(b, energy_per_frame_j=0.0, horizon_days=1).daily_terms_j
    wakes = 3600 * math.exp(-1)
    awake_s = 86_400 * (1 - math.exp(-1))
    assert t["wake"] == pytest.approx(2.0 * wakes)
    assert t["idle_awake"] == pytest.approx(1.0 * awake_s)
    assert t["sleep"] == pytest.approx(0.1 * (86_400 - awake_s))
    # a zero timeout wakes once per frame and never idles
    t0 = feasibility(b.replace(idle_timeout_s=0), energy_per_frame_j=0.0, horizon_days=1).daily_terms_j
    assert t0["wake"] == pytest.approx(2.0 * 3600) and t0["idle_awake"] == 0
    # a very long timeout converges to always on
    ton = feasibility(b.replace(idle_timeout_s=1e6), energy_per_frame_j=0.0, horizon_days=1).daily_terms_j
    assert ton["idle_awake"] == pytest.approx(86_400) and ton["wake"] == pytest.approx(0, abs=1e-6)


def test_on_trigger_model_agrees_with_a_monte_carlo_of_poisson_triggers():
    rng = np.random.default_rng(7)
    lam, tau, hours = 1 / 40, 15.0, 400
    gaps = rng.exponential(1 / lam, size=int(lam * 3600 * hours * 1.2))
    t = np.cumsum(gaps)
    t = t[t < 3600 * hours]
    d = np.diff(t)
    wakes = 1 + np.sum(d > tau)  # a frame after a gap longer than the timeout starts a new wake
    awake = np.sum(np.minimum(d, tau)) + tau
    b = Budget(
        battery_wh=50,
        frames_per_day=lam * 86_400,
        policy="on_trigger",
        idle_timeout_s=tau,
        idle_w=1.0,
        wake_energy_j=1.0,
    )
    terms = feasibility(b, energy_per_frame_j=0.0, horizon_days=1).daily_terms_j
    assert terms["wake"] * hours / 24 == pytest.approx(wakes, rel=0.03)
    assert terms["idle_awake"] * hours / 24 == pytest.approx(awake, rel=0.03)


def test_periodic_policy_and_busy_time():
    b = Budget(
        battery_wh=50,
        frames_per_day=2000,
        policy="periodic",
        wake_period_s=3600,
        idle_timeout_s=10,
        idle_w=3.0,
        sleep_w=0.05,
        wake_energy_j=120.0,
        wake_s=30.0,
        inference_s=0.02,
    )
    t = feasibility(b, energy_per_frame_j=0.1, horizon_days=1).daily_terms_j
    assert t["wake"] == pytest.approx(24 * 120.0)
    assert t["idle_awake"] == pytest.approx(24 * 10 * 3.0)
    assert t["sleep"] == pytest.approx(0.05 * (86_400 - 2000 * 0.02 - 24 * (10 + 30)))
    # always on, the busy time is not idle time
    a = b.replace(policy="always_on", wake_period_s=None)
    assert feasibility(a, energy_per_frame_j=0.1, horizon_days=1).daily_terms_j["idle_awake"] == pytest.approx(
        3.0 * (86_400 - 2000 * 0.02)
    )


def test_trigger_profile_moves_the_load_to_its_hours():
    profile = [0.0] * 24
    profile[20] = 1.0  # every frame at 20:00
    b = Budget(battery_wh=1, frames_per_day=100, trigger_profile=profile)
    frame = feasibility(b, energy_per_frame_j=1.0, horizon_days=1).to_frame()
    assert frame["load_wh"].tolist() == pytest.approx([0.0] * 20 + [100 / WH] + [0.0] * 3)


def test_daylight_profile_is_a_normalised_half_sine():
    w = daylight_profile(6, 18)
    assert w.sum() == pytest.approx(1) and w[:6].sum() == 0 and w[18:].sum() == 0
    assert w[6] == pytest.approx((1 - math.cos(math.pi / 12)) / 2)
    assert w[11] == pytest.approx(w[12]) and w[11] > w[7]


# -- energy from an Estimate or a Measurement ----------------------------------------------------


def test_estimate_prefers_sustained_energy_and_brings_its_latency():
    est = SimpleNamespace(energy_mj=70.0, sustained_energy_mj=90.0, latency_ms=4.0, sustained_latency_ms=5.0)
    b = Budget(battery_wh=50, frames_per_day=2000, idle_w=1.0)
    r = feasibility(b, estimate=est, horizon_days=1)
    assert r.energy_per_frame_j == pytest.approx(0.090) and "sustained_energy_mj" in r.energy_source
    assert r.daily_terms_j["idle_awake"] == pytest.approx(86_400 - 2000 * 0.005)
    # an Estimate passed positionally works the same
    assert feasibility(b, est, horizon_days=1).energy_per_frame_j == pytest.approx(0.090)
    plain = SimpleNamespace(energy_mj=70.0)
    assert feasibility(b, estimate=plain, horizon_days=1).energy_per_frame_j == pytest.approx(0.070)


def test_measurement_without_energy_says_why():
    import dataclasses

    from edgespace.runners import Measurement

    # the reason is read under the one name a Measurement gives it
    assert "energy_unavailable_reason" in {f.name for f in dataclasses.fields(Measurement)}
    m = SimpleNamespace(energy_mj=None, energy_unavailable_reason="no power meter: NVML not present")
    with pytest.raises(
        BudgetError, match=r"energy_mj is None: no energy was measured \(no power meter: NVML not present\)"
    ):
        feasibility(Budget(battery_wh=50, frames_per_day=10), estimate=m)


def test_energy_sources_are_one_and_only_one():
    b = Budget(battery_wh=50, frames_per_day=10)
    with pytest.raises(BudgetError, match=r"Budget\.energy_per_frame_j: missing"):
        feasibility(b)
    with pytest.raises(BudgetError, match="give one of .* got energy_per_frame_j, energy_per_frame_mj"):
        feasibility(b, energy_per_frame_j=1.0, energy_per_frame_mj=70)
    with pytest.raises(BudgetError, match=r"feasibility: energy_per_frame_mj: -5 is not allowed; must be >= 0 mJ"):
        feasibility(b, energy_per_frame_mj=-5)
    assert feasibility(b.replace(energy_per_frame_j=0.5), horizon_days=1).energy_per_frame_j == 0.5


# -- clear errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, match",
    [
        ({}, r"Budget\.battery_wh: missing"),
        ({"battery_wh": -5}, r"Budget\.battery_wh: -5 is not allowed; must be > 0 Wh"),
        (
            {"battery_wh": 50, "usable_fraction": 1.5},
            r"Budget\.usable_fraction: 1\.5 is not allowed; must be a fraction in \(0, 1\]",
        ),
        ({"battery_wh": 50, "usable_fraction": 0}, r"Budget\.usable_fraction: 0 is not allowed"),
        ({"battery_wh": 50, "charge_efficiency": -0.1}, r"Budget\.charge_efficiency"),
        (
            {"battery_wh": 50, "solar_wh_per_day": -8},
            r"Budget\.solar_wh_per_day: -8 is not allowed; must be >= 0 Wh per day",
        ),
        ({"battery_wh": 50, "solar_wh_per_day": [8, -1]}, r"Budget\.solar_wh_per_day\[1\]: -1"),
        (
            {"battery_wh": 50, "frames_per_day": 100_000},
            r"Budget\.frames_per_day: 100000 is not allowed.*more frames than seconds in a day",
        ),
        (
            {"battery_wh": 50, "frames_per_day": 50_000, "inference_s": 2.0},
            r"Budget\.frames_per_day: 50000 is not allowed; with inference_s = 2 s per frame the busiest hour needs 4,167 s of inference, more than the 3,600 s",
        ),
        ({"battery_wh": 50, "idle_w": -1}, r"Budget\.idle_w: -1 is not allowed; must be >= 0 W"),
        ({"battery_wh": 50, "sleep_w": float("nan")}, r"Budget\.sleep_w: nan is not allowed; expected a finite number"),
        ({"battery_wh": "50"}, r"Budget\.battery_wh: '50' is not allowed; expected a number"),
        ({"battery_wh": 50, "cloudy_days": 2.5}, r"Budget\.cloudy_days: 2\.5 is not allowed; must be a whole number"),
        (
            {"battery_wh": 50, "solar_wh_per_day": [8, 8], "cloudy_days": 3},
            r"Budget\.cloudy_days: the cloudy scenario applies to a constant",
        ),
        (
            {"battery_wh": 50, "sunrise_h": 19},
            r"Budget\.sunset_h: 18\.0 is not allowed; must be later than sunrise_h \(19\)",
        ),
        (
            {"battery_wh": 50, "policy": "sometimes"},
            r"Budget\.policy: 'sometimes' is not allowed; allowed: always_on, on_trigger, periodic",
        ),
        ({"battery_wh": 50, "policy": "periodic"}, r"Budget\.wake_period_s: missing"),
        (
            {"battery_wh": 50, "policy": "periodic", "wake_period_s": 5, "wake_s": 10},
            r"Budget\.wake_period_s: 5 is not allowed; must be at least wake_s \+ idle_timeout_s = 20 s",
        ),
        (
            {"battery_wh": 50, "wake_period_s": 60},
            r"Budget\.wake_period_s: 60 is not allowed; only policy 'periodic' uses it",
        ),
        (
            {"battery_wh": 50, "trigger_profile": [1] * 23},
            r"Budget\.trigger_profile: '<23 weights>' is not allowed; expected exactly 24",
        ),
        ({"battery_wh": 50, "trigger_profile": [0] * 24}, r"Budget\.trigger_profile: '<all zero>'"),
    ],
)
def test_bad_fields_name_the_field_the_value_and_what_is_allowed(fields, match):
    with pytest.raises(BudgetError, match=match) as info:
        Budget(**fields)
    assert isinstance(info.value, ValueError) and isinstance(info.value, edgespace.EdgespaceError)


def test_horizon_must_be_whole_days():
    with pytest.raises(BudgetError, match=r"feasibility: horizon_days: 0 is not allowed"):
        feasibility(Budget(battery_wh=1), energy_per_frame_j=0.0, horizon_days=0)


# -- profiles, results, metrics ------------------------------------------------------------------


def test_from_profile_takes_the_floors_with_their_sources_and_lets_fields_win():
    b = Budget.from_profile("jetson-orin-nano-8gb", "7W", battery_wh=50, policy="on_trigger")
    assert (b.idle_w, b.sleep_w, b.wake_s) == (3.0, 0.5, 0.5)
    assert b.wake_energy_j == pytest.approx(0.5 * 3.0)
    assert "power.idle_w" in b.provenance["idle_w"] and "estimate" in b.provenance["wake_energy_j"]
    c = Budget.from_profile("jetson-orin-nano-8gb", "7W", battery_wh=50, sleep_w=0.05, wake_s=2.0)
    assert c.sleep_w == 0.05 and c.provenance["sleep_w"] == "given"
    assert c.wake_energy_j == pytest.approx(2.0 * 3.0)  # follows the given wake time
    with pytest.raises(edgespace.ProfileError, match="mode '9W': unknown"):
        Budget.from_profile("jetson-orin-nano-8gb", "9W", battery_wh=50)


def test_budget_round_trips_through_json_and_follows_a_power_mode():
    b = Budget.from_profile("jetson-orin-nano-8gb", "7W", battery_wh=50, frames_per_day=[2000, 500, 0], sleep_w=0.05)
    d = json.loads(json.dumps(b.to_dict()))
    assert d["frames_per_day"] == [2000, 500, 0] and d["provenance"]["sleep_w"] == "given"
    back = Budget.from_dict(d)
    assert back == b and back.frames_per_day == (2000.0, 500.0, 0.0) and back.provenance == b.provenance
    with pytest.raises(BudgetError, match="Budget.from_dict: unknown field 'battery_kwh'"):
        Budget.from_dict({**d, "battery_kwh": 1})
    # the floors taken from the profile follow the mode; the one given by hand stays
    profile = edgespace.load_profile("jetson-orin-nano-8gb")
    m = b.for_mode(profile, "25W")
    assert m.idle_w == profile.mode("25W").idle_w != b.idle_w and m.sleep_w == 0.05
    assert m.wake_energy_j == pytest.approx(m.wake_s * m.idle_w) and "25W" in m.provenance["idle_w"]
    assert m.battery_wh == 50 and m.frames_per_day == b.frames_per_day
    hand = Budget(battery_wh=50, idle_w=1.0)
    assert hand.for_mode(profile, "25W") is hand


def test_result_serialises_and_the_frame_covers_the_horizon():
    r = feasibility(Budget(**EXERCISE), energy_per_frame_mj=70)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["verdict"] == "feasible" and d["budget"]["battery_wh"] == 50
    assert len(d["hourly"]["soc_wh"]) == 14 * 24
    assert set(d["daily_terms_j"]) == {"inference", "idle_awake", "wake", "sleep", "capture"}
    terms = r.terms_frame()
    assert terms["share"].sum() == pytest.approx(1)
    assert len(r.to_frame()) == 14 * 24


def test_budget_metrics_agree_with_feasibility():
    b = Budget.from_profile(
        "jetson-orin-nano-8gb", "7W", **EXERCISE, policy="on_trigger", sleep_w=0.0, idle_timeout_s=1.0
    )
    energies = [0.07, 0.41, 2.0, 20.0]
    metrics = budget_metrics(b, energies)
    for e, row in zip(energies, metrics.itertuples(), strict=True):
        r = feasibility(b, energy_per_frame_j=e)
        assert row.feasible == r.feasible
        assert row.days_autonomy == pytest.approx(r.days_autonomy)


# -- the command line ----------------------------------------------------------------------------

CLI = ["budget", "--battery-wh", "50", "--solar-wh-per-day", "8", "--frames-per-day", "2000", "--cloudy-days", "7"]


def test_cli_prints_verdict_terms_and_allowance(capsys):
    assert main([*CLI, "--energy-mj", "70"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FEASIBLE: 70.0 mJ per frame fits")
    assert "inference" in out and "idle while awake" in out and "sizing rule (daily runs of deficit)   12.857 J" in out
    assert main([*CLI, "--energy-mj", "70", "--profile", "jetson-orin-nano-8gb", "--mode", "7W", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["verdict"] == "infeasible" and d["dominant_term"] == "idle_awake"
    assert d["budget"]["idle_w"] == 3.0


def test_cli_energy_from_the_cost_model(capsys):
    """--family/--profile/--mode: the energy per frame is the design's sustained estimate."""
    from edgespace import ArchSpec
    from edgespace.cost import estimate

    design = ["--family", "mobilenetv2", "--width", "0.75", "--resolution", "160", "--precision", "int8"]
    assert main([*CLI, *design, "--profile", "jetson-orin-nano-8gb", "--mode", "7W", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    e = estimate(ArchSpec("mobilenetv2", 0.75, 1.0, 160, "int8"), "jetson-orin-nano-8gb", "7W")
    assert d["energy_per_frame_j"] == pytest.approx(e.sustained_energy_mj / 1e3)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--energy-mj", "70", "--usable-fraction", "1.5"], "Budget.usable_fraction: 1.5 is not allowed"),
        (["--energy-mj", "70", "--policy", "sometimes"], "--policy: 'sometimes': unknown"),
        ([], "pass --energy-mj or --energy-j"),
        (["--energy-mj", "70", "--family", "efficientnet"], "not both"),
        (["--family", "efficientnet"], "--family needs --profile"),
        (["--energy-mj", "70", "--mode", "7W"], "--mode needs --profile"),
        (["--energy-mj", "70", "--energy-j", "1"], "not allowed with argument"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(capsys, extra, message):
    assert main([*CLI, *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("edgespace: error: ") and message in err[0]


def test_cli_subprocess_exits_2_without_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "edgespace", *CLI, "--energy-mj", "70", "--frames-per-day", "100000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip() == (
        "edgespace: error: Budget.frames_per_day: 100000.0 is not allowed; must be >= 0 and at most 86,400 "
        "frames per day (more frames than seconds in a day)"
    )


def test_camera_trap_study_prints_the_headline_numbers(capsys, tmp_path, monkeypatch):
    import runpy

    monkeypatch.setenv("EDGESPACE_RUN_DIR", str(tmp_path))
    runpy.run_path(str(ROOT / "studies" / "camera_trap.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert f"report (front, modes, throttling, battery over the cloudy spell): {tmp_path / 'camera_trap.html'}" in out
    assert "data-section='budget'" in (tmp_path / "camera_trap.html").read_text()
    assert "(7 x 2,000 frames) = 12.86 J per frame" in out
    assert "idle floor: 3 W x 24 h = 72.00 Wh/day" in out
    assert "1.96 days at 410 mJ, 1.98 days at 70 mJ" in out
    assert "2,000 frames/day at  70 mJ: 2.50 Wh/day,  20.0 days of autonomy" in out
    assert out.count("-> feasible") == 5 and "-> infeasible" in out
