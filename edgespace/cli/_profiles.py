"""``edgespace profiles list|show|validate``: the hardware profiles, with every number's source."""

from __future__ import annotations

import json

from edgespace.cost import sustainable_power_w
from edgespace.profiles import HardwareProfile, list_profiles, load_profile, load_profile_file


def configure(sub) -> None:
    p = sub.add_parser("profiles", help="list, show and validate hardware profiles")
    verbs = p.add_subparsers(dest="profiles_command", metavar="{list,show,validate}")
    verbs.required = True

    ls = verbs.add_parser("list", help="the profiles that load_profile() accepts")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=_list)

    show = verbs.add_parser("show", help="one profile: modes, engines and the source of every number")
    show.add_argument("name", metavar="NAME", help="a profile name (see `profiles list`) or a path to a .yaml file")
    show.add_argument("--json", action="store_true", help="print the validated profile as JSON")
    show.add_argument("--remeasure", action="store_true", help="for `host`: measure this machine again")
    show.set_defaults(func=_show)

    val = verbs.add_parser("validate", help="check a profile file; exit 2 with one line if it is bad")
    val.add_argument("path", metavar="PATH", help="a profile .yaml file ('-' reads standard input)")
    val.set_defaults(func=_validate)


def _list(args) -> int:
    import sys

    from edgespace._errors import EdgespaceError
    from edgespace.cli import one_line

    rows = []
    for name in list_profiles():
        if name == "host":  # listing must not start a measurement
            rows.append({"name": name, "kind": "host", "device": "this machine, measured on first use", "modes": []})
            continue
        try:
            p = load_profile(name)
        except EdgespaceError as exc:  # one bad file: listed as invalid, the others still listed
            rows.append({"name": name, "kind": "invalid", "device": "", "modes": [], "error": str(exc)})
            continue
        rows.append({"name": p.name, "kind": p.kind, "device": p.device, "modes": p.mode_names})
    bad = [r for r in rows if r["kind"] == "invalid"]
    if args.json:
        print(json.dumps(rows))
    else:
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            modes = ", ".join(r["modes"]) or "-"
            print(f"{r['name']:<{width}}  {r['kind']:<15}  modes: {modes:<32}  {r['device']}")
    for r in bad:
        print(f"edgespace: error: profile {r['name']}: {one_line(r['error'])}", file=sys.stderr)
    return 2 if bad else 0


def _show(args) -> int:
    p = load_profile(args.name, remeasure=args.remeasure)
    if args.json:
        print(json.dumps(p.model_dump(mode="json")))
        return 0
    print(f"{p.name}: {p.device} [{p.kind}]")
    if p.origin:
        print(f"  file: {p.origin}")
    print(f"  default mode: {p.default_mode}; sleep {p.sleep_w:g} W")
    for mode in p.modes.values():
        print(f"\n  mode {mode.name}: {mode.description}")
        print(
            f"    budget {mode.budget_w:g} W, idle {mode.idle_w:g} W, static {mode.static_w:g} W; "
            f"memory {mode.memory.capacity_gb.value:g} GB ({mode.usable_memory_bytes / 1e9:.1f} GB usable), "
            f"{mode.memory.peak_bandwidth_gb_s.value:g} GB/s x {mode.memory.achievable_fraction.value:g}"
        )
        t = mode.thermal
        print(
            f"    thermal: R {t.thermal_resistance_c_per_w.value:g} C/W, C {t.heat_capacity_j_per_c.value:g} J/C "
            f"(tau {t.time_constant_s:.0f} s), trip {t.trip_c.value:g} C, {t.cooling}; "
            f"sustainable {sustainable_power_w(mode):.1f} W at {t.ambient_c.value:g} C"
        )
        for name, d in mode.power.domains.items():
            print(
                f"    power domain {name} ({', '.join(d.engines)}): budget {d.budget_w.value:g} W, static {d.static_w.value:g} W"
            )
        for name, e in mode.engines.items():
            role = (
                " (primary)" if name == mode.primary_engine else " (fallback)" if name == mode.fallback_engine else ""
            )
            peaks = ", ".join(
                f"{q} {e.peak_ops_per_s(q) / 1e12:.3g} T" for q in ("fp32", "fp16", "int8") if e.peak(q) is not None
            )
            print(
                f"    {name}{role}: {e.kind} {e.clock_mhz.value:g} MHz, dense peak/s {peaks}; {e.active_power_w.value:g} W"
            )
            ops = e.op_support
            lacks = ", ".join([*ops.unsupported_ops, *ops.unsupported_acts]) or "nothing"
            fb = "; ".join(f"{a} runs as {b}" for a, b in ops.precision_fallback.items())
            print(
                f"      runs: lacks {lacks}{'; ' + fb if fb else ''}; partitioning {ops.partitioning}  [{_op_provenance(p, ops)}]"
            )
        for key, pl in mode.placements.items():
            print(
                f"    placement {key}: {pl.primary_engine} first, {pl.fallback_engine or 'no'} fallback ({pl.description})"
            )
        if mode.slower_than is not None:
            print(f"    may be slower than {', '.join(mode.slower_than.modes)}: {mode.slower_than.source}")
    values = p.sourced_values()
    counts = {k: sum(s.kind == k for _, s in values) for k in ("source", "measured", "calibrated", "estimate")}
    print(
        f"\n  every input ({len(values)} numbers: {counts['source']} sourced, {counts['measured']} measured, "
        f"{counts['calibrated']} calibrated, {counts['estimate']} estimates):"
    )
    for path, s in values:
        print(f"    [{s.kind}] {path} = {s.value:g}  {p.resolve_source(s)}")
    return 0


def _op_provenance(p: HardwareProfile, ops) -> str:
    if ops.is_estimate:
        return f"estimate: {ops.estimate}"
    from edgespace.profiles import Sourced

    return p.resolve_source(Sourced(value=0, source=ops.source))


def _validate(args) -> int:
    if args.path == "-":
        import sys

        profile: HardwareProfile = load_profile_file(sys.stdin)
    else:
        profile = load_profile_file(args.path)
    values = profile.sourced_values()
    estimates = sum(s.is_estimate for _, s in values)
    calibrated = sum(s.kind == "calibrated" for _, s in values)
    print(
        f"ok: {args.path}: {profile.name} ({profile.kind}), {len(profile.modes)} mode(s), "
        f"{len(values)} numbers: {len(values) - estimates - calibrated} sourced, {calibrated} calibrated, {estimates} estimates"
    )
    return 0
