"""The reconciliation projection: runs the rules over the journal, each input exactly once.

What it emits is stored with its tracking position in one transaction. Its state is
never stored: on start it replays the inputs it had already processed (emitting nothing),
which rebuilds exactly the state it had, because the rules are pure.
"""

from collections.abc import Iterable

from eventsourcing.persistence import IntegrityError

from trueup.adapters.store.journal import PAGE, Journal
from trueup.adapters.store.lease import Lease
from trueup.domain.emitted import Emitted
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig

TRACKER = "reconciler"


class ReconciliationProjection:
    """Follows one journal; ``catch_up`` processes whatever was appended since last time."""

    def __init__(
        self,
        journal: Journal,
        config: RuleConfig | None = None,
        tracker: str = TRACKER,
        lease: Lease | None = None,
    ) -> None:
        self.journal = journal
        self.tracker = tracker
        # When given, every write is preceded by a check that this process still holds it.
        self.lease = lease
        self.reconciler = Reconciler(config)
        self.position = 0
        self._rebuild()

    def _rebuild(self) -> None:
        tracked = self.journal.tracked_position(self.tracker)
        while self.position < tracked:
            events, self.position = self.journal.inputs(self.position, upto=tracked)
            for _, event in events:
                self.reconciler.apply(event)

    def catch_up(self, page: int = PAGE) -> list[Emitted]:
        """Process every input stored since the last call; returns what was emitted."""
        emitted_all: list[Emitted] = []
        while True:
            events, last = self.journal.inputs(self.position, limit=page)
            if last == self.position:
                return emitted_all
            emitted = _distinct(e for _, event in events for e in self.reconciler.apply(event))
            # Recorded even when the page held no input (only what was emitted), so that
            # the tracking position reaches the end of the journal.
            self._record(emitted, last)
            self.position = last
            emitted_all += emitted

    def _record(self, emitted: list[Emitted], last: int) -> None:
        if self.lease is None:
            self.journal.record(emitted, self.tracker, last)
            return
        if not self.lease.held():
            raise LeaseLost(f"lost the {self.lease.name} lease before recording {last}")
        try:
            self.journal.record(emitted, self.tracker, last)
        except IntegrityError:
            # Only another holder records the same position or events: ours was lost.
            raise LeaseLost(f"another process recorded {self.tracker} at {last}") from None


class LeaseLost(Exception):
    """This process no longer holds the projection's lease; it must stop writing."""


def _distinct(emitted: Iterable[Emitted]) -> list[Emitted]:
    """Each event once: one identical to another (same id) would say nothing new."""
    first: dict[str, Emitted] = {}
    for event in emitted:
        first.setdefault(event.event_id, event)
    return list(first.values())


def replay(journal: Journal, config: RuleConfig | None = None) -> Reconciler:
    """The reconciled state as of the journal's end, rebuilt from its inputs."""
    reconciler = Reconciler(config)
    position = 0
    while True:
        events, last = journal.inputs(position)
        if last == position:
            return reconciler
        for _, event in events:
            reconciler.apply(event)
        position = last
