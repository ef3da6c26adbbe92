"""``edgespace estimate``: the analytic cost of one design point on a profile's power modes."""

from __future__ import annotations

import json

from edgespace._json import jsonable
from edgespace.archs import list_families
from edgespace.spec import PRECISIONS, ArchSpec

_SHOWN = (
    ("mode", "{}"),
    ("placement", "{}"),
    ("latency_ms", "{:.3f}"),
    ("throughput_fps", "{:.1f}"),
    ("sustained_fps", "{:.1f}"),
    ("time_to_throttle_s", "{:.0f}"),
    ("energy_mj", "{:.2f}"),
    ("sustained_energy_mj", "{:.2f}"),
    ("avg_power_w", "{:.2f}"),
    ("peak_activation_mb", "{:.2f}"),
    ("total_memory_mb", "{:.2f}"),
    ("fits_memory", "{}"),
    ("n_fallback_ops", "{}"),
    ("n_estimated_inputs", "{}"),
    ("latency_source", "{}"),
    ("energy_source", "{}"),
)


def configure(sub) -> None:
    p = sub.add_parser("estimate", help="latency, energy, memory and thermal estimates of one design point")
    p.add_argument("--profile", required=True, help="a profile name (see `edgespace profiles list`) or a YAML path")
    p.add_argument("--mode", help="a power mode of the profile; default: every mode, as a table")
    p.add_argument("--family", required=True, help=f"one of: {', '.join(list_families())}")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--depth", type=float, default=1.0)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--precision", default="fp32", help=f"one of: {', '.join(PRECISIONS)}")
    p.add_argument(
        "--batch", type=int, default=1, help="images per call (default 1): latency per call, energy per image"
    )
    p.add_argument("--ambient-c", type=float, help="ambient temperature in °C (default: the profile's)")
    p.add_argument(
        "--placement",
        action="append",
        metavar="P",
        help="where the network runs: auto (the profile's primary engine), gpu, dla (DLA with GPU fallback, "
        "Jetson Orin NX / AGX Orin); repeatable; default: auto",
    )
    p.add_argument(
        "--calibration",
        metavar="FILE",
        help="a calibration file (edgespace calibrate): latency from it where it applies (profile, mode, precision)",
    )
    p.add_argument("--layers", action="store_true", help="with --mode: also print the per-layer breakdown")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from edgespace.cost import estimate
    from edgespace.profiles import load_profile

    spec = ArchSpec(args.family, args.width, args.depth, args.resolution, args.precision, batch=args.batch)
    profile = load_profile(args.profile)
    modes = [args.mode] if args.mode is not None else list(profile.modes)
    placements = args.placement or ["auto"]
    calibration = None
    if args.calibration is not None:
        from edgespace.cost import load_calibration

        calibration = load_calibration(args.calibration)
    estimates = [
        estimate(spec, profile, m, ambient_c=args.ambient_c, placement=pl, calibration=calibration)
        for m in modes
        for pl in placements
    ]
    if args.json:
        docs = [e.to_dict(layers=args.layers) for e in estimates]
        print(json.dumps(jsonable(docs[0] if len(docs) == 1 and args.mode is not None else docs)))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec.short_name()} on {profile.name}")
    for name, _ in _SHOWN:
        table.add_column(name, justify="right")
    for e in estimates:
        table.add_row(*[fmt.format(getattr(e, name)) for name, fmt in _SHOWN])
    console = Console(width=200)
    console.print(table)
    console.print(
        f"n_estimated_inputs: how many of the profile inputs behind a row ({estimates[0].n_inputs} for the first) "
        "are estimates rather than sourced, measured or calibrated values (`edgespace profiles show` lists them)"
    )
    for e in estimates:
        if not e.runnable:
            console.print(f"{e.mode}: cannot run: no engine supports {', '.join(e.unsupported_ops[:5])} ...")
    if args.layers and args.mode is not None:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(estimates[0].layers.to_string())
    return 0
