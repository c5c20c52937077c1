"""A Hyperliquid venue on 127.0.0.1 that the real SDK talks to: POST /info and GET /ws.

``Info(base_url=sim.base_url)`` works as it is: the simulator answers the meta and spotMeta
requests the SDK makes at start (pass ``meta=messages.meta(...)`` and
``spot_meta=messages.spot_meta()`` to skip them). It serves a Ledger from a background
thread running its own event loop. Every public method is blocking and thread-safe: it runs
on that loop, so a change and the frames it pushes are one step, ordered with the requests
being served.

Orders come to POST /exchange as ``Exchange(wallet, base_url=sim.base_url)`` sends them:
signed L1 actions ``order`` (with cloid; Gtc rests, Ioc fills or is refused), ``cancel``
and ``cancelByCloid`` (``exchange``). The signer must be known: ``authorize(address)`` for
an account's own key, ``authorize(agent, user)`` for an agent wallet. A cloid already used
by the account is refused, never placed twice; a reduce-only order larger than the position,
a price off the tick (over 5 significant figures, or 6 - szDecimals decimals, unless whole)
and an order worth under $10 (but for a reduce-only one) are refused with Hyperliquid's
errors. An order fills at the coin's mark (``move_mark``), and a
resting one when a later mark crosses it, pushing userFills, orderUpdates and userEvents.

``pay_funding(coin, rate)`` ends a funding interval: each holder pays or receives size x
mark x rate, pushed on userEvents and listed from then on by the userFunding info request
(``{"type": "userFunding", "user", "startTime", "endTime"?}``, oldest first, both ends
inclusive). ``refuse_streams(True)`` makes GET /ws answer 503 until it is switched back, so
what happens meanwhile is pushed to nobody (a venue whose stream is down).
"""

import contextlib
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any, Literal, TypeVar

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from trueup.adapters.hyperliquid import messages
from trueup.adapters.hyperliquid.messages import JSON
from trueup.adapters.hyperliquid.mids import active_asset_ctx_frame, all_mids_frame
from trueup_simulators.hyperliquid import exchange
from trueup_simulators.hyperliquid.ledger import Clock, Ledger, Push, wall_clock
from trueup_simulators.serving import HOST, ServedApp, ServedSimulator

T = TypeVar("T")
Amount = Decimal | str
SUBSCRIPTIONS = ("userFills", "orderUpdates", "userEvents", "webData2")
# Subscriptions about no user: the market's public data (keyed with user "").
PUBLIC_SUBSCRIPTIONS = ("allMids",)
# Public subscriptions of one coin (keyed with the coin, in lower case, for the user).
COIN_SUBSCRIPTIONS = ("activeAssetCtx",)
CALL_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0  # Hyperliquid closes a connection silent this long
# What Hyperliquid answers a body it cannot read, with status 422.
UNREADABLE = "Failed to deserialize the JSON body into the target type"
REFUSALS = {429: "Too many requests", 500: "Internal Server Error"}


class _Faults:
    """Refusals to come, set from any thread: the next n answers of /info get an HTTP status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[int, int] = {}
        self._bodies: dict[int, str] = {}  # a status's body, where not its REFUSALS text

    def add(self, status: int, answers: int, body: str | None = None) -> None:
        with self._lock:
            self._next[status] = answers
            if body is not None:
                self._bodies[status] = body

    def take(self) -> tuple[int, str] | None:
        """The status the answer being made gets, and its body, if any is still due."""
        with self._lock:
            for status, answers in self._next.items():
                if answers > 0:
                    self._next[status] = answers - 1
                    return status, self._bodies.get(status, REFUSALS.get(status, ""))
        return None


class _Connection:
    """One WebSocket client and the (subscription type, user) pairs it asked for."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.subscriptions: set[tuple[str, str]] = set()

    async def send(self, frame: JSON) -> None:
        if self.ws.closed:
            return
        # A client gone away mid-send is not an error here: its handler ends the connection.
        with contextlib.suppress(ConnectionError):
            await self.ws.send_str(orjson.dumps(frame).decode())


class HyperliquidSimulator(ServedSimulator):
    """Start it (or use it as a context manager), point Info(base_url=...) at ``base_url``."""

    def __init__(
        self,
        *,
        clock: Clock = wall_clock,
        sz_decimals: dict[str, int] | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self._ledger = Ledger(clock, sz_decimals)
        self._idle_timeout = idle_timeout
        self._connections: set[_Connection] = set()
        self._subscribed = threading.Condition()
        self._subscribers: dict[tuple[str, str], int] = {}
        self._faults = _Faults()
        self._signers: dict[str, str] = {}  # signer address -> the account it trades for
        # Each coin's oracle price and mid, where a test set them apart from its mark.
        self._oracles: dict[str, Decimal] = {}
        self._mids: dict[str, Decimal] = {}
        self._refusing_streams = False
        # A restart serves the same port again (a free one the first time), book kept.
        self._server = ServedApp("hyperliquid-simulator", self._build, before_close=self._close)

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self._server.port}/ws"

    # --- lifecycle -------------------------------------------------------------------------

    def _build(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/info", self._info)
        app.router.add_post("/exchange", self._exchange)
        app.router.add_get("/ws", self._ws)
        return app

    async def _close(self) -> None:
        await self._drop()

    def _run(self, step: Coroutine[Any, Any, T]) -> T:
        return self._server.run(step, CALL_TIMEOUT)

    def _change(self, change: Callable[[], tuple[T, list[Push]]]) -> T:
        """Apply a change to the ledger on the loop, then push its frames, in order."""

        async def step() -> T:
            result, pushes = change()
            for push in pushes:
                await self._publish(push)
            return result

        return self._run(step())

    def _read(self, read: Callable[[], T]) -> T:
        return self._change(lambda: (read(), []))

    # --- the venue's side: what tests and scenarios make happen ----------------------------

    def open_order(
        self,
        user: str,
        coin: str,
        *,
        is_buy: bool,
        sz: Amount,
        limit_px: Amount,
        cloid: str | None = None,
    ) -> int:
        """A resting limit order (orderUpdates: open); says its oid."""
        return self._change(
            lambda: self._ledger.place(
                user, coin, is_buy=is_buy, sz=Decimal(sz), limit_px=Decimal(limit_px), cloid=cloid
            )
        )

    def fill(
        self, user: str, oid: int, *, sz: Amount | None = None, px: Amount | None = None
    ) -> JSON:
        """Fill an open order (all of what remains by default) at ``px`` (its limit by default)."""
        size = None if sz is None else Decimal(sz)
        price = None if px is None else Decimal(px)
        return self._change(lambda: self._ledger.fill(user, oid, size, price))

    def cancel(self, user: str, oid: int, *, status: str = "canceled") -> None:
        """Cancel an open order; another status (marginCanceled ...) is the venue's own cancel."""
        self._change(lambda: (None, self._ledger.cancel(user, oid, status)))

    def close_by_hand(self, user: str, coin: str, *, px: Amount | None = None) -> JSON:
        """Close the whole position by an order the trading system never placed (no cloid)."""
        price = None if px is None else Decimal(px)
        return self._change(lambda: self._ledger.close_by_hand(user, coin, price))

    def liquidate(self, user: str, coin: str, *, px: Amount | None = None) -> JSON:
        """Liquidate the whole position: the user event liquidation, then its fill."""
        price = None if px is None else Decimal(px)
        return self._change(lambda: self._ledger.liquidate(user, coin, price))

    def auto_deleverage(self, user: str, coin: str, *, px: Amount | None = None) -> JSON:
        """Close the whole position by auto-deleveraging (a fill with dir "Auto-Deleveraging")."""
        price = None if px is None else Decimal(px)
        return self._change(lambda: self._ledger.auto_deleverage(user, coin, price))

    def place_tpsl(
        self, user: str, coin: str, tpsl: Literal["tp", "sl"], trigger_px: Amount
    ) -> int:
        """Give the position its own take-profit ("tp") or stop-loss ("sl"), as the front end
        does: a trigger order (Take Profit Market, Stop Market) that move_mark fires; its oid."""
        return self._change(lambda: self._ledger.place_tpsl(user, coin, tpsl, Decimal(trigger_px)))

    def move_mark(
        self, coin: str, px: Amount, *, oracle: Amount | None = None, mid: Amount | None = None
    ) -> None:
        """Move the mark price (webData2 pushes the holders' new unrealised PnL); a trigger
        order it reaches fires: orderUpdates triggered, its fill, then filled. allMids pushes
        every coin's mid, activeAssetCtx the coin's mark, oracle price and mid: the oracle
        and the mid are the mark unless given."""

        def move() -> tuple[None, list[Push]]:
            pushes = self._ledger.move_mark(coin, Decimal(px))
            for prices, given in ((self._oracles, oracle), (self._mids, mid)):
                if given is None:
                    prices.pop(coin, None)
                else:
                    prices[coin] = Decimal(given)
            ctx = Push("activeAssetCtx", coin, self._asset_ctx(coin))
            return None, [*pushes, Push("allMids", "", self._all_mids()), ctx]

        self._change(move)

    def pay_funding(self, coin: str, rate: Amount) -> None:
        """End a funding interval: each holder of ``coin`` pays or receives size x mark x
        ``rate`` (user events push it; userFunding lists it from then on)."""
        self._change(lambda: (None, self._ledger.pay_funding(coin, Decimal(rate))))

    def refuse_streams(self, refusing: bool) -> None:
        """While ``refusing``, GET /ws answers 503, as a venue whose stream servers are down;
        what happens meanwhile is pushed to nobody."""
        self._refusing_streams = refusing

    def _all_mids(self) -> JSON:
        marks = self._ledger.marks
        return all_mids_frame({c: str(self._mids.get(c, px)) for c, px in sorted(marks.items())})

    def _asset_ctx(self, coin: str) -> JSON:
        mark = self._ledger.marks[coin]
        return active_asset_ctx_frame(
            coin,
            mark=str(mark),
            oracle=str(self._oracles.get(coin, mark)),
            mid=str(self._mids.get(coin, mark)),
        )

    def authorize(self, signer: str, user: str | None = None) -> None:
        """Let ``signer`` place and cancel orders for ``user`` (itself by default)."""
        self._signers[signer.lower()] = (user or signer).lower()

    def drop_connections(self) -> int:
        """Close every WebSocket, as the venue does at a restart; says how many there were."""
        return self._run(self._drop())

    def set_rate_limit(self, answers: int) -> None:
        """The next ``answers`` requests to /info are refused with HTTP 429."""
        self._faults.add(429, answers)

    def answer_raw(self, status: int, body: str, answers: int = 1) -> None:
        """The next ``answers`` requests to /info get this status and body (a JSON error
        that is not Hyperliquid's ``{code, msg}``, say: what its SDK cannot read)."""
        self._faults.add(status, answers, body)

    def set_error(self, answers: int) -> None:
        """The next ``answers`` requests to /info fail with HTTP 500."""
        self._faults.add(500, answers)

    def wait_subscribed(self, subscription: str, user: str, timeout: float = 5.0) -> None:
        """Block until some client has subscribed to ``subscription`` of ``user``."""
        key = (subscription, user.lower())
        with self._subscribed:
            if not self._subscribed.wait_for(lambda: self._subscribers.get(key, 0) > 0, timeout):
                raise TimeoutError(f"no subscription to {subscription} of {user} in {timeout} s")

    # --- the venue's books, as its info endpoint would answer --------------------------------

    def clearinghouse_state(self, user: str) -> JSON:
        return self._read(lambda: self._ledger.clearinghouse_state(user))

    def open_orders(self, user: str) -> list[JSON]:
        return self._read(lambda: self._ledger.open_orders(user))

    def user_fills(self, user: str) -> list[JSON]:
        return self._read(lambda: self._ledger.user_fills(user))

    def user_funding(self, user: str, start_time: int = 0) -> list[JSON]:
        return self._read(lambda: self._ledger.user_funding(user, start_time, None))

    # --- POST /info ------------------------------------------------------------------------

    async def _info(self, request: web.Request) -> web.Response:
        refusal = self._faults.take()
        if refusal is not None:
            status, text = refusal
            return web.Response(status=status, text=text)
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=422, text=UNREADABLE)
        answer = self._answer(body) if isinstance(body, dict) else None
        if answer is None:
            return web.Response(status=422, text=UNREADABLE)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    def _answer(self, body: dict[str, Any]) -> JSON | list[JSON] | None:
        """The reply to one info request; None for one it cannot read."""
        kind, user = body.get("type"), body.get("user")
        if kind == "meta":
            return self._ledger.meta()
        if kind == "spotMeta":
            return messages.spot_meta()
        if not isinstance(user, str) or body.get("dex", "") != "":
            return None  # a user is required; only the main perp dex is simulated
        if kind == "clearinghouseState":
            return self._ledger.clearinghouse_state(user)
        if kind == "openOrders":
            return self._ledger.open_orders(user)
        if kind == "frontendOpenOrders":
            return self._ledger.frontend_open_orders(user)
        if kind == "userFills":
            return self._ledger.user_fills(user)
        if kind == "historicalOrders":
            return self._ledger.historical_orders(user)
        start, end = _millis(body.get("startTime")), _millis(body.get("endTime"))
        end_readable = end is not None or body.get("endTime") is None
        if kind == "userFillsByTime" and start is not None and end_readable:
            return self._ledger.user_fills_by_time(user, start, end)
        if kind == "userFunding" and start is not None and end_readable:
            return self._ledger.user_funding(user, start, end)
        oid = body.get("oid")
        if kind == "orderStatus" and isinstance(oid, int | str):
            return self._ledger.order_status(user, oid)
        return None

    # --- POST /exchange --------------------------------------------------------------------

    async def _exchange(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=422, text=UNREADABLE)
        if not isinstance(body, dict) or not isinstance(body.get("action"), dict):
            return web.Response(status=422, text=UNREADABLE)
        try:
            signer = exchange.signer(body)
            user = self._signers.get(signer)
            if user is None:
                raise exchange.ActionError(f"User or API Wallet {signer} does not exist.")
            answer, pushes = exchange.act(self._ledger, user, body["action"])
        except exchange.ActionError as error:
            answer, pushes = {"status": "err", "response": str(error)}, []
        for push in pushes:
            await self._publish(push)
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    # --- GET /ws ---------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if self._refusing_streams:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws)
        self._connections.add(connection)
        try:
            await ws.send_str("Websocket connection established.")
            while not ws.closed:
                try:
                    message = await ws.receive(timeout=self._idle_timeout)
                except TimeoutError:
                    await ws.close(code=WSCloseCode.GOING_AWAY, message=b"idle")
                    break
                if message.type != WSMsgType.TEXT:
                    break  # a close, or an error: the connection is over
                await self._on_text(connection, message.data)
        finally:
            self._forget(connection)
        return ws

    async def _on_text(self, connection: _Connection, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            request = None
        method = request.get("method") if isinstance(request, dict) else None
        if method == "ping":
            await connection.send(messages.pong())
            return
        subscription = request.get("subscription") if isinstance(request, dict) else None
        key = _subscription_key(subscription)
        if method not in ("subscribe", "unsubscribe") or key is None:
            error = f"Error parsing JSON into valid websocket request: {text}"
            await connection.send(messages.ws_frame("error", error))
            return
        assert isinstance(subscription, dict)
        await connection.send(messages.subscription_response(method, subscription))
        if method == "unsubscribe":
            self._unsubscribe(connection, key)
            return
        # Subscribed before the first frame is made, so no push can fall between the two.
        new = key not in connection.subscriptions
        connection.subscriptions.add(key)
        await self._first_frame(connection, key, str(subscription.get("user", "")))
        if new:
            self._count(key, +1)

    async def _first_frame(self, connection: _Connection, key: tuple[str, str], user: str) -> None:
        """userFills starts with a snapshot of recent fills, webData2 with the whole state."""
        kind = key[0]
        if kind == "userFills":
            fills = self._ledger.user_fills(user)
            await connection.send(messages.user_fills_frame(user, fills, is_snapshot=True))
        elif kind == "webData2":
            await connection.send(self._ledger.web_data2(user))
        elif kind == "allMids" and self._ledger.marks:
            await connection.send(self._all_mids())
        elif kind == "activeAssetCtx":
            coin = next((c for c in self._ledger.marks if c.lower() == key[1]), None)
            if coin is not None:
                await connection.send(self._asset_ctx(coin))

    async def _publish(self, push: Push) -> None:
        key = (push.subscription, push.user.lower())
        for connection in list(self._connections):
            if key in connection.subscriptions:
                await connection.send(push.frame)

    async def _drop(self) -> int:
        connections = list(self._connections)
        for connection in connections:
            await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped")
            self._forget(connection)
        return len(connections)

    def _forget(self, connection: _Connection) -> None:
        if connection in self._connections:
            self._connections.discard(connection)
            for key in list(connection.subscriptions):
                self._unsubscribe(connection, key)

    def _unsubscribe(self, connection: _Connection, key: tuple[str, str]) -> None:
        if key in connection.subscriptions:
            connection.subscriptions.discard(key)
            self._count(key, -1)

    def _count(self, key: tuple[str, str], change: int) -> None:
        with self._subscribed:
            self._subscribers[key] = self._subscribers.get(key, 0) + change
            self._subscribed.notify_all()


def _millis(value: object) -> int | None:
    """An instant in epoch milliseconds, as a request gives one; None for anything else."""
    valid = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if valid and isinstance(value, int) else None


def _subscription_key(subscription: object) -> tuple[str, str] | None:
    """(type, user in lower case) of a subscription the simulator serves; None otherwise."""
    if not isinstance(subscription, dict):
        return None
    kind, user = subscription.get("type"), subscription.get("user")
    if kind in PUBLIC_SUBSCRIPTIONS:
        return kind, ""
    coin = subscription.get("coin")
    if kind in COIN_SUBSCRIPTIONS and isinstance(coin, str):
        return kind, coin.lower()
    if kind not in SUBSCRIPTIONS or not isinstance(user, str):
        return None
    return kind, user.lower()
