"""``trueup serve --workers N``: N serving processes answering on one listening socket.

One Python process answers a few hundred requests a second; several share the cores. Each is
a whole server over the journal, with readers, kept answers and an event-stream follower of
its own (every stream sees every event, whichever process it reached), and each offers to
run the projection: the partitions' leases let exactly one process run each partition, and
another takes it over when that one dies. One process comes to run them all, and a POST
reaching another is forwarded to it (runners/http_siblings.py, runners/http_forwarding.py).
A process that ends is replaced; SIGINT or SIGTERM stops them all. Their metrics go to files
in a directory of this process's making, which any of them sums when scraped
(prometheus-client's multiprocess mode), removed at the end.
"""

import logging
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess

from prometheus_client import multiprocess

from trueup.adapters.store.journal import Journal
from trueup.runners.http_api import ApiSettings, create_app
from trueup.runners.http_metrics import MULTIPROCESS_ENV
from trueup.runners.http_server import bind, server
from trueup.runners.http_siblings import Siblings, forget
from trueup.runners.usage import UsageError

log = logging.getLogger("trueup.http")

# Each process starts afresh (spawn, not fork): no connection or thread of the parent's
# is carried into it.
_SPAWN = multiprocessing.get_context("spawn")
WATCH_S = 0.5  # how often the processes are looked at
STOP_S = 10.0  # how long a process has to stop before it is killed
# A process that ends within this of its start, this many times in a row, is not replaced
# again: it cannot start (a journal unreachable, say), and would only fail again.
EARLY_END_S = 10.0
EARLY_ENDS = 3


@dataclass(frozen=True)
class Worker:
    """What each serving process is given: the store, the listening socket, the server's
    settings (the token included: handed over a pipe, never on a command line), how long
    the journal may be unreachable, and how it sets up its log."""

    url: str
    sock: socket.socket
    settings: ApiSettings
    give_up_after_s: float | None
    setup_logging: Callable[[], None]


def serve_workers(
    journal: Journal,
    host: str,
    port: int,
    *,
    settings: ApiSettings,
    count: int,
    stop: threading.Event,
    setup_logging: Callable[[], None],
) -> None:
    """Serve ``journal``'s store from ``count`` processes until ``stop`` is set, replacing
    any that ends; then stop them all. This process only watches them."""
    if journal.url is None:
        raise UsageError("serve --workers needs the journal's store URL")
    sock = bind(host, port, settings)
    log.info("answering from %d processes", count)
    # The first slot's process counts the events the journal stores, for all of them (each
    # follower sees every one); its replacement counts on from its own start.
    with (
        metrics_directory() as directory,
        tempfile.TemporaryDirectory(prefix="trueup-serve-") as meeting,
    ):
        workers = [
            Worker(
                journal.url,
                sock,
                replace(settings, counts_stored=slot == 0, siblings=meeting),
                journal.give_up_after_s,
                setup_logging,
            )
            for slot in range(count)
        ]
        running = [_start(worker) for worker in workers]
        early: list[int] = [0] * count
        started = [time.monotonic()] * count
        try:
            while not stop.wait(WATCH_S):
                for slot, process in enumerate(running):
                    if process.exitcode is None:
                        continue
                    # Its gauges (streams open, lag) go; its counts stay in the sums.
                    multiprocess.mark_process_dead(process.pid, directory)  # type: ignore[no-untyped-call]
                    # Its siblings stop forwarding to it, and take its partitions over.
                    if process.pid is not None:
                        forget(meeting, process.pid)
                    lived = time.monotonic() - started[slot]
                    early[slot] = early[slot] + 1 if lived < EARLY_END_S else 0
                    if early[slot] >= EARLY_ENDS:
                        raise UsageError(
                            f"a serving process ended {EARLY_ENDS} times within "
                            f"{EARLY_END_S:g} s of its start (last exit status "
                            f"{process.exitcode}): see its log above"
                        )
                    log.warning(
                        "serving process %d ended (exit status %s): starting another",
                        process.pid,
                        process.exitcode,
                    )
                    running[slot] = _start(workers[slot])
                    started[slot] = time.monotonic()
        finally:
            _stop_all(running)


@contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh directory for the serving processes' metrics, named in the environment they
    inherit (prometheus-client reads it as it is imported, so before they start), removed
    with what is in it when they have all stopped."""
    previous = os.environ.get(MULTIPROCESS_ENV)
    with tempfile.TemporaryDirectory(prefix="trueup-metrics-") as directory:
        os.environ[MULTIPROCESS_ENV] = directory
        try:
            yield directory
        finally:
            if previous is None:
                del os.environ[MULTIPROCESS_ENV]
            else:
                os.environ[MULTIPROCESS_ENV] = previous


def _start(worker: Worker) -> BaseProcess:
    process = _SPAWN.Process(target=_serve_one, args=(worker,), name="trueup-serve", daemon=False)
    process.start()
    log.info("serving process %d started", process.pid)
    return process


def _stop_all(running: list[BaseProcess]) -> None:
    for process in running:
        if process.exitcode is None:
            process.terminate()  # SIGTERM: it ends its streams and lets its leases go
    deadline = time.monotonic() + STOP_S
    for process in running:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            log.warning("serving process %d did not stop in time: killed", process.pid)
            process.kill()
            process.join()


def _serve_one(worker: Worker) -> None:
    """One serving process: the store opened afresh, served on the shared socket, and on a
    socket of its own for its siblings."""
    worker.setup_logging()
    assert worker.settings.siblings is not None
    own = Siblings(worker.settings.siblings, os.getpid()).listen()
    with Journal.open(worker.url, give_up_after_s=worker.give_up_after_s, create=False) as journal:
        server(create_app(journal, worker.settings)).run(sockets=[worker.sock, own])
