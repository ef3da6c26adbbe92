"""Figures quoted in the docs match the stored benchmark results they name, and every stored
result says when, where, with what and by which command it was produced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ROW = re.compile(
    r"^\| (?P<figure>[^|]+) \| (?P<value>[^|]+) \| `(?P<file>benchmarks/results/[^`]+)` \| `(?P<key>[^`]+)` \|$"
)


def _quoted(page: Path) -> list[dict]:
    return [m.groupdict() for line in page.read_text().splitlines() if (m := ROW.match(line.strip()))]


def _get(doc: dict, key: str):
    for part in re.split(r"\.(?!5x)", key):  # "within_1.5x" is one key
        doc = doc[part]
    return doc


def test_the_docs_quote_stored_results():
    assert len(_quoted(ROOT / "docs" / "labels.md")) >= 7


@pytest.mark.parametrize("row", _quoted(ROOT / "docs" / "labels.md"), ids=lambda r: r["figure"])
def test_each_quoted_figure_matches_its_stored_result(row):
    doc = json.loads((ROOT / row["file"]).read_text())
    stored = _get(doc, row["key"])
    assert str(stored) == row["value"].strip(), (row, stored)


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_every_stored_result_says_when_where_with_what_and_how(path):
    doc = json.loads(path.read_text())
    assert {"date", "machine", "command"} <= set(doc), path.name
    assert "benchmark" in doc or "format" in doc, path.name
    assert doc["command"].startswith("python benchmarks/") and "/work" not in doc["command"]
    # versions: their own field, or beside the machine they ran on
    assert doc.get("versions") or "python" in doc["machine"], path.name


def test_the_stored_layer_table_exactness_still_holds():
    """The analytic MAC counts stored beside fvcore's are what the layer table gives today."""
    from edgespace import ArchSpec, layer_table
    from edgespace.layers import table_totals

    doc = json.loads((RESULTS / "layer_table.json").read_text())
    assert doc["macs_identical"] == doc["specs"] == len(doc["exactness"])
    for e in doc["exactness"]:
        assert e["analytic_macs"] == e["fvcore_macs"] == table_totals(layer_table(ArchSpec(**e["spec"])))["macs"]


def test_the_stored_accuracy_fit_is_what_the_fit_gives_today():
    from edgespace.accuracy._data import load_published
    from edgespace.accuracy._published_fit import fit_published

    doc = json.loads((RESULTS / "accuracy_fit.json").read_text())
    rows = fit_published(load_published()).rows
    for variant, anchor in doc["anchors"].items():
        assert round(float(rows[rows["variant"] == variant].iloc[0].top1_fit), 4) == anchor["fitted"]


def test_a_stored_few_shot_runs_file_still_refits_with_this_version(monkeypatch, tmp_path):
    """``few_shot.py --from-runs`` pins the measuring machine's host profile; one stored before an
    operator class was added must still load (it failed once matmul/softmax/transpose came in)."""
    import gzip
    import sys

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from few_shot import current_host_yaml

    from edgespace.profiles._parse import parse_profile

    doc = json.loads(gzip.open(RESULTS / "few_shot_runs.json.gz").read())
    profile = parse_profile(current_host_yaml(doc["host_profile_yaml"]), origin="few_shot_runs.json.gz")
    assert profile.name == "host"
    sys.modules.pop("few_shot", None)


@pytest.mark.parametrize("path", sorted([*RESULTS.glob("*.json"), *RESULTS.glob("*.json.gz")]), ids=lambda p: p.name)
def test_no_stored_result_names_a_path_of_the_machine_that_made_it(path):
    """A stored result is read on other machines: a home or cache directory in it says nothing
    there (the LiteRT runs files once kept each model's cache path)."""
    import gzip

    text = gzip.open(path, "rt").read() if path.suffix == ".gz" else path.read_text()
    found = re.findall(r'"(/(?:root|home|tmp|Users)/[^"]*)"', text)
    assert not found, found[:3]
