"""``trueup execute``: the executor of one venue account as a process, until SIGINT or SIGTERM.

Supervised: a step that fails (the venue or the journal away, a bug on one request) is
logged, recorded in the loop's status (application/loop_status.py, which /health reads) and
tried again after a capped back-off; it never ends the process. Run several: one holds the
account's executor lease and works, the others stand by.
"""

import logging
import threading
from collections.abc import Callable

from trueup.application.executor import Executor
from trueup.application.loop_status import LoopHeartbeat

log = logging.getLogger("trueup.executor")
MAX_BACKOFF_S = 5.0


def run_executor(executor: Executor, poll_ms: int, stop: threading.Event) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while the venue asks us to
    wait, or a step fails."""
    heartbeat = LoopHeartbeat(executor.journal, executor.tracker, executor.clock)
    failures = 0
    holding = False
    try:
        while not stop.is_set():
            try:
                done = executor.step()
            except Exception as error:  # one bad step must never stop the executor
                failures += 1
                log.exception("executor step failed (%d in a row)", failures)
                _told(heartbeat.failure, f"{type(error).__name__}: {error}")
                stop.wait(_backoff(failures))
                continue
            if done.holding != holding:
                holding = done.holding
                log.info("%s", "executing" if holding else "standing by: another executor runs")
            if holding:
                # A standby says nothing: the status is the working executor's.
                _told(heartbeat.success)
            failures = failures + 1 if done.retrying else 0
            stop.wait(_backoff(failures) if failures else poll_ms / 1000)
    finally:
        if holding:
            _told(heartbeat.stopped)
        executor.release()


def _told(write: Callable[..., None], *args: str) -> None:
    """Write the loop's status; a store that cannot take it now must not stop the loop."""
    try:
        write(*args)
    except Exception:
        log.warning("the executor's status could not be written", exc_info=True)


def _backoff(failures: int) -> float:
    return float(min(MAX_BACKOFF_S, 0.1 * 2 ** (failures - 1)))
