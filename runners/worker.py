"""``trueup worker``: the projections as a process of their own, following the journal.

Stop it any way, kill -9 included: what it emitted is stored with its tracking position in
one transaction, and a restart rebuilds its state from the inputs it had processed. Run
several: one holds the lease and works, the others stand by and take over when it dies.
"""

import logging
import threading
from typing import TYPE_CHECKING

from trueup.adapters.store.journal import PAGE, Journal
from trueup.projections.leased import LeasedProjection
from trueup.runners.rules_file import RulesFile

if TYPE_CHECKING:
    from trueup.application.service import TrueupService

log = logging.getLogger("trueup.worker")


def run_worker(
    journal: Journal,
    rules_file: RulesFile | None,
    poll_ms: int,
    stop: threading.Event,
    batch: int = PAGE,
) -> int:
    """Poll for new inputs every ``poll_ms`` until ``stop`` is set, running the projections
    while this worker holds their lease, standing by while another process does.

    ``batch`` inputs are processed and recorded per transaction. A ``rules_file``'s rules
    are put in force at the start, and again whenever it changes or on SIGHUP.
    """
    leased = LeasedProjection(journal)
    emitted = 0
    standing_by = False
    service: TrueupService | None = None
    if rules_file is not None:
        # Loaded only to record rules: a worker's start (an ingest's detector process waits
        # on it) is a tenth shorter without the queries' modules.
        from trueup.application import service as application

        service = application.TrueupService(journal)
        service.put_rules_in_force(rules_file.rules, str(rules_file.path))
    while not stop.is_set():
        changed = rules_file.changed() if rules_file is not None else None
        if changed is not None and rules_file is not None and service is not None:
            service.put_rules_in_force(changed, str(rules_file.path))
        found = leased.catch_up(page=batch)
        if found:
            emitted += len(found)
            log.info("at position %d: emitted %d events", leased.position, len(found))
        if standing_by != (not leased.holding):
            standing_by = not leased.holding
            if standing_by:
                log.info("standing by: another process runs the projections")
        stop.wait(poll_ms / 1000)
    if leased.holding:
        emitted += len(leased.catch_up())
    leased.release()
    return emitted
