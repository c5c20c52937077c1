"""A follower of the journal as a process, until SIGINT or SIGTERM: ``trueup execute``'s
executor, ``trueup notify``'s notifier.

Supervised: a step that fails (the venue, a target or the journal away, a bug on one
request) is logged, recorded in the loop's status (application/loop_status.py, which /health
reads) and tried again after a capped back-off; it never ends the process. Run several: one
holds the follower's lease and works, the others stand by.
"""

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.application.backlog import Backlog
from trueup.application.loop_status import LoopHeartbeat

MAX_BACKOFF_S = 5.0


class StepDone(Protocol):
    @property
    def holding(self) -> bool:
        """Whether this process held the lease, and worked."""

    @property
    def retrying(self) -> int:
        """How much was left to try again: the next step waits a back-off."""

    @property
    def backlog(self) -> Backlog | None:
        """What it still owes after the step, for its status (a notifier's); None: nothing
        it counts."""


class Follower(Protocol):
    @property
    def journal(self) -> Journal: ...

    @property
    def tracker(self) -> str:
        """Its lease's name, and its status's."""

    @property
    def clock(self) -> Clock: ...

    def step(self) -> StepDone: ...

    def release(self) -> None: ...


def run_supervised(
    follower: Follower,
    poll_ms: int,
    stop: threading.Event,
    log: logging.Logger,
    role: str,
    *,
    wake: threading.Event | None = None,
) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while a step asks to, or fails.
    ``role``: what it is, in the log (``executor``, ``notifier``). ``wake``, when given and
    set, ends a poll's wait at once (never a back-off's)."""
    heartbeat = LoopHeartbeat(follower.journal, follower.tracker, follower.clock)
    failures = 0
    holding = False

    def told(write: Callable[..., None], *args: object) -> None:
        """Write the loop's status; a store that cannot take it now must not stop the loop."""
        try:
            write(*args)
        except Exception:
            log.warning("the %s's status could not be written", role, exc_info=True)

    try:
        while not stop.is_set():
            try:
                done = follower.step()
            except Exception as error:  # one bad step must never stop the follower
                failures += 1
                log.exception("%s step failed (%d in a row)", role, failures)
                told(heartbeat.failure, f"{type(error).__name__}: {error}")
                stop.wait(_backoff(failures))
                continue
            if done.holding != holding:
                holding = done.holding
                log.info("%s", "working" if holding else f"standing by: another {role} runs")
            if holding:
                # A standby says nothing: the status is the working one's.
                told(heartbeat.success, done.backlog)
            failures = failures + 1 if done.retrying else 0
            if failures:
                stop.wait(_backoff(failures))
            else:
                _pause(poll_ms / 1000, stop, wake)
    finally:
        if holding:
            told(heartbeat.stopped)
        follower.release()


def _pause(seconds: float, stop: threading.Event, wake: threading.Event | None) -> None:
    """Until the next poll, or a wake-up; cleared before the step it starts, so what is
    stored during that step wakes the next one."""
    if wake is None:
        stop.wait(seconds)
        return
    wake.wait(seconds)
    wake.clear()


def _backoff(failures: int) -> float:
    return float(min(MAX_BACKOFF_S, 0.1 * 2 ** (failures - 1)))
