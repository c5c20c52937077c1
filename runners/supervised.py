"""A follower of the journal as a process, until SIGINT or SIGTERM: ``trueup execute``'s
executor, ``trueup notify``'s notifier.

Supervised: a step that fails (the venue, a target or the journal away, a bug on one
request) is logged and tried again after a capped back-off; it never ends the process. Run
several: one holds the follower's lease and works, the others stand by.
"""

import logging
import threading
from typing import Protocol

MAX_BACKOFF_S = 5.0


class StepDone(Protocol):
    @property
    def holding(self) -> bool:
        """Whether this process held the lease, and worked."""

    @property
    def retrying(self) -> int:
        """How much was left to try again: the next step waits a back-off."""


class Follower(Protocol):
    def step(self) -> StepDone: ...

    def release(self) -> None: ...


def run_supervised(
    follower: Follower, poll_ms: int, stop: threading.Event, log: logging.Logger, role: str
) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while a step asks to, or fails.
    ``role``: what it is, in the log (``executor``, ``notifier``)."""
    failures = 0
    holding = False
    try:
        while not stop.is_set():
            try:
                done = follower.step()
            except Exception:  # one bad step must never stop the follower
                failures += 1
                log.exception("%s step failed (%d in a row)", role, failures)
                stop.wait(_backoff(failures))
                continue
            if done.holding != holding:
                holding = done.holding
                log.info("%s", "working" if holding else f"standing by: another {role} runs")
            failures = failures + 1 if done.retrying else 0
            stop.wait(_backoff(failures) if failures else poll_ms / 1000)
    finally:
        follower.release()


def _backoff(failures: int) -> float:
    return float(min(MAX_BACKOFF_S, 0.1 * 2 ** (failures - 1)))
