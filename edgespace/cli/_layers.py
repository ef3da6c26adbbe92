"""``edgespace layers``: the analytic layer table of one design point."""

from __future__ import annotations

import json

from edgespace._json import jsonable
from edgespace.archs import list_families
from edgespace.cli._common import float_option, int_option
from edgespace.layers import layer_table, table_totals
from edgespace.spec import PRECISIONS, ArchSpec, efficientnet_preset

_SHOWN = ["name", "op", "act", "in_c", "in_h", "out_c", "out_h", "kernel", "stride", "groups", "macs", "params"]


def configure(sub) -> None:
    p = sub.add_parser("layers", help="print the analytic layer table of one design point")
    p.add_argument("--family", help=f"one of: {', '.join(list_families())}")
    p.add_argument("--preset", help="a published EfficientNet variant (b0..b7) instead of --family/--width/...")
    p.add_argument("--width", type=float_option, help="width (channel) multiplier, default 1.0")
    p.add_argument("--depth", type=float_option, help="depth multiplier, default 1.0")
    p.add_argument("--resolution", type=int_option, help="input side in pixels, default 224")
    p.add_argument("--precision", default="fp32", help=f"one of: {', '.join(PRECISIONS)}")
    p.add_argument("--num-classes", type=int_option, default=1000)
    p.add_argument("--json", action="store_true", help="print JSON: spec, totals and every row")
    p.set_defaults(func=_run)


def _run(args) -> int:
    given = [f"--{k}" for k in ("family", "width", "depth", "resolution") if getattr(args, k) is not None]
    if args.preset and given:
        # a preset fixes width, depth and resolution: a flag that would change them is a conflict, not ignored
        raise ValueError(
            f"layers: --preset {args.preset} fixes the family, width, depth and resolution; "
            f"drop {', '.join(given)} (or drop --preset and give --family F --width ...)"
        )
    if args.preset:
        spec = efficientnet_preset(args.preset, precision=args.precision, num_classes=args.num_classes)
    elif args.family:
        spec = ArchSpec(
            args.family,
            1.0 if args.width is None else args.width,
            1.0 if args.depth is None else args.depth,
            224 if args.resolution is None else args.resolution,
            args.precision,
            args.num_classes,
        )
    else:
        raise ValueError("layers: pass --family F (with --width/--depth/--resolution) or --preset b0..b7")
    table = layer_table(spec)
    totals = table_totals(table)
    if args.json:
        rows = table.assign(reads=table["reads"].map(list)).to_dict(orient="records")
        print(json.dumps(jsonable({"spec": spec.to_dict(), "totals": totals, "layers": rows})))
        return 0
    import pandas as pd

    with pd.option_context("display.max_rows", None, "display.width", 200, "display.max_columns", None):
        print(table[_SHOWN].to_string())
    print(
        f"\n{spec.short_name()}: {totals['rows']} operators, {totals['macs'] / 1e6:,.1f} M MACs (conv + linear), "
        f"{totals['params'] / 1e6:,.3f} M params, {totals['weight_mb']:,.2f} MB weights at {spec.precision}"
    )
    return 0
