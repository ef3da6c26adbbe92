"""Hostile input: every case ends in edgespace's own one-line error or a correct answer, never a
traceback, never unbounded memory or time.

* CLI cases (:data:`CLI_CASES`): each runs ``python -m edgespace ...`` in its own process under a
  memory cap (``RLIMIT_AS``) and a time cap; it must exit 2 with exactly one line on stderr,
  ``edgespace: error: ...``, holding the words that name the option/file and the problem.
* API cases (:data:`API_CASES`): the public functions raise the domain's EdgespaceError (or
  return the right answer).
* Property tests (hypothesis): arbitrary values for spec and budget fields, arbitrary bytes after
  a journal, arbitrary values in capture files.
* Journal damage, repair and resume; the host cache under concurrent processes.
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgespace as es
from edgespace import (
    ArchSpec,
    Budget,
    BudgetError,
    CalibrationError,
    ProfileError,
    SearchError,
    SpecError,
    UnavailableError,
)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "hwprofiles" / "raspberry-pi-5.yaml"
ORT_FIXTURE = ROOT / "tests" / "data" / "ort_profile_mnv3s_w035_r64.json"
TIMES_FIXTURE = ROOT / "tests" / "data" / "trtexec_times_mnv3s_w035_r64.json"
MEMORY_CAP = 1536 << 20  # bytes of address space per CLI case
TIME_CAP_S = 120  # a cold interpreter on a busy machine; the cases themselves take ~1 s
DERANDOMIZE = not os.environ.get("EDGESPACE_HYPOTHESIS_RANDOM")


def _env(tmp: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["EDGESPACE_RUN_DIR"] = str(tmp / "runs")
    env["EDGESPACE_CACHE_DIR"] = str(tmp / "cache")
    return env


def _capped() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_cli(argv: list[str], tmp: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgespace", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIME_CAP_S,
        env=_env(tmp),
        preexec_fn=_capped,
        cwd=tmp,
    )


# ----------------------------------------------------------------------------- hostile files


def _profile_text(**changes: str) -> str:
    """The shipped Raspberry Pi 5 profile with its standby.sleep_w value replaced."""
    text = SHIPPED.read_text()
    needle = "value: 1.4"
    assert needle in text
    return text.replace(needle, f"value: {changes['sleep']}", 1)


ALIAS_BOMB = (
    "_shared:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10))
    + "name: *a9\n"
)


def _ort_events(**edit) -> list:
    events = json.loads(ORT_FIXTURE.read_text())
    node = next(e for e in events if e.get("cat") == "Node")
    for k, v in edit.items():
        if v is _DROP:
            del node[k]
        else:
            node[k] = v
    return events


_DROP = object()


def _capture_set(tmp: Path, name: str, files: dict[str, str]) -> Path:
    d = tmp / name
    d.mkdir()
    spec = {"family": "mobilenetv3_small", "width": 0.35, "depth": 1.0, "resolution": 64, "precision": "fp32"}
    models = [{"name": f"m{i}", "onnx": f"m{i}.onnx", "spec": spec} for i in range(3)]
    (d / "manifest.json").write_text(json.dumps({"format": "edgespace-captures/1", "models": models}))
    for i in range(3):
        for suffix, text in files.items():
            (d / f"m{i}{suffix}").write_text(text)
    return d


def _journal_with_trials(path: Path, n: int = 12) -> None:
    es.search(
        "mobilenetv2",
        "raspberry-pi-5",
        n_trials=n,
        population_size=6,
        storage=f"journal:{path}",
        study_name="j",
        seed=1,
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A folder of hostile files the CLI cases name with ``{tmp}``."""
    t = tmp_path_factory.mktemp("hostile")
    (t / "bomb.yaml").write_text(ALIAS_BOMB)
    (t / "big.yaml").write_text("# padding\n" * 160_000)  # 1.6 MB
    (t / "digits400.yaml").write_text(_profile_text(sleep="9" * 400))
    (t / "digits5000.yaml").write_text(_profile_text(sleep="9" * 5000))
    (t / "sexagesimal.yaml").write_text(_profile_text(sleep="15:21"))
    (t / "a-dir").mkdir()
    (t / "a-file").write_text("x")
    ort_bad = json.dumps(_ort_events(dur=_DROP))
    _capture_set(t, "cap-no-dur", {".ort.json": ort_bad})
    _capture_set(t, "cap-inf", {".ort.json": json.dumps(_ort_events(dur=math.inf))})  # written as Infinity
    times = json.loads(TIMES_FIXTURE.read_text())
    del times[1]["latencyMs"]
    trt_profile = (ROOT / "tests" / "data" / "trtexec_profile_mnv3s_w035_r64.json").read_text()
    _capture_set(t, "cap-trt", {".profile.json": trt_profile, ".times.json": json.dumps(times)})
    _capture_set(t, "cap-text", {".ort.json": json.dumps(_ort_events(ts="soon"))})
    # journals: one with a cut-short last line, one with garbage in the middle
    _journal_with_trials(t / "tail.journal")
    data = (t / "tail.journal").read_bytes()
    (t / "tail.journal").write_bytes(data[:-25])
    _journal_with_trials(t / "mid.journal")
    lines = (t / "mid.journal").read_bytes().splitlines(keepends=True)
    lines[3] = b'{"op_code": 4, "study_id": \n'
    (t / "mid.journal").write_bytes(b"".join(lines))
    _journal_with_trials(t / "op99.journal")  # valid JSON, an operation Optuna does not know (was "Should not reach.")
    lines = (t / "op99.journal").read_bytes().splitlines(keepends=True)
    lines[5] = b'{"op_code": 99, "worker_id": "x"}\n'
    (t / "op99.journal").write_bytes(b"".join(lines))
    (t / "deep.yaml").write_text("[" * 100_000 + "]" * 100_000)
    return t


LONG = "n" * 300
SEARCH = ["search", "--profile", "raspberry-pi-5", "--space", "mobilenetv2", "--trials", "4", "--quiet"]
BUDGET = ["budget", "--battery-wh", "50", "--frames-per-day", "100", "--energy-mj", "70"]
EST = ["estimate", "--profile", "raspberry-pi-5", "--family", "mobilenetv2"]

#: (id, argv with {tmp} for the hostile folder, words the one-line error must hold, stdin)
CLI_CASES = [
    # profiles: bounded before parsing, YAML 1.2, huge numbers named by file and field
    ("alias-bomb", ["profiles", "validate", "{tmp}/bomb.yaml"], ["bomb.yaml", "aliases are expanded"], None),
    ("alias-bomb-stdin", ["profiles", "validate", "-"], ["<stdin>", "aliases are expanded"], ALIAS_BOMB),
    ("profile-1.6MB", ["profiles", "validate", "{tmp}/big.yaml"], ["big.yaml", "too large"], None),
    (
        "400-digits",
        ["profiles", "validate", "{tmp}/digits400.yaml"],
        ["digits400.yaml", "standby.sleep_w.value", "400 digits"],
        None,
    ),
    (
        "5000-digits",
        ["profiles", "show", "{tmp}/digits5000.yaml"],
        ["digits5000.yaml", "standby.sleep_w.value", "5,000 digits"],
        None,
    ),
    ("sexagesimal", ["profiles", "validate", "{tmp}/sexagesimal.yaml"], ["standby.sleep_w.value", "'15:21'"], None),
    ("nested-100000-deep", ["profiles", "validate", "{tmp}/deep.yaml"], ["deep.yaml", "nested too deeply"], None),
    ("profile-is-dir", ["profiles", "validate", "{tmp}/a-dir"], ["a-dir", "is a directory"], None),
    # numbers and types
    ("ambient-nan", [*EST, "--ambient-c", "nan"], ["--ambient-c", "nan", "finite"], None),
    ("ambient-minus-300", [*EST, "--ambient-c", "-300"], ["ambient_c", "-300"], None),
    ("ambient-1e9", [*EST, "--ambient-c", "1e9"], ["ambient_c", "out of range"], None),
    ("width-zero", [*EST, "--width", "0"], ["width", "0.1 to 4.0"], None),
    (
        "num-classes-fraction",
        ["layers", "--family", "mobilenetv2", "--num-classes", "10.5"],
        ["--num-classes", "10.5"],
        None,
    ),
    ("preset-and-width", ["layers", "--preset", "b0", "--width", "0"], ["--preset b0", "--width"], None),
    ("cloudy-days-1e8", [*BUDGET, "--cloudy-days", "100000000"], ["cloudy_days", "3,650"], None),
    ("horizon-days-1e8", [*BUDGET, "--horizon-days", "100000000"], ["horizon_days", "3,650"], None),
    (
        "battery-1e308",
        ["budget", "--battery-wh", "1e308", "--frames-per-day", "1", "--energy-mj", "1"],
        ["battery_wh", "1e+308"],
        None,
    ),
    ("seed-past-2**32", [*SEARCH, "--storage", "memory", "--seed", "99999999999999999999"], ["seed=", "2**32"], None),
    (
        "export-1e8-samples",
        ["export", "--samples", "100000000", "--capture-set", "{tmp}/never"],
        ["--samples", "10,000"],
        None,
    ),
    ("mode-empty", [*EST, "--mode", ""], ["mode ''", "modes: "], None),
    ("stale-after-nan", [*SEARCH, "--stale-after-s", "nan"], ["--stale-after-s", "nan", "> 0"], None),
    (
        "stale-after-negative",
        ["worker", "--storage", "x.journal", "--study", "s", "--stale-after-s", "-1"],
        ["--stale-after-s", "-1"],
        None,
    ),
    # paths
    ("profile-is-a-device", ["profiles", "validate", "/dev/zero"], ["/dev/zero", "not a regular file"], None),
    ("journal-empty", [*SEARCH, "--storage", "journal:"], ["journal:", "empty"], None),
    ("journal-is-dir", [*SEARCH, "--storage", "journal:{tmp}/a-dir"], ["a-dir", "is a directory"], None),
    ("journal-proc", [*SEARCH, "--storage", "journal:/proc/self/x.journal"], ["/proc"], None),
    ("journal-dev-null", [*SEARCH, "--storage", "journal:/dev/null"], ["/dev/null", "device"], None),
    (
        "journal-name-too-long",
        [*SEARCH, "--storage", f"journal:{{tmp}}/{LONG}.journal"],
        ["longer than this file system allows"],
        None,
    ),
    (
        "journal-under-a-file",
        [*SEARCH, "--storage", "journal:{tmp}/a-file/x.journal"],
        ["a-file", "not a directory"],
        None,
    ),
    ("sqlite-in-memory", [*SEARCH, "--storage", "sqlite:///"], ["sqlite:///", "in-memory", "sqlite:///FILE.db"], None),
    (
        "export-capture-set-dev-null",
        ["export", "--family", "mobilenetv2", "--capture-set", "/dev/null"],
        ["--capture-set", "/dev/null"],
        None,
    ),
    (
        "export-capture-set-a-file",
        ["export", "--family", "mobilenetv2", "--capture-set", "{tmp}/a-file"],
        ["--capture-set", "not a directory"],
        None,
    ),
    (
        "export-capture-set-empty",
        ["export", "--family", "mobilenetv2", "--capture-set", ""],
        ["--capture-set", "empty"],
        None,
    ),
    (
        "calibrate-out-is-dir",
        ["calibrate", "--profile", "raspberry-pi-5", "--from", "{tmp}/cap-no-dur", "--out", "{tmp}/a-dir"],
        ["--out", "is a directory"],
        None,
    ),
    # capture files
    (
        "ort-event-without-dur",
        ["calibrate", "--profile", "raspberry-pi-5", "--from", "{tmp}/cap-no-dur"],
        ["m0.ort.json", "event", "'dur' is missing"],
        None,
    ),
    (
        "ort-dur-infinity",
        ["calibrate", "--profile", "raspberry-pi-5", "--from", "{tmp}/cap-inf"],
        ["m0.ort.json", "dur", "finite"],
        None,
    ),
    (
        "ort-ts-text",
        ["calibrate", "--profile", "raspberry-pi-5", "--from", "{tmp}/cap-text"],
        ["m0.ort.json", "ts", "'soon'"],
        None,
    ),
    (
        "trtexec-without-latency",
        ["calibrate", "--profile", "raspberry-pi-5", "--from", "{tmp}/cap-trt"],
        ["m0.times.json", "entry 1", "latencyMs"],
        None,
    ),
    # journals
    (
        "journal-damaged-tail",
        [*SEARCH, "--storage", "journal:{tmp}/tail.journal", "--study", "j"],
        ["tail.journal", "line", "edgespace repair --storage"],
        None,
    ),
    (
        "journal-damaged-middle",
        [*SEARCH, "--storage", "journal:{tmp}/mid.journal", "--study", "j"],
        ["mid.journal", "line 4", "--cut-at-damage"],
        None,
    ),
    (
        "journal-unknown-operation",
        [*SEARCH, "--storage", "journal:{tmp}/op99.journal", "--study", "j"],
        ["op99.journal", "line 6", "cannot be replayed"],
        None,
    ),
    (
        "repair-middle-needs-flag",
        ["repair", "--storage", "journal:{tmp}/mid.journal"],
        ["mid.journal", "line 4", "--cut-at-damage"],
        None,
    ),
    ("repair-sqlite", ["repair", "--storage", "sqlite:///x.db"], ["only journal files"], None),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_hostile_input_is_one_line_exit_2(case, hostile):
    _, argv, words, stdin = case
    argv = [a.replace("{tmp}", str(hostile)) for a in argv]
    r = run_cli(argv, hostile, stdin)
    lines = r.stderr.splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("edgespace: error: "), (
        r.returncode,
        r.stderr[-2000:],
    )
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


# ----------------------------------------------------------------------------- API cases

SPEC = ArchSpec("mobilenetv2")
P = "raspberry-pi-5"
FRAME = pd.DataFrame([{"family": "mobilenetv2", "width": 1.0, "depth": 1.0, "resolution": 224, "precision": "fp32"}])
BUDGET_OK = Budget(battery_wh=50, frames_per_day=1000, solar_wh_per_day=8)


def _confirm(**kw):
    return es.confirm(ArchSpec("mobilenetv3_small", 0.35, 1.0, 64), runs=1, **kw)


#: (id, call, expected error type, words in the message)
API_CASES = [
    ("num-classes-10.5", lambda: ArchSpec("mobilenetv2", num_classes=10.5), SpecError, ["num_classes", "10.5"]),
    ("width-True", lambda: ArchSpec("mobilenetv2", width=True), SpecError, ["width", "True"]),
    ("resolution-text", lambda: ArchSpec("mobilenetv2", resolution="224"), SpecError, ["resolution"]),
    ("estimate-ambient-nan", lambda: es.estimate(SPEC, P, ambient_c=float("nan")), SpecError, ["ambient_c", "nan"]),
    ("estimate-many-empty", lambda: es.estimate_many([], P), SpecError, ["no design points"]),
    ("estimate-many-no-modes", lambda: es.estimate_many(FRAME, P, modes=[]), SpecError, ["modes=[]"]),
    (
        "frame-resolution-text",
        lambda: es.estimate_many(FRAME.assign(resolution="224"), P),
        SpecError,
        ["row 0", "resolution", "'224'"],
    ),
    (
        "frame-resolution-None",
        lambda: es.estimate_many(FRAME.assign(resolution=None), P),
        SpecError,
        ["row 0", "resolution", "None"],
    ),
    ("frame-width-True", lambda: es.estimate_many(FRAME.assign(width=True), P), SpecError, ["row 0", "width=True"]),
    (
        "frame-num-classes-10.5",
        lambda: es.estimate_many(FRAME.assign(num_classes=10.5), P),
        SpecError,
        ["num_classes=10.5"],
    ),
    ("thermal-dt-0", lambda: es.simulate_thermal(SPEC, P, dt_s=0), SpecError, ["dt_s", "> 0"]),
    ("thermal-dt-tiny", lambda: es.simulate_thermal(SPEC, P, dt_s=1e-9), SpecError, ["dt_s", "steps"]),
    ("thermal-start-nan", lambda: es.simulate_thermal(SPEC, P, start_c=float("nan")), SpecError, ["start_c"]),
    ("battery-1e308", lambda: Budget(battery_wh=1e308, frames_per_day=1), BudgetError, ["battery_wh", "1e+308"]),
    (
        "energy-neutral-no",
        lambda: es.feasibility(BUDGET_OK, energy_per_frame_mj=70, require_energy_neutral="no"),
        BudgetError,
        ["require_energy_neutral", "'no'"],
    ),
    (
        "horizon-1e12",
        lambda: es.feasibility(BUDGET_OK, energy_per_frame_mj=70, horizon_days=10**12),
        BudgetError,
        ["horizon_days"],
    ),
    (
        "series-1e5-days",
        lambda: Budget(battery_wh=5, frames_per_day=[1.0] * 100_000),
        BudgetError,
        ["frames_per_day", "3,650"],
    ),
    (
        "search-stale-negative",
        lambda: es.search("mobilenetv2", P, n_trials=1, storage="memory", stale_after_s=-1),
        SearchError,
        ["stale_after_s", "-1"],
    ),
    (
        "search-stale-nan",
        lambda: es.search("mobilenetv2", P, n_trials=1, storage="memory", stale_after_s=float("nan")),
        SearchError,
        ["stale_after_s"],
    ),
    (
        "search-ambient-1e9",
        lambda: es.search("mobilenetv2", P, n_trials=1, storage="memory", ambient_c=1e9),
        SearchError,
        ["ambient_c"],
    ),
    (
        "search-sqlite-memory",
        lambda: es.search("mobilenetv2", P, n_trials=1, storage="sqlite:///:memory:"),
        SearchError,
        ["in-memory"],
    ),
    (
        "confirm-missing-provider",
        lambda: _confirm(provider="NoSuchExecutionProvider"),
        UnavailableError,
        ["NoSuchExecutionProvider", "unavailable", "available: ", "CPUExecutionProvider"],
    ),
    (
        "confirm-tensorrt",
        lambda: _confirm(backend="tensorrt"),
        UnavailableError,
        ["tensorrt", "unavailable", "available here:", "onnxruntime"],
    ),
    (
        "meter-bogus",
        lambda: __import__("edgespace.meters", fromlist=["get_meter"]).get_meter("bogus"),
        UnavailableError,
        ["bogus", "unavailable", "rapl"],
    ),
    (
        "ort-no-ts",
        lambda: es.runners.read_ort_profile(_ort_events(ts=_DROP)),
        CalibrationError,
        ["event", "'ts' is missing"],
    ),
    (
        "ort-dur-nan",
        lambda: es.runners.read_ort_profile(_ort_events(dur=float("nan"))),
        CalibrationError,
        ["dur", "finite"],
    ),
    (
        "profile-400-digits",
        lambda: es.profiles.parse_profile(_profile_text(sleep="9" * 400), origin="p.yaml"),
        ProfileError,
        ["p.yaml", "standby.sleep_w.value"],
    ),
    (
        "profile-alias-bomb",
        lambda: es.profiles.parse_profile(ALIAS_BOMB, origin="b.yaml"),
        ProfileError,
        ["b.yaml", "aliases"],
    ),
]


@pytest.mark.parametrize("case", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_hostile_input_raises_the_domain_error(case):
    import edgespace.calibration
    import edgespace.profiles  # noqa: F401

    _, call, kind, words = case
    with pytest.raises(kind) as info:
        call()
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 600
    for w in words:
        assert w in msg, (w, msg)


def test_numpy_scalars_and_yaml_12_give_the_right_answer():
    assert ArchSpec(
        "efficientnet", np.float32(1.0), np.float64(1.0), np.int64(224), num_classes=np.int32(10)
    ) == ArchSpec("efficientnet", 1.0, 1.0, 224, num_classes=10)
    a = es.estimate(SPEC, P, ambient_c=np.float32(30.0))
    b = es.estimate(SPEC, P, ambient_c=30.0)
    assert a.sustained_fps == b.sustained_fps
    prof = es.profiles.parse_profile(_profile_text(sleep="0100"), origin="octal.yaml")
    assert prof.standby.sleep_w.value == 100  # YAML 1.1 would read 64
    assert (
        es.estimate_many(FRAME.assign(resolution=224.0), P)["latency_ms"].tolist()
        == es.estimate_many(FRAME, P)["latency_ms"].tolist()
    )


# ----------------------------------------------------------------------------- properties

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.integers(-1000, 1000).map(np.int64),
    st.floats(-1e6, 1e6).map(np.float32),
    st.booleans().map(np.bool_),
)


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE)
@given(field=st.sampled_from(["width", "depth", "resolution", "num_classes", "precision", "family"]), value=ANY_VALUE)
def test_any_spec_field_value_is_a_spec_or_a_spec_error(field, value):
    try:
        spec = ArchSpec(**{"family": "mobilenetv2", field: value})
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    # accepted: a plain Python value of the right type, within range
    v = getattr(spec, field)
    assert type(v) in (int, float, str) and not isinstance(v, bool)


BUDGET_FIELDS = [
    "battery_wh",
    "usable_fraction",
    "solar_wh_per_day",
    "cloudy_days",
    "frames_per_day",
    "idle_w",
    "sleep_w",
    "inference_s",
    "wake_energy_j",
    "idle_timeout_s",
    "cloudy_start_day",
]


@settings(max_examples=150, deadline=None, derandomize=DERANDOMIZE)
@given(field=st.sampled_from(BUDGET_FIELDS), value=ANY_VALUE)
def test_any_budget_field_value_is_a_budget_or_a_budget_error(field, value):
    base = {"battery_wh": 20.0, "frames_per_day": 100.0}
    try:
        b = Budget(**{**base, field: value})
    except BudgetError as exc:
        assert "\n" not in str(exc)
        return
    r = es.feasibility(b, energy_per_frame_mj=50.0)  # bounded fields: a finite, bounded simulation
    assert r.horizon_days <= 3650 and np.isfinite(r.min_soc_fraction)


@pytest.fixture(scope="module")
def sound_journal(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("sound") / "s.journal"
    _journal_with_trials(path, n=6)
    return path.read_bytes()


@settings(
    max_examples=60, deadline=None, derandomize=DERANDOMIZE, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(min_size=1, max_size=40))
def test_bytes_after_a_journal_are_refused_or_harmless(junk, sound_journal, tmp_path):
    from edgespace.study._journal import open_journal

    path = tmp_path / "fuzz.journal"
    path.write_bytes(sound_journal + junk)
    try:
        storage = open_journal(path)
    except SearchError as exc:
        assert "fuzz.journal" in str(exc) and "line" in str(exc) and "\n" not in str(exc)
        return
    # accepted: the junk was complete JSON entries Optuna can replay; the study is still there
    assert storage.get_study_id_from_name("j") == 0


@settings(max_examples=80, deadline=None, derandomize=DERANDOMIZE)
@given(key=st.sampled_from(["ts", "dur", "name", "args", "cat"]), value=ANY_VALUE)
def test_any_value_in_an_ort_event_is_read_or_a_calibration_error(key, value):
    from edgespace.runners import read_ort_profile

    events = _ort_events(**{key: value})
    try:
        prof = read_ort_profile(events)
    except CalibrationError as exc:
        assert "\n" not in str(exc)
        return
    assert all(math.isfinite(n.time_us) and n.time_us >= 0 for n in prof.nodes)


# ----------------------------------------------------------------------------- journals, resume


def test_damaged_tail_is_reported_repaired_with_a_backup_and_the_search_resumes(tmp_path):
    from edgespace.study._journal import repair_journal

    path = tmp_path / "r.journal"
    _journal_with_trials(path, n=12)
    good = path.read_bytes()
    path.write_bytes(good + b'{"op_code": 6, "trial_id"')  # a write cut short
    with pytest.raises(SearchError, match=r"r\.journal: line \d+: the last entry is damaged.*edgespace repair"):
        _journal_with_trials(path, n=20)
    assert path.read_bytes() == good + b'{"op_code": 6, "trial_id"'  # nothing appended after the damage
    report = repair_journal(f"journal:{path}")
    assert Path(report["backup"]).read_bytes() == good + b'{"op_code": 6, "trial_id"'
    assert path.read_bytes() == good and report["dropped_lines"] == 1
    assert repair_journal(path)["backup"] is None  # sound now: nothing to do
    _journal_with_trials(path, n=20)
    import optuna

    study = optuna.load_study(
        study_name="j", storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    )
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 20  # Optuna itself still reads it


def test_trials_of_a_dead_owner_are_requeued_at_once(tmp_path):
    """A process that asked trials and died (here: exited without telling them) leaves them
    RUNNING; the next search fails and re-queues them at once, with the default 600 s age rule."""
    path = tmp_path / "d.journal"
    _journal_with_trials(path, n=6)
    code = (
        "import edgespace as es, optuna\n"
        "from edgespace.study._storage import open_storage\n"
        "from edgespace.study._journal import lease_path, record_lease\n"
        f"store, _ = open_storage('journal:{path}', 'j')\n"
        "record_lease(lease_path(store), store)\n"
        "study = optuna.load_study(study_name='j', storage=store)\n"
        "[study.ask() for _ in range(3)]\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=_env(tmp_path), capture_output=True, text=True, timeout=TIME_CAP_S
    )
    assert r.returncode == 0, r.stderr
    res = es.search("mobilenetv2", P, n_trials=10, population_size=6, storage=f"journal:{path}", study_name="j", seed=1)
    frame = res.trials_frame()
    assert (frame["state"] == "COMPLETE").sum() == 10 and not (frame["state"] == "RUNNING").any()
    assert (frame["state"] == "FAIL").sum() == 3  # the dead process's three, each queued again


# ----------------------------------------------------------------------------- host cache


def test_concurrent_processes_measure_the_host_once(tmp_path):
    code = (
        "import json\nfrom edgespace.profiles import _host\n"
        "p = _host.host_profile()\n"
        "print(json.dumps({'made': _host.measurements_made, 'values': [s.value for _, s in p.sourced_values()]}))\n"
    )
    env = _env(tmp_path)
    env.pop("EDGESPACE_HOST_PROFILE")  # this test measures the machine itself
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    docs = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
    assert sum(d["made"] for d in docs) == 1  # one measured, the others waited for its result
    assert all(d["values"] == docs[0]["values"] for d in docs)
    assert not list((tmp_path / "cache").glob("*.tmp*"))  # written atomically, nothing left behind


def test_a_provider_that_runs_no_kernel_is_not_used_as_a_label():
    """ORT accepts AzureExecutionProvider in a session but runs every kernel on the CPU: the
    profiled placement shows it, so confirm() refuses rather than label CPU timings "Azure"."""
    import onnxruntime as ort

    if "AzureExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime build has no AzureExecutionProvider ({ort.get_available_providers()})")
    with pytest.raises(
        UnavailableError, match=r"'AzureExecutionProvider' ran none of the network's kernels.*CPUExecutionProvider"
    ):
        _confirm(provider="AzureExecutionProvider", rounds=1, warmup=1, profile_runs=2)
    m = _confirm(rounds=1, warmup=1, profile_runs=2)
    assert m.provider == "CPUExecutionProvider" and set(m.node_profile.meta["provider_us"]) == {"CPUExecutionProvider"}
