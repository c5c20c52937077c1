"""The reconciliation projection: runs the rules over the journal, each input exactly once.

What it emits is stored with its tracking position, and the views its inputs touched
(projections/views.py), in one transaction. Every
SNAPSHOT_EVERY inputs (at most once a minute), and when it stops cleanly, it snapshots its
state; on start it loads
the last snapshot and replays the inputs after it that it had already processed (emitting
nothing), which rebuilds exactly the state it had, because the rules are pure.
"""

import time
from collections.abc import Iterable

import orjson
from eventsourcing.persistence import IntegrityError

from trueup.adapters.store import codec, snapshots
from trueup.adapters.store.journal import PAGE, Journal
from trueup.adapters.store.lease import Lease
from trueup.adapters.store.snapshots import Snapshot
from trueup.adapters.store.view_table import RecentKind, ViewWrites
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig
from trueup.projections import views

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
        self.reconciler.touched.take()  # the views hold all that, as of ``tracked``
        if journal.views().format(tracker) != views.VIEWS_FORMAT:
            # Views of another trueup's making, or none yet (an older journal): all afresh.
            self._write_every_view()

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
            self._record(emitted, last, self._view_writes(events, emitted, last))
            self._since_snapshot += len(events)
            self.position = last
            emitted_all += emitted
            if self._snapshot_due():
                self.checkpoint()

    def _view_writes(
        self, events: list[tuple[int, InputEvent]], emitted: list[Emitted], last: int
    ) -> ViewWrites:
        """The views the page touched, and what it adds to the recent log."""
        writes = ViewWrites(self.tracker, views.VIEWS_FORMAT)
        _add_views(writes, views.touched_views(self.reconciler, self.reconciler.touched.take()))
        writes.recent += [_recent(e, last, i) for i, e in enumerate(emitted)]
        writes.recent += [
            _recent(event, position, 0)
            for position, event in events
            if isinstance(event, InputRejected) and event.venue
        ]
        return writes

    def _write_every_view(self) -> None:
        """Every view as the state has it now, and the recent log from the journal."""
        if self.lease is not None and not self.lease.held():
            raise LeaseLost(f"lost the {self.lease.name} lease before writing the views")
        writes = ViewWrites(self.tracker, views.VIEWS_FORMAT, replace_all=True)
        _add_views(writes, views.every_view(self.reconciler))
        writes.recent = [
            _recent(event, position, 0)
            for position, event in self.journal.emitted_and_refused(self.position)
            if event.venue
        ]
        self.journal.write_views(writes)

    def _record(self, emitted: list[Emitted], last: int, writes: ViewWrites) -> None:
        if self.lease is None:
            self.journal.record(emitted, self.tracker, last, writes)
            return
        if not self.lease.held():
            raise LeaseLost(f"lost the {self.lease.name} lease before recording {last}")
        try:
            self.journal.record(emitted, self.tracker, last, writes)
        except IntegrityError:
            # Only another holder records the same position or events: ours was lost.
            raise LeaseLost(f"another process recorded {self.tracker} at {last}") from None


class LeaseLost(Exception):
    """This process no longer holds the projection's lease; it must stop writing."""


def _add_views(writes: ViewWrites, built: Iterable[views.AccountView | views.SymbolView]) -> None:
    for view in built:
        if isinstance(view, views.SymbolView):
            writes.symbols.append((view.venue, view.account, view.symbol, views.encode(view)))
        else:
            writes.accounts.append((view.venue, view.account, views.encode(view)))


def _recent(
    event: Emitted | InputRejected, position: int, ordinal: int
) -> tuple[str, str, str, str, int, int, bytes]:
    """A row of the recent log: emitted events under their symbol ('' if account-wide),
    refused inputs under the account."""
    if isinstance(event, InputRejected):
        body = orjson.dumps({"at": event.at, "reason": event.reason, "endpoint": event.endpoint})
        return (event.venue, event.account, RecentKind.REJECTED.value, "", position, ordinal, body)
    body = orjson.dumps(codec.as_json(event))
    symbol = event.symbol or ""
    return (event.venue, event.account, RecentKind.EMITTED.value, symbol, position, ordinal, body)


def _distinct(emitted: Iterable[Emitted]) -> list[Emitted]:
    """Each event once: one identical to another (same id) would say nothing new."""
    first: dict[str, Emitted] = {}
    for event in emitted:
        first.setdefault(event.event_id, event)
    return list(first.values())


def replay(
    journal: Journal, config: RuleConfig | None = None, *, as_of: int | None = None
) -> Reconciler:
    """The reconciled state as of the journal's end: the projection's last snapshot, and the
    inputs after it. With ``as_of``, as of that instant: only the inputs stored by then
    (those whose ``at`` is no later), from the snapshot only if it holds none after."""
    start = last_snapshot(journal, TRACKER)
    if start is not None and as_of is not None and _latest_input(start.reconciler) > as_of:
        start = None
    reconciler = start.reconciler if start else Reconciler(config)
    _apply_upto(journal, reconciler, start.position if start else 0, None, as_of)
    return reconciler


def _latest_input(reconciler: Reconciler) -> int:
    return max((book.clock for book in reconciler.books.values()), default=0)


def last_snapshot(journal: Journal, tracker: str, upto: int | None = None) -> Snapshot | None:
    """``tracker``'s last snapshot, if one this trueup can read was taken at or before
    ``upto``; None means: rebuild from the first input."""
    stored = journal.load_snapshot(tracker)
    if stored is None or (upto is not None and stored[0] > upto):
        return None
    found = snapshots.load(stored[1])
    return found if found is not None and found.position == stored[0] else None


def _apply_upto(
    journal: Journal,
    reconciler: Reconciler,
    after: int,
    upto: int | None,
    as_of: int | None = None,
) -> int:
    """Apply the inputs after journal position ``after`` (to ``upto``, else the end; none
    later than ``as_of``, if given), emitting nothing; returns the last position read."""
    position = after
    while upto is None or position < upto:
        events, last = journal.inputs(position, upto=upto)
        if last == position:
            break
        for _, event in events:
            if as_of is None or event.at <= as_of:
                reconciler.apply(event)
        position = last
    return position
