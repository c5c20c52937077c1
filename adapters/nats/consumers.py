"""Each account's inputs as a worker takes them from TRUEUP_INPUTS: one durable pull consumer
per account subject, read in order and acknowledged only once the journal holds them.

The ack policy is ``all``: acknowledging a message acknowledges every one before it, so a
worker acknowledges a batch once, after the transaction that stored it. A message is never
given up on (no ``max_deliver``): one that cannot be decoded is stored as a rejected input
and acknowledged like any other, and one that cannot be stored yet (the journal away) waits
with the rest of its account's.

The consumer outlives its workers. A worker that takes an account over starts it again
from its ack floor, so what a dead worker had fetched but not acknowledged comes again
first and in order, not after the messages that followed it once its ack wait ran out; the
journal stores again nothing it already holds.
"""

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from trueup.adapters.nats.subjects import Subjects

log = logging.getLogger("trueup.nats")
# Long enough for a slow transaction on a busy journal; a message is delivered again only
# if its worker died, or takes longer than this to store it.
ACK_WAIT_S = 60.0
MAX_ACK_PENDING = 10_000


def consumer_name(subjects: Subjects, subject: str) -> str:
    """The durable consumer of one account's inputs subject: its tokens, joined by ``~~``,
    which no encoded token holds."""
    tail = subject[len(subjects.prefix) + len(".inputs.") :]
    return f"{subjects.prefix.replace('.', '_')}_inputs_{tail.replace('.', '~~')}"


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

    def __init__(self, subject: str, subscription: JetStreamContext.PullSubscription) -> None:
        self.subject = subject
        self._subscription = subscription

    @classmethod
    async def take(cls, js: JetStreamContext, subjects: Subjects, subject: str) -> "AccountInputs":
        """The subject's consumer, made to deliver again from its ack floor."""
        stream = subjects.inputs_stream
        name = consumer_name(subjects, subject)
        start = 1
        try:
            info = await js.consumer_info(stream, name)
        except NotFoundError:
            info = None
        if info is not None:
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            start = max(floor + 1, info.config.opt_start_seq or 1)
            moved = info.config.filter_subject != subject
            if info.num_ack_pending or info.num_redelivered or moved:
                await js.delete_consumer(stream, name)
                info = None
        if info is None:
            await js.add_consumer(stream, consumer_config(name, subject, start))
        subscription = await js.pull_subscribe_bind(name, stream)
        return cls(subject, subscription)

    async def fetch(self, batch: int, wait_s: float) -> list[Msg]:
        """Up to ``batch`` messages: those waiting, or the first to come within ``wait_s``
        (then at once, with those already behind it); [] if none comes."""
        try:
            first = await self._subscription.fetch(1, timeout=wait_s)
        except TimeoutError:
            return []
        pending = first[-1].metadata.num_pending
        if not pending or batch <= 1:
            return first
        # They are on the server already: a request that does not linger gets them in one
        # round trip. (A fetch of many that lingers waits out its timeout for the batch.)
        try:
            more = await self._subscription.fetch(min(batch - 1, pending), timeout=wait_s)
        except TimeoutError:
            more = []
        return first + more

    @staticmethod
    async def acknowledge(through: Msg) -> None:
        """Acknowledge ``through`` and every message fetched before it."""
        await through.ack()

    async def close(self) -> None:
        """Stop fetching; the consumer stays, for whoever takes the account next."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._subscription.unsubscribe(), 2.0)
