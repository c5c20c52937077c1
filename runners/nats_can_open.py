"""Can-open over NATS request/reply: ``<prefix>.can-open.<venue>.<account>`` answered with
the document `GET /v1/can-open` answers, from the same service call (docs/nats.md).

faststream's NatsBroker, not bare nats-py as the publisher uses, because this is a service
answering requests, which is what faststream is for: a declared subscriber in a queue group
whose return value is the reply, a handler that a bad message cannot kill, and a stop that
lets the requests in hand finish. Plain core NATS: no JetStream, so no acks to get wrong.
"""

import asyncio
import contextlib
import logging
import threading
from typing import Any

import nats.errors
import orjson
from faststream.message import StreamMessage
from faststream.nats import NatsBroker, NatsResponse
from nats.aio.client import Client
from nats.aio.msg import Msg

from trueup.adapters.nats.connection import CONNECT_TIMEOUT_S, reconnecting, shown
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.location import StoreError
from trueup.application.can_open import CanOpenAnswer
from trueup.application.service import TrueupService
from trueup.runners.can_open_request import BadRequest, CanOpenRequest, read_request

log = logging.getLogger("trueup.nats.can_open")
# How long a stop waits for the answers in hand, and then for the connection to close.
STOP_S = 5.0


class CanOpenResponder:
    """Answers can-open requests for every account under ``subjects``' prefix, one at a time,
    each in a thread holding ``lock`` (the journal's, shared with the caller's threads)."""

    def __init__(
        self,
        url: str,
        subjects: Subjects,
        service: TrueupService,
        lock: threading.Lock,
        *,
        name: str = "trueup can-open",
    ) -> None:
        self.url = url
        self.subjects = subjects
        self.service = service
        self.lock = lock
        self.answered = 0
        self.refused = 0  # malformed requests, told why
        self._stopping = False
        self._away = False
        self._broker = NatsBroker(
            **reconnecting(url, name),
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
            # Our own lines, not faststream's: one per outage, not one per message or retry.
            logger=None,
            # The body is read here, so that a malformed one is answered, not dropped.
            apply_types=False,
            graceful_timeout=STOP_S,
        )
        self._broker.subscriber(subjects.all_can_open, queue=subjects.can_open_queue, decoder=_raw)(
            self._reply
        )
        self._subscribing: asyncio.Task[None] | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        """Subscribe, and return once requests are answered; if NATS is not up yet, return
        after a few seconds all the same and subscribe when it is (``ready`` waits for it)."""
        self._subscribing = asyncio.create_task(self._subscribe(), name="nats-can-open")
        self._subscribing.add_done_callback(_said_if_failed)
        await asyncio.wait({self._subscribing}, timeout=2 * CONNECT_TIMEOUT_S)
        if self._subscribing.done():
            self._subscribing.result()  # an error that no retry can mend (credentials) is raised
        else:
            log.warning(
                "NATS at %s is not reachable: can-open requests are answered once it is",
                shown(self.url),
            )

    async def ready(self) -> None:
        """Return once subscribed."""
        if self._subscribing is None:
            raise RuntimeError("the can-open responder was not started")
        await asyncio.shield(self._subscribing)

    async def stop(self) -> None:
        """Let the answers in hand go out, unsubscribe, and close the connection."""
        self._stopping = True
        if self._subscribing is not None and not self._subscribing.done():
            self._subscribing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._subscribing
        try:
            await asyncio.wait_for(self._broker.stop(), 2 * STOP_S)
        except (nats.errors.Error, TimeoutError) as error:
            # NATS away: nothing to drain, and nothing to tell it.
            log.debug("NATS: %r on stopping the can-open responder", error)
            if self._client is not None:
                await self._client.close()

    async def _subscribe(self) -> None:
        self._client = await self._broker.connect()
        await self._broker.start()
        # The subscription is at the server once a round trip has been: from now on
        # requests are answered.
        await self._broker.connection.flush(timeout=int(2 * CONNECT_TIMEOUT_S))
        log.info(
            "answering can-open on %s at %s (queue %s)",
            self.subjects.all_can_open,
            shown(self.url),
            self.subjects.can_open_queue,
        )

    async def _reply(self, request: Msg) -> NatsResponse | None:
        """The answer to one request: the can-open document, or {"error": ...}."""
        if not request.reply:
            return None  # published, not asked: nobody would read the answer
        try:
            asked = read_request(self.subjects, request.subject, request.data)
        except BadRequest as error:
            self.refused += 1
            return _error(str(error))
        try:
            answer = await asyncio.to_thread(self._answer, asked)
        except StoreError as error:
            return _error(f"the journal cannot be reached: {error}")
        except Exception:
            # Whatever went wrong, the asker hears so now rather than after its timeout.
            log.exception("can-open over NATS failed on %s", request.subject)
            return _error("trueup failed to answer: see its log")
        self.answered += 1
        return _json(answer.as_document())

    def _answer(self, asked: CanOpenRequest) -> CanOpenAnswer:
        with self.lock:
            return self.service.can_open(
                asked.venue,
                asked.account,
                asked.symbol,
                side=asked.side,
                timeframe=asked.timeframe,
                at=asked.at,
            )

    async def _disconnected(self) -> None:
        if not self._stopping and not self._away:
            self._away = True
            log.warning(
                "NATS at %s is away: can-open requests go unanswered until it is back",
                shown(self.url),
            )

    async def _reconnected(self) -> None:
        if self._away:
            self._away = False
            log.warning("NATS at %s is back: answering can-open again", shown(self.url))


def _said_if_failed(subscribing: "asyncio.Task[None]") -> None:
    # Failing in the background, after start has returned, must not go unheard.
    if not subscribing.cancelled() and subscribing.exception() is not None:
        log.error("can-open over NATS could not subscribe: %s", subscribing.exception())


async def _raw(message: StreamMessage[Msg]) -> Any:
    # The message as NATS delivered it: its subject names the account, and its body is
    # read by read_request, which says what is wrong with it.
    return message.raw_message


def _json(document: dict[str, Any]) -> NatsResponse:
    # As HTTP renders it: orjson, whatever is left (a Decimal) as its string.
    body = orjson.dumps(document, default=str)
    return NatsResponse(body, headers={"content-type": "application/json"})


def _error(why: str) -> NatsResponse:
    return _json({"error": why})
