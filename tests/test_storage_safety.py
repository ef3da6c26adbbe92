"""Nothing overwritten and validation that cannot be bypassed: a report never replaces a study's
storage or a file that is not a report, ``repair`` refuses what is not a journal, a calibration's
numbers are checked with or without its id, a power cap below idle power is refused, and a journal
copied without its ``.owners`` file still resumes to its target."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
import yaml

import edgespace as es
from edgespace.calibration import CalibrationError
from edgespace.calibration._gpu import calibrate_gpu
from edgespace.cli import main
from edgespace.cost import load_calibration
from edgespace.study import MobileNetSpace, search
from tests.test_calibration_door import PROFILE as GPU_PROFILE
from tests.test_calibration_door import SPECS, _runs

PROFILE = "jetson-orin-nano-8gb"
SPACE = MobileNetSpace(families=("mobilenetv2",), widths=(0.35, 1.0), width_step=0.05)


def _search(storage, n=20, name="s"):
    return search(SPACE, PROFILE, n_trials=n, population_size=10, storage=storage, study_name=name, seed=1)


def test_report_never_overwrites_the_study_storage_or_a_foreign_file(tmp_path, capsys):
    journal = tmp_path / "j.html"
    _search(f"journal:{journal}")
    before = journal.read_bytes()
    rc = main(["report", "--storage", f"journal:{journal}", "--study", "s", "--out", str(journal)])
    err = capsys.readouterr().err
    assert rc == 2 and "own storage" in err and err.count("\n") == 1
    assert journal.read_bytes() == before
    rc = main(["search", "--profile", PROFILE, "--storage", f"journal:{journal}", "--report", str(journal)])
    assert rc == 2 and "own storage" in capsys.readouterr().err
    assert journal.read_bytes() == before
    foreign = tmp_path / "notes.html"
    foreign.write_text("<html>my notes</html>")
    rc = main(["report", "--storage", f"journal:{journal}", "--study", "s", "--out", str(foreign)])
    assert rc == 2 and "not an edgespace report" in capsys.readouterr().err
    assert foreign.read_text() == "<html>my notes</html>"
    out = tmp_path / "r.html"
    for _ in range(2):  # a previous report of this tool is replaced
        assert main(["report", "--storage", f"journal:{journal}", "--study", "s", "--out", str(out)]) == 0
    rc = main(["report", "--storage", f"journal:{journal}", "--study", "s", "--out", str(tmp_path / "a/b/r.html")])
    assert rc == 2 and "create them first" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()


def test_repair_and_report_refuse_a_sqlite_database_and_leave_it_whole(tmp_path, capsys):
    db = tmp_path / "s.db"
    _search(f"sqlite:///{db}")
    before = db.read_bytes()
    for argv in (
        ["repair", "--storage", f"journal:{db}", "--cut-at-damage"],
        ["report", "--storage", f"journal:{db}", "--study", "s", "--out", str(tmp_path / "r.html")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "a SQLite database, not a journal" in err and "repair --storage" not in err
    assert db.read_bytes() == before and not list(tmp_path.glob("*.bak"))
    sqlite3.connect(db).execute("select count(*) from trials").fetchone()
    other = tmp_path / "notes.log"
    other.write_text("hello\nworld\n")
    assert main(["repair", "--storage", str(other), "--cut-at-damage"]) == 2
    assert "not an Optuna journal" in capsys.readouterr().err
    assert other.read_text() == "hello\nworld\n"


@pytest.fixture(scope="module")
def gpu_doc(tmp_path_factory):
    cal = calibrate_gpu(GPU_PROFILE, _runs(SPECS, (1,)), note="synthetic GPU law (test)")
    path = cal.save(tmp_path_factory.mktemp("gpu") / "cal.json")
    return cal, json.loads(path.read_text())


@pytest.mark.parametrize("bad", [float("nan"), -0.5, float("inf")])
def test_calibration_numbers_are_checked_without_an_id(gpu_doc, tmp_path, bad):
    cal, doc = gpu_doc
    doc = json.loads(json.dumps(doc))
    del doc["id"]  # what the "file was edited" message invites
    doc["latency_weights"]["1"][0] = bad
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(CalibrationError, match=r"latency_weights\.1\[0\]"):
        load_calibration(path)
    assert main(["estimate", "--profile", GPU_PROFILE, "--calibration", str(path)]) == 2


def test_a_calibration_without_its_id_is_labelled_edited(gpu_doc, tmp_path):
    cal, doc = gpu_doc
    doc = {k: v for k, v in doc.items() if k != "id"}
    path = tmp_path / "noid.json"
    path.write_text(json.dumps(doc))
    again = load_calibration(path)
    assert again.id == f"{cal.id}-edited" and again.source == f"calibrated:{cal.id}-edited"
    path.write_text(json.dumps(again.to_dict()))  # saved again (as a study stores it): still accepted
    assert load_calibration(path).id == f"{cal.id}-edited"


def test_a_power_cap_below_idle_power_is_refused(tmp_path, capsys):
    from pathlib import Path

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "hwprofiles" / f"{PROFILE}.yaml").read_text())
    mode = next(iter(doc["modes"].values()))
    mode["power"]["budget_w"]["value"] = mode["power"]["idle_w"]["value"] / 3
    bad = tmp_path / "low-cap.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(es.ProfileError, match="budget_w"):
        es.load_profile(str(bad))
    assert main(["profiles", "validate", str(bad)]) == 2
    assert "budget_w" in capsys.readouterr().err


def test_journal_copied_without_its_owners_file_resumes_to_the_target(tmp_path):
    journal = tmp_path / "a.journal"
    first = _search(f"journal:{journal}", n=20)
    study = first.study
    study.ask()  # a trial left RUNNING, as by a process killed mid-batch
    study.ask()
    copy = tmp_path / "copy.journal"
    shutil.copy(journal, copy)  # without copy.journal.owners
    resumed = _search(f"journal:{copy}", n=30)
    frame = resumed.trials_frame()
    assert (frame["state"] == "COMPLETE").sum() == 30
    assert not (frame["state"] == "RUNNING").any()


@pytest.mark.parametrize("value", ["1_000", "١٢", "12abc", " "])
def test_numbers_in_options_are_plain_ascii(value, capsys):
    assert main(["search", "--profile", PROFILE, "--storage", "memory", "--trials", value]) == 2
    err = capsys.readouterr().err
    assert "invalid int value" in err and "ASCII digits" in err and err.count("\n") == 1


def test_profiles_list_shows_the_good_profiles_beside_a_bad_one(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken-board.yaml").write_text("name: broken-board\nmodes: [unclosed\n")
    monkeypatch.setenv("EDGESPACE_PROFILE_PATH", str(tmp_path))
    assert main(["profiles", "list"]) == 2
    captured = capsys.readouterr()
    assert PROFILE in captured.out and "broken-board" in captured.out and "invalid" in captured.out
    assert captured.err.count("\n") == 1 and "broken-board" in captured.err


def test_report_on_a_study_with_only_running_trials_says_so(tmp_path, capsys):
    journal = tmp_path / "r.journal"
    r = _search(f"journal:{journal}", n=0, name="r")
    for _ in range(3):
        r.study.ask()
    assert main(["report", "--storage", f"journal:{journal}", "--study", "r", "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "no complete trial yet (3 running, 0 failed)" in err and err.count("\n") == 1
    assert not (tmp_path / "r.html").exists()


def test_confirm_options_without_confirm_are_refused_before_the_search(tmp_path, capsys):
    argv = ["search", "--profile", PROFILE, "--storage", f"journal:{tmp_path / 'x.journal'}", "--threads", "4"]
    assert main(argv) == 2
    assert "apply only with --confirm" in capsys.readouterr().err
    assert not (tmp_path / "x.journal").exists()  # refused before any search ran


def test_a_full_disk_names_the_report_file(tmp_path, capsys):
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True).returncode:
        pytest.skip("a small file system cannot be mounted here (needs root)")
    try:
        journal = tmp_path / "j.journal"
        _search(f"journal:{journal}")
        out = small / "r.html"  # a report embeds plotly.js (megabytes): the 64 kB file system fills
        assert main(["report", "--storage", f"journal:{journal}", "--study", "s", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(out) in err and "No space left on device" in err and err.count("\n") == 1
        assert list(small.iterdir()) == []  # no partial file left behind
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_cloudy_days_without_a_budget_are_refused_not_ignored(tmp_path, capsys):
    argv = ["search", "--profile", PROFILE, "--storage", f"journal:{tmp_path / 'c.journal'}", "--cloudy-days", "5"]
    assert main(argv) == 2
    assert "--cloudy-days needs --battery-wh" in capsys.readouterr().err
