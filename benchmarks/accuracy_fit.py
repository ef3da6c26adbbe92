"""Cross-validated error of the published-results accuracy model.

Prints, in top-1 points:

* leave-one-out (LOO) MAE: refit without each fp32 row in turn and predict it, over all fitted
  rows, per family, over the authors' own results (recipe "reference"), and over those of the
  families edgespace builds; "inside the range" keeps rows strictly inside their family's width/depth/
  resolution range (a held-out corner is an extrapolation, reported apart);
* leave-one-family-out (LOFO) MAE: refit without a whole family (an accuracy family: EfficientViT
  B0-B3 together) and predict its rows with the mean family offset (how wrong a *new* architecture
  would be);
* the published anchors (EfficientNet-B0 77.1, MobileNetV2 1.0/224 71.8) from the full fit;
* the extrapolation calibration behind ``K_OUT``: per family, hold out the rows at each end of
  each axis, refit, and compare the error with the log2 distance to the nearest kept row.

Run: ``python benchmarks/accuracy_fit.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402

from edgespace.accuracy._data import load_published  # noqa: E402
from edgespace.accuracy._published_fit import K_OUT, _curve, fit_published  # noqa: E402
from edgespace.archs import list_families  # noqa: E402


def _predict_rows(fit, rows, family_offset=None):
    t = fit.top1
    off = (
        rows["family"].map(t.family_offset).to_numpy(dtype=float)
        if family_offset is None
        else np.full(len(rows), family_offset)
    )
    off = off + rows["recipe"].map(t.recipe_offset).to_numpy(dtype=float)
    # a held-out family has no slope of its own: it gets the shared one
    slope = rows["family"].map(t.params_slope).fillna(t.shape[1]).to_numpy(dtype=float)
    return _curve(t.shape, off, rows["lm"].to_numpy(), rows["lp"].to_numpy(), slope)


def main() -> int:
    t0 = time.perf_counter()
    table = load_published()
    full = fit_published(table)
    rows = full.rows
    buildable = set(list_families())

    # ---- leave-one-out
    loo, interior = {}, {}
    for idx in rows.index:
        fit = fit_published(table, exclude=[idx])
        fam = rows.at[idx, "family"]
        if fam not in fit.top1.family_offset:
            continue
        loo[idx] = float(_predict_rows(fit, rows.loc[[idx]])[0] - rows.at[idx, "top1"])
        # "inside the range": the held-out row lies within the width/depth/resolution range
        # of the rows its family keeps, so predicting it is interpolation.
        lo, hi = fit.box[fam]
        x = np.log2(rows.loc[idx, ["width", "depth", "resolution"]].to_numpy(float))
        interior[idx] = bool(((x >= lo - 1e-9) & (x <= hi + 1e-9)).all())
    rows = rows.assign(
        loo=rows.index.map(loo).to_numpy(dtype=float),
        interior=rows.index.map(lambda i: interior.get(i, False)).to_numpy(dtype=bool),
    )
    ref = rows[rows["recipe"] == "reference"]
    build_ref = ref[ref["family"].isin(buildable)]

    def mae(frame):
        v = frame["loo"].dropna().abs()
        return f"{v.mean():.2f} (n={len(v)})"

    print("Leave-one-out MAE, top-1 points")
    print(f"  all fitted rows                          {mae(rows)}")
    print(f"  all fitted rows, inside the range        {mae(rows[rows['interior']])}")
    print(f"  authors' results                         {mae(ref)}")
    print(f"  authors' results, buildable families     {mae(build_ref)}")
    print(f"  ... inside the range                     {mae(build_ref[build_ref['interior']])}")
    print("  per family / recipe:")
    for (fam, rec), grp in rows.groupby(["family", "recipe"]):
        print(f"    {fam:27s} {rec:11s} {mae(grp)}")
    for grp_name, grp in rows[rows["group"] != rows["family"]].groupby("group"):
        print(f"    {grp_name + ' (all variants)':39s} {mae(grp)}")
    worst = rows.reindex(rows["loo"].abs().sort_values(ascending=False).index).head(5)
    print("  largest LOO errors: " + ", ".join(f"{r.variant} {r.loo:+.2f}" for r in worst.itertuples()))

    # ---- leave-one-family-out
    print("\nLeave-one-family-out MAE (held-out family predicted with the mean family offset)")
    lofo_all = []
    for fam in sorted(rows["group"].unique()):  # a family's accuracy family (EfficientViT B0-B3: one)
        keep = rows.index[rows["group"] == fam]
        fit = fit_published(table, exclude=list(keep))
        mean_off = float(np.mean(list(fit.top1.family_offset.values())))
        sub = rows.loc[keep]
        e = _predict_rows(fit, sub, family_offset=mean_off) - sub["top1"].to_numpy()
        lofo_all.extend(np.abs(e))
        print(f"    {fam:27s} {np.abs(e).mean():.2f} (n={len(e)}, bias {e.mean():+.2f})")
    print(f"  all families                             {np.mean(lofo_all):.2f} (n={len(lofo_all)})")

    # ---- anchors
    print("\nPublished anchors (full fit)")
    for variant, published in (("efficientnet-b0", 77.1), ("mobilenet_v2_1.0_224", 71.8)):
        r = rows[rows["variant"] == variant].iloc[0]
        print(
            f"  {variant:22s} published {published:.1f}  fitted {r.top1_fit:.2f}  error {r.top1_fit - published:+.2f}"
            f"  LOO error {r.loo:+.2f}"
        )

    # ---- extrapolation calibration for K_OUT
    print("\nExtrapolation: hold out each family's extreme rows per axis, refit, predict them")
    errs, dists = [], []
    for fam in sorted(buildable | {"mobilenetv1"}):
        fam_rows = rows[(rows["family"] == fam) & (rows["recipe"] == "reference")]
        if len(fam_rows) < 4:
            continue
        for axis in ("width", "resolution"):
            values = fam_rows[axis]
            if values.nunique() < 3:
                continue
            for end in (values.min(), values.max()):
                held = fam_rows.index[values == end]
                fit = fit_published(table, exclude=list(held))
                kept = np.log2(
                    rows.loc[rows.index.difference(held)]
                    .query("family == @fam")[["width", "depth", "resolution"]]
                    .to_numpy(float)
                )
                for idx in held:
                    x = np.log2(rows.loc[idx, ["width", "depth", "resolution"]].to_numpy(float))
                    dists.append(np.sqrt(((kept - x) ** 2).sum(axis=1)).min())
                    errs.append(float(_predict_rows(fit, rows.loc[[idx]])[0] - rows.at[idx, "top1"]))
    errs, dists = np.array(errs), np.array(dists)
    interior_rms = float(np.sqrt(np.nanmean(rows.loc[rows["interior"], "loo"] ** 2)))
    excess = np.sqrt(np.maximum(np.mean(errs**2) - interior_rms**2, 0.0))
    print(
        f"  {len(errs)} held-out rows: RMS error {np.sqrt(np.mean(errs**2)):.2f}, interior LOO RMS {interior_rms:.2f}, "
        f"RMS log2 distance {np.sqrt(np.mean(dists**2)):.2f}"
    )
    print(f"  implied points per log2 unit: {excess / np.sqrt(np.mean(dists**2)):.2f}  (K_OUT in use: {K_OUT})")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    anchors = {
        v: {"published": pub, "fitted": round(float(rows[rows["variant"] == v].iloc[0].top1_fit), 4)}
        for v, pub in (("efficientnet-b0", 77.1), ("mobilenet_v2_1.0_224", 71.8))
    }
    doc = {
        "loo_mae_points": {
            "all_rows": round(float(rows["loo"].dropna().abs().mean()), 4),
            "all_rows_inside_range": round(float(rows.loc[rows["interior"], "loo"].dropna().abs().mean()), 4),
            "authors_results": round(float(ref["loo"].dropna().abs().mean()), 4),
            "rows": int(rows["loo"].notna().sum()),
            "by_family": {
                fam: {"mae": round(float(grp["loo"].dropna().abs().mean()), 4), "rows": int(grp["loo"].notna().sum())}
                for fam, grp in rows.groupby("family")
                if grp["loo"].notna().any()
            },
            "by_accuracy_family": {
                fam: {"mae": round(float(grp["loo"].dropna().abs().mean()), 4), "rows": int(grp["loo"].notna().sum())}
                for fam, grp in rows[rows["group"] != rows["family"]].groupby("group")
            },
        },
        "lofo_mae_points": round(float(np.mean(lofo_all)), 4),
        "anchors": anchors,
        "extrapolation_points_per_log2": round(float(excess / np.sqrt(np.mean(dists**2))), 4),
        "k_out_in_use": K_OUT,
    }
    print(f"stored: {write_result('accuracy_fit', doc)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
