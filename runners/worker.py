"""``trueup worker``: the projections as a process of their own, following the journal.

Stop it any way, kill -9 included: what it emitted is stored with its tracking position in
one transaction, and a restart rebuilds its state from the inputs it had processed.
"""

import logging
import signal
import threading
from types import FrameType

from trueup.adapters.store.journal import PAGE, Journal
from trueup.domain.rules.config import RuleConfig
from trueup.projections.reconciliation import ReconciliationProjection

log = logging.getLogger("trueup.worker")


def run_worker(
    journal: Journal, config: RuleConfig, poll_ms: int, stop: threading.Event, batch: int = PAGE
) -> int:
    """Catch up, then poll for new inputs every ``poll_ms`` until ``stop`` is set.

    ``batch`` inputs are processed and recorded per transaction.
    """
    projection = ReconciliationProjection(journal, config)
    log.info("worker following the journal from position %d", projection.position)
    emitted = 0
    while not stop.is_set():
        found = projection.catch_up(batch)
        if found:
            emitted += len(found)
            log.info("at position %d: emitted %d events", projection.position, len(found))
        stop.wait(poll_ms / 1000)
    projection.catch_up()
    return emitted


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so the worker finishes its batch and exits."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %d", signum)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop
