"""Aster's user data stream on the simulator: the account's listenKey and the clients reading
``/ws/<listenKey>`` (futures-api-v1.md, "User Data Streams").

POST /fapi/v1/listenKey starts a key (or returns the active one, extended), PUT extends it,
DELETE closes it; a key is valid for ``validity_ms`` (60 minutes by default) after its last
start or keep-alive. When it lapses (or ``expire`` is called) its readers get
``listenKeyExpired`` and are disconnected; a connection to a key that is not active is
refused with HTTP 400 and Aster's -1125. Key state is thread-safe; the clients live on the
server's loop.
"""

import asyncio
import random
import string
import threading
from collections.abc import Callable

import orjson
from aiohttp import WSCloseCode, web

from trueup_simulators.serving import Client, converse

Clock = Callable[[], int]
VALIDITY_MS = 60 * 60 * 1000
INVALID_LISTEN_KEY = -1125
EXPIRY_CHECK_SECONDS = 0.05


class UserStream:
    """The one listenKey of the simulated account and its readers."""

    def __init__(
        self,
        wall_clock: Clock,
        changed: threading.Condition,
        *,
        validity_ms: int = VALIDITY_MS,
        seed: int = 11,
    ) -> None:
        self._wall_clock, self._changed, self.validity_ms = wall_clock, changed, validity_ms
        self._rng = random.Random(seed)
        self._key: str | None = None
        self._expires_at = 0
        self._clients: dict[Client, str] = {}  # on the loop only; each reader and its key

    # ---- REST side (any thread) ---------------------------------------------------------------

    def start(self) -> str:
        """POST: the active key, extended, or a new one."""
        with self._changed:
            if self._key is None:
                alphabet = string.ascii_letters + string.digits
                self._key = "".join(self._rng.choice(alphabet) for _ in range(64))
            self._expires_at = self._wall_clock() + self.validity_ms
            return self._key

    def keep_alive(self) -> bool:
        """PUT: extend the active key; False when there is none."""
        with self._changed:
            if self._key is None:
                return False
            self._expires_at = self._wall_clock() + self.validity_ms
            return True

    def close(self) -> str | None:
        """DELETE: invalidate the active key; the key closed, None when there was none."""
        with self._changed:
            key, self._key = self._key, None
            return key

    def lapse(self) -> str | None:
        """Invalidate the active key as its validity ran out; the key, None if none."""
        return self.close()

    def due(self) -> bool:
        """Whether the active key has outlived its validity."""
        with self._changed:
            return self._key is not None and self._wall_clock() >= self._expires_at

    @property
    def key(self) -> str | None:
        with self._changed:
            return self._key

    def reader_count(self) -> int:
        with self._changed:
            return len(self._clients)

    # ---- loop side ----------------------------------------------------------------------------

    async def serve(self, request: web.Request, key: str) -> web.StreamResponse:
        """GET /ws/<listenKey>."""
        if key != self.key:
            body = orjson.dumps(
                {"code": INVALID_LISTEN_KEY, "msg": "This listenKey does not exist."}
            )
            return web.Response(status=400, body=body, content_type="application/json")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = Client(ws, request.transport)
        with self._changed:
            self._clients[client] = key
            self._changed.notify_all()
        try:
            await converse(client, lambda _text: None)  # the user stream takes no requests
        finally:
            with self._changed:
                self._clients.pop(client, None)
                self._changed.notify_all()
        return ws

    def fan_out(self, key: str, texts: list[str]) -> None:
        """Send events to the readers of ``key``, the key active when they happened (events
        while none reads are lost)."""
        for client, client_key in list(self._clients.items()):
            if client_key == key:
                for text in texts:
                    client.send(text)

    def expired(self, key: str, event_time: int) -> None:
        """Tell ``key``'s readers it expired, then disconnect them."""
        text = orjson.dumps({"e": "listenKeyExpired", "E": event_time}).decode()
        for client, client_key in list(self._clients.items()):
            if client_key == key:
                client.send(text)
                client.close_soon(WSCloseCode.POLICY_VIOLATION)

    def closed(self, key: str) -> None:
        """Disconnect ``key``'s readers (DELETE closed the stream)."""
        for client, client_key in list(self._clients.items()):
            if client_key == key:
                client.close_soon(WSCloseCode.GOING_AWAY)

    def drop(self, *, clean: bool) -> None:
        """Cut every reader: abruptly, or ``clean`` with close code 1001."""
        for client in list(self._clients):
            if clean:
                client.close_soon(WSCloseCode.GOING_AWAY)
            else:
                client.abort()

    async def watch(self, clock: Clock) -> None:
        """Expire the key when its validity runs out (runs for as long as the server does)."""
        while True:
            await asyncio.sleep(EXPIRY_CHECK_SECONDS)
            if self.due():
                key = self.lapse()
                if key is not None:
                    self.expired(key, clock())
