"""Hardware profiles: every shipped profile loads and is sourced, dense-not-sparse sanity, bad
input gives one-line ProfileErrors, mutated profiles never raise anything else, the measured host
profile is cached, and a non-editable install ships the YAML files."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgespace
from edgespace import ProfileError
from edgespace._ops import OP_CLASSES
from edgespace.cost import sustainable_power_w
from edgespace.cost._params import engine_for
from edgespace.profiles import (
    HardwareProfile,
    PowerMode,
    builtin_profile_dir,
    list_profiles,
    load_profile,
    parse_profile,
    validate_profile,
)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.stem for p in (ROOT / "hwprofiles").glob("*.yaml"))
EXPECTED = {
    "jetson-orin-nano-8gb": {"7W", "15W", "25W", "MAXN_SUPER"},
    "jetson-orin-nx-16gb": {"10W", "15W", "25W", "40W"},
    "jetson-agx-orin-64gb": {"15W", "30W", "50W", "MAXN"},
    "jetson-nano-4gb": {"5W", "10W"},
    "apple-a17-pro": None,
    "snapdragon-8-gen-3": None,
    "google-tensor-g3": None,
    "raspberry-pi-5": None,
    "coral-edge-tpu": None,
    "nvidia-h100": None,
    "nvidia-h200": None,
}


def _raw(name: str) -> dict:
    """A shipped profile as plain data (anchors resolved), for mutation."""
    return yaml.safe_load((ROOT / "hwprofiles" / f"{name}.yaml").read_text())


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False)


# -- shipped profiles ----------------------------------------------------------------------------


def test_every_expected_profile_is_shipped_and_listed():
    assert set(EXPECTED) == set(SHIPPED)
    assert set(list_profiles()) == set(SHIPPED) | {"host"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_loads_with_its_modes(name):
    p = load_profile(name)
    assert isinstance(p, HardwareProfile) and p.name == name
    if EXPECTED[name]:
        assert set(p.mode_names) == EXPECTED[name]
    assert p.mode() is p.modes[p.default_mode]
    for mode in p.modes.values():
        assert isinstance(mode, PowerMode) and mode.name in p.modes
        assert mode.engines and mode.primary_engine in mode.engines
        assert mode.bandwidth_bytes_per_s == pytest.approx(
            mode.memory.peak_bandwidth_gb_s.value * 1e9 * mode.memory.achievable_fraction.value
        )
        assert 0 < mode.usable_memory_bytes <= mode.memory.capacity_gb.value * 1e9
        assert mode.idle_w <= mode.budget_w and mode.static_w < mode.budget_w
        for e in mode.engines.values():
            assert any(e.peak_ops_per_s(q) for q in ("fp32", "fp16", "int8"))
            levels = e.dvfs_table()
            assert levels[0] == (e.clock_hz, e.active_power_w.value)
            clocks, powers = zip(*levels, strict=True)
            assert list(clocks) == sorted(clocks, reverse=True)
            assert list(powers) == sorted(powers, reverse=True), "a lower DVFS level must not draw more power"
            for op in OP_CLASSES:
                assert 0 < e.efficiency_for(op) <= 1
            assert e.dispatch_overhead_s >= 0


@pytest.mark.parametrize("name", SHIPPED)
def test_every_number_has_a_source_or_an_estimate(name):
    p = load_profile(name)
    values = p.sourced_values()
    assert len(values) >= 20
    for path, s in values:
        text = s.source or s.estimate
        assert text and len(text.strip()) >= 8, f"{path}: provenance too thin: {text!r}"
        assert bool(s.source) != bool(s.estimate), path
        for key in re.findall(r"\[([a-z][a-z0-9_]*)\]", s.source or ""):
            assert f"[{key}] = {p.references[key]}" in p.resolve_source(s), path
    # At least the structural numbers of a profile come from somewhere citable.
    assert any(not s.is_estimate for _, s in values)


def test_jetson_clocks_come_from_nvpmodel_and_peaks_are_dense():
    nano = load_profile("jetson-orin-nano-8gb")
    gpu = nano.mode("MAXN_SUPER").engine("gpu")
    # NVIDIA's headline 67 TOPS (Orin Nano Super) is INT8 with 2:4 sparsity: dense is half.
    assert 2 * gpu.peak_ops_per_s("int8") / 1e12 == pytest.approx(67, rel=0.01)
    assert gpu.peak_ops_per_s("fp16") == pytest.approx(gpu.peak_ops_per_s("int8") / 2, rel=1e-3)
    agx = load_profile("jetson-agx-orin-64gb").mode("MAXN")
    # 275 sparse INT8 TOPS = GPU 170 + DLA 105 ([tb]); dense GPU + both DLA cores is half.
    dense = agx.engine("gpu").peak_ops_per_s("int8") + 2 * agx.engine("dla").peak_ops_per_s("int8")
    assert dense / 1e12 == pytest.approx(275 / 2, rel=0.01)
    assert agx.engine("gpu").peak_ops_per_s("fp32") / 1e12 == pytest.approx(5.3, rel=0.01)
    # Lower power modes never have a faster GPU or more bandwidth (except NX 25W, which NVIDIA
    # gives a 408 MHz GPU cap in favour of CPU and DLA clocks).
    order = ["7W", "15W", "25W", "MAXN_SUPER"]
    peaks = [nano.mode(m).engine("gpu").peak_ops_per_s("int8") for m in order]
    assert peaks == sorted(peaks)
    budgets = [nano.mode(m).budget_w for m in order]
    assert budgets == sorted(budgets)
    assert "nvpmodel" in nano.resolve_source(nano.mode("15W").engine("gpu").clock_mhz)


def test_h100_tensor_peaks_are_half_the_sparse_datasheet():
    gpu = load_profile("nvidia-h100").mode().engine()
    assert gpu.peak_ops_per_s("fp16") / 1e12 == pytest.approx(1979 / 2, rel=0.01)
    assert gpu.peak_ops_per_s("int8") / 1e12 == pytest.approx(3958 / 2, rel=0.01)


def test_engine_precision_support_and_fallback_placement():
    nano4 = load_profile("jetson-nano-4gb").mode("10W")
    assert nano4.engine("gpu").peak_ops_per_s("int8") is None  # Maxwell has no int8 path
    # ... so TensorRT builds fp16 kernels for an int8 request: same engine first
    assert nano4.engine("gpu").op_support.precision_fallback == {"int8": "fp16"}
    assert engine_for(nano4, "conv", "int8") == "gpu"
    assert engine_for(nano4, "conv", "fp16") == "gpu"
    coral = load_profile("coral-edge-tpu").mode("max")
    assert coral.primary.op_support.partitioning == "prefix"
    assert engine_for(coral, "conv", "int8", "relu") == "tpu"
    assert engine_for(coral, "act", "int8", "silu") == "tpu"  # Logistic x Mul are mapped
    assert engine_for(coral, "act", "int8", "hard_swish") == "cpu"  # HARD_SWISH is not
    assert engine_for(coral, "conv", "fp32") == "cpu"
    assert coral.interconnect_bytes_per_s == pytest.approx(0.5e9)
    assert coral.primary.local_memory_mb.value == 8
    snap = load_profile("snapdragon-8-gen-3").mode()
    assert engine_for(snap, "act", "int8", "hard_sigmoid") == "htp"  # QNN EP maps HardSigmoid
    assert engine_for(snap, "conv", "fp32") == "htp"  # fp32 graphs run at fp16 on the HTP
    nx = load_profile("jetson-orin-nx-16gb").mode("40W")
    assert nx.engine("dla").peak_ops_per_s("fp32") is None
    assert engine_for(nx, "act", "int8", "hard_swish", placement="dla") == "gpu"
    assert engine_for(nx, "conv", "int8", placement="dla") == "dla"
    assert engine_for(nx, "conv", "int8") == "gpu"
    with pytest.raises(ProfileError, match=r"placement 'dla'.*allowed: auto, gpu"):
        engine_for(load_profile("jetson-orin-nano-8gb").mode("15W"), "conv", "int8", placement="dla")
    a17 = load_profile("apple-a17-pro").mode()
    assert engine_for(a17, "conv", "fp32") == "gpu" and engine_for(a17, "conv", "int8") == "ane"
    assert a17.primary.op_support.is_estimate  # Apple publishes no ANE op list: says so
    h100 = load_profile("nvidia-h100").mode()
    assert h100.fallback is None and h100.fallback_sync_s == 0.0


def test_accessors_are_in_si_units_and_unknown_names_are_listed():
    p = load_profile("raspberry-pi-5")
    m = p.mode("bare")
    cpu = m.engine()
    assert cpu.clock_hz == 2.4e9
    assert cpu.energy_per_op_j("fp32") == pytest.approx(6.5 / 153.6e9)
    assert cpu.efficiency_for("depthwise") == cpu.efficiency["depthwise"].value
    assert cpu.efficiency["depthwise"].is_estimate and cpu.units.value == 4 and cpu.units.source
    assert m.thermal.time_constant_s == pytest.approx(7.0 * 15)
    # the one definition (cost/): the governor cycles around trip - hysteresis/2
    assert sustainable_power_w(m) == pytest.approx((80 - 2.5 - 25) / 7.0)
    assert p.sleep_w == pytest.approx(1.4)
    with pytest.raises(ProfileError, match=r"'turbo'.*modes: active-cooler, bare"):
        p.mode("turbo")
    with pytest.raises(ProfileError, match=r"'npu'.*engines: cpu"):
        m.engine("npu")
    with pytest.raises(ProfileError, match="allowed: fp32, fp16, int8"):
        cpu.peak_ops_per_s("int4")
    with pytest.raises(ProfileError, match="allowed: conv"):
        cpu.efficiency_for("groupnorm")


def test_efficiency_is_complete_and_every_entry_has_provenance():
    data = _raw("raspberry-pi-5")
    eff = dict(data["modes"]["bare"]["engines"]["cpu"]["efficiency"])
    eff["conv"] = {"value": 0.8, "source": "calibrated on a Pi 5"}
    data["modes"]["bare"]["engines"]["cpu"]["efficiency"] = eff
    cpu = validate_profile(data).mode("bare").engine()
    assert cpu.efficiency_for("conv") == 0.8 and not cpu.efficiency["conv"].is_estimate
    del eff["pool"]
    with pytest.raises(ProfileError, match="efficiency lacks pool"):
        validate_profile(data)


def test_phone_socs_cannot_sustain_their_peak_power():
    # The seed's point: a passively cooled phone at full load ends at a fraction of peak.
    for name in ("apple-a17-pro", "snapdragon-8-gen-3", "google-tensor-g3"):
        m = load_profile(name).mode()
        npu = m.primary
        assert m.thermal.cooling == "passive"
        sustainable_engine_w = sustainable_power_w(m) - m.static_w
        assert npu.active_power_w.value > sustainable_engine_w
        sustained_hz = max(hz for hz, w in npu.dvfs_table() if w <= sustainable_engine_w)
        assert 0.25 <= sustained_hz / npu.clock_hz <= 0.6


# -- user profiles -------------------------------------------------------------------------------


def test_user_profile_by_path_and_by_env_directory(tmp_path, monkeypatch):
    data = _raw("raspberry-pi-5")
    data["name"] = "my-board"
    f = tmp_path / "my-board.yaml"
    f.write_text(_dump(data))
    assert load_profile(f).name == "my-board"
    assert load_profile(str(f)).origin == str(f.resolve())
    with pytest.raises(ProfileError, match="unknown profile name"):
        load_profile("my-board")
    monkeypatch.setenv("EDGESPACE_PROFILE_PATH", os.pathsep.join([str(tmp_path / "missing"), str(tmp_path)]))
    assert "my-board" in list_profiles()
    assert load_profile("my-board").device == data["device"]
    # a user directory shadows a shipped profile of the same name
    data["name"] = "raspberry-pi-5"
    data["device"] = "my own Pi 5"
    (tmp_path / "raspberry-pi-5.yaml").write_text(_dump(data))
    assert load_profile("raspberry-pi-5").device == "my own Pi 5"
    # a file found by name must carry that name
    data["name"] = "other"
    (tmp_path / "mismatch.yaml").write_text(_dump(data))
    with pytest.raises(ProfileError, match=r"mismatch.yaml: name: 'other': must equal"):
        load_profile("mismatch")


def test_unknown_name_lists_known_profiles():
    with pytest.raises(ProfileError) as exc:
        load_profile("jetson-orin-nano")
    msg = str(exc.value)
    assert "'jetson-orin-nano'" in msg and "jetson-orin-nano-8gb" in msg and "host" in msg
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile("does/not/exist.yaml")
    with pytest.raises(ProfileError, match="expected a profile name"):
        load_profile(42)


# -- bad input: each class names file, field path, value and what is allowed ---------------------


def _mutated(fn) -> str:
    data = _raw("jetson-orin-nano-8gb")
    fn(data)
    return _dump(data)


def _gpu(d, mode="15W"):
    return d["modes"][mode]["engines"]["gpu"]


BAD = {
    "malformed yaml": (
        "name: x\nmodes: [1, 2\n",
        r"^bad\.yaml: line \d+, column \d+: malformed YAML",
    ),
    "duplicate key": (
        "name: a\nname: b\n",
        r"^bad\.yaml: line 2, column 1: malformed YAML: .*duplicate key 'name'",
    ),
    "not a mapping": ("- 1\n- 2\n", r"^bad\.yaml: \(top level\): \[1, 2\]: expected a mapping"),
    "unknown field": (
        _mutated(lambda d: _gpu(d).update(peak_tops_int8={"value": 1, "source": "x"})),
        r"^bad\.yaml: modes\.15W\.engines\.gpu\.peak_tops_int8: 1: unknown field; allowed: kind, .*peak_gops_int8",
    ),
    "wrong unit text": (
        _mutated(lambda d: d["modes"]["15W"]["memory"].update(peak_bandwidth_gb_s="68 GB/s")),
        # memory blocks are YAML aliases shared by several modes, so the first mode using it reports
        r"^bad\.yaml: modes\.\w+\.memory\.peak_bandwidth_gb_s: '68 GB/s': .*not text; the unit belongs in the field name",
    ),
    "wrong type": (
        _mutated(lambda d: _gpu(d)["clock_mhz"].update(value="fast")),
        r"^bad\.yaml: modes\.15W\.engines\.gpu\.clock_mhz\.value: 'fast': expected a plain number",
    ),
    "bare number": (
        _mutated(lambda d: _gpu(d).update(clock_mhz=612)),
        r"^bad\.yaml: modes\.15W\.engines\.gpu\.clock_mhz: 612: a bare number has no source",
    ),
    "no provenance": (
        _mutated(lambda d: _gpu(d).update(clock_mhz={"value": 612})),
        r"^bad\.yaml: modes\.15W\.engines\.gpu\.clock_mhz: 612: needs exactly one of source",
    ),
    "both provenances": (
        _mutated(lambda d: _gpu(d).update(clock_mhz={"value": 612, "source": "a", "estimate": "b"})),
        r"clock_mhz: 612: needs exactly one of source",
    ),
    "negative rate": (
        _mutated(lambda d: _gpu(d)["peak_gops_int8"].update(value=-20054)),
        r"^bad\.yaml: modes\.15W\.engines\.gpu\.peak_gops_int8: -20054: -20054 is not allowed; must be > 0",
    ),
    "zero bandwidth": (
        _mutated(lambda d: d["modes"]["7W"]["memory"]["peak_bandwidth_gb_s"].update(value=0)),
        r"^bad\.yaml: modes\.7W\.memory\.peak_bandwidth_gb_s: 0: 0 is not allowed; must be > 0",
    ),
    "fraction above one": (
        _mutated(lambda d: d["modes"]["7W"]["memory"]["achievable_fraction"].update(value=1.5)),
        r"achievable_fraction: 1\.5: .*fraction in \(0, 1\]",
    ),
    "mode without engines": (
        _mutated(lambda d: d["modes"]["25W"].update(engines={})),
        r"^bad\.yaml: modes\.25W\.engines: \{\}: a mode needs at least one engine",
    ),
    "primary engine missing": (
        _mutated(lambda d: d["modes"]["25W"]["engines"].pop("gpu")),
        r"^bad\.yaml: modes\.25W: \{.*\}: primary_engine 'gpu' is not an engine of this mode; engines: cpu",
    ),
    "missing field": (
        _mutated(lambda d: d["modes"]["7W"]["power"].pop("budget_w")),
        r"^bad\.yaml: modes\.7W\.power\.budget_w: \(missing\): required field is missing",
    ),
    "unknown kind": (
        _mutated(lambda d: d.update(kind="laptop")),
        r"^bad\.yaml: kind: 'laptop': Input should be 'jetson', 'phone-soc'",
    ),
    "unknown default mode": (
        _mutated(lambda d: d.update(default_mode="MAXN")),
        r"default_mode 'MAXN' is not a mode; modes: 7W, 15W, 25W, MAXN_SUPER",
    ),
    "dangling reference": (
        _mutated(lambda d: _gpu(d)["clock_mhz"].update(source="[nope] somewhere")),
        r"modes\.15W\.engines\.gpu\.clock_mhz\.source cites \[nope\], which is not in references",
    ),
    "boolean as number": (
        _mutated(lambda d: _gpu(d)["clock_mhz"].update(value=True)),
        r"clock_mhz\.value: True: expected a plain number",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line_profile_error(case):
    text, pattern = BAD[case]
    with pytest.raises(ProfileError) as exc:
        parse_profile(text, origin="bad.yaml")
    msg = str(exc.value)
    assert "\n" not in msg
    assert re.search(pattern, msg), msg
    assert isinstance(exc.value, ValueError)


def test_bad_file_through_the_cli_exits_2_with_one_line(tmp_path, capsys):
    from edgespace.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD["negative rate"][0])
    assert main(["profiles", "validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith(f"edgespace: error: {bad.resolve()}: modes.15W.engines.gpu.peak_gops_int8: -20054: ")
    assert main(["profiles", "show", "no-such-device"]) == 2
    assert "unknown profile name; known:" in capsys.readouterr().err
    assert main(["profiles", "validate", str(tmp_path / "absent.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


# -- hypothesis: mutated profiles are valid or a ProfileError, never anything else ---------------

_BASE = {name: _raw(name) for name in ("jetson-orin-nano-8gb", "coral-edge-tpu", "raspberry-pi-5")}


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def _mutation(draw):
    name = draw(st.sampled_from(sorted(_BASE)))
    data = copy.deepcopy(_BASE[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _get(data, path[:-1]), path[-1]
        action = draw(st.sampled_from(["delete", "retype", "negate", "add_key", "zero"]))
        if action == "delete":
            del parent[key]
        elif action == "retype":
            parent[key] = draw(_ODD_VALUES)
        elif (
            action in ("negate", "zero") and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool)
        ):
            parent[key] = 0 if action == "zero" else -parent[key]
        elif action == "add_key" and isinstance(parent[key], dict):
            parent[key][draw(st.text(min_size=1, max_size=8))] = draw(_ODD_VALUES)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):  # corrupt the YAML text itself
        pos = draw(st.integers(0, max(len(text) - 1, 0)))
        junk = draw(
            st.sampled_from(["{", "]", ": :", "\t", "&a", "*zz", "'", "\x00", "- ", "!!python/object:os.system"])
        )
        text = text[:pos] + junk + text[pos:]
    return text


@settings(
    max_examples=int(os.environ.get("EDGESPACE_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    derandomize="EDGESPACE_HYPOTHESIS_RANDOM" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_mutation())
def test_mutated_profiles_are_valid_or_a_profile_error(text):
    try:
        p = parse_profile(text, origin="mutated.yaml")
    except ProfileError as exc:
        msg = str(exc)
        assert msg.startswith("mutated.yaml: ") and "\n" not in msg
        return
    # Whatever survived is a usable profile: every accessor works.
    assert isinstance(p, HardwareProfile)
    for mode in p.modes.values():
        assert mode.bandwidth_bytes_per_s > 0
        for e in mode.engines.values():
            [e.peak_ops_per_s(q) for q in ("fp32", "fp16", "int8")]
            e.dvfs_table()


# -- host: measured, cached, re-measurable -------------------------------------------------------


def test_host_profile_is_measured_cached_and_remeasured(tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("EDGESPACE_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("EDGESPACE_HOST_PROFILE")  # this test measures the machine itself
    t0 = time.perf_counter()
    p = load_profile("host")
    assert time.perf_counter() - t0 < 15  # "a few seconds", with margin for a busy shared machine
    cache = tmp_path / "host.yaml"
    assert cache.is_file() and p.origin == str(cache.resolve())
    cpu = p.mode().engine("cpu")
    assert cpu.peak_ops_per_s("fp32") > 1e9  # any machine that runs this does > 1 GFLOP/s
    assert p.mode().memory.peak_bandwidth_gb_s.value > 0.5
    assert 0 < cpu.dispatch_overhead_us.value < 1000 and 0 < cpu.call_overhead_us.value < 10_000
    for field in (cpu.peak_gflops_fp32, p.mode().memory.peak_bandwidth_gb_s, cpu.dispatch_overhead_us):
        assert re.match(r"measured by edgespace on \d{4}-\d\d-\d\d: \S+", field.source)
    assert p.mode().power.budget_w.is_estimate  # no power meter: says so
    # cached: the second load reads the file, not a new measurement
    stamp = cache.stat().st_mtime_ns
    assert load_profile("host").mode().engine().peak_gflops_fp32 == cpu.peak_gflops_fp32
    assert cache.stat().st_mtime_ns == stamp
    # the cache is an ordinary profile file
    assert validate_profile(yaml.safe_load(cache.read_text())).name == "host"
    # a damaged cache is re-measured rather than failing
    cache.write_text("name: [broken\n")
    assert load_profile("host").name == "host"
    assert "broken" not in cache.read_text()
    again = load_profile("host", remeasure=True)
    assert again.name == "host" and cache.stat().st_mtime_ns != stamp


def test_a_pinned_host_profile_is_read_not_measured_and_refuses_a_remeasure(tmp_path, monkeypatch):
    from edgespace.profiles import _host

    pinned = ROOT / "tests" / "data" / "host_pinned.yaml"
    monkeypatch.setenv("EDGESPACE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("EDGESPACE_HOST_PROFILE", str(pinned))
    made = _host.measurements_made
    p = load_profile("host")
    assert p.origin == str(pinned.resolve()) and _host.measurements_made == made
    assert not (tmp_path / "host.yaml").exists()  # nothing measured, nothing cached
    with pytest.raises(ProfileError, match="EDGESPACE_HOST_PROFILE=.*pinned.*unset"):
        load_profile("host", remeasure=True)
    monkeypatch.setenv("EDGESPACE_HOST_PROFILE", str(tmp_path / "missing.yaml"))
    with pytest.raises(ProfileError, match="missing.yaml: no such profile file"):
        load_profile("host")
    monkeypatch.setenv("EDGESPACE_HOST_PROFILE", str(builtin_profile_dir() / "raspberry-pi-5.yaml"))
    with pytest.raises(ProfileError, match="name: 'raspberry-pi-5'.*takes a host profile"):
        load_profile("host")


# -- packaging: a non-editable install ships the YAML files --------------------------------------


def test_pyproject_lists_every_subpackage_and_the_profile_data():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "edgespace").rglob("__init__.py")}
    assert on_disk | {"edgespace.hwprofiles"} == set(cfg["packages"])
    assert cfg["package-dir"] == {"edgespace.hwprofiles": "hwprofiles"}
    assert builtin_profile_dir().is_dir()


def test_wheel_install_finds_the_shipped_profiles(tmp_path):
    # Build a wheel from a clean copy of the sources (no build artefacts in the checkout), install
    # it into a target directory and import it from elsewhere: what `pip install .` gives users.
    import shutil

    src = tmp_path / "src"
    shutil.copytree(ROOT / "edgespace", src / "edgespace", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "hwprofiles", src / "hwprofiles")
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, src / f)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # With build isolation, as `pip install .` does: pip fetches the build backend the
    # pyproject names (setuptools >= 70.1, which builds wheels itself) into a throw-away
    # environment, so this works from a bare venv too (its own setuptools may be too old, and
    # it has no `wheel` package, which --no-build-isolation would need).
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(src)], check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("edgespace-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {f"edgespace/hwprofiles/{n}.yaml" for n in SHIPPED} <= set(names)
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel)], check=True, timeout=120
    )
    code = (
        "import edgespace, edgespace.profiles as p; "
        "assert 'site' in edgespace.__file__, edgespace.__file__; "
        "print(p.builtin_profile_dir()); print(len(p.list_profiles())); "
        "print(p.load_profile('jetson-orin-nano-8gb').default_mode)"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    where, count, default = out.stdout.split()
    assert Path(where) == tmp_path / "site" / "edgespace" / "hwprofiles"
    assert int(count) == len(SHIPPED) + 1 and default == "MAXN_SUPER"


def test_public_names_are_exported():
    from edgespace import profiles

    for name in ("load_profile", "list_profiles"):
        assert name in edgespace.__all__ and getattr(edgespace, name) is getattr(profiles, name)
    for name in ("HardwareProfile", "PowerMode"):
        assert name in profiles.__all__
