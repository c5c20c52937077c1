"""The reconciliation projection as many processes may offer to run it: only the one that
holds the journal's lease does, and another stands by to take over when it dies. The rules
it applies are those recorded in the journal (RulesSet inputs), whoever runs it."""

import logging

from trueup.adapters.store.journal import PAGE, Journal
from trueup.domain.emitted import Emitted
from trueup.projections.reconciliation import TRACKER, LeaseLost, ReconciliationProjection

log = logging.getLogger("trueup.projection")


class LeasedProjection:
    """``catch_up`` runs the projection while this process holds its lease, else does nothing."""

    def __init__(self, journal: Journal, tracker: str = TRACKER) -> None:
        self.journal = journal
        self.tracker = tracker
        self.lease = journal.lease(tracker)
        self.projection: ReconciliationProjection | None = None
        self.ever_held = False

    @property
    def holding(self) -> bool:
        return self.projection is not None

    def catch_up(self, page: int = PAGE) -> list[Emitted]:
        """What the projection emitted since the last call; nothing while another holds it."""
        if self.projection is None and not self._take_over():
            return []
        assert self.projection is not None
        try:
            return self.projection.catch_up(page)
        except LeaseLost as lost:
            log.warning("%s: standing by", lost)
            self.release()
            return []

    def _take_over(self) -> bool:
        if not self.lease.acquire():
            return False
        # Built only now: what the last holder recorded is where this one starts.
        self.projection = ReconciliationProjection(self.journal, None, self.tracker, self.lease)
        self.ever_held = True
        log.info("running the projections, following the journal from position %d", self.position)
        return True

    @property
    def position(self) -> int:
        return 0 if self.projection is None else self.projection.position

    def release(self) -> None:
        """Let the lease go, snapshotting first so whoever takes over starts from here."""
        if self.projection is not None:
            self.projection.checkpoint()
        self.projection = None
        self.lease.release()
