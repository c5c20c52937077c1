"""``trueup execute``: the executor of one venue account as a process, until SIGINT or SIGTERM.

Supervised: a step that fails (the venue or the journal away, a bug on one request) is
logged and tried again after a capped back-off; it never ends the process. Run several:
one holds the account's executor lease and works, the others stand by.
"""

import logging
import threading

from trueup.application.executor import Executor

log = logging.getLogger("trueup.executor")
MAX_BACKOFF_S = 5.0


def run_executor(executor: Executor, poll_ms: int, stop: threading.Event) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while the venue asks us to
    wait, or a step fails."""
    failures = 0
    holding = False
    try:
        while not stop.is_set():
            try:
                done = executor.step()
            except Exception:  # one bad step must never stop the executor
                failures += 1
                log.exception("executor step failed (%d in a row)", failures)
                stop.wait(_backoff(failures))
                continue
            if done.holding != holding:
                holding = done.holding
                log.info("%s", "executing" if holding else "standing by: another executor runs")
            failures = failures + 1 if done.retrying else 0
            stop.wait(_backoff(failures) if failures else poll_ms / 1000)
    finally:
        executor.release()


def _backoff(failures: int) -> float:
    return float(min(MAX_BACKOFF_S, 0.1 * 2 ** (failures - 1)))
