"""Aster's public mark price stream on the simulator: ``/ws/<symbol>@markPrice`` (futures-api-v1.md,
"Mark Price Stream"), with the live SUBSCRIBE, UNSUBSCRIBE and LIST_SUBSCRIPTIONS requests.

A ``markPriceUpdate`` goes out when the simulator's mark moves, not on Aster's 1 s or 3 s
timer: tests see one frame per move. What the timer's first push tells a new subscriber,
the current mark, goes out at once on subscribing (the connection's own stream, or a
SUBSCRIBE), for a symbol that has one. Stream names are lower case, as Aster's are.
"""

import threading
from collections.abc import Callable

import orjson
from aiohttp import web

from trueup_simulators.serving import Client, converse

Clock = Callable[[], int]
# The current markPriceUpdate of a stream's (lower-case) symbol; None when it has no mark.
Current = Callable[[str], str | None]
STREAM_SUFFIXES = ("@markPrice", "@markPrice@1s")
FUNDING_INTERVAL_MS = 8 * 3600 * 1000


def is_mark_stream(name: str) -> bool:
    """Whether ``name`` is a mark price stream (``btcusdt@markPrice``, lower-case symbol)."""
    symbol, at, rest = name.partition("@")
    return bool(symbol) and symbol == symbol.lower() and at + rest in STREAM_SUFFIXES


def mark_price_update(symbol: str, mark: str, now: int) -> str:
    """The markPriceUpdate payload (index and settle prices read as the mark here)."""
    next_funding = (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
    event = {"e": "markPriceUpdate", "E": now, "s": symbol, "p": mark, "i": mark, "P": mark}
    return orjson.dumps({**event, "r": "0.0001", "T": next_funding}).decode()


class MarkStream:
    """The mark-price subscribers; ``publish`` and ``serve`` run on the server's loop."""

    def __init__(self, changed: threading.Condition, current: Current) -> None:
        self._changed = changed
        self._current = current
        self._streams: dict[Client, set[str]] = {}

    async def serve(self, request: web.Request, stream: str) -> web.StreamResponse:
        """GET /ws/<symbol>@markPrice: that stream, and whatever the client subscribes to."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = Client(ws, request.transport)
        with self._changed:
            self._streams[client] = {stream}
            self._changed.notify_all()
            self._send_current(client, [stream])
        try:
            await converse(client, lambda text: self._request(client, text))
        finally:
            with self._changed:
                self._streams.pop(client, None)
                self._changed.notify_all()
        return ws

    def _request(self, client: Client, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            client.send('{"code":3,"msg":"Invalid JSON: expected value at line 1 column 1"}')
            return
        if not isinstance(request, dict) or not isinstance(request.get("id"), int):
            message = "Invalid request: request ID must be an unsigned integer"
            client.send(orjson.dumps({"code": 2, "msg": message}).decode())
            return
        method, params, request_id = (
            request.get("method"),
            request.get("params") or [],
            request["id"],
        )
        result: object = None
        added: list[str] = []
        # Under the simulator's lock, told: a test waits for a subscription to be made.
        with self._changed:
            streams = self._streams.setdefault(client, set())
            if method == "SUBSCRIBE":
                added = [str(p) for p in params if is_mark_stream(str(p)) and p not in streams]
                streams.update(added)
            elif method == "UNSUBSCRIBE":
                streams.difference_update(str(p) for p in params)
            elif method == "LIST_SUBSCRIPTIONS":
                result = sorted(streams)
            else:
                message = f"Invalid request: unknown variant {method}"
                client.send(orjson.dumps({"code": 2, "msg": message}).decode())
                return
            self._changed.notify_all()
            client.send(orjson.dumps({"result": result, "id": request_id}).decode())
            self._send_current(client, added)

    def _send_current(self, client: Client, streams: list[str]) -> None:
        for stream in streams:
            text = self._current(stream.partition("@")[0])
            if text is not None:
                client.send(text)

    def publish(self, symbol: str, text: str) -> None:
        """Send ``text`` to every subscriber of ``symbol``'s mark price."""
        names = {symbol.lower() + suffix for suffix in STREAM_SUFFIXES}
        for client, streams in list(self._streams.items()):
            if streams & names:
                client.send(text)

    def drop(self) -> None:
        for client in list(self._streams):
            client.abort()

    def subscriber_count(self, symbol: str) -> int:
        names = {symbol.lower() + suffix for suffix in STREAM_SUFFIXES}
        with self._changed:
            return sum(1 for streams in self._streams.values() if streams & names)
