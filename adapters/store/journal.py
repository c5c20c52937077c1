"""The journal: an append-only log of events on eventsourcing's process recorder.

Each account's inputs form one stream, in arrival order. Beside each input a marker is
stored under a key made from the input's content (its receive time, then its id: uuid5 of
its content; see ``marker_id``), whose uniqueness makes appending the same input twice a
no-op, in one transaction with the input itself; and so are the audit index's rows for the
batch (audit_index.py), so that the index never lags.

An input that carries out an operator's decision (a fix-stale close) is stored with a row
keyed by the decision (``Decision``), in the same transaction: of two processes making the
same decision at once, one stores its input, and the other is told whose went in first.

Every operation waits out a busy or unreachable store (see retrying.py): that uniqueness is
also what makes retrying an append safe when its first try may have been stored.
"""

import heapq
import itertools
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple, cast
from uuid import UUID, uuid4

import orjson
from eventsourcing.persistence import IntegrityError, Notification, StoredEvent, Tracking

from trueup.adapters.store import codec, upcast
from trueup.adapters.store.account_clock import (
    clock_after,
    clock_from_ends,
    stored_clock,
    with_clock,
)
from trueup.adapters.store.backend import Backend
from trueup.adapters.store.input_pages import Page, PageRow, key_reader, page_reader
from trueup.adapters.store.journal_format import (
    OWNERS_IN_EVENTS_TOO,
    TIMED_MARKERS,
    marker_keys,
    owner_rows_kept,
    rules_before_any_recorded,
)
from trueup.adapters.store.lease import Lease
from trueup.adapters.store.location import StoreError, is_postgres, settings, shown
from trueup.adapters.store.owner_table import OwnerRow, owner_reader
from trueup.adapters.store.retrying import Retrying
from trueup.adapters.store.row_queries import (
    Head,
    StreamRow,
    heads_reader,
    streams_reader,
    version_reader,
)
from trueup.adapters.store.sqlite_backend import open_sqlite
from trueup.adapters.store.stream_states import state_reader
from trueup.adapters.store.symbol_inputs import SymbolInputs
from trueup.adapters.store.unreadable import Row, Unreadable, undecodable_input
from trueup.adapters.store.view_table import Recent, RecentKind, ViewTable, ViewWrites
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected, RulesSet, moves_clock
from trueup.domain.keys import account_stream_id, rules_stream_id
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.in_force import Recorded, RulesInForce

# The audit index is written by appends and read by audits: a question answered from the
# views loads neither side of it.
if TYPE_CHECKING:
    from trueup.adapters.store.audit_index import Declared, Owner, OwnerValue
    from trueup.adapters.store.indexed_history import IndexedHistory

MARKER_TOPIC = "trueup.input-marker"
DECISION_TOPIC = "trueup.decision"
# Writers racing for one stream (two ingests sharing the clock stream, say) lose a round
# now and then; this many losses in a row means something else is wrong.
APPEND_RACES = 50
_INPUT_TOPICS = frozenset(codec.TOPICS.values())
PAGE = 2000
# How long a write that may be left undone waits out a busy store, at most: a process that
# stops after letting its leases go must not linger (an ingest's worker outlives its ingest).
OPTIONAL_WAIT_S = 5.0
KEYS_PAGE = 20_000  # inputs' keys read at a time: 32 characters each
# Rules changes read back at a time, looking for those in force at an instant.
RULES_PAGE = 50


@dataclass(frozen=True)
class Decision:
    """The operator's decision an input carries out, under a key every process making the
    same decision derives alike (domain/keys.py): the journal stores one input per key."""

    key: UUID
    by: str  # who decided: told to whoever makes the same decision after
    attempt: str = ""  # set by the journal, per append


@dataclass(frozen=True)
class Decided:
    """Whose input carried a decision out: its id, its receive time, and who decided."""

    input_id: str
    at: int
    by: str


@dataclass(frozen=True)
class Appended:
    """What one append did: new inputs stored, and inputs the journal already held."""

    stored: int
    duplicates: int
    # The inputs stored, at their journal positions, and the positions the append took
    # (first, last), when they make one unbroken span: a projection that has processed
    # everything before it can take them as they are, rather than read them back.
    inputs: tuple[tuple[int, InputEvent], ...] = field(default=(), compare=False, repr=False)
    span: tuple[int, int] | None = field(default=None, compare=False)
    # Inputs not stored because another input had carried out their decision first.
    taken: tuple[tuple[InputEvent, Decided], ...] = ()
    # The position of the last input stored (0: none), whether or not the append's
    # transactions made one span: what a wait for the projection to process them waits for.
    last_input: int = field(default=0, compare=False)


class InputRow(NamedTuple):
    """A row of the events table as the recorders read a StoredEvent (these four fields),
    made in C: an append makes two for every input, where eventsourcing's frozen dataclass
    sets each field through object.__setattr__."""

    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes


class Journal:
    """Appends input events once each and reads them back per account or in global order."""

    def __init__(
        self,
        backend: Backend,
        *,
        shown_as: str = "journal",
        give_up_after_s: float | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self._backend = backend
        self.recorder = backend.recorder
        self._readers()
        self._retrying = Retrying(self, shown_as, give_up_after_s, secrets)
        # For what may be left undone: a snapshot saved after its leases were let go.
        brief = (
            OPTIONAL_WAIT_S if give_up_after_s is None else min(give_up_after_s, OPTIONAL_WAIT_S)
        )
        self._retrying_briefly = Retrying(self, shown_as, brief, secrets)
        # Each stream's last version and the account's clock after it (account_clock.py).
        self._heads: dict[UUID, tuple[int, int]] = {}
        # What this process's index rows have declared already (audit_index.Declared).
        self._declared: Declared = set()
        # Whether the markers are keyed by time (journal_format.py); known at the first append.
        self._timed_markers: bool | None = None
        # Whether owner rows an older trueup wrote may be in the events table (format 6, in
        # journal_format.py); known at the first append.
        self._owners_in_events: bool | None = None
        # The rules that judged the inputs before the first RulesSet (rules_before_any).
        self._rules_before_any: RuleConfig | None = None
        # Account streams by (venue, account): a uuid5 each, asked for by every input.
        self._streams: dict[tuple[str, str], UUID] = {}
        self._marker_heads: dict[UUID, bytes] = {}
        self._stream_hexes: dict[UUID, str] = {}
        self._unreadable = Unreadable()
        self.give_up_after_s = give_up_after_s
        self.url: str | None = None  # where it was opened: readers open the same

    def _readers(self) -> None:
        """The readers bound to the current recorder's connection and table."""
        self._read_states = state_reader(self.recorder)
        self._read_versions = version_reader(self.recorder)
        self._read_streams = streams_reader(self.recorder)
        self._read_owners = owner_reader(self.recorder)
        self._read_heads = heads_reader(self.recorder)
        self._read_page = page_reader(self.recorder)
        self._read_keys = key_reader(self.recorder, MARKER_TOPIC)

    @classmethod
    def open(
        cls, url: str, *, give_up_after_s: float | None = None, create: bool = True
    ) -> "Journal":
        """Open (creating tables if needed, unless not ``create``: then StoreError if there
        is no journal there) the journal at a store URL.

        Once open, every operation waits out a busy or unreachable store, retrying with
        backoff and a warning on the ``trueup.store`` logger each time, for ever, or until it
        has failed for ``give_up_after_s`` (then StoreError). A PostgreSQL server that cannot
        be reached at all when opening is a StoreError at once: likelier a wrong address.
        """
        config = settings(url)
        if is_postgres(url):
            # Here, not above: a SQLite store never loads psycopg.
            from trueup.adapters.store.postgres_backend import PostgresBackend, secrets

            backend: Backend = PostgresBackend.open(url, config, create, give_up_after_s)
            hidden = secrets(config)
        else:
            backend, hidden = open_sqlite(config, give_up_after_s, create), ()
        opened = cls(backend, shown_as=shown(url), give_up_after_s=give_up_after_s, secrets=hidden)
        opened.url = url
        return opened

    def reader(self) -> "Journal":
        """Another connection to the same store, for a thread of its own (a journal serves
        one thread at a time); what either finds it cannot read, both count."""
        if self.url is None:
            raise StoreError("a journal not opened from a store URL has no readers")
        other = Journal.open(self.url, give_up_after_s=self.give_up_after_s, create=False)
        other._unreadable = self._unreadable
        return other

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def end_reader(self) -> Callable[[], int | None] | None:
        """Where the store allows it (a SQLite file), a reader of the journal's end cheap
        enough for an event loop, whose answer None means: ask ``last_position``."""
        return self._backend.end_reader()

    @property
    def transaction_bytes(self) -> int | None:
        """The most input bytes one transaction of an append holds; None: no limit."""
        return self._backend.transaction_bytes

    def lease(self, name: str) -> Lease:
        """The lease that lets one process at a time run the projection ``name``."""
        return self._backend.leases([name])[name]

    def leases(self, names: list[str]) -> dict[str, Lease]:
        """The leases of these names, for one holder: on PostgreSQL, one connection holds
        them all."""
        return self._backend.leases(names)

    # --- connecting afresh after an outage (for Retrying) ------------------------------------

    @property
    def generation(self) -> int:
        return self._backend.generation

    def reconnect(self, generation: int) -> None:
        self._backend.reconnect(generation)
        if self.recorder is not self._backend.recorder:
            self.recorder = self._backend.recorder
            self._readers()

    # --- what this trueup could not read ----------------------------------------------------

    @property
    def unknown_inputs(self) -> int:
        """Stored inputs of a type this trueup cannot read, met (and skipped) so far."""
        return len(self._unreadable.inputs)

    @property
    def unknown_emitted(self) -> int:
        """Stored emitted events this trueup cannot read, met (and skipped) so far."""
        return len(self._unreadable.emitted)

    # --- writing ----------------------------------------------------------------------------

    def append(
        self, events: Sequence[InputEvent], decisions: Mapping[str, Decision] | None = None
    ) -> Appended:
        """Store a batch, in one transaction (on PostgreSQL, in as many as it takes to
        keep each under ``transaction_bytes``); inputs already stored are skipped, and so
        are those whose decision (``decisions``, by input id) another input carried out."""
        # This call's own mark on its decision rows: a row found holding our key is our own
        # earlier try (its reply lost) only if it bears it; an identical line (the same
        # operator deciding the same at the same millisecond elsewhere) does not.
        decisions = {
            input_id: replace(decision, attempt=uuid4().hex)
            for input_id, decision in (decisions or {}).items()
        }
        # The first copy of an input is the one kept, within a batch as across batches.
        first: dict[str, InputEvent] = {}
        for event in events:
            first.setdefault(event.input_id, event)
        unique = list(first.values())
        stored = last_input = 0
        spans: list[_Span | None] = []
        taken: list[tuple[InputEvent, Decided]] = []
        for chunk in _chunks(unique, self.transaction_bytes):
            count, span, last = self._append_chunk(chunk, decisions, taken)
            stored += count
            spans.append(span)
            last_input = max(last_input, last)
        found = _appended(stored, len(events) - stored - len(taken), spans)
        return replace(found, taken=tuple(taken), last_input=last_input)

    def _append_chunk(
        self,
        events: list[InputEvent],
        decisions: Mapping[str, Decision],
        taken: list[tuple[InputEvent, Decided]],
    ) -> tuple[int, "_Span | None", int]:
        """Store inputs in one transaction; returns how many were new, where they went, and
        the last one's position (0: none). Those whose decision another input carried out go
        to ``taken``."""
        if self._timed_markers is None:
            keys = self._retrying(lambda: marker_keys(self.recorder))
            self._timed_markers = keys == TIMED_MARKERS
        if self._owners_in_events is None:
            kept = self._retrying(lambda: owner_rows_kept(self.recorder))
            self._owners_in_events = kept == OWNERS_IN_EVENTS_TOO
        pending = events
        for attempt in range(APPEND_RACES):
            if not pending:
                break
            try:
                ids = self._retrying(partial(self._insert, pending, decisions))
            except IntegrityError:
                # Someone stored some of these first (a repeated capture, another writer, or
                # our own try whose reply an outage lost), or took the stream version we
                # meant to take: drop what is already in, re-read the stream heads, and try
                # again. The first clash is most often our cached heads gone stale (an
                # executor writes one record among a live writer's many), so it is retried
                # at once; later ones after a pause that grows, so racing writers fall out
                # of step.
                self._heads.clear()
                pending = self._retrying(partial(self._not_stored, pending, decisions, taken))
                if attempt:
                    time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt - 1, 7)))
                continue
            # The recorders give the rows' positions in their order: a marker, then its
            # input, for each, then the index rows.
            last = ids[2 * len(pending) - 1] if ids else 0
            return len(pending), _span(ids, pending), last
        if pending:
            raise StoreError("could not append: the journal's streams keep moving under us")
        return 0, None, 0

    def _insert(
        self, events: list[InputEvent], decisions: Mapping[str, Decision]
    ) -> Sequence[int] | None:
        stored, owners, heads, declared = self._stored(events)
        # After the inputs and their index rows: a transaction's positions are read as a
        # marker and its input for each input first (_span).
        stored += [
            self._decision_row(e, decisions[e.input_id]) for e in events if e.input_id in decisions
        ]
        # On SQLite, the appender's connection is given a large cache (sqlite_recorder.py).
        # The input rows are read as StoredEvents are (InputRow): the recorders take either.
        rows = cast("list[StoredEvent]", stored)
        ids = self.recorder.insert_events(rows, appending_inputs=True, owners=owners)
        self._heads = heads
        self._declared |= declared
        return ids

    def _not_stored(
        self,
        events: list[InputEvent],
        decisions: Mapping[str, Decision],
        taken: list[tuple[InputEvent, Decided]],
    ) -> list[InputEvent]:
        """Those of ``events`` still to store: not already in (our own earlier try, or the
        same content from elsewhere), nor their decision carried out by another input."""
        pending = []
        for event in events:
            decision = decisions.get(event.input_id)
            held = None if decision is None else self._decision_held(decision.key)
            if held is not None:
                assert decision is not None
                if held[1] != decision.attempt:
                    taken.append((event, held[0]))
                continue
            if not self._contains(event):
                pending.append(event)
        return pending

    def _decision_row(self, event: InputEvent, decision: Decision) -> StoredEvent:
        """The row that holds ``decision``'s key for ``event``: a second one cannot go in."""
        return self._held_row(event.input_id, event.at, decision)

    def _held_row(self, input_id: str, at: int, decision: Decision) -> StoredEvent:
        key = decision.key.hex if self._backend.ids_as_text else decision.key
        held = {"input_id": input_id, "at": at, "by": decision.by}
        state = orjson.dumps({**held, "attempt": decision.attempt})
        return StoredEvent(key, 1, DECISION_TOPIC, state)

    def claim(self, key: UUID, by: str, at: int) -> Decided | None:
        """Hold a decision's ``key`` for ``by`` with no input of its own (the executor, just
        before it sends an order): None once held, or the holder who came first, an input
        that carried the decision out or an earlier claim (its ``input_id`` "")."""
        attempt = uuid4().hex
        row = self._held_row("", at, Decision(key, by, attempt))
        try:
            self._retrying(lambda: self.recorder.insert_events([row]))
        except IntegrityError as clash:
            held = self._retrying(partial(self._decision_held, key))
            if held is None:
                raise StoreError(
                    f"could not claim decision {key}: refused, yet not held"
                ) from clash
            if held[1] == attempt:
                return None  # our own try, its reply lost to an outage
            return held[0]
        return None

    def reclaim(self, key: UUID, by: str, at: int) -> None:
        """Note that the holder of ``key``'s claim acts on it again at ``at`` (an executor
        sending its order again): a row after the claim's, which ``last_claimed_at`` reads."""

        def insert() -> None:
            last = self.recorder.select_events(key, desc=True, limit=1)
            version = last[0].originator_version + 1 if last else 1
            state = orjson.dumps({"input_id": "", "at": at, "by": by, "attempt": ""})
            stored = key.hex if self._backend.ids_as_text else key
            self.recorder.insert_events([StoredEvent(stored, version, DECISION_TOPIC, state)])

        with suppress(IntegrityError):  # another noted it at once: the lease forbids it
            self._retrying(insert)

    def last_claimed_at(self, key: UUID) -> int | None:
        """When the holder of a decision's ``key`` without an input (``claim``) last acted on
        it (``reclaim``); None if nobody holds it, or an input does (whose row, the key's
        only one, is its last)."""
        rows = self._retrying(lambda: self.recorder.select_events(key, desc=True, limit=1))
        if not rows:
            return None
        last = orjson.loads(rows[0].state)
        return None if last["input_id"] else int(last["at"])

    def _decision_held(self, key: UUID) -> tuple[Decided, str] | None:
        """Whose input carried out the decision of ``key``, if one has, and the append
        that stored it."""
        rows = self.recorder.select_events(key, limit=1)
        if not rows:
            return None
        held = orjson.loads(rows[0].state)
        return Decided(held["input_id"], held["at"], held["by"]), held["attempt"]

    def record(
        self,
        emitted: Sequence[Emitted],
        positions: Mapping[str, int],
        views: Sequence[ViewWrites] = (),
        states: Sequence[bytes] | None = None,
    ) -> None:
        """Store what projections emitted, the position each has processed up to
        (tracker -> position) and what changed in their views, in one transaction: a crash
        leaves all or none. ``states``: the emitted events' stored forms, when the caller
        has them already (``codec.encode_emitted`` of each)."""
        if states is None:
            states = [codec.encode_emitted(e) for e in emitted]
        key = emitted_hex if self._backend.ids_as_text else emitted_key
        stored = [
            StoredEvent(key(e), 1, codec.emitted_topic(e), state)
            for e, state in zip(emitted, states, strict=True)
        ]
        trackings = [Tracking(tracker, position) for tracker, position in positions.items()]
        attempts = 0

        def insert() -> None:
            nonlocal attempts
            attempts += 1
            self.recorder.insert_events(stored, trackings=trackings, views=views)

        try:
            self._retrying(insert)
        except IntegrityError:
            # After an outage, our earlier try may have been stored though its reply was lost.
            if attempts > 1 and all(self.tracked_position(t) >= p for t, p in positions.items()):
                return
            raise

    def record_progress(self, tracker: str, position: int) -> None:
        """Record that ``tracker`` (an outbox, say) has got to journal ``position``; a position
        not past the one recorded changes nothing."""

        def insert() -> None:
            if position > (self.recorder.max_tracking_id(tracker) or 0):
                self.recorder.insert_events([], trackings=[Tracking(tracker, position)])

        self._retrying(insert)

    def save_snapshot(
        self, tracker: str, position: int, state: bytes, *, unless_later: bool = False
    ) -> None:
        """Keep ``state`` as ``tracker``'s snapshot at journal ``position``, replacing the last.
        With ``unless_later`` (a process that has let its lease go), only one taken at or
        before ``position``, and a busy store is waited on for OPTIONAL_WAIT_S at most: then
        StoreError, and the next holder replays from the snapshot kept."""
        retrying = self._retrying_briefly if unless_later else self._retrying
        retrying(
            lambda: self._backend.snapshot_table().save(
                tracker, position, state, unless_later=unless_later
            )
        )

    def load_snapshot(self, tracker: str) -> tuple[int, bytes] | None:
        """``tracker``'s last snapshot and the journal position it was taken at, if any."""
        return self._retrying(lambda: self._backend.snapshot_table().load(tracker))

    def snapshot_trackers(self, prefix: str) -> list[str]:
        """The trackers whose names start with ``prefix`` that have a snapshot kept."""
        found: list[str] = self._retrying(lambda: self._backend.snapshot_table().trackers(prefix))
        return found

    def write_views(self, views: ViewWrites) -> None:
        """Write views on their own, with no tracking: a projection's first, full write."""
        self._retrying(lambda: self.recorder.insert_events([], views=[views]))

    def views(self) -> ViewTable:
        """The persisted views, each read waiting out a busy store like every other."""
        return _RetryingViews(self)

    def tracked_position(self, tracker: str) -> int:
        """The last journal position a projection has recorded as processed."""
        return self._retrying(lambda: self.recorder.max_tracking_id(tracker)) or 0

    def contains(self, event: InputEvent) -> bool:
        """Whether the journal holds ``event`` (an input of the same content)."""
        return self._retrying(partial(self._contains, event))

    def _contains(self, event: InputEvent) -> bool:
        if self._timed_markers is None:
            self._timed_markers = marker_keys(self.recorder) == TIMED_MARKERS
        marker = marker_id(event, timed=self._timed_markers)
        return bool(self.recorder.select_events(marker, limit=1))

    def emitted_held(self, events: Iterable[Emitted]) -> set[str]:
        """The ids of ``events`` the journal holds (each stored by a projection)."""
        return {e.event_id for e in events if self._retrying(partial(self._holds_emitted, e))}

    def _holds_emitted(self, event: Emitted) -> bool:
        # A journal older than format 5 keyed them by their id alone.
        keys = dict.fromkeys((emitted_key(event), UUID(event.event_id)))
        return any(self.recorder.select_events(key, limit=1) for key in keys)

    def input_keys(self, after: int, upto: int) -> set[str]:
        """The keys (``input_key``) of the inputs stored after position ``after`` up to
        ``upto``, read from their markers: not one of the inputs is read."""
        keys: set[str] = set()
        while after < upto:
            page, last = self._retrying(partial(self._keys, after, upto))
            keys.update(page)
            if last == after:
                break
            after = last
        return keys

    def _keys(self, after: int, upto: int) -> tuple[list[str], int]:
        # Looked up when called: a reconnection replaces the reader.
        return self._read_keys(after, KEYS_PAGE, upto)

    def input_key(self, input_id: str, at: int) -> str:
        """The key of the input of this id and receive time, as ``input_keys`` gives it: an
        emitted event's ``cause`` and ``at`` name the input that caused it."""
        if self._timed_markers is None:
            keys = self._retrying(lambda: marker_keys(self.recorder))
            self._timed_markers = keys == TIMED_MARKERS
        if self._timed_markers:
            return _timed_key(at, input_id).hex
        return UUID(input_id).hex

    def _stored(
        self, events: Sequence[InputEvent]
    ) -> tuple[
        list[StoredEvent | InputRow], list[OwnerRow], dict[UUID, tuple[int, int]], "Declared"
    ]:
        """The rows for a batch, its owner rows, the stream heads once they are in (each with
        the account's clock after it: account_clock.py), and what its index rows declare
        for the first time."""
        from trueup.adapters.store.audit_index import Placed, index_rows, owners_needed

        heads = dict(self._heads)
        stored: list[StoredEvent | InputRow] = []
        placed: list[Placed] = []
        timed = bool(self._timed_markers)
        as_text = self._backend.ids_as_text
        topics = codec.TOPICS
        # Each stream the batch writes to (an account's, by venue and account: a UUID's hash
        # is Python's own, asked for each input; None for the rules', which bear on every
        # account), as [stream, the owner its rows name, its markers' head, its last version,
        # the account's clock after it].
        keys = [None if isinstance(e, RulesSet) else (e.venue, e.account) for e in events]
        streams: dict[tuple[str, str] | None, list[Any]] = {}
        for key in dict.fromkeys(keys):
            stream = rules_stream_id() if key is None else self._account_stream(key)
            owner = self._stream_hex(stream) if as_text else stream
            head = heads.get(stream, (None, 0))
            streams[key] = [stream, owner, self._marker_head(stream), *head]
        # The heads not known yet (a stream new to this process, or after a clash), in one
        # query for the batch: not one per stream.
        unknown = [found[0] for found in streams.values() if found[3] is None]
        if unknown:
            read = self._read_heads(unknown)
            for found in streams.values():
                if found[3] is None:
                    last = read.get(found[0])
                    found[3], found[4] = (
                        (0, 0) if last is None else (last.version, self._clock(found[0], last))
                    )
        for event, key in zip(events, keys, strict=True):
            found = streams[key]
            version = found[3] = found[3] + 1
            marker = found[2] + b"%d}" % version
            key_of = marker_hex(event, timed=timed) if as_text else marker_id(event, timed=timed)
            stored.append(_new_tuple(InputRow, (key_of, 1, MARKER_TOPIC, marker)))
            symbols = event.symbols  # a property that builds its tuple: asked for once
            state = codec.encode_naming(event, symbols)
            if key is not None:  # the rules' stream is no account's
                at, clock = event.at, found[4]
                if at > clock and moves_clock(event):
                    found[4] = clock = at
                if clock != at:  # stored after later inputs, or a record that moves no clock
                    state = with_clock(state, clock)
                placed.append(_new_tuple(Placed, (event, found[0], version, symbols)))
            stored.append(_new_tuple(InputRow, (found[1], version, topics[event.type], state)))
        for stream, _, _, version, clock in streams.values():
            heads[stream] = (version, clock)
        # Read after the heads: whatever came before our versions is in by now.
        index = index_rows(placed, self._owners(owners_needed(placed)), self._declared)
        return stored + index.rows, index.owner_rows, heads, index.declared

    def _clock(self, stream: UUID, head: Head) -> int:
        """The account's clock after ``stream``'s last row: told by the ends of its state
        read with it, else by the whole state, read now."""
        clock = clock_from_ends(head.start, head.end)
        if clock is None:
            rows = self._read_versions(stream, [head.version])
            clock = clock_after(rows[0].state) if rows else 0
        return clock

    def _stream_hex(self, stream: UUID) -> str:
        found = self._stream_hexes.get(stream)
        if found is None:
            found = self._stream_hexes[stream] = stream.hex
        return found

    def _marker_head(self, stream: UUID) -> bytes:
        """A marker of ``stream`` up to its version: the bytes of ``{"stream": str(stream),
        "version": version}`` as orjson writes them, the version left to add. Made once per
        stream, not once per input."""
        head = self._marker_heads.get(stream)
        if head is None:
            whole = orjson.dumps({"stream": str(stream), "version": 0})
            head = self._marker_heads[stream] = whole[: -len(b"0}")]
        return head

    def _account_stream(self, key: tuple[str, str]) -> UUID:
        """The stream of an account's inputs, by (venue, account)."""
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = account_stream_id(*key)
        return stream

    def _owners(self, needed: "set[Owner]") -> "dict[Owner, list[OwnerValue]]":
        """What the owner rows of each of ``needed`` name (audit_index.owner_values): those
        an older trueup kept in the events table first, when it may have."""
        from trueup.adapters.store.audit_index import owner_values

        owners: dict[Owner, list[OwnerValue]] = {}
        if not needed:
            return owners
        if self._owners_in_events:
            by_stream = {owner.events_stream: owner for owner in needed}
            for stream, state in self._read_streams(sorted(by_stream)):
                owners.setdefault(by_stream[stream], []).extend(owner_values(state))
        by_key = {owner.key: owner for owner in needed}
        for key, state in self._read_owners(sorted(by_key)):
            owners.setdefault(by_key[key], []).extend(owner_values(state))
        return owners

    def rules_in_force(self) -> RuleConfig:
        """The rules the last RulesSet input recorded; the defaults if none was. Those in
        force at an instant hang on the inputs around them too: ``rules_recorded().at``."""
        found = self._last_rules_set()
        return found.rules if found is not None else self.rules_before_any()

    def last_rules_set(self) -> RulesSet | None:
        """The last RulesSet stored, if any: what a change of rules changes from."""
        return self._last_rules_set()

    def rules_before_any(self) -> RuleConfig:
        """The rules that judged the inputs stored before the first RulesSet: the defaults,
        unless an older trueup began the journal (upcast.rules_before_any)."""
        if self._rules_before_any is None:
            recorded = self._retrying(lambda: rules_before_any_recorded(self.recorder))
            self._rules_before_any = upcast.rules_before_any(recorded)
        return self._rules_before_any

    def rules_recorded(self) -> RulesInForce:
        """Every RulesSet recorded, each with its place in the journal and its instant."""
        recorded: list[Recorded] = []
        stream, after = rules_stream_id(), 0
        while True:
            page = self._retrying(partial(self._read_states, stream, after, RULES_PAGE))
            for row in page:
                event = codec.decode(row.state)
                if isinstance(event, RulesSet):
                    recorded.append(Recorded(row.position, event.at, event.rules))
            if len(page) < RULES_PAGE:
                return RulesInForce(recorded, self.rules_before_any())
            after = page[-1].version

    def rules_changed_after(self, at: int) -> bool:
        """Whether the last rules recorded are dated after instant ``at``: then what is in
        force now may not have been in force then."""
        last = self._last_rules_set()
        return last is not None and last.at > at

    def _last_rules_set(self) -> RulesSet | None:
        """The last RulesSet stored, if any."""
        upto: int | None = None
        limit = 1  # the last is the one, unless this trueup cannot read it: read alone first
        while True:
            page = self._retrying(
                partial(
                    self.recorder.select_events, rules_stream_id(), lte=upto, desc=True, limit=limit
                )
            )
            for row in page:
                event = codec.decode(row.state)
                if isinstance(event, RulesSet):
                    return event
            if len(page) < limit:
                return None
            upto = page[-1].originator_version - 1
            limit = RULES_PAGE

    # --- reading ----------------------------------------------------------------------------

    def account_states(self, venue: str, account: str) -> Iterator[bytes]:
        """The stored form of an account's events, in arrival order, a page at a time."""
        stream = account_stream_id(venue, account)
        for row in self._account_rows(stream):
            yield row.state

    def _account_rows(self, stream: UUID) -> Iterator[StreamRow]:
        after = 0
        while True:
            page = self._retrying(partial(self._read_account_page, stream, after))
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].version

    def _read_account_page(self, stream: UUID, after: int) -> list[StreamRow]:
        return self._read_states(stream, after, PAGE)

    def account_events(
        self, venue: str, account: str, symbol: str | None = None
    ) -> Iterator[InputEvent]:
        """An account's events in arrival order; with ``symbol``, only those that may touch it.
        Inputs of a type this trueup does not know are skipped (see ``unknown_inputs``)."""
        for _, event in self.account_inputs(venue, account, symbol):
            yield event

    def account_inputs(
        self,
        venue: str,
        account: str,
        symbol: str | None = None,
        clocks: dict[int, int] | None = None,
    ) -> Iterator[tuple[int, InputEvent]]:
        """``account_events``, each with its position in the journal. With ``symbol``, the
        orders placed for a position opened for it are among them, whatever symbol they
        spell, and those placed before its first opening was for it (symbol_inputs.py).
        ``clocks`` takes the account's clock kept with each (account_clock.py)."""
        if symbol is not None:
            yield from self.symbol_inputs(venue, account, symbol, clocks)
            return
        stream = account_stream_id(venue, account)
        decoded = partial(self._audit_read, stream, venue, account, clocks)
        for row in self._account_rows(stream):
            event = decoded(row)
            if event is not None:
                yield row.position, event

    def symbol_inputs(
        self, venue: str, account: str, symbol: str, clocks: dict[int, int] | None = None
    ) -> SymbolInputs:
        """``account_inputs`` of ``symbol``, whose ``marked`` gives the others too while
        asked for (an audit while a close awaits its cause)."""
        stream = account_stream_id(venue, account)
        decoded = partial(self._audit_read, stream, venue, account, clocks)
        return SymbolInputs(self._account_rows(stream), symbol, decoded)

    def inputs_of_every_account(self, after: int) -> Iterator[tuple[int, InputEvent]]:
        """The inputs that name no account (a clock tick for every account, the rules put
        in force), stored after journal position ``after``, each with its position, in
        order: every account's fold takes them. Found by halving their streams, not read
        from the first."""
        streams = (self._account_stream(("", "")), rules_stream_id())
        return heapq.merge(*(self._stream_after(s, after) for s in streams), key=itemgetter(0))

    def _stream_after(self, stream: UUID, after: int) -> Iterator[tuple[int, InputEvent]]:
        """The inputs of ``stream`` stored after journal position ``after``, in order."""
        version = self._retrying(partial(self._first_version_after, stream, after))
        decoded = partial(self._audit_read, stream, "", "", None)
        while version is not None:
            page = self._retrying(partial(self._read_states, stream, version - 1, PAGE))
            for row in page:
                event = decoded(row)
                if event is not None:
                    yield row.position, event
            if len(page) < PAGE:
                return
            version = page[-1].version + 1

    def _first_version_after(self, stream: UUID, after: int) -> int | None:
        """The first version of ``stream`` stored after journal position ``after``, if any:
        a stream's versions are stored in the journal's order."""
        head = self._read_heads([stream]).get(stream)
        if head is None:
            return None
        low, high = 1, head.version
        while low <= high:  # the answer lies in [low, high + 1]
            middle = (low + high) // 2
            rows = self._read_versions(stream, [middle])
            if rows and rows[0].position > after:
                high = middle - 1
            else:
                low = middle + 1
        return low if low <= head.version else None

    def _audit_read(
        self,
        stream: UUID,
        venue: str,
        account: str,
        clocks: dict[int, int] | None,
        row: StreamRow,
    ) -> InputEvent | None:
        """An input as a read of one account decodes it, its clock noted in ``clocks`` by
        its position. Unshared: a read of one account (an audit, a fold) keeps little of
        what it decodes, and sharing each value costs a third of its decoding (read, decode
        and fold 117,000 -> 150,000 events/s); a worker's reads share."""
        event = self._decoded(stream, row.version, row.state, venue, account, shared=False)
        if clocks is not None and event is not None:
            clock = stored_clock(row.state)
            if clock is not None:
                clocks[row.position] = clock
        return event

    def symbol_history(
        self, venue: str, account: str, symbol: str, clocks: dict[int, int] | None = None
    ) -> "IndexedHistory | None":
        """The inputs that may concern ``symbol``, found through the audit index; None when
        the account's inputs are not all indexed (an older trueup wrote the first of them):
        ``account_events`` reads them all then. ``clocks`` as ``account_inputs``'."""
        from trueup.adapters.store.indexed_history import IndexedHistory, IndexRows

        stream = account_stream_id(venue, account)
        rows = IndexRows(
            after=lambda s, after, limit: self._retrying(
                partial(self._read_index_after, s, after, limit)
            ),
            back=lambda s, upto, limit: self._retrying(partial(self._read_back, s, upto, limit)),
            versions=lambda s, versions: self._retrying(partial(self._read_chosen, s, versions)),
            decode=partial(self._audit_read, stream, venue, account, clocks),
        )
        return IndexedHistory.open(rows, stream, symbol)

    # Methods, not the readers themselves: a retry after reconnecting reads through the new.

    def _read_index_after(self, stream: UUID, after: int, limit: int) -> list[tuple[int, bytes]]:
        return [(row.version, row.state) for row in self._read_states(stream, after, limit)]

    def _read_chosen(self, stream: UUID, versions: Sequence[int]) -> list[StreamRow]:
        return self._read_versions(stream, versions)

    def _read_back(self, stream: UUID, upto: int, limit: int) -> list[tuple[int, bytes]]:
        rows = self.recorder.select_events(stream, lte=upto, desc=True, limit=limit)
        return [(row.originator_version, row.state) for row in rows]

    def _decoded(
        self,
        stream: UUID,
        version: int,
        state: bytes,
        venue: str,
        account: str,
        *,
        shared: bool = True,
    ) -> InputEvent | None:
        """The input stored as ``state``; None (counted) if of a type this trueup does not know.
        ``shared`` as codec.decode's."""
        try:
            return codec.decode(state, shared=shared)
        except codec.UnknownType:
            self._unreadable.inputs.add((stream, version))
            return None
        except codec.Undecodable as error:
            where = f"{version} of account {venue}/{account}"
            raise undecodable_input(where, error) from None

    def inputs(
        self, after: int = 0, upto: int | None = None, limit: int = PAGE
    ) -> tuple[list[tuple[int, InputEvent]], int]:
        """One page of input events stored after position ``after`` (up to ``upto``), and
        the last position the page read, which may be an emitted event or a marker."""
        page = self._retrying(partial(self._page, after, limit, upto))
        events: list[tuple[int, InputEvent]] = []
        decode = codec.decode
        for row in page.inputs:
            # _page_input's common case inlined (a worker reads every input so); any other
            # goes through it, which tells or counts what it could not read.
            event: InputEvent | None
            try:
                event = decode(row.state) if row.topic in _INPUT_TOPICS else None
            except (codec.UnknownType, codec.Undecodable):
                event = None
            if event is None:
                event = self._page_input(row)
            if event is not None:
                events.append((row.position, event))
        return events, page.last

    def inputs_between(self, after: int, upto: int, limit: int = PAGE) -> int:
        """How many inputs are stored after position ``after`` up to ``upto`` (counted up to
        ``limit``), none of them decoded."""
        return len(self._retrying(partial(self._page, after, limit, upto)).inputs)

    def all_events(self, after: int = 0) -> Iterator[tuple[int, InputEvent | Emitted]]:
        """Inputs and emitted events, in the order they were stored, with their positions.
        Those this trueup cannot read are skipped (see ``unknown_inputs``, ``unknown_emitted``)."""
        while True:
            page = self._retrying(partial(self._notifications, after, PAGE))
            if not page:
                return
            for n in page:
                event: InputEvent | Emitted | None = None
                if n.topic.startswith(codec.INPUT_TOPIC_PREFIX):
                    event = self._input(n)
                elif n.topic.startswith(codec.EMITTED_TOPIC_PREFIX):
                    event = self._emitted(n)
                if event is not None:
                    yield n.id, event
            after = page[-1].id

    def _page(self, after: int, limit: int, upto: int | None) -> Page:
        # Looked up when called: a reconnection replaces the reader.
        return self._read_page(after, limit, upto)

    def _notifications(
        self, after: int, limit: int, upto: int | None = None, topics: Sequence[str] = ()
    ) -> Sequence[Notification]:
        return self.recorder.select_notifications(
            after, limit, stop=upto, topics=topics, inclusive_of_start=False
        )

    def emitted_after(self, after: int, limit: int = PAGE) -> tuple[list[tuple[int, Emitted]], int]:
        """One page of the emitted events stored after position ``after``, read by topic,
        and the last position the page read."""
        topics = sorted(codec.EMITTED_TOPICS)
        page = self._retrying(partial(self._notifications, after, limit, None, topics))
        found = [(n.id, e) for n in page if (e := self._emitted(n)) is not None]
        return found, (page[-1].id if page else after)

    def stored_of_types(
        self, types: Iterable[str], after: int, limit: int = PAGE
    ) -> tuple[list[tuple[int, InputEvent | Emitted]], int]:
        """One page of the inputs and emitted events of ``types`` stored after position
        ``after``, read by topic (the others cost nothing), and the last position read."""
        topics = sorted(codec.TOPICS.get(t, codec.EMITTED_TOPIC_PREFIX + t) for t in types)
        page = self._retrying(partial(self._notifications, after, limit, None, topics))
        found: list[tuple[int, InputEvent | Emitted]] = []
        for n in page:
            event = self._emitted(n) if n.topic in codec.EMITTED_TOPICS else self._input(n)
            if event is not None:
                found.append((n.id, event))
        return found, (page[-1].id if page else after)

    def inputs_of_type(self, type_: str, after: int = 0) -> Iterator[tuple[int, InputEvent]]:
        """The inputs of one type stored after position ``after``, in order: read by topic,
        so the others cost nothing."""
        topics = [codec.TOPICS[type_]]
        while True:
            page = self._retrying(partial(self._notifications, after, PAGE, None, topics))
            for n in page:
                event = self._input(n)
                if event is not None:
                    yield n.id, event
            if len(page) < PAGE:
                return
            after = page[-1].id

    def emitted_and_refused(self, upto: int) -> Iterator[tuple[int, Emitted | InputRejected]]:
        """The emitted events and refused inputs stored up to ``upto``, in order: read by
        topic, so the inputs in between cost nothing."""
        topics = [*sorted(codec.EMITTED_TOPICS), codec.TOPICS[InputRejected.type]]
        after = 0
        while after < upto:
            page = self._retrying(partial(self._notifications, after, PAGE, upto, topics))
            if not page:
                return
            for n in page:
                event = self._emitted(n) if n.topic in codec.EMITTED_TOPICS else self._input(n)
                if isinstance(event, Emitted | InputRejected):
                    yield n.id, event
            after = page[-1].id

    def _input(self, stored: Notification) -> InputEvent | None:
        """The input stored there, or None (counted) if it is of a type this trueup does not
        know; StoreError if it is of a known type but its fields do not decode."""
        row = PageRow(
            stored.id, stored.originator_id, stored.originator_version, stored.topic, stored.state
        )
        return self._page_input(row)

    def _page_input(self, row: PageRow) -> InputEvent | None:
        """The input of a row read with its state (see ``_input``)."""
        if row.topic in _INPUT_TOPICS:
            try:
                return codec.decode(row.state)
            except codec.UnknownType:
                pass
            except codec.Undecodable as error:
                raise undecodable_input(f"at journal position {row.position}", error) from None
        stream = row.stream
        self._unreadable.inputs.add(
            (stream if isinstance(stream, UUID) else UUID(stream), row.version)
        )
        return None

    def _emitted(self, stored: Notification) -> Emitted | None:
        """The emitted event stored there, or None (counted) if this trueup cannot read it:
        emitted events are a record of what was said, not inputs anything folds."""
        try:
            return codec.decode_emitted(stored.state)
        except (codec.UnknownType, codec.Undecodable):
            self._unreadable.emitted.add(_row(stored))
            return None

    def last_position(self) -> int:
        # Through self.recorder when called: a reconnection replaces it.
        return self._retrying(lambda: self.recorder.max_notification_id()) or 0  # noqa: PLW0108


class _RetryingViews:
    """The store's view table, read through the journal's retrying (and reconnecting)."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def _read(self, read: Callable[[ViewTable], Any]) -> Any:
        journal = self._journal
        return journal._retrying(lambda: read(journal._backend.views()))

    def format(self, tracker: str) -> str | None:
        found: str | None = self._read(lambda v: v.format(tracker))
        return found

    def account(self, venue: str, account: str) -> bytes | None:
        found: bytes | None = self._read(lambda v: v.account(venue, account))
        return found

    def symbol(self, venue: str, account: str, symbol: str) -> bytes | None:
        found: bytes | None = self._read(lambda v: v.symbol(venue, account, symbol))
        return found

    def accounts(self) -> Sequence[bytes]:
        found: Sequence[bytes] = self._read(lambda v: v.accounts())
        return found

    def symbols(self) -> Sequence[bytes]:
        found: Sequence[bytes] = self._read(lambda v: v.symbols())
        return found

    def account_symbols(self, venue: str, account: str) -> Sequence[bytes]:
        found: Sequence[bytes] = self._read(lambda v: v.account_symbols(venue, account))
        return found

    def account_symbol_names(self, venue: str, account: str) -> Sequence[str]:
        found: Sequence[str] = self._read(lambda v: v.account_symbol_names(venue, account))
        return found

    def recent(
        self, venue: str, account: str, kind: RecentKind, symbol: str, limit: int
    ) -> list[Recent]:
        found: list[Recent] = self._read(lambda v: v.recent(venue, account, kind, symbol, limit))
        return found

    def history(
        self, venue: str | None, account: str | None, symbol: str | None, since: int
    ) -> list[bytes]:
        rows: list[bytes] = self._read(lambda v: v.history(venue, account, symbol, since))
        return rows


@dataclass(frozen=True)
class _Span:
    """One transaction's positions: its inputs', and the first and last it took."""

    inputs: list[tuple[int, InputEvent]]
    first: int
    last: int


def _span(ids: Sequence[int] | None, events: list[InputEvent]) -> _Span | None:
    """Where a transaction's rows went, if they took consecutive positions in the order
    given (a marker, then its input, for each, then the index rows)."""
    if not ids or list(ids) != list(range(ids[0], ids[0] + len(ids))):
        return None
    return _Span([(ids[2 * i + 1], e) for i, e in enumerate(events)], ids[0], ids[-1])


def _appended(stored: int, duplicates: int, spans: list[_Span | None]) -> Appended:
    """One unbroken span of every transaction's, if they make one."""
    found = [s for s in spans if s is not None]
    if len(found) != len(spans) or not found:
        return Appended(stored, duplicates)
    if any(b.first != a.last + 1 for a, b in itertools.pairwise(found)):
        return Appended(stored, duplicates)
    inputs = tuple(pair for span in found for pair in span.inputs)
    return Appended(stored, duplicates, inputs, (found[0].first, found[-1].last))


def _row(stored: Notification) -> Row:
    stream = stored.originator_id
    return (stream if isinstance(stream, UUID) else UUID(stream)), stored.originator_version


def _chunks(events: list[InputEvent], limit: int | None) -> Iterator[list[InputEvent]]:
    """Consecutive runs of events whose raw inputs add up to about ``limit`` bytes."""
    if limit is None:
        yield events
        return
    chunk: list[InputEvent] = []
    size = 0
    for event in events:
        chunk.append(event)
        size += 2 * len(event.raw)  # stored twice over: verbatim and normalised
        if size >= limit:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def marker_id(event: InputEvent, *, timed: bool = True) -> UUID:
    """The key of an input's marker: its id, led (``timed``) by its receive time in ms, which
    the same content always gives too. Inputs come in about the order of their times, so
    their markers go in at the end of the primary key, not all over it (journal_format.py)."""
    if not timed:
        return UUID(event.input_id)
    return _timed_key(event.at, event.input_id)


def emitted_key(event: Emitted) -> UUID:
    """The key an emitted event is stored under: its id led by its ``at`` (format 5), so
    that what a step emits goes in at the end of the primary key, as markers do."""
    return _timed_key(event.at, event.event_id)


def emitted_hex(event: Emitted) -> str:
    """``emitted_key(event).hex``, made without a UUID, for a store that keeps ids as text
    (as ``marker_hex``): one is made for every event a projection emits."""
    digits = event.event_id.replace("-", "")
    if len(digits) != 32:
        return emitted_key(event).hex
    at = event.at if 0 <= event.at < 1 << 48 else 0
    return f"{at:012x}{digits[:20].lower()}"


def _timed_key(at: int, id_text: str) -> UUID:
    """``at`` in ms (6 bytes), then the first ten bytes of the id: the same event always
    gives the same key, and keys sort about as their events came."""
    at = at if 0 <= at < 1 << 48 else 0
    # The id's first ten bytes, read from its text: building a UUID of it first cost as
    # much again, for every input appended.
    digits = id_text.replace("-", "")
    head = bytes.fromhex(digits[:20]) if len(digits) == 32 else UUID(id_text).bytes[:10]
    return UUID(bytes=at.to_bytes(6, "big") + head)


def marker_hex(event: InputEvent, *, timed: bool = True) -> str:
    """``marker_id(event, timed=timed).hex``, made without a UUID: a store that keeps ids as
    text (SQLite) takes it as it is, and a UUID cost a microsecond an input."""
    digits = event.input_id.replace("-", "")
    if not timed or len(digits) != 32:
        return marker_id(event, timed=timed).hex
    at = event.at if 0 <= event.at < 1 << 48 else 0
    return f"{at:012x}{digits[:20].lower()}"


_new_tuple = tuple.__new__
