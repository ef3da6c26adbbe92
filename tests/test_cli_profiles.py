"""``edgespace profiles list|show|validate``: exit codes, JSON output, and one real subprocess run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edgespace.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_list_prints_every_profile(capsys):
    assert main(["profiles", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("jetson-orin-nano-8gb", "coral-edge-tpu", "host"):
        assert name in out
    assert main(["profiles", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"nvidia-h100", "raspberry-pi-5"}


def test_show_prints_sources_and_json_round_trips(capsys):
    assert main(["profiles", "show", "jetson-orin-nx-16gb"]) == 0
    out = capsys.readouterr().out
    assert "mode 40W" in out and "nvpmodel_p3767_0000_super.conf" in out and "estimate:" in out
    assert main(["profiles", "show", "jetson-orin-nx-16gb", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["modes"]["40W"]["engines"]["gpu"]["clock_mhz"]["value"] == 1173
    # the JSON form is itself a valid profile
    from edgespace.profiles import validate_profile

    assert validate_profile(data).name == "jetson-orin-nx-16gb"


def test_validate_ok_and_usage_errors(capsys):
    assert main(["profiles", "validate", str(ROOT / "hwprofiles" / "apple-a17-pro.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")
    assert main(["profiles"]) == 2  # a verb is required
    assert main(["profiles", "show"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("edgespace: error: ") for line in err)


def test_subprocess_bad_profile_exits_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "hwprofiles" / "raspberry-pi-5.yaml").read_text().replace("kind: sbc", "kind: toaster"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "edgespace", "profiles", "validate", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"edgespace: error: {bad.resolve()}: kind: 'toaster': Input should be 'jetson'")
