"""The runner's publisher: what the spool holds, sent to JetStream in order, from a thread
of its own, so that neither NATS being away nor a slow ack ever holds up the venue feed.

Each message is sent with its Nats-Msg-Id and taken off the spool once JetStream has
acknowledged it; one that fails is sent again until it is acknowledged, so a message may
reach the server twice, and the stream's dedup window stores it once.
"""

import asyncio
import contextlib
import logging
import threading
import time

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError

from trueup.adapters.nats.connection import NoJetStream, connect, require_jetstream, shown
from trueup.adapters.nats.spool import Spool, Spooled
from trueup.adapters.nats.streams import MSG_ID, StreamTaken, ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.codec import encode_emitted
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent

log = logging.getLogger("trueup.nats")
ACK_TIMEOUT_S = 2.0
RETRY_S = 0.25
IDLE_S = 0.5
# Said again while NATS stays away, so a long outage is not one line at its start.
AWAY_REMINDER_S = 60.0
# What a transient failure to publish looks like: NATS away, restarting, or slow.
_TRANSIENT = (
    NoStreamResponseError,
    TimeoutError,
    asyncio.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoRespondersError,
    nats.errors.TimeoutError,
    OSError,
)


class Publisher:
    """Spools inputs and emitted events for NATS, and publishes the spool from a thread."""

    def __init__(self, url: str, subjects: Subjects, spool: Spool, name: str) -> None:
        self.url = url
        self.subjects = subjects
        self.spool = spool
        self.name = name
        self.published = 0
        self.duplicates = 0  # acknowledged as already stored (a message sent again)
        self.skipped = 0  # refused for good by the server (too large, say): logged
        self._thread = threading.Thread(target=self._run, name="nats-publisher", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle = False
        self._stop_at: float | None = None
        self._away_since: float | None = None
        self._reminded = 0.0
        self._streams_checked = False

    # --- the writer's side: never blocks on NATS -------------------------------------

    def input(self, event: InputEvent, line: bytes) -> None:
        """Spool an input: its capture line, on its account's subject, its input id as id."""
        subject = self.subjects.inputs(event.venue, event.account)
        self._spool(subject, event.input_id, line)

    def emitted(self, event: Emitted) -> None:
        """Spool an emitted event, once committed: its stored form, its event id as id."""
        subject = self.subjects.events(event.venue, event.account, event.type)
        self._spool(subject, event.event_id, encode_emitted(event))

    def _spool(self, subject: str, msg_id: str, payload: bytes) -> None:
        if self.spool.append(subject, msg_id, payload) and self._idle:
            self._idle = False
            loop, wake = self._loop, self._wake
            if loop is not None and wake is not None:
                loop.call_soon_threadsafe(wake.set)

    # --- the thread ---------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Publish what is spooled for up to ``drain_s`` more seconds, then stop; what is
        left stays in the spool for the next run."""
        self._stop_at = time.monotonic() + drain_s
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            loop.call_soon_threadsafe(wake.set)
        self._thread.join(drain_s + ACK_TIMEOUT_S + 5)
        if self.spool.waiting_bytes:
            log.warning(
                "%d bytes of messages are left in the NATS spool %s: the next run with "
                "this spool publishes them",
                self.spool.waiting_bytes,
                self.spool.path,
            )

    def _run(self) -> None:
        asyncio.run(self._main())

    def _done(self) -> bool:
        """Stopping, and either all is published or the time to drain is up."""
        if self._stop_at is None:
            return False
        return not self.spool.waiting_bytes or time.monotonic() >= self._stop_at

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        connecting = asyncio.create_task(self._connect())
        await asyncio.wait({connecting}, timeout=IDLE_S)
        while not connecting.done():
            if self._done():
                connecting.cancel()
                return
            self._note_away("not reachable")
            await asyncio.wait({connecting}, timeout=IDLE_S)
        client = connecting.result()
        try:
            await self._publish_spool(client, client.jetstream(timeout=ACK_TIMEOUT_S))
        finally:
            await client.close()

    async def _connect(self) -> Client:
        async def reconnected() -> None:
            self._streams_checked = False  # a server restarted afresh has none

        return await connect(self.url, self.name, reconnected_cb=reconnected)

    async def _publish_spool(self, client: Client, js: JetStreamContext) -> None:
        while not self._done():
            if not self._streams_checked and not await self._check_streams(client, js):
                await self._pause()
                continue
            batch = self.spool.waiting()
            if not batch:
                await self._wait_for_more()
                continue
            for message in batch:
                if not await self._publish(js, message):
                    break
                self.spool.acknowledged(message.end)

    async def _check_streams(self, client: Client, js: JetStreamContext) -> bool:
        try:
            await require_jetstream(client, self.url)
            await ensure_streams(js, self.subjects)
        except NoJetStream as error:
            log.error("%s: spooling until it has", error)
            return False
        except StreamTaken as error:
            log.error("%s: spooling until then", error)
            return False
        except (*_TRANSIENT, APIError) as error:
            self._note_away(f"{error!r:.100}")
            return False
        self._streams_checked = True
        return True

    async def _publish(self, js: JetStreamContext, message: Spooled) -> bool:
        """True once JetStream has the message (or has refused it for good)."""
        try:
            ack = await js.publish(
                message.subject,
                message.payload,
                timeout=ACK_TIMEOUT_S,
                headers={MSG_ID: message.msg_id},
            )
        except NotFoundError:
            self._streams_checked = False
            return False
        except nats.errors.MaxPayloadError as error:
            return self._skip(message, f"larger than the server takes: {error}")
        except APIError as error:
            if error.code in (None, 503):
                self._note_away(f"{error!r:.100}")
                await self._pause()
                return False
            return self._skip(message, str(error))
        except _TRANSIENT as error:
            if isinstance(error, NoStreamResponseError):
                self._streams_checked = False  # JetStream restarting, or the stream gone
            self._note_away(f"{error!r:.100}")
            await self._pause()
            return False
        self._note_back()
        if ack.duplicate:
            self.duplicates += 1
        else:
            self.published += 1
        return True

    def _skip(self, message: Spooled, why: str) -> bool:
        log.error(
            "NATS refused %s %s for good, not published: %s", message.subject, message.msg_id, why
        )
        self.skipped += 1
        return True

    async def _wait_for_more(self) -> None:
        self._idle = True
        # The writer may have spooled between our read and _idle: look once more.
        if self.spool.waiting_bytes:
            self._idle = False
            return
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), IDLE_S)
        self._idle = False

    async def _pause(self) -> None:
        assert self._wake is not None
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), RETRY_S)

    def _note_away(self, why: str) -> None:
        now = time.monotonic()
        if self._away_since is None:
            self._away_since = self._reminded = now
            log.warning(
                "NATS at %s is away (%s): spooling to %s until it is back",
                shown(self.url),
                why,
                self.spool.path,
            )
        elif now - self._reminded >= AWAY_REMINDER_S:
            self._reminded = now
            log.warning(
                "NATS at %s still away after %.0f s: %d bytes spooled",
                shown(self.url),
                now - self._away_since,
                self.spool.waiting_bytes,
            )

    def _note_back(self) -> None:
        if self._away_since is not None:
            log.warning(
                "NATS at %s is back after %.1f s: publishing the spool",
                shown(self.url),
                time.monotonic() - self._away_since,
            )
            self._away_since = None
