"""The journal: an append-only log of events on eventsourcing's process recorder.

Each account's inputs form one stream, in arrival order. Beside each input a marker is
stored under the input's own id (uuid5 of its content), whose uniqueness makes appending
the same input twice a no-op, in one transaction with the input itself.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    InfrastructureFactory,
    InfrastructureFactoryError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    Tracking,
)
from eventsourcing.utils import Environment

from trueup.adapters.store import codec
from trueup.adapters.store.location import TABLE_PREFIX, StoreError, redact, settings
from trueup.adapters.store.stream_states import state_reader
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.keys import account_stream_id

MARKER_TOPIC = "trueup.input-marker"
TRANSACTION_BYTES = 256 * 1024
_INPUT_TOPICS = frozenset(codec.TOPICS.values())
PAGE = 2000


@dataclass(frozen=True)
class Appended:
    """What one append did: new inputs stored, and inputs the journal already held."""

    stored: int
    duplicates: int


class Journal:
    """Appends input events once each and reads them back per account or in global order."""

    def __init__(self, recorder: ProcessRecorder, factory: InfrastructureFactory[Any]) -> None:
        self.recorder = recorder
        self._factory = factory
        self._heads: dict[UUID, int] = {}
        self._read_states = state_reader(recorder)

    @classmethod
    def open(cls, url: str) -> "Journal":
        """Open (creating tables if needed) the journal at a store URL."""
        env = Environment(name=TABLE_PREFIX, env=settings(url))
        try:
            factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
            recorder = factory.process_recorder()
        except (OperationalError, InterfaceError, InfrastructureFactoryError, OSError) as error:
            raise StoreError(
                f"cannot open the journal at {redact(url)}: {_first_line(error)}"
            ) from None
        return cls(recorder, factory)

    def close(self) -> None:
        self._factory.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------

    def append(self, events: Sequence[InputEvent]) -> Appended:
        """Store a batch; inputs already stored are skipped, not repeated.

        Each transaction holds at most about TRANSACTION_BYTES of inputs: psycopg's pipeline
        mode, which eventsourcing inserts with, hangs on much larger ones over a Unix socket.
        """
        unique = list({e.input_id: e for e in events}.values())
        stored = 0
        for chunk in _chunks(unique, TRANSACTION_BYTES):
            stored += self._append_chunk(chunk)
        return Appended(stored, len(events) - stored)

    def _append_chunk(self, events: list[InputEvent]) -> int:
        """Store inputs in one transaction; returns how many were new."""
        pending = events
        for _ in range(3):
            if not pending:
                break
            stored, heads = self._stored(pending)
            try:
                self.recorder.insert_events(stored)
            except IntegrityError:
                # Someone stored some of these first (a repeated capture, or another writer):
                # drop what is already in, re-read the stream heads, and try again.
                self._heads.clear()
                pending = [e for e in pending if not self.contains(e.input_id)]
                continue
            self._heads = heads
            return len(pending)
        if pending:
            raise StoreError("could not append: the journal's streams keep moving under us")
        return 0

    def record(self, emitted: Sequence[Emitted], tracker: str, position: int) -> None:
        """Store what a projection emitted for inputs up to ``position``, with its tracking,
        in one transaction: a crash leaves both or neither."""
        stored = [
            StoredEvent(UUID(e.event_id), 1, codec.emitted_topic(e), codec.encode_emitted(e))
            for e in emitted
        ]
        self.recorder.insert_events(stored, tracking=Tracking(tracker, position))

    def tracked_position(self, tracker: str) -> int:
        """The last journal position a projection has recorded as processed."""
        return self.recorder.max_tracking_id(tracker) or 0

    def contains(self, input_id: str) -> bool:
        return bool(self.recorder.select_events(UUID(input_id), limit=1))

    def _stored(self, events: Iterable[InputEvent]) -> tuple[list[StoredEvent], dict[UUID, int]]:
        """The rows for a batch, and the stream heads once they are in."""
        heads = dict(self._heads)
        stored: list[StoredEvent] = []
        for event in events:
            stream = account_stream_id(event.venue, event.account)
            version = heads.get(stream)
            if version is None:
                version = self._head(stream)
            version += 1
            heads[stream] = version
            marker = orjson.dumps({"stream": str(stream), "version": version})
            stored.append(StoredEvent(UUID(event.input_id), 1, MARKER_TOPIC, marker))
            stored.append(
                StoredEvent(stream, version, codec.TOPICS[event.type], codec.encode(event))
            )
        return stored, heads

    def _head(self, stream: UUID) -> int:
        last = self.recorder.select_events(stream, desc=True, limit=1)
        return last[0].originator_version if last else 0

    # --- reading ----------------------------------------------------------------------------

    def account_states(self, venue: str, account: str) -> Iterator[bytes]:
        """The stored form of an account's events, in arrival order, a page at a time."""
        stream = account_stream_id(venue, account)
        after = 0
        while True:
            page = self._read_states(stream, after, PAGE)
            for _, state in page:
                yield state
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def account_events(
        self, venue: str, account: str, symbol: str | None = None
    ) -> Iterator[InputEvent]:
        """An account's events in arrival order; with ``symbol``, only those that may touch it."""
        states = self.account_states(venue, account)
        if symbol is not None:
            states = (s for s in states if codec.mentions(s, symbol))
        return (codec.decode(state) for state in states)

    def inputs(
        self, after: int = 0, upto: int | None = None, limit: int = PAGE
    ) -> tuple[list[tuple[int, InputEvent]], int]:
        """One page of input events stored after position ``after`` (up to ``upto``), and
        the last position the page read, which may be an emitted event or a marker."""
        page = self.recorder.select_notifications(after, limit, stop=upto, inclusive_of_start=False)
        events = [(n.id, codec.decode(n.state)) for n in page if n.topic in _INPUT_TOPICS]
        return events, (page[-1].id if page else after)

    def all_events(self, after: int = 0) -> Iterator[tuple[int, InputEvent | Emitted]]:
        """Inputs and emitted events, in the order they were stored, with their positions."""
        while True:
            page = self.recorder.select_notifications(after, PAGE, inclusive_of_start=False)
            if not page:
                return
            for n in page:
                if n.topic in _INPUT_TOPICS:
                    yield n.id, codec.decode(n.state)
                elif n.topic.startswith(codec.EMITTED_TOPIC_PREFIX):
                    yield n.id, codec.decode_emitted(n.state)
            after = page[-1].id

    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def _chunks(events: list[InputEvent], limit: int) -> Iterator[list[InputEvent]]:
    """Consecutive runs of events whose raw inputs add up to about ``limit`` bytes."""
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
