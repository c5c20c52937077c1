"""The reconciliation projection: runs the rules over the journal, each input exactly once,
per account partition (projections/partitions.py).

Each partition has its own reconciler, tracking position, snapshot and views, so different
processes can run different partitions. One projection runs the partitions it is given,
reading the journal once for all of them, and stores what they emitted, their positions
and the views their inputs touched (projections/views.py) in one transaction. Every
SNAPSHOT_EVERY inputs (at most once a minute), and when it stops cleanly with that many
unsaved, each partition snapshots its state; on start each loads its last snapshot and
replays the inputs after it that it had already processed (emitting nothing), which
rebuilds exactly the state it had, because the rules are pure.
"""

import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError
from msgspec.structs import replace

from trueup.adapters.store import codec, snapshots
from trueup.adapters.store.journal import PAGE, Appended, Journal
from trueup.adapters.store.lease import Lease
from trueup.adapters.store.location import StoreError
from trueup.adapters.store.snapshots import Snapshot
from trueup.adapters.store.view_table import RecentKind, ViewWrites
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected, RulesSet
from trueup.domain.reconciler import Account, Reconciler
from trueup.domain.rules.config import RuleConfig
from trueup.projections import view_building, views
from trueup.projections.partitions import (
    ALL,
    LEGACY_TRACKER,
    partition_of,
    partition_position,
    partitions_of,
    tracker,
)

log = logging.getLogger("trueup.projection")

# Inputs between snapshots: a restart replays about this many at most, or a minute's worth
# when they come faster (plus what came since the last, if it stopped uncleanly).
SNAPSHOT_EVERY = 50_000
# A clean stop saves the partitions whose saving costs less than the replay it spares a
# restart (``_worth_saving``): one input read, decoded and applied again costs about what
# saving this many bytes of snapshot does (measured on the bench's journal of 10,000
# positions: about 60 us an input, 50 ns a stored byte). Counted in inputs, not journal
# positions, which each input's marker and each emitted event take too.
SNAPSHOT_BYTES_PER_INPUT = 1_000
SNAPSHOT_MIN_INTERVAL_S = 60.0


# A row of the recent log (adapters/store/view_table.py).
RecentRow = tuple[int, str, str, str, str, int, int, bytes]

# Told, once they are stored, of the inputs a step processed (with their positions) and what
# they made the detectors emit: the HTTP server times detection with it.
Recorded = Callable[[list[tuple[int, InputEvent]], list[Emitted]], object]


class LeaseLost(Exception):
    """This process no longer holds some partitions' leases; it must stop writing for them."""

    def __init__(self, message: str, partitions: Iterable[int] = ALL) -> None:
        super().__init__(message)
        self.partitions = tuple(partitions)


class Partition:
    """One account partition as a projection runs it: its reconciler, how far it has got."""

    def __init__(self, number: int, position: int, lease: Lease | None):
        self.number = number
        self.tracker = tracker(number)
        # None while asleep: its state is loaded when an input of its own first comes (a
        # restart loads only the partitions that have work), see ReconciliationProjection.
        self.reconciler: Reconciler | None = None
        # Processed up to here; recorded (in the journal) up to ``recorded``, which lags
        # only over pages that held no input (see ``catch_up``).
        self.position = position
        self.recorded = position
        # The format its views were last written in by this process (None: not yet).
        self.views_format: str | None = None
        # When given, every write is preceded by a check that this process still holds it.
        self.lease = lease
        # The inputs (its own and others') stored after its state was last saved: a restart
        # reads each of them again; and of those, its own, which it applies again.
        self.unsaved = 0
        self.since_snapshot = 0
        self.snapshot_taken = time.monotonic()
        # The size of its last snapshot, stored (0: none): what saving it again costs.
        self.saved_bytes = 0

    def snapshot_due(self) -> bool:
        # Taking one costs in proportion to the state, not to what came since: never more
        # often than SNAPSHOT_MIN_INTERVAL_S, however fast the inputs come. Counted in its
        # own inputs: one due saves every partition (``checkpoint``), which would otherwise
        # come about every SNAPSHOT_EVERY inputs of anyone's.
        return (
            self.since_snapshot >= SNAPSHOT_EVERY
            and time.monotonic() - self.snapshot_taken >= SNAPSHOT_MIN_INTERVAL_S
        )

    def held(self) -> bool:
        return self.lease is None or self.lease.held()


class ReconciliationProjection:
    """Follows one journal for some partitions (all by default); ``catch_up`` processes
    whatever was appended since last time."""

    def __init__(
        self,
        journal: Journal,
        config: RuleConfig | None = None,
        partitions: Iterable[int] = ALL,
        leases: Mapping[int, Lease] | None = None,
        on_recorded: Recorded | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.on_recorded = on_recorded
        self.partitions: dict[int, Partition] = {}
        self._rebuilt_from: dict[int, int] = {}
        self.add(partitions, leases)

    @property
    def position(self) -> int:
        """Where the partition furthest behind has got to (0 with none)."""
        return min((p.position for p in self.partitions.values()), default=0)

    @property
    def rebuilt_from(self) -> int:
        """The earliest snapshot position the partitions were rebuilt from."""
        return min(self._rebuilt_from.values(), default=0)

    def add(self, numbers: Iterable[int], leases: Mapping[int, Lease] | None = None) -> None:
        """Take on partitions, asleep: each is rebuilt (from its last snapshot and the inputs
        it had processed after it) when an input of its own first comes; at once if its
        views are not this trueup's, for they are then written afresh."""
        added = [
            Partition(n, partition_position(self.journal, n), (leases or {}).get(n))
            for n in numbers
            if n not in self.partitions
        ]
        for part in added:
            self.partitions[part.number] = part
        # Views of another trueup's making, or none yet (an older journal): afresh.
        table, wanted = self.journal.views(), self._views_format()
        stale = [p for p in added if table.format(p.tracker) != wanted]
        self._wake(stale)
        self._write_every_view(stale)

    def _wake(self, parts: list[Partition]) -> None:
        """Load the state of those asleep: their snapshots, and the inputs after each they
        had processed (none of theirs came since they were taken on, or they would be awake)."""
        asleep = [p for p in parts if p.reconciler is None]
        if not asleep:
            return
        numbers = [p.number for p in asleep]
        starts = _starts(self.journal, numbers, self.config, as_of=None)
        _apply(self.journal, starts, upto={p.number: p.position for p in asleep}, as_of=None)
        for part in asleep:
            start = starts[part.number]
            # The views hold all that already; the lifecycles it closed again are upserted
            # with the next write (the history of a journal an older trueup kept, too).
            start.reconciler.touched.take()
            part.reconciler = start.reconciler
            part.unsaved, part.since_snapshot = start.read, start.applied
            part.saved_bytes = start.size
            self._rebuilt_from[part.number] = start.position

    def _wake_for(self, events: list[tuple[int, InputEvent]]) -> None:
        """Wake at once every partition asleep that some of these inputs are for: each wake
        reads the journal from its snapshot on, so one at a time, as their inputs come, would
        read it again for each (16 times over, after an ingest that did not save)."""
        partitions = self.partitions
        if all(p.reconciler is not None for p in partitions.values()):
            return
        wanted: set[int] = set()
        for where, event in events:
            for n in partitions_of(event):
                part = partitions.get(n)
                if part is not None and part.reconciler is None and part.position < where:
                    wanted.add(n)
        self._wake([partitions[n] for n in sorted(wanted)])

    def checkpoint(self) -> None:
        """Snapshot each partition's state as of its position, so the next start replays
        from there."""
        self._checkpoint(self.partitions.values())

    def stop(self, let_go: Callable[[], object] = lambda: None) -> None:
        """Record what is processed, call ``let_go`` (which lets the leases go), then snapshot
        the partitions a restart would find dear to replay: a short run (an ingest of one
        capture) must not pay for saving all of the state it loaded, when reading its inputs
        again costs a fraction of that. Whoever takes over need not wait for these
        snapshots: each replaces only an earlier one."""
        self._record_deferred()
        dear = _worth_saving(_saveable(self.partitions.values()))
        let_go()
        # Of state recorded (its events stored): so the next holder may start from it.
        for part in dear:
            try:
                self._save(part, unless_later=True)
            except StoreError as error:
                log.warning("snapshots not saved at the stop (the next start replays): %s", error)
                return

    def remove(self, numbers: Iterable[int]) -> None:
        """Stop running these partitions, their state snapshotted first, so whoever takes
        them next starts where this process left off."""
        parts = [self.partitions[n] for n in numbers if n in self.partitions]
        self._checkpoint(parts)
        for part in parts:
            del self.partitions[part.number]
            self._rebuilt_from.pop(part.number, None)

    def _checkpoint(self, parts: Iterable[Partition]) -> None:
        self._record_deferred()
        for part in _saveable(parts):
            self._save(part)

    def _save(self, part: Partition, *, unless_later: bool = False) -> None:
        assert part.reconciler is not None
        state = snapshots.dump(Snapshot(part.position, part.reconciler))
        self.journal.save_snapshot(part.tracker, part.position, state, unless_later=unless_later)
        part.unsaved = part.since_snapshot = 0
        part.saved_bytes = len(state)
        part.snapshot_taken = time.monotonic()

    def catch_up(self, appended: Appended | None = None, *, page: int = PAGE) -> list[Emitted]:
        """Process every input stored since the last call; returns what was emitted.
        ``appended``, what this process has just appended, is taken as it is, without
        reading it back, when every partition has processed all before it."""
        emitted_all: list[Emitted] = []
        took_inputs = False
        if appended is not None and appended.span is not None and self.partitions:
            first, last = appended.span
            if all(p.position == first - 1 for p in self.partitions.values()):
                emitted_all += self._process(list(appended.inputs), last)
                took_inputs = True
        while self.partitions:
            position = self.position
            events, last = self.journal.inputs(position, limit=page)
            if last == position:
                break
            if not events:
                # Nothing to process (most often what this projection emitted last time):
                # recorded with the next inputs, or below if none come, not in a
                # transaction of its own after every batch.
                for part in self.partitions.values():
                    part.position = max(part.position, last)
                continue
            emitted_all += self._process(events, last)
            took_inputs = True
        if not took_inputs:
            self._record_deferred()  # idle: the journal's end, recorded
        return emitted_all

    def _process(self, events: list[tuple[int, InputEvent]], last: int) -> list[Emitted]:
        """Apply the inputs stored up to position ``last`` and record what they made."""
        self._wake_for(events)
        emitted: list[Emitted] = []
        for where, event in events:
            emitted += self._apply(where, event)
        emitted = _distinct(emitted)
        stored_at = [where for where, _ in events]
        for part in self.partitions.values():
            part.unsaved += len(stored_at) - bisect_right(stored_at, part.position)
            part.position = max(part.position, last)
        self._record(emitted, events)
        if self.on_recorded is not None and emitted:
            self.on_recorded(events, emitted)
        if any(p.snapshot_due() for p in self.partitions.values()):
            self.checkpoint()
        return emitted

    def _record_deferred(self) -> None:
        """Record the positions processed but not yet recorded, if any."""
        if any(p.position > p.recorded for p in self.partitions.values()):
            self._record([], [])

    def _apply(self, where: int, event: InputEvent) -> list[Emitted]:
        """What the partitions that take ``event`` (stored at ``where``) emit for it; they are
        awake (``_wake_for``, before the batch)."""
        numbers = partitions_of(event)
        if len(numbers) == 1 and event.venue:  # an account's input: one partition's, at most
            part = self.partitions.get(numbers[0])
            if part is None or part.position >= where:
                return []
            assert part.reconciler is not None
            part.since_snapshot += 1
            return part.reconciler.apply(event)
        found: list[Emitted] = []
        parts = [self.partitions[n] for n in numbers if n in self.partitions]
        parts = [p for p in parts if p.position < where]
        for part in parts:
            assert part.reconciler is not None
            found += part.reconciler.apply(event)
            part.since_snapshot += 1
        if len(found) > 1 and not event.venue:
            # A tick for every account: in account order, as one reconciler of them all
            # emits it (each account's own events keep their order).
            found.sort(key=lambda e: (e.venue, e.account))
        return found

    def _record(self, emitted: list[Emitted], events: list[tuple[int, InputEvent]]) -> None:
        """Store what the partitions emitted, the positions they have processed up to, and
        their touched views, in one transaction."""
        parts = [p for p in self.partitions.values() if p.position > p.recorded]
        last = max((p.position for p in parts), default=0)
        lost = [p.number for p in parts if not p.held()]
        if lost:
            raise LeaseLost(f"lost the leases of partitions {lost} before recording {last}", lost)
        # Encoded once: the recent log holds each emitted event in its stored form.
        states = [codec.encode_emitted(e) for e in emitted]
        recent = _recent_by_partition(events, emitted, states, last)
        writes = [w for p in parts if (w := self._view_writes(p, recent.get(p.number, [])))]
        positions = {p.tracker: p.position for p in parts}
        try:
            self.journal.record(emitted, positions, writes, states)
        except IntegrityError:
            if all(p.lease is None for p in parts):
                raise
            # Only another holder records the same position or events: ours were lost.
            raise LeaseLost(f"another process recorded up to {last}") from None
        for part in parts:
            part.recorded = part.position
        for write in writes:
            self.partitions[write.partition].views_format = write.format

    def _views_format(self) -> str:
        # Views built without inputs this trueup cannot read are not to be trusted.
        unknown = "+unknown-inputs" if self.journal.unknown_inputs else ""
        return views.VIEWS_FORMAT + unknown

    def _view_writes(self, part: Partition, recent: list[RecentRow]) -> ViewWrites | None:
        """The partition's views the page touched, and what it adds to the recent log
        (``recent``, its rows of it); None if there is nothing to write."""
        n = part.number
        writes = ViewWrites(part.tracker, n, self._views_format())
        if part.reconciler is not None:  # asleep, it has touched nothing
            touched = part.reconciler.touched.take()
            _add_views(writes, view_building.touched_views(part.reconciler, touched))
            writes.history_gone += view_building.retracted_positions(part.reconciler)
            closed = view_building.closed_positions(part.reconciler)
            writes.history += [views.history_row(n, c) for c in closed]
        writes.recent += recent
        if not (
            writes.accounts
            or writes.symbols
            or writes.recent
            or writes.history
            or writes.history_gone
        ):
            return None if part.views_format == writes.format else writes
        return writes

    def _write_every_view(self, parts: list[Partition]) -> None:
        """Every view of these partitions as their state has it now, and their recent logs
        read back from the journal (in one pass for them all)."""
        if not parts:
            return
        lost = [p.number for p in parts if not p.held()]
        if lost:
            raise LeaseLost(f"lost the leases of partitions {lost}", lost)
        writes = {
            p.number: ViewWrites(p.tracker, p.number, self._views_format(), replace_all=True)
            for p in parts
        }
        for part in parts:
            assert part.reconciler is not None  # woken first
            _add_views(writes[part.number], view_building.every_view(part.reconciler))
            writes[part.number].history_gone += view_building.retracted_positions(part.reconciler)
            closed = view_building.closed_positions(part.reconciler)
            writes[part.number].history += [views.history_row(part.number, c) for c in closed]
        upto = max(p.position for p in parts)
        for where, event in self.journal.emitted_and_refused(upto):
            n = partition_of(*_of(event))
            if event.venue and n in writes and where <= self.partitions[n].position:
                writes[n].recent.append(_recent(n, event, where, 0))
        for part in parts:
            self.journal.write_views(writes[part.number])
            part.views_format = writes[part.number].format


def _worth_saving(parts: list[Partition]) -> list[Partition]:
    """Those of ``parts`` a clean stop saves, so that saving them and the replay left to a
    restart cost least together. A restart reads the inputs after the oldest state it loads
    once for every partition it wakes: saving those furthest behind shortens that read for
    all, where saving one of many alone shortens it for none. A state never saved, or
    SNAPSHOT_EVERY inputs behind, is saved whatever the cost."""
    forced: list[Partition] = []
    behind: list[Partition] = []
    for part in parts:
        if part.unsaved:
            must = not part.saved_bytes or part.unsaved >= SNAPSHOT_EVERY
            (forced if must else behind).append(part)
    behind.sort(key=lambda p: p.unsaved, reverse=True)
    # Saving the first k of ``behind`` leaves a restart the inputs after the state of the
    # k+1-th to read again: what each k costs, and the least taken (the fewest saved on a tie).
    costs: list[int] = []
    saving = 0
    for k in range(len(behind) + 1):
        left = behind[k].unsaved if k < len(behind) else 0
        costs.append(saving + left * SNAPSHOT_BYTES_PER_INPUT)
        if k < len(behind):
            saving += behind[k].saved_bytes
    return forced + behind[: costs.index(min(costs))]


def _saveable(parts: Iterable[Partition]) -> list[Partition]:
    """Those whose snapshot this process may take: asleep, a partition's last snapshot and
    the inputs after it still hold; one whose lease is lost is another's to save."""
    return [p for p in parts if p.reconciler is not None and p.held()]


def _of(event: InputEvent | Emitted) -> Account:
    return event.venue, event.account


def _add_views(writes: ViewWrites, built: Iterable[views.AccountView | views.SymbolView]) -> None:
    n = writes.partition
    for view in built:
        if isinstance(view, views.SymbolView):
            writes.symbols.append((n, view.venue, view.account, view.symbol, views.encode(view)))
        else:
            writes.accounts.append((n, view.venue, view.account, views.encode(view)))


def _recent_by_partition(
    events: list[tuple[int, InputEvent]], emitted: list[Emitted], states: list[bytes], last: int
) -> dict[int, list[RecentRow]]:
    """A step's rows of the recent log, by partition: what it emitted (each at ``last``, in
    order, ``states`` their stored forms), then the inputs it refused that name an account.
    Sorted out in one pass, not one per partition."""
    rows: dict[int, list[RecentRow]] = {}
    emitted_kind = RecentKind.EMITTED.value
    # The ordinal: its place among all the step emitted. Its body: what recent_body gives.
    for i, (e, state) in enumerate(zip(emitted, states, strict=True)):
        n = partition_of(e.venue, e.account)
        row = (n, e.venue, e.account, emitted_kind, e.symbol or "", last, i, state)
        rows.setdefault(n, []).append(row)
    refused: dict[int, list[RecentRow]] = {}
    for where, event in events:
        if isinstance(event, InputRejected) and event.venue:
            n = partition_of(*_of(event))
            refused.setdefault(n, []).append(_recent(n, event, where, 0))
    for n, more in refused.items():
        rows.setdefault(n, []).extend(more)
    return rows


def _recent(
    partition: int, event: Emitted | InputRejected, position: int, ordinal: int
) -> RecentRow:
    """A row of the recent log: emitted events under their symbol ('' if account-wide),
    refused inputs under the account."""
    where = (partition, event.venue, event.account)
    body = view_building.recent_body(event)
    if isinstance(event, InputRejected):
        return (*where, RecentKind.REJECTED.value, "", position, ordinal, body)
    return (*where, RecentKind.EMITTED.value, event.symbol or "", position, ordinal, body)


def _distinct(emitted: Iterable[Emitted]) -> list[Emitted]:
    """Each event once: one identical to another (same id) would say nothing new."""
    first: dict[str, Emitted] = {}
    for event in emitted:
        first.setdefault(event.event_id, event)
    return list(first.values())


def replay(
    journal: Journal,
    config: RuleConfig | None = None,
    *,
    as_of: int | None = None,
    account: Account | None = None,
) -> Reconciler:
    """The reconciled state as of the journal's end: each partition's last snapshot and the
    inputs after it; with ``account``, only that account's partition. With ``as_of``, as of
    that instant: only the inputs dated by then, each under the rules the reconciler applied
    to it (``_AsOf``), from a snapshot only if it holds nothing after."""
    numbers = ALL if account is None else (partition_of(*account),)
    starts = _starts(journal, numbers, config, as_of=as_of)
    _apply(journal, starts, upto=None, as_of=None if as_of is None else _AsOf(as_of, account))
    return _merged([starts[n].reconciler for n in numbers], config)


def replay_before(journal: Journal, account: Account, position: int) -> Reconciler:
    """``account``'s partition once every input stored before journal ``position`` was
    applied: what the projection judges the input stored there on."""
    n = partition_of(*account)
    bound = min(partition_position(journal, n), position - 1)
    found = last_snapshot(journal, tracker(n), upto=bound)
    start = (
        _Start(found.reconciler, found.position)
        if found is not None
        else _Start(Reconciler(journal.rules_before_any()), 0)
    )
    _apply(journal, {n: start}, upto={n: position - 1}, as_of=None)
    return start.reconciler


def _merged(parts: list[Reconciler], config: RuleConfig | None) -> Reconciler:
    """One reconciler holding every account of ``parts`` (disjoint: one per partition)."""
    merged = Reconciler(parts[0].config if parts else config)
    for part in parts:
        merged.books.update(part.books)
        merged.detectors_by_account.update(part.detectors_by_account)
        merged.every_account_clock = max(merged.every_account_clock, part.every_account_clock)
    return merged


@dataclass
class _Start:
    """Where a partition's rebuild starts: its snapshot's state and position, or nothing."""

    reconciler: Reconciler
    position: int
    size: int = 0  # of the snapshot, stored (0: none)
    # Of the inputs after it, up to where the partition had got: how many were read, how
    # many were its own and applied.
    read: int = 0
    applied: int = 0


def _starts(
    journal: Journal, numbers: Iterable[int], config: RuleConfig | None, as_of: int | None
) -> dict[int, _Start]:
    starts: dict[int, _Start] = {}
    for n in numbers:
        start = last_snapshot(journal, tracker(n), upto=partition_position(journal, n))
        if start is None and not journal.tracked_position(tracker(n)):
            legacy = last_snapshot(journal, LEGACY_TRACKER)
            start = None if legacy is None else Snapshot(legacy.position, _only(legacy, n))
        if start is not None and as_of is not None and _after(journal, start, as_of):
            start = None
        starts[n] = (
            _Start(start.reconciler, start.position, start.size)
            if start
            else _Start(Reconciler(journal.rules_before_any() if config is None else config), 0)
        )
    return starts


def _only(snapshot: Snapshot, number: int) -> Reconciler:
    """The accounts of one partition, out of an older journal's whole-state snapshot."""
    whole = snapshot.reconciler
    part = Reconciler(whole.config)
    for account, book in whole.books.items():
        if partition_of(*account) == number:
            part.books[account] = book
            part.detectors_by_account[account] = whole.detectors_by_account[account]
    return part


def _after(journal: Journal, snapshot: Snapshot, as_of: int) -> bool:
    """Whether ``snapshot`` holds what a replay as of ``as_of`` may not: an input dated after
    it (an account's, or one for every account), or rules dated after it that no input it
    holds may have put in force."""
    held = snapshot.reconciler
    latest = max(map(held.as_of, held.books), default=held.every_account_clock)
    if latest > as_of:
        return True
    return journal.rules_recorded().dated_after(as_of, snapshot.position)


class _AsOf:
    """A replay as of an instant: the inputs dated by then, and each RulesSet the reconciler
    applied to one of them. One dated after is held back until an input dated by then
    comes, of the account asked about (any, when None) or of every account, and dropped if
    none does: those rules judged nothing the account showed by then. Released, it is dated
    as that input."""

    def __init__(self, instant: int, account: Account | None) -> None:
        self.instant = instant
        self.account = account
        self.held: list[tuple[int, InputEvent]] = []

    def taken(self, where: int, event: InputEvent) -> list[tuple[int, InputEvent]]:
        """The inputs to apply on reading ``event``, stored at ``where``: none, itself, or
        itself after the rules it puts in force."""
        if event.at > self.instant:
            if isinstance(event, RulesSet):
                self.held.append((where, event))
            return []
        if self.held and self._releases(event):
            # In force as of the input that releases them, not of their own instants (after
            # the one asked): a replay as of an instant runs no timer past it.
            held = [(w, replace(rules, at=event.at)) for w, rules in self.held]
            self.held = []
            return [*held, (where, event)]
        return [(where, event)]

    def _releases(self, event: InputEvent) -> bool:
        """Whether the reconciler judged the account asked about on ``event``."""
        if self.account is None or not event.venue:  # a tick, or rules, for every account
            return True
        return (event.venue, event.account) == self.account


def last_snapshot(journal: Journal, tracker: str, upto: int | None = None) -> Snapshot | None:
    """``tracker``'s last snapshot, if one this trueup can read was taken at or before
    ``upto``; None means: rebuild from the first input."""
    stored = journal.load_snapshot(tracker)
    if stored is None or (upto is not None and stored[0] > upto):
        return None
    found = snapshots.load(stored[1])
    return found if found is not None and found.position == stored[0] else None


def _apply(
    journal: Journal,
    starts: Mapping[int, _Start],
    upto: Mapping[int, int] | None,
    as_of: _AsOf | None,
) -> None:
    """Apply to each partition the inputs after its start (up to its ``upto`` position,
    else the end; with ``as_of``, those it takes), reading the journal once, emitting
    nothing; with ``upto``, counting in each start the inputs it read and applied."""
    if not starts:
        return
    position = min(s.position for s in starts.values())
    end = None if upto is None else max(upto.values())
    stored_at: list[int] = []
    while end is None or position < end:
        events, last = journal.inputs(position, upto=end)
        if last == position:
            break
        if upto is not None:
            stored_at += [where for where, _ in events]
        for read in events:
            for where, event in [read] if as_of is None else as_of.taken(*read):
                for n in partitions_of(event):
                    start = starts.get(n)
                    if start is None or where <= start.position:
                        continue
                    if upto is None or where <= upto[n]:
                        start.reconciler.apply(event)
                        start.applied += 1
        position = last
    if upto is not None:
        for n, start in starts.items():
            start.read = bisect_right(stored_at, upto[n]) - bisect_right(stored_at, start.position)
