"""``edgespace export``: one deployable file (``--out``, any format), or a capture set of models to
profile on another device (``--capture-set``: ONNX, LiteRT or ExecuTorch)."""

from __future__ import annotations

import json

from edgespace.calibration import DEFAULT_FAMILIES
from edgespace.cli._common import float_option, int_option

CAPTURE_HELP = """\
Next, on the device, save each model's profile next to it (NAME = the file name without .onnx):
  TensorRT:
    for f in {d}/*.onnx; do n=${{f%.onnx}}; trtexec --onnx=$f --fp16 --separateProfileRun \\
      --profilingVerbosity=detailed --exportProfile=$n.profile.json --exportTimes=$n.times.json; done
  ONNX Runtime (any provider; threads as you will deploy):
    python -m edgespace.calibration.capture {d} --threads 4
    (or by hand: a session with SessionOptions.enable_profiling, 20 runs, end_profiling() saved
     as NAME.ort.json; optionally {{"latency_ms": ...}} without the profiler in NAME.latency.json)
Then, here:  edgespace calibrate --profile PROFILE --from {d} --out PROFILE-calibration.json"""

PHONE_HELP = """\
Next, on the phone, profile each model with {tool} (the commands are in {d}/manifest.json, e.g.):
  {example}
  and copy the outputs ({suffix} per model) back into {d}.
Then, here:  edgespace calibrate --profile PROFILE --from {d} --out PROFILE-{runtime}.json"""


def configure(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export one model (onnx, litert, executorch, coreml) or a capture set (onnx, litert, executorch)",
        description="With --out: write one spec as a deployable file (uint8 RGB frame in, "
        "preprocessing in the graph) in --format at --precision. With --capture-set: export ONNX, LiteRT or ExecuTorch files "
        "with a manifest, to time them on a device and calibrate its profile from the captured "
        "profiles with `edgespace calibrate --from DIR`.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="write one model (needs --family) to this file (.onnx/.tflite/.pte/.mlpackage)")
    where.add_argument(
        "--capture-set",
        metavar="DIR",
        help="a capture set: the models (onnx, litert or executorch) and manifest.json with the command that "
        "profiles each on the device (extended if present)",
    )
    p.add_argument(
        "--format", default="onnx", help="onnx, litert, executorch or coreml (capture sets: onnx, litert, executorch)"
    )
    p.add_argument("--precision", default="fp32", help="fp32, fp16 or int8, as the format allows")
    p.add_argument(
        "--threads", type=int_option, default=1, help="capture sets of phone models: threads to profile with"
    )
    p.add_argument("--samples", type=int_option, default=None, help="draw this many random specs (as `calibrate` does)")
    p.add_argument("--seed", type=int_option, default=0, help="seed for drawing specs")
    p.add_argument("--families", default=",".join(DEFAULT_FAMILIES), help="comma-separated families to draw from")
    p.add_argument("--family", help="export one spec instead: its family (with --width/--depth/--resolution)")
    p.add_argument("--width", type=float_option, default=1.0)
    p.add_argument("--depth", type=float_option, default=1.0)
    p.add_argument("--resolution", type=int_option, default=224)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from edgespace import ArchSpec, CalibrationError
    from edgespace._paths import output_dir
    from edgespace.calibration import draw_specs, write_capture_set
    from edgespace.cli._common import parse_families

    if args.out is not None:
        return _run_one(args)
    if args.format not in ("onnx", "litert", "executorch"):
        raise ValueError(f"export --capture-set: --format {args.format}: allowed: onnx, litert, executorch")
    if args.format == "onnx" and args.precision != "fp32":
        raise ValueError(
            f"export --capture-set --format onnx: --precision {args.precision}: ONNX capture sets are fp32"
        )
    if args.threads < 1:
        raise ValueError(f"--threads {args.threads}: allowed: an integer >= 1")
    if (args.samples is None) == (args.family is None):
        raise ValueError("export: pass either --samples N (random specs) or --family F (one spec)")
    output_dir(args.capture_set, "--capture-set", CalibrationError)  # before any export work
    if args.family is not None:
        specs = [ArchSpec(args.family, args.width, args.depth, args.resolution)]
    else:
        families = parse_families(args.families)
        if not 3 <= args.samples <= 10_000:
            raise ValueError(
                f"--samples {args.samples}: allowed: an integer from 3 (calibration needs 3 networks) "
                "to 10,000 (each is exported)"
            )
        specs = draw_specs(args.samples, families=tuple(families), seed=args.seed, cover=True)
    manifest = write_capture_set(
        specs, args.capture_set, format=args.format, precision=args.precision, threads=args.threads
    )
    print(f"wrote {len(specs)} model(s) and {manifest}")
    if args.format == "onnx":
        print(CAPTURE_HELP.format(d=args.capture_set))
        return 0
    from edgespace.calibration import PHONE_RUNTIMES

    first = json.loads(manifest.read_text())["models"][0]
    _, suffix, tool = PHONE_RUNTIMES[args.format]
    print(
        PHONE_HELP.format(
            d=args.capture_set, tool=tool, example=first["capture"]["command"], suffix=suffix, runtime=args.format
        )
    )
    return 0


def _run_one(args) -> int:
    from edgespace import ArchSpec
    from edgespace.exporters import export

    if args.family is None:
        raise ValueError("export --out FILE: pass the spec with --family F (and --width/--depth/--resolution)")
    spec = ArchSpec(args.family, args.width, args.depth, args.resolution, precision=args.precision)
    path = export(spec, args.out, format=args.format, precision=args.precision)
    print(f"wrote {path} ({args.format}, {args.precision}, {spec.short_name()})")
    return 0
