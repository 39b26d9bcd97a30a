"""The embedded default: a PostgreSQL cluster that amends runs by itself.

Nobody has to administer it. A cluster is a data directory (by default
~/.local/share/amends/pg) that amends creates with initdb and starts and stops
with pg_ctl. The server listens on a Unix socket only, never on TCP, trusts the
local connections that reach that socket, and holds the database `amends`,
owned by the superuser `amends`. Starting it also migrates that database (the
superuser is its owner): the embedded default needs no `amends db migrate`.

PostgreSQL refuses to run as root. When amends runs as root, the data
directory belongs to the `postgres` OS user, the server tools run through
runuser, and each directory above the data directory that the postgres user
could not pass through gets a POSIX ACL entry letting that one user search it
(pass through, not list). Clients (psql, libpq) keep running as root: root may
open any socket.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import pwd
import re
import shlex
import shutil
import stat
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

PORT = 5432
DATABASE = "amends"
SUPERUSER = "amends"
SERVER_OS_USER = "postgres"
INSTALL_HINT = "apt-get install postgresql-15"

# sun_path holds 108 bytes on Linux; PostgreSQL needs the socket path and its
# terminating NUL to fit, and the lock file beside it adds ".lock". 100 leaves room.
_SOCKET_PATH_MAX_BYTES = 100
_SOCKET_FALLBACK_PARENT = Path("/tmp")
# Characters that unix_socket_directories (a comma-separated list) or a
# postgresql.conf string would need quoting for; such a data directory gets
# the fallback socket directory instead.
_UNSAFE_SOCKET_DIR_CHARACTERS = re.compile(r"[,'\"\\\s]")
_REQUIRED_TOOLS = ("initdb", "pg_ctl", "postgres", "psql", "pg_isready", "createdb", "dropdb")
_STOP_MODES = ("smart", "fast", "immediate")
_PG_CTL_STATUS_NOT_RUNNING = 3
_COMMAND_TIMEOUT_SECONDS = 120.0
_STOP_TIMEOUT_SECONDS = 60
_POLL_INTERVAL_SECONDS = 0.1
_LOG_TAIL_LINES = 20


class ClusterError(RuntimeError):
    """The embedded cluster could not be found, created, started or stopped; the message says what to do."""


@dataclass(frozen=True)
class ClusterStatus:
    """Whether the server of a data directory runs, and how to reach it."""

    running: bool
    pid: int | None
    data_dir: Path
    socket_dir: Path
    dsn: str
    server_version: str | None


def default_data_dir() -> Path:
    """$AMENDS_DATA_DIR if set, else $XDG_DATA_HOME/amends/pg, else ~/.local/share/amends/pg."""
    explicit = os.environ.get("AMENDS_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME")
    if data_home:
        return Path(data_home).expanduser() / "amends" / "pg"
    return Path.home() / ".local" / "share" / "amends" / "pg"


def _missing_tools(directory: Path) -> list[str]:
    return [tool for tool in _REQUIRED_TOOLS if not os.access(directory / tool, os.X_OK)]


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """/usr/lib/postgresql/15/bin -> (15,); a name that is not a version sorts first."""
    parts = re.findall(r"\d+", bin_dir.parent.name)
    return tuple(int(part) for part in parts) if parts else (-1,)


def find_pg_bin() -> Path:
    """The directory holding initdb, pg_ctl, postgres and the client tools of one PostgreSQL version.

    $AMENDS_PG_BIN if set; else the directory of the pg_ctl on PATH (following
    a symbolic link to the directory that also holds psql and initdb); else the
    highest-versioned /usr/lib/postgresql/*/bin, where Debian installs them.
    """
    explicit = os.environ.get("AMENDS_PG_BIN")
    if explicit:
        directory = Path(explicit).expanduser()
        missing = _missing_tools(directory)
        if missing:
            lacking = ", ".join(missing)
            raise ClusterError(f"AMENDS_PG_BIN={explicit} lacks {lacking}; point it at a PostgreSQL bin directory")
        return directory
    on_path = shutil.which("pg_ctl")
    if on_path:
        for directory in (Path(on_path).parent, Path(on_path).resolve().parent):
            if not _missing_tools(directory):
                return directory
    installed = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if not _missing_tools(d)]
    if installed:
        return max(installed, key=_version_key)
    raise ClusterError(
        "PostgreSQL's server programs (initdb, pg_ctl, postgres) were not found: "
        f"install them with `{INSTALL_HINT}`, or set AMENDS_PG_BIN to their directory"
    )


def _dsn_value(value: str) -> str:
    """A libpq keyword/value string value, quoted when it has to be."""
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _single_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _environment() -> dict[str, str]:
    """The caller's environment without PG* variables, so that only the arguments choose the server, and in C locale.

    The C locale keeps the messages of pg_ctl (whose output status() reads) untranslated.
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    environment.update(LC_ALL="C", LANG="C")
    return environment


def _run(argv: Sequence[str], timeout_seconds: float = _COMMAND_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
    """Runs a PostgreSQL program and captures its output, in / (a directory any OS user may be in)."""
    try:
        return subprocess.run(
            list(argv), capture_output=True, text=True, env=_environment(), cwd="/", timeout=max(timeout_seconds, 1.0)
        )
    except subprocess.TimeoutExpired as error:
        raise ClusterError(f"{shlex.join(argv)} did not finish within {error.timeout:.0f} s") from error


def _failure(what: str, done: subprocess.CompletedProcess[str]) -> ClusterError:
    output = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
    return ClusterError(f"{what} failed (exit {done.returncode}): " + " / ".join(output[-_LOG_TAIL_LINES:]))


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _process_is_live_postmaster(pid: int) -> bool:
    """Whether pid is a live (not zombie) postgres process.

    kill(pid, 0), which pg_ctl and the postmaster use, also succeeds on a
    zombie nobody has reaped yet (a container without an init) and on an
    unrelated process that got the pid after a reboot.
    """
    if pid <= 0:
        return False
    proc = Path("/proc") / str(pid)
    if not Path("/proc/self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        process_stat = (proc / "stat").read_text(encoding="utf-8", errors="replace")
        command = (proc / "comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return False
    # The state follows the command name, which is in parentheses and may itself contain ")".
    state = process_stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X", "x") and command in ("postgres", "postmaster")


def _shared_memory_attachments(shmid: int) -> int:
    """How many processes are attached to a System V shared memory segment (0 if it is gone or unknown)."""
    for line in _read_lines(Path("/proc/sysvipc/shm"))[1:]:
        fields = line.split()
        # Columns: key shmid perms size cpid lpid nattch ...
        if len(fields) > 6 and fields[1] == str(shmid):
            return int(fields[6])
    return 0


def _may_search(directory_stat: os.stat_result, account: pwd.struct_passwd, group_ids: Sequence[int]) -> bool:
    if directory_stat.st_uid == account.pw_uid:
        return bool(directory_stat.st_mode & stat.S_IXUSR)
    if directory_stat.st_gid in group_ids:
        return bool(directory_stat.st_mode & stat.S_IXGRP)
    return bool(directory_stat.st_mode & stat.S_IXOTH)


# The Linux "system.posix_acl_access" extended attribute: a version, then
# (tag, permissions, id) entries sorted by tag and id.
_ACL_XATTR = "system.posix_acl_access"
_ACL_VERSION = 2
_ACL_USER_OBJ, _ACL_USER, _ACL_GROUP_OBJ, _ACL_GROUP, _ACL_MASK, _ACL_OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_ACL_UNDEFINED_ID = 0xFFFFFFFF
_ACL_SEARCH = 0o1
_ACL_HEADER = struct.Struct("<I")
_ACL_ENTRY = struct.Struct("<HHI")


def _grant_search(directory: Path, uid: int) -> None:
    """Adds the ACL entry user:<uid>:--x to a directory, keeping its other entries (like `setfacl -m u:<uid>:x`).

    Unlike setfacl, which recomputes the mask, the mask only gains search, so
    no other user or group gains anything.
    """
    mode = directory.stat().st_mode
    try:
        raw = os.getxattr(directory, _ACL_XATTR)
        entries = [_ACL_ENTRY.unpack_from(raw, offset) for offset in range(_ACL_HEADER.size, len(raw), _ACL_ENTRY.size)]
    except OSError as error:
        if error.errno != errno.ENODATA:
            raise
        entries = [
            (_ACL_USER_OBJ, (mode >> 6) & 0o7, _ACL_UNDEFINED_ID),
            (_ACL_GROUP_OBJ, (mode >> 3) & 0o7, _ACL_UNDEFINED_ID),
            (_ACL_OTHER, mode & 0o7, _ACL_UNDEFINED_ID),
        ]
    by_key = {(tag, identifier): permissions for tag, permissions, identifier in entries}
    by_key[(_ACL_USER, uid)] = by_key.get((_ACL_USER, uid), 0) | _ACL_SEARCH
    # Without a mask the group class was the owning group's permissions; keep them effective.
    group_permissions = by_key[(_ACL_GROUP_OBJ, _ACL_UNDEFINED_ID)]
    by_key[(_ACL_MASK, _ACL_UNDEFINED_ID)] = by_key.get((_ACL_MASK, _ACL_UNDEFINED_ID), group_permissions) | _ACL_SEARCH
    packed = _ACL_HEADER.pack(_ACL_VERSION) + b"".join(
        _ACL_ENTRY.pack(tag, permissions, identifier) for (tag, identifier), permissions in sorted(by_key.items())
    )
    os.setxattr(directory, _ACL_XATTR, packed)


def _let_through(path: Path, account: pwd.struct_passwd) -> None:
    """Lets the account pass through every directory above path, with an ACL entry where the mode does not."""
    group_ids = os.getgrouplist(account.pw_name, account.pw_gid)
    for directory in reversed(path.parents):
        if _may_search(directory.stat(), account, group_ids):
            continue
        try:
            _grant_search(directory, account.pw_uid)
        except OSError as error:
            raise ClusterError(
                f"the {account.pw_name} OS user, which runs the server when amends runs as root, cannot pass through "
                f"{directory}, and adding an ACL entry failed ({error.strerror}): run `chmod o+x {directory}` or "
                "choose a data directory it can reach (--data-dir or AMENDS_DATA_DIR)"
            ) from error


def _own_private_directory(directory: Path, account: pwd.struct_passwd | None) -> None:
    """Creates directory (mode 0700) for the server's OS user, or checks that an existing one is such a directory.

    A directory somebody else made in /tmp could hold a socket they control, so it is refused.
    """
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700)
    found = directory.lstat()
    uid = account.pw_uid if account else os.geteuid()
    if not stat.S_ISDIR(found.st_mode):
        raise ClusterError(f"{directory} is not a directory; remove it")
    if found.st_uid != uid:
        if account is None or found.st_uid != 0:
            raise ClusterError(f"{directory} belongs to uid {found.st_uid}, not {uid}; remove it")
        os.chown(directory, account.pw_uid, account.pw_gid)
    if stat.S_IMODE(found.st_mode) != 0o700:
        os.chmod(directory, 0o700)


def _fallback_socket_dir(data_dir: Path) -> Path:
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:12]
    return _SOCKET_FALLBACK_PARENT / f"amends-{digest}"


def _choose_socket_dir(data_dir: Path) -> Path:
    """The data directory itself, unless the socket path in it would be too long or its name needs quoting."""
    socket_path = os.fsencode(data_dir / f".s.PGSQL.{PORT}")
    if len(socket_path) > _SOCKET_PATH_MAX_BYTES or _UNSAFE_SOCKET_DIR_CHARACTERS.search(str(data_dir)):
        return _fallback_socket_dir(data_dir)
    return data_dir


class Cluster:
    """One PostgreSQL data directory that amends initialises, starts and stops by itself.

    >>> cluster = Cluster()                  # default_data_dir()
    >>> dsn = cluster.ensure_running()       # 'host=... port=5432 dbname=amends user=amends'
    >>> cluster.stop()
    """

    def __init__(self, data_dir: Path | str | None = None) -> None:
        chosen = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        self.data_dir: Path = chosen.resolve()
        self._bin_dir: Path | None = None

    def __repr__(self) -> str:
        return f"Cluster({str(self.data_dir)!r})"

    @property
    def bin_dir(self) -> Path:
        """The PostgreSQL programs this cluster uses (find_pg_bin(), looked up on first use)."""
        if self._bin_dir is None:
            self._bin_dir = find_pg_bin()
        return self._bin_dir

    @property
    def socket_dir(self) -> Path:
        """Where the server's socket is: what init() wrote to postgresql.conf, or what it will write.

        Reading the choice back from postgresql.conf keeps start, stop and status
        in agreement with the server whatever rule chose it.
        """
        pattern = re.compile(r"^\s*unix_socket_directories\s*=\s*'((?:[^']|'')*)'")
        recorded = [m.group(1).replace("''", "'") for m in map(pattern.match, self._conf_lines()) if m]
        return Path(recorded[-1]) if recorded else _choose_socket_dir(self.data_dir)

    @property
    def dsn(self) -> str:
        """The libpq connection string of the `amends` database.

        host=<socket dir> port=5432 dbname=amends user=amends
        """
        return self.dsn_for(DATABASE)

    def dsn_for(self, database: str) -> str:
        """The connection string of another database on this cluster."""
        values = {"host": str(self.socket_dir), "port": str(PORT), "dbname": database, "user": SUPERUSER}
        return " ".join(f"{keyword}={_dsn_value(value)}" for keyword, value in values.items())

    def initialized(self) -> bool:
        """Whether initdb has made a cluster in the data directory."""
        return (self.data_dir / "PG_VERSION").is_file()

    def init(self) -> None:
        """Creates the cluster: initdb (trust authentication, UTF-8, C locale), then the amends settings.

        The settings: no TCP listener, the socket in socket_dir usable by the
        server's OS user (and root) only, durable commits (fsync, synchronous_commit), and
        the log in server.log (pg_ctl -l) rather than a collector.
        """
        if self.initialized():
            raise ClusterError(f"{self.data_dir} already holds a cluster; start it with start() or ensure_running()")
        account = self._server_account()
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        if account is not None:
            os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            _let_through(self.data_dir, account)
        options = ["--auth=trust", f"--username={SUPERUSER}", "--encoding=UTF8", "--locale=C"]
        done = self._run_as_server(self.bin_dir / "initdb", "-D", str(self.data_dir), *options)
        if done.returncode != 0:
            raise _failure(f"initdb of {self.data_dir}", done)
        socket_dir = _choose_socket_dir(self.data_dir)
        settings = {
            "listen_addresses": "''",
            "unix_socket_directories": _single_quoted(str(socket_dir)),
            "unix_socket_permissions": "0700",
            "port": str(PORT),
            "fsync": "on",
            "synchronous_commit": "on",
            "max_connections": "50",
            "shared_buffers": "256MB",
            "logging_collector": "off",
        }
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# Added by amends.cluster: the embedded default listens on its Unix socket only\n")
            conf.write("# (no TCP, so the port number cannot collide) and keeps every commit durable.\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self, timeout: float = 30) -> str:
        """Starts the server (pg_ctl start) and returns the DSN once it accepts connections.

        Creates the `amends` database if it is missing and applies the
        migrations it lacks (as the superuser, its owner), also when the
        server was already running: the embedded default is ready to open.
        A postmaster.pid left by a server that died (kill -9, a reboot) does
        not stop it. timeout is in seconds.
        """
        dsn = self._start(timeout)
        self.migrate()
        return dsn

    def migrate(self) -> list[int]:
        """Applies the migrations the `amends` database lacks (amends.migrate); returns the versions applied."""
        from amends import _core

        return list(_core.migrate(self.dsn))

    def _start(self, timeout: float) -> str:
        if not self.initialized():
            raise ClusterError(f"{self.data_dir} holds no cluster yet; create it with init() or use ensure_running()")
        deadline = time.monotonic() + timeout
        while (pid := self._running_pid()) is not None:
            # Running -- or a killed postmaster still exiting: wait for either.
            try:
                self.wait_ready(min(2.0, max(deadline - time.monotonic(), 0.5)))
                return self.dsn
            except ClusterError:
                if time.monotonic() >= deadline:
                    raise
                if self._running_pid() == pid:
                    continue
        account = self._server_account()
        if self.socket_dir != self.data_dir:
            # /tmp may have been emptied since the last start (a reboot).
            _own_private_directory(self.socket_dir, account)
        self._clear_stale_lock_files(deadline)
        log = self.data_dir / "server.log"
        wait_seconds = max(1, math.ceil(deadline - time.monotonic()))
        options = ["-l", str(log), "-w", "-t", str(wait_seconds)]
        done = self._run_as_server(
            self.bin_dir / "pg_ctl", "-D", str(self.data_dir), *options, "start", timeout_seconds=wait_seconds + 30
        )
        if done.returncode != 0:
            tail = _read_lines(log)[-_LOG_TAIL_LINES:]
            raise ClusterError(f"{_failure('pg_ctl start', done)}\nlast lines of {log}:\n" + "\n".join(tail))
        self.wait_ready(max(deadline - time.monotonic(), 1.0))
        self.create_database(DATABASE, exist_ok=True)
        return self.dsn

    def wait_ready(self, timeout: float = 30) -> None:
        """Polls pg_isready on the socket until the server accepts connections; timeout is in seconds."""
        deadline = time.monotonic() + timeout
        probe = [str(self.bin_dir / "pg_isready"), "-q", *self._connection_arguments(), "-d", "postgres", "-t", "1"]
        for _ in range(max(1, math.ceil(timeout / _POLL_INTERVAL_SECONDS))):
            if _run(probe, timeout).returncode == 0:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_INTERVAL_SECONDS)
        raise ClusterError(f"the server of {self.data_dir} did not accept connections within {timeout:.0f} s")

    def stop(self, mode: str = "fast") -> bool:
        """Stops the server (pg_ctl stop -m mode: smart, fast or immediate); False if it was not running."""
        if mode not in _STOP_MODES:
            raise ValueError(f"mode must be one of {', '.join(_STOP_MODES)}, not {mode!r}")
        if self._running_pid() is None:
            return False
        options = ["-m", mode, "-w", "-t", str(_STOP_TIMEOUT_SECONDS)]
        pg_ctl = self.bin_dir / "pg_ctl"
        timeout_seconds = _STOP_TIMEOUT_SECONDS + 30
        done = self._run_as_server(pg_ctl, "-D", str(self.data_dir), *options, "stop", timeout_seconds=timeout_seconds)
        if done.returncode != 0:
            raise _failure(f"pg_ctl stop of {self.data_dir}", done)
        if self.socket_dir != self.data_dir:
            # The server removed its socket; leave nothing behind in /tmp (start makes the directory again).
            with contextlib.suppress(OSError):
                self.socket_dir.rmdir()
        return True

    def status(self) -> ClusterStatus:
        """Whether the server runs (pg_ctl status, and a postmaster that is really alive), its pid and version."""
        pid = self._running_pid()
        return ClusterStatus(
            running=pid is not None,
            pid=pid,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            dsn=self.dsn,
            server_version=self._server_version() if pid is not None else None,
        )

    def ensure_running(self, timeout: float = 30) -> str:
        """Creates the cluster if needed, starts it if needed, and returns the DSN."""
        if not self.initialized():
            self.init()
        return self.start(timeout)

    def create_database(self, name: str, exist_ok: bool = False) -> str:
        """Creates a database on the running server (createdb) and returns its DSN."""
        if exist_ok and self._database_exists(name):
            return self.dsn_for(name)
        done = _run([str(self.bin_dir / "createdb"), *self._connection_arguments(), "--maintenance-db=postgres", name])
        # Another process may have created it between the check and createdb.
        if done.returncode != 0 and not (exist_ok and self._database_exists(name)):
            raise _failure(f"createdb {name}", done)
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        """Drops a database if it exists, disconnecting its sessions (dropdb --force)."""
        options = ["--maintenance-db=postgres", "--if-exists", "--force"]
        done = _run([str(self.bin_dir / "dropdb"), *self._connection_arguments(), *options, name])
        if done.returncode != 0:
            raise _failure(f"dropdb {name}", done)

    def _connection_arguments(self) -> list[str]:
        return ["-h", str(self.socket_dir), "-p", str(PORT), "-U", SUPERUSER]

    def _psql(self, sql: str) -> subprocess.CompletedProcess[str]:
        return _run([str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-d", self.dsn_for("postgres"), "-c", sql])

    def _database_exists(self, name: str) -> bool:
        done = self._psql(f"select 1 from pg_database where datname = {_single_quoted(name)}")
        if done.returncode != 0:
            raise _failure(f"looking up database {name}", done)
        return done.stdout.strip() == "1"

    def _server_version(self) -> str | None:
        done = self._psql("show server_version")
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def _conf_lines(self) -> list[str]:
        return _read_lines(self.data_dir / "postgresql.conf")

    def _running_pid(self) -> int | None:
        if not self.initialized():
            return None
        done = self._run_as_server(self.bin_dir / "pg_ctl", "status", "-D", str(self.data_dir))
        if done.returncode == _PG_CTL_STATUS_NOT_RUNNING:
            return None
        found = re.search(r"server is running \(PID: (\d+)\)", done.stdout)
        if done.returncode != 0 or found is None:
            raise _failure(f"pg_ctl status of {self.data_dir}", done)
        pid = int(found.group(1))
        return pid if _process_is_live_postmaster(pid) else None

    def _clear_stale_lock_files(self, deadline: float) -> None:
        """Removes the lock files of a server that died without removing them, once none of its processes remain.

        The postmaster removes a stale postmaster.pid itself when kill(pid, 0)
        says the pid is gone, but not when that pid is a zombie or was reused
        (see _process_is_live_postmaster). Its children still hold the shared
        memory for a moment after the postmaster is killed; a new postmaster
        refuses to start beside them, so wait until they have exited.
        """
        pid_file = self.data_dir / "postmaster.pid"
        lines = _read_lines(pid_file)
        if not lines or not lines[0].strip().isdigit():
            return
        pid = int(lines[0])
        if _process_is_live_postmaster(pid):
            return
        shared_memory = lines[6].split() if len(lines) > 6 else []
        shmid = int(shared_memory[1]) if len(shared_memory) == 2 and shared_memory[1].isdigit() else -1
        while _shared_memory_attachments(shmid) > 0:
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"processes of the server that ran as pid {pid} still hold its shared memory; "
                    f"stop them (they run in {self.data_dir}) and start again"
                )
            time.sleep(_POLL_INTERVAL_SECONDS)
        socket_lock = self.socket_dir / f".s.PGSQL.{PORT}.lock"
        if _read_lines(socket_lock)[:1] == [str(pid)]:
            socket_lock.unlink(missing_ok=True)
        pid_file.unlink(missing_ok=True)

    def _server_account(self) -> pwd.struct_passwd | None:
        """The OS account the server programs run as when amends runs as root (they refuse root); None otherwise.

        That is the owner of an existing cluster, or the postgres user for a new one.
        """
        if os.geteuid() != 0:
            return None
        owner = self.data_dir.stat().st_uid if self.initialized() else 0
        try:
            return pwd.getpwuid(owner) if owner != 0 else pwd.getpwnam(SERVER_OS_USER)
        except KeyError as error:
            raise ClusterError(
                f"PostgreSQL cannot run as root and there is no {SERVER_OS_USER} OS user to run it as: "
                f"`{INSTALL_HINT}` creates one"
            ) from error

    def _run_as_server(
        self, program: Path, *arguments: str, timeout_seconds: float = _COMMAND_TIMEOUT_SECONDS
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(program), *arguments]
        account = self._server_account()
        if account is None:
            return _run(argv, timeout_seconds)
        # Checked before every command, not only at init: a chmod of a parent
        # directory (pytest tightens /tmp/pytest-of-<user> at each session's
        # start) also clears the ACL mask that let the server's user through.
        if self.data_dir.exists():
            _let_through(self.data_dir, account)
        if shutil.which("runuser"):
            return _run(["runuser", "-u", account.pw_name, "--", *argv], timeout_seconds)
        if shutil.which("setpriv"):
            identity = [f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups"]
            return _run(["setpriv", *identity, "--", *argv], timeout_seconds)
        return _run(["su", "-s", "/bin/sh", account.pw_name, "-c", shlex.join(argv)], timeout_seconds)
