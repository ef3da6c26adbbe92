"""The published-measurement table: schema, sources, split, and the benchmark that reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from edgespace._spec import PRECISIONS
from edgespace.archs import list_families
from edgespace.profiles import list_profiles, load_profile

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT / "edgespace" / "data" / "published_latency.csv"
COLUMNS = [
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
]


def test_every_row_is_a_shipped_design_point_with_its_source():
    rows = pd.read_csv(CSV, keep_default_na=False)
    assert list(rows.columns) == COLUMNS
    assert set(rows["split"]) == {"fit", "held_out"}
    for r in rows.itertuples():
        assert r.profile in list_profiles(), r
        mode = load_profile(r.profile).mode(r.mode)
        assert r.placement in mode.placement_names
        assert r.family in list_families() and r.precision in PRECISIONS
        assert float(r.published_latency_ms) > 0
        # an exact place to read it: a host and a path or page, and when
        assert "/" in r.source and "." in r.source.split("/")[0] and len(r.source_date) >= 4, r.source
        assert r.device_tested and r.runtime and r.statistic
    assert not rows.duplicated(["profile", "mode", "family", "width", "depth", "resolution", "precision"]).any()


def test_calibrated_values_name_the_table_and_come_from_fit_rows_only():
    rows = pd.read_csv(CSV, keep_default_na=False)
    fit_profiles = set(rows.loc[rows["split"] == "fit", "profile"])
    for name in list_profiles():
        if name == "host":
            continue
        calibrated = [(path, s) for path, s in load_profile(name).sourced_values() if s.kind == "calibrated"]
        for path, s in calibrated:
            assert "published_latency.csv" in s.source and "fit rows" in s.source, (name, path)
        if calibrated:
            assert name in fit_profiles, name


def test_the_benchmark_reproduces_its_stored_result_eight_of_eight_held_out_within_1_5x(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "published.py"), "--json", str(tmp_path / "published.json")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "kendall_tau" in text and "within_1.5x" in text and "held-out rows: 8; within 1.5x: 100%" in text
    doc = json.loads((tmp_path / "published.json").read_text())
    assert doc["held_out"] == {"rows": 8, "within_1.5x": 8, "within_2x": 8}
    assert {"date", "machine", "versions", "command"} <= set(doc) and doc["command"].startswith("python ")
    # deterministic: the stored result is what the code gives today
    stored = json.loads((ROOT / "benchmarks" / "results" / "published.json").read_text())
    for key in ("held_out", "summary", "rows"):
        assert doc[key] == stored[key], key
