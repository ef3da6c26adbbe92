"""``edgespace coverage``: the operators of one spec converted for a phone runtime, and which of
them the runtime's delegate takes (observed from the converter and partitioner themselves)."""

from __future__ import annotations

import json

from edgespace._json import jsonable
from edgespace.cli._common import float_option, int_option


def configure(sub) -> None:
    p = sub.add_parser(
        "coverage",
        help="operator coverage of one spec on a phone runtime (litert, executorch, coreml), read from its tools",
        description="Convert one spec for --runtime at --precision and list every operator of the converted "
        "program: the layer-table rows it implements, whether --delegate takes it, and the tool's reason.",
    )
    p.add_argument("--family", required=True)
    p.add_argument("--width", type=float_option, default=1.0)
    p.add_argument("--depth", type=float_option, default=1.0)
    p.add_argument("--resolution", type=int_option, default=224)
    p.add_argument("--runtime", default="executorch", help="executorch, litert or coreml (default executorch)")
    p.add_argument("--precision", default="fp32", help="fp32 or int8 (coreml: also fp16)")
    p.add_argument("--delegate", default=None, help="executorch: xnnpack, coreml, qnn; litert: xnnpack, gpu")
    p.add_argument("--all", action="store_true", help="print every operator, not only those left out")
    p.add_argument("--json", action="store_true", help="print JSON: spec, source, counts and every operator")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from edgespace import ArchSpec
    from edgespace.exporters import coverage

    spec = ArchSpec(args.family, args.width, args.depth, args.resolution, precision=args.precision)
    frame = coverage(spec, args.runtime, args.precision, delegate=args.delegate)
    counts = {"n_operators": len(frame), "n_delegated": int(frame["delegated"].sum())}
    if args.json:
        rows = frame.assign(layer_rows=frame["layer_rows"].map(list), op_classes=frame["op_classes"].map(list))
        doc = {"spec": spec.to_dict(), **frame.attrs, **counts, "operators": rows.to_dict(orient="records")}
        print(json.dumps(jsonable(doc)))
        return 0
    print(
        f"{spec.short_name()} on {args.runtime} ({args.precision}, delegate {frame.attrs['delegate']}): "
        f"{counts['n_delegated']} of {counts['n_operators']} operators delegated"
    )
    print(f"source: {frame.attrs['source']}")
    shown = frame if args.all else frame[~frame["delegated"]]
    for r in shown.itertuples():
        rows = ", ".join(r.layer_rows) or r.part or "-"
        print(f"  {r.op_index:4d} {r.op:<40} {'yes' if r.delegated else 'no ':<4} {rows}  {r.reason}")
    return 0
