"""SQL storages as safe as the journal, on SQLite and a real PostgreSQL server: a search killed
with SIGKILL resumes to its target, a trial asked but never leased is retried, workers starting
together on an empty database all succeed, and a server shut down mid-search gives one line and
exit 2, after which the same study resumes to its target."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from edgespace.study import search
from tests.test_study_storage import _env, _free_port, postgres_url  # noqa: F401 - the fixture

PROFILE = "jetson-orin-nano-8gb"
SPACE = "mobilenet"


def _cli(storage: str, study: str, trials: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "edgespace",
        "search",
        "--profile",
        PROFILE,
        "--space",
        SPACE,
        "--trials",
        str(trials),
        "--population-size",
        "10",
        "--storage",
        storage,
        "--study",
        study,
        "--seed",
        "7",
        "--quiet",
    ]


def _resume(storage: str, study: str, trials: int):
    from edgespace.study import named_space

    return search(
        named_space(SPACE),
        PROFILE,
        n_trials=trials,
        population_size=10,
        storage=storage,
        study_name=study,
        seed=7,
        heartbeat_interval=1,
    )


def _states(storage: str, study: str) -> dict:
    import optuna

    from edgespace.study._storage import open_storage

    store, _ = open_storage(storage, study)
    trials = optuna.load_study(study_name=study, storage=store).get_trials(deepcopy=False)
    return {t.number: (t.state.name, tuple(t.values or ())) for t in trials}


def _complete(storage: str, study: str) -> dict:
    try:
        return {n: v for n, (s, v) in _states(storage, study).items() if s == "COMPLETE"}
    except Exception:  # not created yet
        return {}


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.db'}"
    return _fresh_schema(request.getfixturevalue("postgres_url"))


def _fresh_schema(url: str) -> str:
    """An empty schema in the test database, as a URL whose search_path is that schema."""
    import sqlalchemy

    schema = f"t{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as con:
        con.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def test_killed_sql_search_resumes_to_its_target(sql_url, tmp_path):
    proc = subprocess.Popen(
        _cli(sql_url, "killed", 2000), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(tmp_path)
    )
    deadline = time.monotonic() + 600
    try:
        while len(_complete(sql_url, "killed")) < 30:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "fewer than 30 trials in 600 s"
            time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    before = _complete(sql_url, "killed")
    target = len(before) + 25
    _resume(sql_url, "killed", target)
    after = _states(sql_url, "killed")
    done = {n: v for n, (s, v) in after.items() if s == "COMPLETE"}
    assert all(done.get(n) == v for n, v in before.items())  # nothing completed was lost or changed
    assert len(done) == target
    assert not any(s == "RUNNING" for s, _ in after.values())


def test_a_trial_is_leased_in_the_call_that_asks_it(tmp_path):
    import sqlite3

    import optuna

    from edgespace.study._storage import open_storage

    url = f"sqlite:///{tmp_path / 'lease.db'}"
    store, _ = open_storage(url, "lease", heartbeat_interval=5)
    study = optuna.create_study(storage=store, study_name="lease")
    with pytest.warns(UserWarning, match="Heartbeat"):
        trial = study.ask()
    rows = sqlite3.connect(tmp_path / "lease.db").execute("select trial_id from trial_heartbeats").fetchall()
    assert rows == [(trial._trial_id,)]


def test_a_trial_asked_but_never_leased_is_retried(tmp_path):
    """A process killed between asking a trial and its first heartbeat leaves a RUNNING trial with
    no heartbeat row; once older than the grace period it is failed and queued again."""
    import optuna

    url = f"sqlite:///{tmp_path / 'orphan.db'}"
    _resume(url, "orphan", 10)
    plain = optuna.load_study(study_name="orphan", storage=optuna.storages.RDBStorage(url))
    from edgespace import load_profile
    from edgespace.study import named_space

    orphan = plain.ask(named_space(SPACE).distributions(load_profile(PROFILE)))  # no heartbeat at all
    time.sleep(3.2)  # > the grace period (2 x 1 s)
    again = _resume(url, "orphan", 15)
    trials = again.study.get_trials(deepcopy=False)
    assert trials[orphan.number].state.name == "FAIL"
    assert [t.params for t in trials if t.system_attrs.get("failed_trial") == orphan.number] == [orphan.params]
    assert sum(t.state.name == "COMPLETE" for t in trials) == 15


def test_workers_starting_together_on_an_empty_database_all_succeed(sql_url, tmp_path):
    procs = [
        subprocess.Popen(
            _cli(sql_url, "together", 30), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(tmp_path)
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=600)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    states = _states(sql_url, "together")
    assert sum(s == "COMPLETE" for s, _ in states.values()) >= 30
    assert not any(s == "RUNNING" for s, _ in states.values())


@pytest.fixture
def own_postgres(tmp_path):
    """A throw-away PostgreSQL server this test may stop and start (never a shared one)."""
    import shutil
    import tempfile

    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")) if Path("/usr/lib/postgresql").is_dir() else []
    initdb = shutil.which("initdb") or (str(bins[-1]) if bins else None)
    if initdb is None:
        pytest.skip("no PostgreSQL: initdb is not installed (apt-get install postgresql)")
    prefix: list[str] = []
    data = Path(tempfile.mkdtemp(prefix="edgespace-pg-", dir="/tmp"))
    if os.geteuid() == 0:  # initdb refuses root
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("no PostgreSQL: running as root and there is no postgres user")
        os.chown(data, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    r = subprocess.run([*prefix, initdb, "-D", str(data), "-U", "edgespace", "--auth=trust"], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"no PostgreSQL: initdb failed: {r.stderr.decode()[:200]}")
    port = _free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"

    def ctl(*args: str) -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), *args], capture_output=True, check=True)

    ctl("-o", opts, "-l", str(data / "log"), "-w", "start")
    try:
        yield f"postgresql://edgespace@127.0.0.1:{port}/postgres", ctl, opts, data
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_server_shutdown_mid_search_is_one_line_and_the_study_resumes(own_postgres, tmp_path):
    url, ctl, opts, data = own_postgres
    proc = subprocess.Popen(
        _cli(url, "shutdown", 5000), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(tmp_path)
    )
    deadline = time.monotonic() + 600
    while len(_complete(url, "shutdown")) < 30:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.3)
    ctl("-m", "fast", "-w", "stop")
    err = proc.communicate(timeout=300)[1].decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "database went away" in err and "run the same command again" in err
    ctl("-o", opts, "-l", str(data / "log"), "-w", "start")
    before = _complete(url, "shutdown")
    target = len(before) + 20
    _resume(url, "shutdown", target)
    done = _complete(url, "shutdown")
    assert all(done.get(n) == v for n, v in before.items()) and len(done) == target


def test_psycopg_s_pipeline_warning_on_a_lost_connection_is_not_printed(caplog):
    """When the server goes away while a batch is written through a pipeline, psycopg warns
    "error ignored terminating <psycopg.Pipeline [BAD]>" on its own logger as it unwinds; the search
    already says the database went away, in one line, so that warning must not reach any handler
    (it reached stderr, intermittently, in the shutdown test above)."""
    import logging

    from edgespace.study._rdb import leased_rdb_storage

    leased_rdb_storage()
    with caplog.at_level(logging.WARNING, logger="psycopg"):
        logging.getLogger("psycopg").warning("error ignored terminating %r: %s", "<psycopg.Pipeline [BAD]>", "lost")
        logging.getLogger("psycopg").warning("a warning of another kind")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["a warning of another kind"], messages
