"""Emitted events on TRUEUP_EVENTS, published after the transaction that stored them and
published again after a restart until JetStream has acknowledged them: an outbox per
account partition.

How far each partition's events are known to be published is kept in the journal, as the
position of the ``outbox.NN`` tracker. A worker that takes a partition over publishes
first what that partition emitted after it; an event published twice (the worker died
between the ack and the record) has its event id as its Nats-Msg-Id, and the stream's
dedup window stores it once.
"""

import asyncio
import logging

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError

from trueup.adapters.nats.streams import MSG_ID
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.codec import encode_emitted
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.projections.partitions import partition_of

log = logging.getLogger("trueup.nats")
ACK_TIMEOUT_S = 2.0
RETRY_S = 0.25
_AWAY = (
    NoStreamResponseError,
    TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    OSError,
)


def outbox_tracker(partition: int) -> str:
    """The tracker a partition's outbox records its progress under."""
    return f"outbox.{partition:02d}"


def unpublished(journal: Journal, partition: int) -> list[tuple[int, Emitted]]:
    """What the partition emitted after its outbox's recorded progress, in stored order."""
    after = journal.tracked_position(outbox_tracker(partition))
    found: list[tuple[int, Emitted]] = []
    while True:
        page, last = journal.emitted_after(after)
        found += [(at, e) for at, e in page if partition_of(e.venue, e.account) == partition]
        if last == after:
            return found
        after = last


def start_outbox(journal: Journal, partition: int) -> None:
    """A partition's first outbox starts at the journal's end: what was emitted before
    trueup published to NATS is in the journal, not on the subject."""
    if not journal.tracked_position(outbox_tracker(partition)):
        journal.record_progress(outbox_tracker(partition), max(1, journal.last_position()))


class Outbox:
    """Publishes emitted events in order, each until JetStream acknowledges it."""

    def __init__(self, js: JetStreamContext, subjects: Subjects) -> None:
        self.js = js
        self.subjects = subjects
        self.published = 0
        self.duplicates = 0

    async def publish(self, events: list[Emitted]) -> None:
        """Every event, in order; waits (and says so) while NATS is away."""
        for event in events:
            await self._publish(event)

    async def _publish(self, event: Emitted) -> None:
        subject = self.subjects.events(event.venue, event.account, event.type)
        payload = encode_emitted(event)
        away = False
        while True:
            try:
                ack = await self.js.publish(
                    subject, payload, timeout=ACK_TIMEOUT_S, headers={MSG_ID: event.event_id}
                )
            except (*_AWAY, APIError) as error:
                if isinstance(error, APIError) and error.code not in (None, 503):
                    raise
                if not away:
                    log.warning("cannot publish emitted events yet (%.100r): retrying", error)
                    away = True
                await asyncio.sleep(RETRY_S)
                continue
            if ack.duplicate:
                self.duplicates += 1
            else:
                self.published += 1
            return
