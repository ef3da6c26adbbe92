"""Predicted vs published latency on the shipped device profiles.

Reads ``edgespace/data/published_latency.csv`` (each row a published measurement of one of our
families on a shipped device, with its exact source and a ``split``: ``fit`` rows may have set
profile values, whose provenance then says "calibrated from published"; ``held_out`` rows never
did) and prints, per device, the ratio predicted / published of every row, the fraction of rows
within 1.5x and 2x, and Kendall's tau of predicted against published within the device — for the
held-out rows (the judgement) and for all rows.

    python benchmarks/published.py            # the comparison
    python benchmarks/published.py --fit snapdragon-8-gen-3 --params call_overhead_us dispatch_overhead_us
                                              # least-squares values for the primary engine from the
                                              # device's fit rows only (to be written into its YAML
                                              # with a "calibrated from published" source)
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import least_squares
from scipy.stats import kendalltau

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

from edgespace import ArchSpec  # noqa: E402
from edgespace.cost import estimate  # noqa: E402
from edgespace.profiles import load_profile, validate_profile  # noqa: E402

COLUMNS = (
    "profile",
    "mode",
    "placement",
    "family",
    "width",
    "depth",
    "resolution",
    "precision",
    "published_latency_ms",
    "device_tested",
    "runtime",
    "statistic",
    "source",
    "source_date",
    "split",
    "note",
)


def load_rows() -> pd.DataFrame:
    with resources.files("edgespace.data").joinpath("published_latency.csv").open() as f:
        return pd.read_csv(f, keep_default_na=False)


def predict(rows: pd.DataFrame, profiles: dict | None = None) -> pd.DataFrame:
    out = rows.copy()
    pred, est = [], []
    for r in rows.itertuples():
        prof = (profiles or {}).get(r.profile) or load_profile(r.profile)
        spec = ArchSpec(r.family, float(r.width), float(r.depth), int(r.resolution), r.precision)
        e = estimate(spec, prof, r.mode, placement=r.placement)
        pred.append(e.latency_ms)
        est.append(f"{e.n_estimated_inputs}/{e.n_inputs}")
    out["predicted_latency_ms"] = pred
    out["ratio"] = out["predicted_latency_ms"] / out["published_latency_ms"]
    out["estimated_inputs"] = est
    return out


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per device and split (held_out, all): rows, median ratio, within 1.5x / 2x, Kendall tau."""
    recs = []
    for (profile,), g in frame.groupby(["profile"], sort=False):
        for part, sub in (("held_out", g[g["split"] == "held_out"]), ("all", g)):
            if sub.empty:
                continue
            fold = np.maximum(sub["ratio"], 1 / sub["ratio"])
            tau = (
                kendalltau(sub["predicted_latency_ms"], sub["published_latency_ms"]).statistic
                if len(sub) >= 2
                else np.nan
            )
            recs.append(
                {
                    "profile": profile,
                    "rows": part,
                    "n": len(sub),
                    "median_ratio": float(sub["ratio"].median()),
                    "within_1.5x": float((fold <= 1.5).mean()),
                    "within_2x": float((fold <= 2.0).mean()),
                    "kendall_tau": float(tau),
                    "tau_judged": len(sub) >= 4,
                }
            )
    return pd.DataFrame(recs)


def fit(profile_name: str, params: list[str], rows: pd.DataFrame) -> dict[str, float]:
    """Least-squares (in log latency) values of the primary engine's ``params`` from the
    profile's fit rows only."""
    fit_rows = rows[(rows["profile"] == profile_name) & (rows["split"] == "fit")]
    if len(fit_rows) < len(params):
        raise SystemExit(f"{profile_name}: {len(fit_rows)} fit rows cannot fix {len(params)} parameters")
    base = load_profile(profile_name).model_dump(mode="json")

    def profile_with(x):
        data = {**base, "modes": {k: dict(v) for k, v in base["modes"].items()}}
        for mode in data["modes"].values():
            eng = dict(mode["engines"][mode["primary_engine"]])
            for name, value in zip(params, np.exp(x), strict=True):
                eng[name] = {"value": float(value), "estimate": "being fitted"}
            mode["engines"] = {**mode["engines"], mode["primary_engine"]: eng}
        return validate_profile(data, origin=f"{profile_name} (fitting)")

    mode = fit_rows["mode"].iloc[0]
    engine = base["modes"][mode]["engines"][base["modes"][mode]["primary_engine"]]
    # a field the profile does not give yet starts from 1 (in its unit)
    x0 = np.log([(engine.get(p) or {"value": 1.0})["value"] or 1e-3 for p in params])

    def residual(x):
        pred = predict(fit_rows, {profile_name: profile_with(x)})
        return np.log(pred["predicted_latency_ms"].to_numpy() / pred["published_latency_ms"].to_numpy())

    res = least_squares(residual, x0, diff_step=1e-3)
    return dict(zip(params, [float(f"{v:.4g}") for v in np.exp(res.x)], strict=True))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", metavar="PROFILE", help="fit the primary engine's --params of PROFILE on its fit rows")
    ap.add_argument("--params", nargs="+", default=["call_overhead_us"], help="engine fields to fit (with --fit)")
    ap.add_argument(
        "--json", metavar="PATH", help="where to store the result (default benchmarks/results/published.json)"
    )
    args = ap.parse_args(argv)
    rows = load_rows()
    if args.fit:
        print(fit(args.fit, args.params, rows))
        return 0
    frame = predict(rows)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_colwidth", 30):
        print(
            frame[
                [
                    "profile",
                    "family",
                    "width",
                    "depth",
                    "resolution",
                    "precision",
                    "split",
                    "published_latency_ms",
                    "predicted_latency_ms",
                    "ratio",
                    "estimated_inputs",
                ]
            ]
            .round(3)
            .to_string(index=False)
        )
        print()
        s = summary(frame)
        print(s.round(3).to_string(index=False))
        held = frame[frame["split"] == "held_out"]
        fold = np.maximum(held["ratio"], 1 / held["ratio"])
        print(
            f"\nheld-out rows: {len(held)}; within 1.5x: {(fold <= 1.5).mean():.0%}; within 2x: {(fold <= 2).mean():.0%} "
            f"(target: >= 80% within 1.5x, tau >= 0.8 per device with >= 4 held-out rows)"
        )
    keep = ["profile", "mode", "placement", "family", "width", "depth", "resolution", "precision", "split"]
    doc = {
        "held_out": {
            "rows": len(held),
            "within_1.5x": int((fold <= 1.5).sum()),
            "within_2x": int((fold <= 2).sum()),
        },
        "summary": s.round(4).to_dict(orient="records"),
        "rows": [
            {
                **{k: r[k] for k in keep},
                **{k: round(float(r[k]), 4) for k in ("published_latency_ms", "predicted_latency_ms", "ratio")},
            }
            for r in frame.to_dict(orient="records")
        ],
    }
    print(f"stored: {write_result('published', doc, args.json)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
