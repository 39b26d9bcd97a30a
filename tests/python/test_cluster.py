"""The embedded default cluster: a real PostgreSQL server in a temporary data directory, started, stopped and killed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from amends import cli
from amends.cluster import Cluster, ClusterError, default_data_dir, find_pg_bin

# Deep enough that <data dir>/.s.PGSQL.5432 is past the 100 bytes a socket path
# may have, so these clusters put their socket in /tmp/amends-<hash>.
LONG_NAME = "a-data-directory-nested-deep-enough-that-its-own-socket-path-would-be-too-long"


def psql(cluster: Cluster, sql: str, dsn: str | None = None) -> str:
    """Runs SQL with the cluster's own psql and returns the unaligned, tuples-only output."""
    done = subprocess.run(
        [str(cluster.bin_dir / "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn or cluster.dsn, "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster in a long temporary path, not yet initialised; stopped after the test whatever happened."""
    created = Cluster(tmp_path / LONG_NAME / "data")
    try:
        yield created
    finally:
        created.stop(mode="immediate")


def test_the_default_data_directory_is_amends_data_dir_then_xdg_data_home_then_home(monkeypatch):
    monkeypatch.setenv("AMENDS_DATA_DIR", "/srv/books/pg")
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/xdg")
    assert default_data_dir() == Path("/srv/books/pg")

    monkeypatch.delenv("AMENDS_DATA_DIR")
    assert default_data_dir() == Path("/srv/xdg/amends/pg")

    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", "/home/finance")
    assert default_data_dir() == Path("/home/finance/.local/share/amends/pg")


def test_the_postgresql_programs_are_found_together():
    bin_dir = find_pg_bin()

    for program in ("initdb", "pg_ctl", "postgres", "psql", "pg_isready", "createdb"):
        assert os.access(bin_dir / program, os.X_OK), program


def test_amends_pg_bin_without_the_postgresql_programs_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("AMENDS_PG_BIN", str(tmp_path))

    with pytest.raises(ClusterError, match="AMENDS_PG_BIN.*lacks.*pg_ctl"):
        find_pg_bin()


def test_a_short_data_directory_holds_its_own_socket():
    cluster = Cluster("/srv/amends/pg")

    assert cluster.socket_dir == cluster.data_dir
    assert cluster.dsn == f"host={cluster.data_dir} port=5432 dbname=amends user=amends"


def test_a_long_data_directory_puts_its_socket_in_a_directory_under_tmp_named_by_its_path(cluster):
    assert cluster.socket_dir.parent == Path("/tmp")
    assert cluster.socket_dir.name.startswith("amends-")
    assert Cluster(cluster.data_dir).socket_dir == cluster.socket_dir
    assert Cluster(cluster.data_dir.parent / "other").socket_dir != cluster.socket_dir


def test_starting_a_cluster_that_was_never_initialised_is_refused_with_what_to_do(cluster):
    with pytest.raises(ClusterError, match="ensure_running"):
        cluster.start()


def test_stopping_a_cluster_that_is_not_running_says_so(cluster):
    assert cluster.stop() is False


def test_a_new_cluster_starts_reports_running_and_answers_queries(cluster):
    cluster.init()
    dsn = cluster.start()

    status = cluster.status()
    assert dsn == cluster.dsn == status.dsn
    assert status.running and status.pid is not None and status.pid > 0
    assert status.server_version is not None and status.server_version[0].isdigit()
    assert status.data_dir == cluster.data_dir
    assert psql(cluster, "select 1") == "1"
    assert psql(cluster, "select current_database() || ' ' || current_user") == "amends amends"
    socket_dir = status.socket_dir.stat()
    assert stat.S_IMODE(socket_dir.st_mode) == 0o700
    assert stat.S_ISSOCK((status.socket_dir / ".s.PGSQL.5432").stat().st_mode)


def test_the_server_listens_on_its_socket_only_and_commits_durably(cluster):
    cluster.ensure_running()

    assert psql(cluster, "show listen_addresses") == ""
    assert psql(cluster, "show fsync") == "on"
    assert psql(cluster, "show synchronous_commit") == "on"
    assert psql(cluster, "show max_connections") == "50"


def test_starting_a_running_cluster_again_returns_the_same_dsn_and_keeps_the_server(cluster):
    first = cluster.ensure_running()
    pid = cluster.status().pid

    assert cluster.start() == first
    assert cluster.ensure_running() == first
    assert cluster.status().pid == pid


def test_a_stopped_cluster_reports_stopped_and_keeps_its_data_when_started_again(cluster):
    cluster.ensure_running()
    psql(cluster, "create table concessions (amount_minor bigint); insert into concessions values (2500)")

    assert cluster.stop() is True
    status = cluster.status()
    assert not status.running and status.pid is None and status.server_version is None
    assert cluster.stop() is False

    cluster.start()
    assert psql(cluster, "select amount_minor from concessions") == "2500"


def test_a_cluster_whose_postmaster_was_killed_starts_again_with_its_data(cluster):
    cluster.ensure_running()
    psql(cluster, "create table concessions (amount_minor bigint); insert into concessions values (2500)")
    pid = cluster.status().pid
    assert pid is not None

    # No clean shutdown: postmaster.pid and the socket's lock file stay behind,
    # and the killed postmaster may linger as a zombie nobody reaps.
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while cluster.status().running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not cluster.status().running
    assert (cluster.data_dir / "postmaster.pid").exists()

    cluster.start()
    assert cluster.status().running
    assert cluster.status().pid != pid
    assert psql(cluster, "select amount_minor from concessions") == "2500"


def test_stop_refuses_a_mode_pg_ctl_does_not_know(cluster):
    with pytest.raises(ValueError, match="smart, fast, immediate"):
        cluster.stop(mode="gentle")


def test_the_db_command_starts_reports_and_stops_a_cluster(tmp_path, capsys):
    data_dir = tmp_path / LONG_NAME / "data"
    try:
        assert cli.main(["db", "status", "--data-dir", str(data_dir)]) == 3
        assert capsys.readouterr().out.splitlines()[0] == "stopped"

        assert cli.main(["db", "start", "--data-dir", str(data_dir)]) == 0
        dsn = capsys.readouterr().out.strip()
        assert dsn == Cluster(data_dir).dsn

        assert cli.main(["db", "status", "--data-dir", str(data_dir)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "running"
        assert lines[1] == f"pid: {Cluster(data_dir).status().pid}"
        assert f"data dir: {data_dir.resolve()}" in lines
        assert f"dsn: {dsn}" in lines

        assert cli.main(["db", "stop", "--data-dir", str(data_dir)]) == 0
        assert capsys.readouterr().out.strip() == "stopped"
        assert cli.main(["db", "stop", "--data-dir", str(data_dir)]) == 0
        assert capsys.readouterr().out.strip() == "not running"
        assert cli.main(["db", "status", "--data-dir", str(data_dir)]) == 3
    finally:
        Cluster(data_dir).stop(mode="immediate")


def test_each_pg_dsn_is_a_fresh_database_on_the_session_cluster(pg_cluster, pg_dsn):
    database = psql(pg_cluster, "select current_database()", dsn=pg_dsn)

    assert database.startswith("test_") and f"dbname={database}" in pg_dsn
    assert psql(pg_cluster, "select count(*) from pg_tables where schemaname = 'public'", dsn=pg_dsn) == "0"
    assert pg_cluster.status().running
