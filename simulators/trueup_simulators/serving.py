"""One aiohttp application on 127.0.0.1, served from a thread that runs its own event loop.

What a venue simulator needs of its server: start (a free port the first time), stop, and
start again on the same port (an exchange restart as clients meet it), plus ways for other
threads to act on the loop. The application is built afresh at each start.
"""

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

T = TypeVar("T")
HOST = "127.0.0.1"


class ServedApp:
    """Serves ``build()`` on ``HOST``; ``before_close`` runs on the loop before each stop."""

    def __init__(
        self,
        name: str,
        build: Callable[[], web.Application],
        *,
        port: int = 0,
        before_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._name, self._build, self._before_close = name, build, before_close
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"the {self._name} has not started yet")
        return self._port

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The serving loop, None while stopped."""
        return self._loop

    def start(self, timeout: float = 5.0) -> None:
        """Serve in a new thread; after a stop, on the same port."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._serve, args=(loop, ready, failure), name=self._name, daemon=True
        )
        thread.start()
        if not ready.wait(timeout) or failure:
            thread.join(timeout)
            raise RuntimeError(f"the {self._name} did not start") from (
                failure[0] if failure else None
            )
        self._loop, self._thread = loop, thread

    def stop(self, timeout: float = 5.0) -> None:
        """Run ``before_close``, stop serving and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._loop, self._thread = None, None

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Run ``callback(*args)`` on the loop soon; nothing while stopped (a push is lost)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(callback, *args)

    def run(self, step: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``step`` on the loop and wait for its result."""
        loop = self._loop
        if loop is None:
            step.close()
            raise RuntimeError(f"the {self._name} is not running")
        return asyncio.run_coroutine_threadsafe(step, loop).result(timeout)

    def _serve(
        self, loop: asyncio.AbstractEventLoop, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:  # handed to start(), which raises it in the caller
            failure.append(error)
            ready.set()
            loop.close()
            return
        ready.set()
        loop.run_forever()
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    async def _open(self) -> None:
        runner = web.AppRunner(self._build(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, self._port, reuse_address=True)
        await site.start()
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def _close(self) -> None:
        if self._before_close is not None:
            await self._before_close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass(eq=False)
class Client:
    """One WebSocket client; frames go out in order through its outbox, written by ``pump``."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    # None in the outbox: close once everything before it is sent.
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    close_code: int = WSCloseCode.GOING_AWAY

    async def pump(self) -> None:
        """Write the outbox until the connection goes (run as a task beside the reader)."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while (text := await self.outbox.get()) is not None:
                await self.ws.send_str(text)
            await self.ws.close(code=self.close_code)

    def send(self, text: str) -> None:
        self.outbox.put_nowait(text)

    def close_soon(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close with ``code`` once what is already queued is sent."""
        self.close_code = code
        self.outbox.put_nowait(None)

    def abort(self) -> None:
        """Cut the connection without a close handshake, as a cut cable does."""
        if self.transport is not None:
            self.transport.abort()


async def converse(client: Client, on_text: Callable[[str], None]) -> None:
    """Hand the client's text messages to ``on_text`` while its outbox is written, until the
    connection goes."""
    writer = asyncio.create_task(client.pump())
    try:
        async for message in client.ws:
            if message.type == WSMsgType.TEXT:
                on_text(message.data)
    finally:
        writer.cancel()


class ServedSimulator:
    """Lifecycle of a simulator served by a ``ServedApp`` (its ``_server``): start, stop,
    restart on the same port with its state kept, and use as a context manager."""

    _server: ServedApp

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server.running

    def start(self, timeout: float = 5.0) -> Self:
        """Serve in a new thread; after a stop, on the same port with the same state."""
        self._server.start(timeout)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Cut every connection and stop serving; the state stays as it is."""
        self._server.stop(timeout)

    def restart(self) -> None:
        """Stop, then start again on the same port: what a client sees of an exchange restart."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
