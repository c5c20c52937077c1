"""Each account's inputs as a worker takes them from TRUEUP_INPUTS: a durable pull consumer
per account subject, read in order and acknowledged only once the journal holds them.

The ack policy is ``all``: acknowledging a message acknowledges every one before it, so a
worker acknowledges a batch once, after the transaction that stored it. A message is never
given up on (no ``max_deliver``): one that cannot be decoded is stored as a rejected input
and acknowledged like any other, and one that cannot be stored yet (the journal away) waits
with the rest of its account's.

A worker that takes an account makes a consumer of its own (the account's consumer name
and a unique suffix), delivering from the ack floor of the ones before it, and deletes
those: what a dead worker had fetched but not acknowledged comes again first and in order,
and the journal stores again nothing it already holds. Never two fetchers on one consumer:
a worker that lost the account without knowing it yet (its lease went with a PostgreSQL
restart) would otherwise take messages from the middle of the new holder's, out of order,
and the holder's ack of a later message would acknowledge them unstored. Its own consumer
deleted, it fetches nothing more (ConsumerGone).
"""

import asyncio
import contextlib
import logging
import uuid

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, ConsumerInfo, DeliverPolicy
from nats.js.errors import NotFoundError

from trueup.adapters.nats.subjects import Subjects

log = logging.getLogger("trueup.nats")
# Long enough for a slow transaction on a busy journal; a message is delivered again only
# if its worker died, or takes longer than this to store it.
ACK_WAIT_S = 60.0
MAX_ACK_PENDING = 10_000


class ConsumerGone(Exception):
    """The consumer was deleted: another worker has taken the account over."""


def consumer_name(subjects: Subjects, subject: str) -> str:
    """The start of the names of one account's consumers: its tokens, joined by ``~~``,
    which no encoded token holds."""
    tail = subject[len(subjects.prefix) + len(".inputs.") :]
    return f"{subjects.prefix.replace('.', '_')}_inputs_{tail.replace('.', '~~')}"


async def consumers_of(
    js: JetStreamContext, subjects: Subjects, subject: str
) -> list[ConsumerInfo]:
    """The consumers of one account's inputs subject (one, but for a take cut short)."""
    stream, name = subjects.inputs_stream, consumer_name(subjects, subject)
    found: list[ConsumerInfo] = []
    offset = 0
    while page := await js.consumers_info(stream, offset):
        offset += len(page)
        found += [
            info
            for info in page
            if info.config.filter_subject == subject and (info.name or "").startswith(name)
        ]
    return found


def _next(info: ConsumerInfo) -> int:
    """The first stream sequence a consumer had not seen acknowledged."""
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    return max(floor + 1, info.config.opt_start_seq or 1)


def consumer_config(name: str, subject: str, start: int) -> ConsumerConfig:
    """The consumer's settings, delivering from stream sequence ``start`` (1: all kept)."""
    return ConsumerConfig(
        durable_name=name,
        description=f"trueup worker: {subject}",
        filter_subject=subject,
        ack_policy=AckPolicy.ALL,
        ack_wait=ACK_WAIT_S,
        max_ack_pending=MAX_ACK_PENDING,
        deliver_policy=DeliverPolicy.BY_START_SEQUENCE if start > 1 else DeliverPolicy.ALL,
        opt_start_seq=start if start > 1 else None,
    )


class AccountInputs:
    """One account subject's inputs, fetched in order by the one worker that holds it."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        subject: str,
        name: str,
        subscription: JetStreamContext.PullSubscription,
    ) -> None:
        self.subject = subject
        self.name = name
        self._js = js
        self._stream = stream
        self._subscription = subscription

    @classmethod
    async def take(cls, js: JetStreamContext, subjects: Subjects, subject: str) -> "AccountInputs":
        """A consumer of this taker's own, delivering from the ack floor of those before it,
        which are then deleted: whoever fetched from them fetches nothing more."""
        stream = subjects.inputs_stream
        earlier = await consumers_of(js, subjects, subject)
        # Each one's holder acknowledged only what the journal held: the furthest floor is.
        start = max((_next(info) for info in earlier), default=1)
        name = f"{consumer_name(subjects, subject)}_{uuid.uuid4().hex[:12]}"
        await js.add_consumer(stream, consumer_config(name, subject, start))
        for info in earlier:
            with contextlib.suppress(NotFoundError):
                await js.delete_consumer(stream, info.name or "")
        subscription = await js.pull_subscribe_bind(name, stream)
        return cls(js, stream, subject, name, subscription)

    async def fetch(self, batch: int, wait_s: float) -> list[Msg]:
        """Up to ``batch`` messages: those waiting, or the first to come within ``wait_s``
        (then at once, with those already behind it); [] if none comes."""
        try:
            first = await self._subscription.fetch(1, timeout=wait_s)
        except TimeoutError:
            return []
        except nats.errors.Error:
            # A deleted consumer answers with no responder (503), or 409 to a waiting pull.
            await self._raise_if_gone()
            raise
        pending = first[-1].metadata.num_pending
        if not pending or batch <= 1:
            return first
        # They are on the server already: a request that does not linger gets them in one
        # round trip. (A fetch of many that lingers waits out its timeout for the batch.)
        try:
            more = await self._subscription.fetch(min(batch - 1, pending), timeout=wait_s)
        except (TimeoutError, nats.errors.Error, OSError):
            # The first is delivered: dropped, a later ack (policy all) would acknowledge it
            # unstored. The next fetch meets whatever went wrong.
            more = []
        return first + more

    async def _raise_if_gone(self) -> None:
        """ConsumerGone if the consumer no longer exists (else JetStream is only away)."""
        try:
            await self._js.consumer_info(self._stream, self.name)
        except NotFoundError:
            raise ConsumerGone(f"{self.subject}: consumer {self.name} deleted") from None

    @staticmethod
    async def acknowledge(through: Msg) -> None:
        """Acknowledge ``through`` and every message fetched before it."""
        await through.ack()

    async def close(self) -> None:
        """Stop fetching; the consumer stays, its floor for whoever takes the account next."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._subscription.unsubscribe(), 2.0)
