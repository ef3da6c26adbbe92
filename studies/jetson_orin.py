"""Jetson Orin: which power mode, for which model? Every mode of the Orin Nano, Orin NX and AGX Orin.

A 30 fps vision pipeline on a Jetson: nvpmodel offers several power modes per module, and the
fastest mode is rarely the cheapest per frame. For each module: an NSGA-II search over
EfficientNet and MobileNetV2/V3 at fp32/fp16/int8 across all of its power modes, maximising top-1
and minimising energy per inference under ``sustained_latency_ms <= 33`` (30 fps sustained);
then, mode by mode, the most accurate design that holds 30 fps and the energy it costs.

Run:  python studies/jetson_orin.py     (writes runs/jetson-<module>.html, one report per module)

Analytic estimates from the shipped profiles (clocks and peaks from NVIDIA's nvpmodel files and
data sheets, power and thermal constants partly estimated: ``edgespace profiles show NAME``).
"""

from __future__ import annotations

import edgespace as es
from edgespace.report import point_label, report

MODULES = {"jetson-orin-nano-8gb": "Orin Nano 8GB", "jetson-orin-nx-16gb": "Orin NX 16GB", "jetson-agx-orin-64gb": "AGX Orin 64GB"}
TRIALS = 1000


def main() -> None:
    for profile, name in MODULES.items():
        result = es.search(es.EfficientNetSpace() | es.MobileNetSpace(), profile, ["accuracy", "energy_mj"],
                           ["sustained_latency_ms <= 33"], n_trials=TRIALS, storage="memory", seed=0)  # fmt: skip
        trials = result.trials_frame()
        ok = trials[trials["feasible"]]
        front = result.pareto_front()
        html = report(result, f"runs/jetson-{profile}.html", title=f"Jetson {name}: every power mode, 30 fps sustained")
        print(f"{name} ({TRIALS:,} trials, {len(ok):,} feasible, {len(front)} on the front; front modes: "
              f"{', '.join(f'{m} {n}' for m, n in front['mode'].value_counts().items())})")  # fmt: skip
        for mode in es.load_profile(profile).mode_names:
            part = ok[ok["mode"] == mode]
            if part.empty:
                print(f"  {mode:>11}: nothing holds 30 fps")
                continue
            best = part.sort_values("accuracy", ascending=False).iloc[0]
            apj = part.sort_values("accuracy_per_joule", ascending=False).iloc[0]
            print(f"  {mode:>11}: most accurate {point_label(best)}: top-1 {best['accuracy']:.1f} %, {best['energy_mj']:.1f} mJ, "
                  f"{best['sustained_fps']:.0f} fps sustained; most per joule {apj['accuracy']:.1f} % at {apj['energy_mj']:.2f} mJ")  # fmt: skip
        print(f"  report: {html}\n")
    print("Reading: for the same accuracy, the lower modes spend fewer millijoules per frame as long as they hold 30 fps;")
    print("the top modes buy accuracy that the lower ones cannot sustain at that frame rate.")


if __name__ == "__main__":
    main()
