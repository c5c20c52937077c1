"""The reconciliation projection: runs the rules over the journal, each input exactly once.

What it emits is stored with its tracking position in one transaction. Every
SNAPSHOT_EVERY inputs (at most once a minute), and when it stops cleanly, it snapshots its
state; on start it loads
the last snapshot and replays the inputs after it that it had already processed (emitting
nothing), which rebuilds exactly the state it had, because the rules are pure.
"""

import time
from collections.abc import Iterable

from eventsourcing.persistence import IntegrityError

from trueup.adapters.store import snapshots
from trueup.adapters.store.journal import PAGE, Journal
from trueup.adapters.store.lease import Lease
from trueup.adapters.store.snapshots import Snapshot
from trueup.domain.emitted import Emitted
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig

TRACKER = "reconciler"
# Inputs between snapshots: a restart replays about this many at most, or a minute's worth
# when they come faster (plus what came since the last, if it stopped uncleanly).
SNAPSHOT_EVERY = 50_000
SNAPSHOT_MIN_INTERVAL_S = 60.0


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
        tracked = self.journal.tracked_position(tracker)
        start = last_snapshot(journal, tracker, upto=tracked)
        self.reconciler = start.reconciler if start else Reconciler(config)
        self.position = start.position if start else 0
        self.rebuilt_from = self.position
        self.position = _apply_upto(journal, self.reconciler, self.position, tracked)
        self._since_snapshot = self.position - self.rebuilt_from
        self._snapshot_taken = time.monotonic()

    def _snapshot_due(self) -> bool:
        # Taking one costs in proportion to the state, not to what came since: never more
        # often than SNAPSHOT_MIN_INTERVAL_S, however fast the inputs come.
        return (
            self._since_snapshot >= SNAPSHOT_EVERY
            and time.monotonic() - self._snapshot_taken >= SNAPSHOT_MIN_INTERVAL_S
        )

    def checkpoint(self) -> None:
        """Snapshot the state as of ``position``, so the next start replays from here."""
        if self.lease is not None and not self.lease.held():
            return  # another process runs the projection now: its snapshots are the ones
        state = snapshots.dump(Snapshot(self.position, self.reconciler))
        self.journal.save_snapshot(self.tracker, self.position, state)
        self._since_snapshot = 0
        self._snapshot_taken = time.monotonic()

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
            self._since_snapshot += len(events)
            self.position = last
            emitted_all += emitted
            if self._snapshot_due():
                self.checkpoint()

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
    """The reconciled state as of the journal's end: the projection's last snapshot, and the
    inputs after it."""
    start = last_snapshot(journal, TRACKER)
    reconciler = start.reconciler if start else Reconciler(config)
    _apply_upto(journal, reconciler, start.position if start else 0, None)
    return reconciler


def last_snapshot(journal: Journal, tracker: str, upto: int | None = None) -> Snapshot | None:
    """``tracker``'s last snapshot, if one this trueup can read was taken at or before
    ``upto``; None means: rebuild from the first input."""
    stored = journal.load_snapshot(tracker)
    if stored is None or (upto is not None and stored[0] > upto):
        return None
    found = snapshots.load(stored[1])
    return found if found is not None and found.position == stored[0] else None


def _apply_upto(journal: Journal, reconciler: Reconciler, after: int, upto: int | None) -> int:
    """Apply the inputs after journal position ``after`` (to ``upto``, else the end), emitting
    nothing; returns the last position read."""
    position = after
    while upto is None or position < upto:
        events, last = journal.inputs(position, upto=upto)
        if last == position:
            break
        for _, event in events:
            reconciler.apply(event)
        position = last
    return position
