"""Search storage across processes: two workers on one study, a worker killed with SIGKILL and
resumed, heartbeats with the retry callback (SQLite), and a PostgreSQL server on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import edgespace as es
from edgespace.study import MobileNetSpace, run_worker, search
from edgespace.study._storage import open_storage

PROFILE = "jetson-orin-nano-8gb"
ROOT = Path(__file__).resolve().parents[1]
SPACE = MobileNetSpace(families=("mobilenetv2", "mobilenetv3_small"), widths=(0.35, 1.4), width_step=0.05)


def _env(tmp_path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["EDGESPACE_RUN_DIR"] = str(tmp_path)
    return env


def _complete(storage: str, name: str) -> dict[int, tuple]:
    import optuna

    store, _ = open_storage(storage, name)
    study = optuna.load_study(study_name=name, storage=store)
    return {t.number: tuple(t.values) for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def test_two_workers_record_every_trial_exactly_once(tmp_path):
    storage = f"journal:{tmp_path / 'shared.journal'}"
    search(
        SPACE,
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=0,
        storage=storage,
        study_name="shared",
        population_size=20,
    )
    cmd = [
        sys.executable,
        "-m",
        "edgespace",
        "worker",
        "--storage",
        storage,
        "--study",
        "shared",
        "--trials",
        "300",
        "--json",
    ]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    docs = [json.loads(out) for out, _ in outs]
    result = search(
        SPACE,
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms <= 33"],
        n_trials=0,
        storage=storage,
        study_name="shared",
        population_size=20,
    )
    frame = result.trials_frame()
    assert (frame["state"] == "COMPLETE").all()  # nothing left RUNNING or FAILED
    assert frame["number"].is_unique and sorted(frame["number"]) == list(range(len(frame)))
    # each told trial is in the storage once, and each stored trial was told by exactly one worker
    assert sum(d["evaluated_now"] for d in docs) == len(frame)
    assert 300 <= len(frame) <= 300 + 20  # a worker may overshoot by at most one batch
    assert frame["worker"].notna().all()
    assert frame["energy_mj"].notna().all()


def test_worker_killed_with_sigkill_loses_no_completed_trial(tmp_path):
    storage = f"journal:{tmp_path / 'killed.journal'}"
    cmd = [
        sys.executable,
        "-m",
        "edgespace",
        "search",
        "--profile",
        PROFILE,
        "--space",
        "mobilenet",
        "--trials",
        "5000",
        "--population-size",
        "10",
        "--storage",
        storage,
        "--study",
        "killed",
        "--seed",
        "7",
        "--quiet",
        "--constraint",
        "sustained_latency_ms<=33",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(tmp_path))
    journal = tmp_path / "killed.journal"
    # Wait for the event (60 trials told and a batch asked, not yet told), not for a time: a cold
    # interpreter on a busy machine may take minutes to start. The bound only stops a hung run.
    # The process is stopped while the file is looked at, so what it shows is what it holds.
    deadline = time.monotonic() + 600
    try:
        while True:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the search wrote fewer than 60 trials in 600 s"
            if _told_in(journal) >= 60:
                proc.send_signal(signal.SIGSTOP)
                if _batch_in_flight(journal):
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # mid-search: the process holds asked, untold trials
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = _complete(storage, "killed")
    assert len(before) >= 60
    target = len(before) + 40
    # Same definition and name, default stale_after_s (600 s): the killed worker's lease shows it
    # is gone, so its RUNNING trials are failed and queued again at once and the resume reaches
    # its target.
    resumed = search(
        es.study.named_space("mobilenet"),
        PROFILE,
        ["accuracy", "energy_mj"],
        ["sustained_latency_ms<=33"],
        n_trials=target,
        population_size=10,
        storage=storage,
        study_name="killed",
        seed=7,
    )
    after = _complete(storage, "killed")
    assert all(after.get(n) == v for n, v in before.items())  # every completed trial kept, unchanged
    assert len(after) == target
    frame = resumed.trials_frame()
    assert not (frame["state"] == "RUNNING").any()
    retried = [t for t in resumed.study.trials if "failed_trial" in t.system_attrs]
    failed = frame[frame["state"] == "FAIL"]
    assert len(failed) >= 1  # the killed worker held a batch in flight
    assert len(retried) == len(failed)  # each trial the killed worker left RUNNING was queued again


def _told_in(journal: Path) -> int:
    """Trials told COMPLETE in a journal file so far (its set-state entries with state 1)."""
    try:
        return journal.read_bytes().count(b'"state":1,')
    except FileNotFoundError:
        return 0


def _batch_in_flight(journal: Path) -> bool:
    """The journal's last entry, complete, creates a trial (a batch is asked and not yet told)."""
    data = journal.read_bytes()
    return data.endswith(b"\n") and data.rstrip().rsplit(b"\n", 1)[-1].startswith(b'{"op_code":4,')


def test_rdb_heartbeat_retries_the_trial_of_a_dead_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'hb.db'}"
    prof = es.load_profile(PROFILE)
    first = search(
        SPACE,
        prof,
        ["accuracy", "energy_mj"],
        n_trials=10,
        population_size=10,
        storage=url,
        study_name="hb",
        heartbeat_interval=1,
    )
    # a "worker" that asks a trial, beats once, then dies without telling
    study = first.study
    dead = study.ask(SPACE.distributions(prof))
    study._storage.record_heartbeat(dead._trial_id)
    time.sleep(3.5)  # > grace period (2 x heartbeat_interval), with SQLite's whole-second timestamps
    again = search(
        SPACE,
        prof,
        ["accuracy", "energy_mj"],
        n_trials=15,
        population_size=10,
        storage=url,
        study_name="hb",
        heartbeat_interval=1,
    )
    trials = again.study.get_trials(deepcopy=False)
    assert trials[dead.number].state.name == "FAIL"
    retry = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == dead.params
    assert sum(t.state.name == "COMPLETE" for t in trials) == 15


# ----------------------------------------------------------------------------- PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url(tmp_path_factory):
    """``EDGESPACE_TEST_POSTGRES_URL`` (set by .ci/run, which starts Debian's postgresql), or a
    throw-away server started here with initdb/pg_ctl on loopback (as the postgres user when we
    are root); skipped, saying why, only when neither is possible."""
    url = os.environ.get("EDGESPACE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")) if Path("/usr/lib/postgresql").is_dir() else []
    initdb = shutil.which("initdb") or (str(bins[-1]) if bins else None)
    if initdb is None:
        pytest.skip(
            "no PostgreSQL server: EDGESPACE_TEST_POSTGRES_URL is unset and initdb is not installed (apt-get install postgresql)"
        )
    prefix: list[str] = []
    data = tmp_path_factory.mktemp("pgdata")
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        import pwd
        import tempfile

        try:
            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip(
                "no PostgreSQL server: EDGESPACE_TEST_POSTGRES_URL is unset, we are root (initdb refuses) and "
                "there is no postgres user to run it as (.ci/run starts one with pg_ctlcluster)"
            )
        data = Path(tempfile.mkdtemp(prefix="edgespace-pg-", dir="/tmp"))
        os.chown(data, pg_user.pw_uid, pg_user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    port = _free_port()
    r = subprocess.run(
        [*prefix, initdb, "-D", str(data), "-U", "edgespace", "--auth=trust", "-E", "UTF8"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"no PostgreSQL server: initdb failed: {r.stderr.strip()[:200]}")
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    r = subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(data / "log"), "-w", "start"],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"no PostgreSQL server: pg_ctl start failed: {r.stderr.strip()[:200]}")
    try:
        yield f"postgresql://edgespace@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        if prefix:
            shutil.rmtree(data, ignore_errors=True)


def test_postgresql_backed_search_and_worker(postgres_url, tmp_path):
    name = f"pg-{os.getpid()}-{int(time.time())}"
    a = search(
        SPACE,
        PROFILE,
        ["accuracy", "energy_mj"],
        ["fits_memory"],
        n_trials=40,
        population_size=20,
        storage=postgres_url,
        study_name=name,
        seed=1,
    )
    assert a.told == 40 and "postgresql" in a.storage and "@" not in a.storage
    assert a.study._storage.get_heartbeat_interval() == 30  # heartbeats on, so a dead worker's trial is retried
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgespace",
            "worker",
            "--storage",
            postgres_url,
            "--study",
            name,
            "--trials",
            "60",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["evaluated_now"] == 20
    b = run_worker(postgres_url, name, n_trials=60)
    frame = b.trials_frame()
    assert b.told == 0 and len(frame) == 60 and (frame["state"] == "COMPLETE").all() and len(b.pareto_front()) > 0
