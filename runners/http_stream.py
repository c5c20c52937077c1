"""``GET /v1/events`` as Server-Sent Events: every stored event as it is stored, whoever
stored it.

One follower polls the journal's end and reads each new event once, for every stream; each
stream takes what it asked for into a bounded queue of its own. A stream whose client reads
too slowly to keep up is disconnected when its queue is full, never buffered without bound:
it resumes with Last-Event-ID and reads what it missed from the journal.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from trueup.adapters.store.codec import event_json
from trueup.adapters.store.location import StoreError
from trueup.application.answers import EventPage
from trueup.application.service import EventFilter
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.instants import iso

log = logging.getLogger("trueup.http")

MEDIA_TYPE = "text/event-stream"
# How long a browser's EventSource waits before it reconnects.
RETRY_MS = 1_000
# Events read from the journal at once: by the follower, and for a stream's backlog.
BACKLOG_PAGE = 500


@dataclass(frozen=True)
class StreamSettings:
    """How often the journal's end is polled, how many events a client may fall behind
    before it is disconnected, and how often an idle stream says it is alive.

    New events are handed on in pages of at most ``buffer``: a client that reads as fast
    as they come is never more than a page behind."""

    poll_s: float = 0.025
    buffer: int = 1_000
    heartbeat_s: float = 15.0


class StoredEvent:
    """One stored event, rendered once for every stream that wants it (and not at all for
    none)."""

    def __init__(self, position: int, event: InputEvent | Emitted) -> None:
        self.position = position
        self.event = event

    @cached_property
    def frame(self) -> bytes:
        return frame(self.position, self.event)


def frame(position: int, event: InputEvent | Emitted) -> bytes:
    """The event as SSE: its position the id, its type the name, the page's JSON the data."""
    data = event_json(position, event) | {"at_iso": iso(event.at)}
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        position,
        event.type.encode(),
        orjson.dumps(data, default=str),
    )


class Subscriber:
    """One stream's client: what it asked for, and the events waiting to be written to it."""

    def __init__(self, wanted: EventFilter, after: int, buffer: int) -> None:
        self.wanted = wanted
        self.after = after  # the last position written (or skipped): never written twice
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(buffer)
        self.behind = asyncio.Event()

    def offer(self, stored: StoredEvent) -> bool:
        """Queue ``stored`` if wanted; False once the queue is full: too far behind."""
        if stored.position <= self.after or not self.wanted.matches(stored.event):
            return True
        try:
            self.queue.put_nowait(stored)
        except asyncio.QueueFull:
            self.behind.set()
            return False
        return True

    def end(self) -> None:
        """The server is stopping: the stream ends once what is queued is written."""
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.behind.set()  # it would not have got through what is queued anyway


@dataclass(frozen=True)
class FollowerWatch:
    """What the follower tells as it goes (the server's metrics): each event it counts, the
    streams open whenever that changes, and each stream dropped for falling behind."""

    stored: Callable[[InputEvent | Emitted], object] = lambda _: None
    streams: Callable[[int], object] = lambda _: None
    dropped: Callable[[], object] = lambda: None


class JournalFollower:
    """Polls the journal's end and hands each new event to every subscriber.

    With no stream open it reads only what ``counted`` reads (emitted events and reconnects,
    by topic: the metrics' share, a fraction of the inputs), or nothing at all without it:
    with ``--workers N``, one process counts, and N followers decoding every input would
    take the cores the writes need."""

    def __init__(
        self,
        end: Callable[[], int],
        read: Callable[[int, int], EventPage],
        settings: StreamSettings,
        *,
        counted: Callable[[int, int], EventPage] | None = None,
        watch: FollowerWatch = FollowerWatch(),
    ) -> None:
        # All three read the journal: called in a thread, never on the event loop. ``read``
        # and ``counted`` take a position and how many events at most.
        self._end = end
        self._read = read
        self._counted = counted
        self.settings = settings
        self.watch = watch
        self.subscribers: set[Subscriber] = set()
        # Every event up to here has been handed on; None until the follower has started.
        self.position: int | None = None
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stopping = False

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        self.watch.streams(len(self.subscribers))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.discard(subscriber)
            self.watch.streams(len(self.subscribers))

    @property
    def page(self) -> int:
        return min(BACKLOG_PAGE, self.settings.buffer)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow())

    async def stop(self) -> None:
        """End every stream, then stop following."""
        self.stopping = True
        self._started.set()  # a stream still waiting for the follower ends at once
        for subscriber in self.subscribers:
            subscriber.end()
        self.subscribers.clear()
        self.watch.streams(0)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        while True:
            try:
                end = await asyncio.to_thread(self._end)
                if self.position is None:
                    self.position = end
                    self._started.set()
                while self.position < end:
                    read = self._read if self.subscribers else self._counted
                    if read is None:
                        self.position = end  # no one to hand anything on to
                        break
                    page = await asyncio.to_thread(read, self.position, self.page)
                    if read is not self._read and self.subscribers:
                        continue  # a stream joined meanwhile: read the page again, all of it
                    self._hand_on(page, end)
            except asyncio.CancelledError:
                raise
            except StoreError as error:
                # The journal's retrying has given up for now (/health says so): one line,
                # as the projection's own give-up; poll again.
                log.warning("following the journal for the event streams: %s", error)
            except Exception:
                log.exception("following the journal for the event streams")
            await asyncio.sleep(self.settings.poll_s)

    def _hand_on(self, page: EventPage, end: int) -> None:
        """Hand a page on, all at once: a stream that subscribes sees all of it or none."""
        assert self.position is not None
        for position, event in page.events:
            self.watch.stored(event)
            stored = StoredEvent(position, event)
            for subscriber in list(self.subscribers):
                if not subscriber.offer(stored):
                    self.unsubscribe(subscriber)
                    self.watch.dropped()
                    log.warning(
                        "an event stream's client is %d events behind: disconnected "
                        "(it resumes with Last-Event-ID)",
                        self.settings.buffer,
                    )
        # A page short of the limit read to the end (markers past the last event included).
        full = len(page.events) >= self.page
        self.position = page.next_after if full else max(page.next_after, end)

    async def started(self) -> int | None:
        """Where the follower is, once started; None if it is stopping."""
        await self._started.wait()
        return None if self.stopping else self.position


class EventStream(Response):
    """The SSE response: what is stored after ``after`` and matches, then each new event as
    it is stored, until the client goes, falls too far behind, or the server stops."""

    media_type = MEDIA_TYPE

    def __init__(
        self,
        follower: JournalFollower,
        wanted: EventFilter,
        after: int,
        read: Callable[[int], Awaitable[EventPage]],
    ) -> None:
        super().__init__(
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            media_type=MEDIA_TYPE,
        )
        # No length: the body is written as it comes, chunk by chunk, until it ends.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.follower = follower
        self.wanted = wanted
        self.after = after
        self.read = read  # the stored events of ``wanted`` after a position (the backlog)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        subscriber = Subscriber(self.wanted, self.after, self.follower.settings.buffer)
        try:
            async with anyio.create_task_group() as tasks:

                async def until(done: Callable[[], Awaitable[object]]) -> None:
                    await done()
                    tasks.cancel_scope.cancel()

                tasks.start_soon(until, lambda: self._write(subscriber, send))
                tasks.start_soon(until, lambda: _gone(receive))
                # A writer held up by a client that does not read is stopped here.
                tasks.start_soon(until, subscriber.behind.wait)
        finally:
            self.follower.unsubscribe(subscriber)
        # Fallen behind, the body is left incomplete: uvicorn then closes the connection,
        # the one way an ASGI application can drop a client that does not read.

    async def _write(self, subscriber: Subscriber, send: Send) -> None:
        """Write the backlog, then subscribe and write what comes; the body is completed
        when the server stops."""
        await send(_body(b"retry: %d\n\n" % RETRY_MS))
        live = await self.follower.started()
        # Read stored events until the follower's position is reached, then subscribe: no
        # await between the check and the subscription, so no event falls in between.
        while live is not None and subscriber.after < live:
            page = await self.read(subscriber.after)
            for position, event in page.events:
                await send(_body(frame(position, event)))
            subscriber.after = max(subscriber.after, page.next_after)
            if len(page.events) < BACKLOG_PAGE:
                subscriber.after = max(subscriber.after, live)  # read to the end
            live = None if self.follower.stopping else self.follower.position
        if live is None:  # the server is stopping
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        self.follower.subscribe(subscriber)
        heartbeat = self.follower.settings.heartbeat_s
        while True:
            try:
                async with asyncio.timeout(heartbeat):
                    stored = await subscriber.queue.get()
            except TimeoutError:
                await send(_body(b": alive\n\n"))
                continue
            if stored is None:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(_body(stored.frame))
            subscriber.after = stored.position


async def _gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _body(data: bytes) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": True}


class LeftIncomplete(logging.Filter):
    """Drops uvicorn's error for a response left incomplete: a stream whose client fell
    behind is ended so on purpose, and the warning above says why."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing response."
