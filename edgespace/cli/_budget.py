"""``edgespace budget``: will this energy per frame keep a battery-powered device alive?

    edgespace budget --battery-wh 50 --solar-wh-per-day 8 --frames-per-day 2000 --cloudy-days 7 \\
        --energy-mj 70 [--profile P --mode M] [--policy on-trigger --idle-timeout-s 10] [--json]

Prints the verdict, the daily balance by term and the allowance per inference. With
``--profile/--mode`` the idle, sleep and wake floors come from the hardware profile (a flag given
explicitly wins).
"""

from __future__ import annotations

import json

from edgespace import ArchSpec, Budget, feasibility
from edgespace.budget import POLICIES

# CLI spelling (dashes) -> Budget field
_POLICY_NAMES = {p.replace("_", "-"): p for p in POLICIES}
#: The one default duty-cycle policy, on the command line as in ``Budget``: awake all day, the
#: conservative case (a budget that holds always on holds under any duty cycle with the same floors).
DEFAULT_POLICY = "always-on"


def add_budget_options(p, *, required: bool) -> dict:
    """The energy-budget options of ``budget`` and ``search``: one spelling and one default each.
    ``required``: ``--battery-wh`` and ``--frames-per-day`` must be given (``budget``); otherwise
    the budget is optional and ``--battery-wh`` turns it on (``search``). Returns the argument
    groups (``harvest``, ``load``, ``floors``) so that a command adds its own options to them."""
    opt = "" if required else " (an optional energy budget: --battery-wh turns it on)"
    floors_from = "the profile's, in each candidate's mode" if not required else "0, or the profile's with --profile"
    h = p.add_argument_group("battery and harvest" + opt)
    h.add_argument("--battery-wh", type=float, required=required, help="nominal battery capacity (Wh)")
    h.add_argument(
        "--usable-fraction", type=float, default=1.0, help="usable share of the capacity, (0, 1] (default 1)"
    )
    h.add_argument(
        "--charge-efficiency", type=float, default=1.0, help="share of the harvest stored, (0, 1] (default 1)"
    )
    h.add_argument("--solar-wh-per-day", type=float, default=0.0, help="harvest on a sunny day (Wh, default 0)")
    h.add_argument("--cloudy-days", type=int, default=0, help="cloudy days to survive, from a full battery (default 0)")
    h.add_argument(
        "--cloudy-fraction",
        type=float,
        default=0.0,
        help="a cloudy day's harvest as a share of a sunny day's (default 0)",
    )
    ld = p.add_argument_group("load")
    ld.add_argument(
        "--frames-per-day",
        type=float,
        required=required,
        help="triggered frames per day" + ("" if required else " (needed with --battery-wh)"),
    )
    ld.add_argument("--capture-j", type=float, default=0.0, help="capture energy per frame (J, default 0)")
    f = p.add_argument_group("device floors and duty cycle")
    f.add_argument("--idle-w", type=float, help=f"power awake doing nothing (W; default {floors_from})")
    f.add_argument("--sleep-w", type=float, help=f"power asleep (W; default {floors_from})")
    f.add_argument(
        "--wake-j", type=float, help=f"energy per wake from sleep (J; default {floors_from}, as wake_s x idle_w)"
    )
    f.add_argument("--wake-s", type=float, help=f"time per wake from sleep (s; default {floors_from})")
    f.add_argument(
        "--policy",
        default=DEFAULT_POLICY,
        help=f"duty cycle: one of {', '.join(_POLICY_NAMES)} (default {DEFAULT_POLICY})",
    )
    f.add_argument(
        "--idle-timeout-s",
        type=float,
        default=10.0,
        help="awake time after the last frame before sleeping (s, default 10)",
    )
    f.add_argument("--wake-period-s", type=float, help="time between wakes for --policy periodic (s)")
    return {"harvest": h, "load": ld, "floors": f}


def budget_from_args(args, command: str, *, profile=None, mode=None, calibration=None, **extra) -> Budget | None:
    """The :class:`~edgespace.Budget` the options of :func:`add_budget_options` describe (None when
    optional and ``--battery-wh`` is not given). With ``profile``, floors not given come from it
    (``mode``: None = its default mode; a search then follows each candidate's mode); a
    ``calibration`` with a metered power model gives the idle floor."""
    if args.battery_wh is None:
        if args.frames_per_day is not None:
            raise ValueError(f"{command}: --frames-per-day needs --battery-wh (the energy budget)")
        return None
    if args.frames_per_day is None:
        raise ValueError(f"{command}: --battery-wh needs --frames-per-day")
    if args.policy not in _POLICY_NAMES:
        raise ValueError(f"{command}: --policy: {args.policy!r}: unknown; allowed: {', '.join(_POLICY_NAMES)}")
    fields = {
        "battery_wh": args.battery_wh,
        "usable_fraction": args.usable_fraction,
        "charge_efficiency": args.charge_efficiency,
        "solar_wh_per_day": args.solar_wh_per_day,
        "cloudy_days": args.cloudy_days,
        "cloudy_fraction": args.cloudy_fraction,
        "frames_per_day": args.frames_per_day,
        "capture_energy_j": args.capture_j,
        "policy": _POLICY_NAMES[args.policy],
        "idle_timeout_s": args.idle_timeout_s,
        "wake_period_s": args.wake_period_s,
        **extra,
    }
    floors = {"idle_w": args.idle_w, "sleep_w": args.sleep_w, "wake_energy_j": args.wake_j, "wake_s": args.wake_s}
    floors = {k: v for k, v in floors.items() if v is not None}
    if profile is not None:
        return Budget.from_profile(profile, mode, calibration=calibration, **fields, **floors)
    if mode:
        raise ValueError(f"{command}: --mode needs --profile")
    return Budget(**fields, **floors)


def configure(sub) -> None:
    p = sub.add_parser("budget", help="energy-budget feasibility: battery, solar, duty cycle and idle floor")
    groups = add_budget_options(p, required=True)
    e = groups["load"].add_mutually_exclusive_group()
    e.add_argument("--energy-mj", type=float, help="energy per inference (mJ)")
    e.add_argument("--energy-j", type=float, help="energy per inference (J)")
    groups["load"].add_argument("--inference-s", type=float, help="time per inference (s; default 0)")
    groups["floors"].add_argument(
        "--profile", help="take idle/sleep/wake floors from this hardware profile (see `profiles list`)"
    )
    groups["floors"].add_argument("--mode", help="the profile's power mode (default: its default mode)")
    g = p.add_argument_group("design point (energy per frame from the cost model, with --profile/--mode)")
    g.add_argument("--family", help="estimate the energy per frame of this design instead of --energy-mj")
    g.add_argument("--width", type=float, default=1.0)
    g.add_argument("--depth", type=float, default=1.0)
    g.add_argument("--resolution", type=int, default=224)
    g.add_argument("--precision", default="fp32")
    g.add_argument(
        "--calibration",
        metavar="FILE",
        help="a calibration file: the design's latency (and energy, where metered) from it where it applies",
    )
    p.add_argument("--horizon-days", type=int, help="days to simulate (default: the cloudy days plus a week)")
    p.add_argument("--json", action="store_true", help="print JSON (with the hourly state of charge)")
    p.set_defaults(func=_run)


def _calibration(args):
    if getattr(args, "calibration", None) is None:
        return None
    if not args.profile:
        raise ValueError("budget: --calibration needs --profile")
    from edgespace.cost import load_calibration

    if not hasattr(args, "_calibration"):
        args._calibration = load_calibration(args.calibration)
    return args._calibration


def _energy_from_design(args):
    """The :class:`~edgespace.cost.Estimate` of a design point (``--family/--width/...``) in the
    profile's mode; ``feasibility`` then takes its sustained energy per inference and latency."""
    from edgespace import estimate  # the cost model loads on first use

    if not args.profile:
        raise ValueError("budget: --family needs --profile (and optionally --mode) to estimate the energy per frame")
    spec = ArchSpec(args.family, args.width, args.depth, args.resolution, args.precision)
    est = estimate(spec, args.profile, args.mode, calibration=_calibration(args))
    if not est.runnable:
        raise ValueError(f"budget: {spec.short_name()} cannot run on {est.profile}/{est.mode}: unsupported operators")
    return est


def _run(args) -> int:
    budget = budget_from_args(
        args,
        "budget",
        profile=args.profile or None,
        mode=args.mode,
        inference_s=args.inference_s,
        calibration=_calibration(args),
    )
    if args.family and (args.energy_mj is not None or args.energy_j is not None):
        raise ValueError("budget: pass either --energy-mj/--energy-j or --family (estimated), not both")
    if args.family:
        result = feasibility(budget, estimate=_energy_from_design(args), horizon_days=args.horizon_days)
    elif args.energy_mj is not None:
        result = feasibility(budget, energy_per_frame_mj=args.energy_mj, horizon_days=args.horizon_days)
    elif args.energy_j is not None:
        result = feasibility(budget, energy_per_frame_j=args.energy_j, horizon_days=args.horizon_days)
    else:
        raise ValueError("budget: pass --energy-mj or --energy-j, or --family (with --profile/--mode) to estimate it")
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(result.to_text())
    if budget.provenance:
        print("\nfloors from the profile:")
        for k, v in budget.provenance.items():
            print(f"  {k} = {getattr(budget, k):g}: {v}")
    return 0
