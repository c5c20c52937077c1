"""Bybit's public linear stream on the simulator: ``/v5/public/linear``, ``tickers.<symbol>``.

A subscriber gets the symbol's whole ticker (a snapshot) once it has one, then deltas that
carry only the fields that changed, as Bybit pushes them. Prices are set from tests and
scenarios (and by the simulator's move_mark); connections can be cut like the private ones.
"""

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
from aiohttp import WSMsgType, web

from trueup.adapters.bybit.tickers import TOPIC, ticker_frame

PUBLIC_LINEAR_PATH = "/v5/public/linear"
Clock = Callable[[], int]
# The ticker's other documented fields, steady here: only the prices move.
STEADY_FIELDS = {
    "tickDirection": "ZeroPlusTick",
    "price24hPcnt": "0",
    "openInterest": "0",
    "turnover24h": "0",
    "volume24h": "0",
    "fundingRate": "0.0001",
    "nextFundingTime": "0",
}


@dataclass(eq=False)
class _Subscriber:
    """One public-stream client and the symbols it subscribed."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    conn_id: str
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    symbols: set[str] = field(default_factory=set)


class PublicTickers:
    """The tickers and their subscribers; every public method is thread-safe."""

    def __init__(self, clock: Clock, reply_latency: float) -> None:
        self.clock = clock
        self._reply_latency = reply_latency
        self._tickers: dict[str, dict[str, str]] = {}
        self._subscribers: set[_Subscriber] = set()
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._serial = 0
        self._cs = 0  # Bybit's cross sequence, one per push

    # --- what tests and scenarios do ----------------------------------------------------

    def set(
        self,
        symbol: str,
        *,
        mark_price: str | None = None,
        last_price: str | None = None,
        index_price: str | None = None,
        volume_24h: str | None = None,
    ) -> None:
        """Move ``symbol``'s prices (or its volume alone: trading that moves no price): its
        subscribers get a delta of what changed (their first word on it, a snapshot)."""
        given = {
            "markPrice": mark_price,
            "lastPrice": last_price,
            "indexPrice": index_price,
            "volume24h": volume_24h,
        }
        with self._changed:
            held = self._tickers.get(symbol)
            first = held is None
            ticker = held if held is not None else dict(STEADY_FIELDS)
            moved = {k: v for k, v in given.items() if v is not None and ticker.get(k) != v}
            ticker.update(moved)
            self._tickers[symbol] = ticker
            if not moved and not first:
                return
            frame = self._frame(symbol, ticker if first else moved, snapshot=first)
        self._send(symbol, frame)

    def ticker(self, symbol: str) -> dict[str, str] | None:
        with self._changed:
            held = self._tickers.get(symbol)
            return None if held is None else dict(held)

    def drop_connections(self) -> None:
        """Cut every public connection, abruptly (a cut cable)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.abort)

    def wait_subscribed(self, symbol: str, *, clients: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``clients`` connections hold ``symbol``'s ticker topic."""
        with self._changed:
            return self._changed.wait_for(
                lambda: sum(symbol in s.symbols for s in self._subscribers) >= clients, timeout
            )

    def connection_count(self) -> int:
        with self._changed:
            return len(self._subscribers)

    # --- the server's side --------------------------------------------------------------

    def abort(self) -> None:
        """On the loop: cut every connection."""
        for subscriber in list(self._subscribers):
            if subscriber.transport is not None:
                subscriber.transport.abort()

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self._loop = asyncio.get_running_loop()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self._changed:
            self._serial += 1
            subscriber = _Subscriber(ws, request.transport, f"c{self._serial:019d}-pub")
            self._subscribers.add(subscriber)
            self._changed.notify_all()
        writer = asyncio.create_task(self._write(subscriber))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(subscriber, message.data)
        finally:
            writer.cancel()
            with self._changed:
                self._subscribers.discard(subscriber)
                self._changed.notify_all()
        return ws

    async def _write(self, subscriber: _Subscriber) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                await subscriber.ws.send_str(await subscriber.outbox.get())

    def _on_text(self, subscriber: _Subscriber, data: str) -> None:
        try:
            request = orjson.loads(data)
            op, args, req_id = request.get("op"), request.get("args") or [], request.get("req_id")
        except (orjson.JSONDecodeError, AttributeError):
            self._reply(subscriber, {"success": False, "ret_msg": "error:not json", "op": ""})
            return
        if op == "ping":
            self._reply(subscriber, {"success": True, "ret_msg": "pong", "op": "ping"}, req_id)
        elif op == "subscribe":
            self._subscribe(subscriber, [str(a) for a in args], req_id)
        elif op == "unsubscribe":
            with self._changed:
                subscriber.symbols.difference_update(_symbols([str(a) for a in args]))
            self._reply(subscriber, {"success": True, "ret_msg": "", "op": op}, req_id)
        else:
            body = {"success": False, "ret_msg": f"error:invalid op {op}", "op": str(op)}
            self._reply(subscriber, body, req_id)

    def _subscribe(self, subscriber: _Subscriber, topics: list[str], req_id: object) -> None:
        unknown = [t for t in topics if not t.startswith(TOPIC + ".")]
        if unknown or not topics:
            body = {"success": False, "ret_msg": f"error:handler not found,topic:{unknown}"}
            self._reply(subscriber, {**body, "op": "subscribe"}, req_id)
            return
        symbols = _symbols(topics)

        def apply() -> None:
            # Subscribed with the ack, then each ticker held goes out whole: no push between.
            with self._changed:
                subscriber.symbols.update(symbols)
                snapshots = [
                    self._frame(s, self._tickers[s], snapshot=True)
                    for s in symbols
                    if s in self._tickers
                ]
                self._changed.notify_all()
            for frame in snapshots:
                subscriber.outbox.put_nowait(frame)

        self._reply(subscriber, {"success": True, "ret_msg": "", "op": "subscribe"}, req_id, apply)

    def _reply(
        self,
        subscriber: _Subscriber,
        body: dict[str, object],
        req_id: object = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Answer after the reply latency (pybit records a request just after sending it)."""
        text = orjson.dumps(
            {"req_id": req_id or "", **body, "conn_id": subscriber.conn_id}
        ).decode()

        def send() -> None:
            subscriber.outbox.put_nowait(text)
            if then is not None:
                then()

        asyncio.get_running_loop().call_later(self._reply_latency, send)

    def _frame(self, symbol: str, fields: dict[str, str], *, snapshot: bool) -> str:
        self._cs += 1
        frame = ticker_frame(symbol, fields, ts=self.clock(), cs=self._cs, snapshot=snapshot)
        return orjson.dumps(frame).decode()

    def _send(self, symbol: str, text: str) -> None:
        loop = self._loop
        if loop is None:
            return  # nobody has connected yet: nobody to tell

        def fan_out() -> None:
            for subscriber in list(self._subscribers):
                if symbol in subscriber.symbols:
                    subscriber.outbox.put_nowait(text)

        # Pushed while the server is down: lost, as on Bybit.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fan_out)


def _symbols(topics: list[str]) -> set[str]:
    return {t.removeprefix(TOPIC + ".") for t in topics}
