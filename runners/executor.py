"""``trueup execute``: the executor of one venue account as a process, until SIGINT or
SIGTERM, supervised as every follower is (runners/supervised.py). Run several: one holds the
account's executor lease and works, the others stand by."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from trueup.application.executor import Executor, log
from trueup.domain.emitted import Emitted, OrderRequested
from trueup.runners.supervised import run_supervised

STOP_TIMEOUT_S = 30.0


def run_executor(
    executor: Executor, poll_ms: int, stop: threading.Event, wake: threading.Event | None = None
) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while the venue asks us to
    wait, or a step fails. ``wake``, set by whoever saw ORDER_REQUESTED stored (a projection
    in this process), makes it step at once; set it after ``stop`` to end at once."""
    run_supervised(executor, poll_ms, stop, log, "executor", wake=wake)


@contextmanager
def executing(executor: Executor, poll_ms: int) -> Iterator[Callable[[Emitted], None]]:
    """``executor`` at work in a thread of this process while inside; yields the hook that
    wakes it for each ORDER_REQUESTED a projection of this process emits."""
    stop, wake = threading.Event(), threading.Event()
    thread = threading.Thread(
        target=run_executor, args=(executor, poll_ms, stop, wake), name="executor"
    )
    thread.start()

    def woken(event: Emitted) -> None:
        if isinstance(event, OrderRequested):
            wake.set()

    try:
        yield woken
    finally:
        stop.set()
        wake.set()
        thread.join(STOP_TIMEOUT_S)
