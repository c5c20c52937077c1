"""An Aster futures exchange on 127.0.0.1: signed REST v1, the user data stream and the mark
price stream, over one simulated account.

Real aiohttp server in a background thread with its own event loop (``serving``). Every
public method is thread-safe and synchronous; operations on the account push the events
Aster would push, faults (rate limits, errors, refused keys, dropped connections, an expired
listenKey, a restart) are armed for the next requests. Any Aster v1 client reaches it with
its REST base URL set to ``sim.base_url`` and its WebSocket base to ``sim.stream_url``.

REST (``rest``, ``listings``, ``order_entry``), in futures-api-v1.md's formats: ping, time,
exchangeInfo and premiumIndex; signed (HMAC-SHA256 over query string + body, ``X-MBX-APIKEY``,
``timestamp``/``recvWindow``) positionRisk (v2), openOrders, openOrder, order, userTrades,
income, account (v2 and v4), balance (v2), leverageBracket, positionSide/dual (GET, POST);
POST and DELETE /fapi/v1/order. Errors are Aster's codes: -1022 bad signature, -2014/-2015
missing or refused key, -1021 timestamp outside recvWindow, -1121 invalid symbol, -2022 a
reduce-only order larger than the position, -4061 a position side against the mode, -2011 an
unknown order to cancel, -4116 a newClientOrderId already on an open order (Binance's code:
Aster's docs list none); the symbol filters exchangeInfo lists (``filters``): -1111 a
quantity off its step, -4004/-4005 and -4013/-4002 out of bounds, -4014 a price off its
tick, -4164 an order below the minimum notional that could open. The /fapi/v3 twins of
these paths (positionRisk, accountWithJoinMargin, listenKey ...) answer the same,
authenticated as futures-api-v3.md says: EIP-712 signed by an API wallet ``approve_agent``
let sign for ``user``, with a fresh microsecond ``nonce`` (-4225 when stale or used).
MARKET orders, and LIMIT orders that cross, fill at the symbol's mark (``move_mark``); a
resting LIMIT order fills when a later mark crosses it.

User data (``user_stream``): POST/PUT/DELETE /fapi/v1/listenKey, then ``/ws/<listenKey>``
pushing ORDER_TRADE_UPDATE, ACCOUNT_UPDATE (B and P, reason m), MARGIN_CALL,
ACCOUNT_CONFIG_UPDATE and listenKeyExpired, each with its E (and T) times. Public:
``/ws/<symbol>@markPrice`` pushes markPriceUpdate on subscribing (the current mark, as
Aster's 3 s timer would soon) and on every ``move_mark``.

Scripted operations: open a position, close it by hand (a ``web_…`` MARKET order), liquidate
(``autoclose-…``), auto-deleverage (``adl_autoclose``), pay funding (ACCOUNT_UPDATE m=FUNDING_FEE
and an income row), margin call, switch hedge mode; ``scenario`` files run them in order.

    with AsterSimulator(api_key="k", api_secret="s") as sim:
        sim.move_mark("BTCUSDT", "100000")
        sim.open_position("BTCUSDT", "0.5", "99000")
        sim.liquidate("BTCUSDT")
"""

import asyncio
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import orjson
from aiohttp import web

from trueup.adapters.clock import wall_clock as real_clock
from trueup_simulators.amounts import Quantity, exact, optional, plain
from trueup_simulators.aster.account import Account, Closer
from trueup_simulators.aster.agent_signing import Agents
from trueup_simulators.aster.mark_stream import MarkStream, is_mark_stream, mark_price_update
from trueup_simulators.aster.records import JSON, OrderType, PositionSide, Side
from trueup_simulators.aster.rest import (
    Fault,
    Faults,
    Rest,
    RestAnswer,
    rate_limited,
)
from trueup_simulators.aster.user_stream import VALIDITY_MS, UserStream
from trueup_simulators.credentials import Credentials
from trueup_simulators.serving import HOST, ServedApp, ServedSimulator

T = TypeVar("T")
# The docs' demonstration wallet (futures-api-v3.md, "Example of POST /fapi/v3/order").
DEFAULT_USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
EXPIRY = web.AppKey("expiry", asyncio.Task[None])
Clock = Callable[[], int]


class AsterSimulator(ServedSimulator):
    """Aster futures on 127.0.0.1: REST, /ws/<listenKey> and /ws/<symbol>@markPrice."""

    def __init__(
        self,
        *,
        api_key: str = "sim-api-key",
        api_secret: str = "sim-api-secret",
        clock: Clock | None = None,
        wall_clock: Clock = real_clock,
        account: Account | None = None,
        symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT"),
        port: int = 0,
        listen_key_validity_ms: int = VALIDITY_MS,
        user: str = DEFAULT_USER,
        agents: tuple[str, ...] = (),
    ) -> None:
        # clock stamps the account's data and events; wall_clock judges what clients sign
        # with their own clocks (timestamp, recvWindow) and times the listenKey's validity.
        self.clock: Clock = clock or real_clock
        self.wall_clock = wall_clock
        # The listed symbols (exchangeInfo); any other is -1121 Invalid symbol.
        self.account = account or Account(clock=self.clock, symbols=symbols)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults = Faults()
        # v3: the account's wallet and the API wallets that may sign for it.
        self.agents = Agents(user, set(agents))
        self.user_stream = UserStream(wall_clock, self._changed, validity_ms=listen_key_validity_ms)
        self.mark_stream = MarkStream(self._changed, self._current_mark)
        self._server = ServedApp(
            "aster-simulator", self._build, port=port, before_close=self._before_close
        )
        self._rest = Rest(
            self.account,
            user_stream=self.user_stream,
            credentials=Credentials(api_key, api_secret),
            faults=self._faults,
            wall_clock=wall_clock,
            agents=self.agents,
            on_key_closed=lambda key: self._server.call_soon(self.user_stream.closed, key),
        )
        self._pushed: list[JSON] = []

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def stream_url(self) -> str:
        """The WebSocket base: ``{stream_url}/ws/<listenKey>``, ``…/ws/btcusdt@markPrice``."""
        return f"ws://{HOST}:{self.port}"

    def user_stream_url(self, listen_key: str) -> str:
        return f"{self.stream_url}/ws/{listen_key}"

    def _build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws/{name}", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._http)
        app.on_startup.append(self._on_startup)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        # Cancelled with the loop's other tasks when the server stops.
        app[EXPIRY] = asyncio.create_task(self.user_stream.watch(self.clock))

    async def _before_close(self) -> None:
        self.user_stream.drop(clean=False)
        self.mark_stream.drop()

    # ---- serving ------------------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()

        def answer(_account: Account) -> web.Response:
            reply = self._rest.answer(
                request.method,
                request.path,
                request.rel_url.raw_query_string,
                body,
                request.headers,
            )
            return web.Response(
                status=reply.status,
                text=reply.text(),
                headers=reply.headers,
                content_type="application/json",
            )

        return self._mutate(answer)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if is_mark_stream(name):
            return await self.mark_stream.serve(request, name)
        return await self.user_stream.serve(request, name)

    def _mutate(self, operation: Callable[[Account], T]) -> T:
        with self._lock:
            try:
                return operation(self.account)
            finally:
                # Also after a failure: what happened before it was pushed on Aster too.
                self._publish(self.account.take_events())

    def _publish(self, events: list[JSON]) -> None:
        if not events:
            return
        self._pushed.extend(events)
        texts = [orjson.dumps(e).decode() for e in events]
        # Events pushed while nobody reads are lost, as they are on Aster.
        key = self.user_stream.key
        if key is not None:
            self._server.call_soon(self.user_stream.fan_out, key, texts)

    # ---- operations on the account (each pushes what Aster would push) ------------------------

    def place_order(
        self,
        symbol: str,
        side: str,
        qty: Quantity,
        *,
        price: Quantity | None = None,
        order_type: str = "LIMIT",
        time_in_force: str = "GTC",
        position_side: str = "BOTH",
        reduce_only: bool = False,
        client_order_id: str = "",
    ) -> int:
        """Put an order on the account (NEW, resting whatever the mark); returns its orderId."""
        order = self._mutate(
            lambda account: account.place(
                symbol,
                Side(side),
                exact(qty),
                order_type=OrderType(order_type),
                price=optional(price),
                time_in_force=time_in_force,
                position_side=PositionSide(position_side),
                reduce_only=reduce_only,
                client_order_id=client_order_id,
            )
        )
        return order.order_id

    def fill(
        self, order: int | str, qty: Quantity | None = None, price: Quantity | None = None
    ) -> int:
        """Fill an order (by orderId or clientOrderId), partly or fully; returns the trade id."""

        def fill(account: Account) -> int:
            found = account.order(order if isinstance(order, int) else None, str(order))
            return account.fill(found, optional(qty), optional(price)).trade_id

        return self._mutate(fill)

    def cancel(self, order: int | str) -> None:
        """Cancel an open order by orderId or clientOrderId (as the web app would)."""

        def cancel(account: Account) -> None:
            account.cancel(account.order(order if isinstance(order, int) else None, str(order)))

        self._mutate(cancel)

    def open_position(
        self,
        symbol: str,
        amount: Quantity,
        entry_price: Quantity,
        *,
        position_side: str | None = None,
    ) -> None:
        """Set a position outright (``amount`` signed: negative is short), as if opened before
        anyone watched; pushes ACCOUNT_UPDATE."""
        side = PositionSide(position_side) if position_side else None
        self._mutate(lambda a: a.open_position(symbol, exact(amount), exact(entry_price), side))

    def _close(
        self, symbol: str, closer: Closer, position_side: str | None, price: Quantity | None
    ) -> int:
        side = PositionSide(position_side) if position_side else None
        return self._mutate(lambda a: a.close_whole(symbol, closer, side, optional(price))).trade_id

    def close_by_hand(
        self, symbol: str, *, position_side: str | None = None, price: Quantity | None = None
    ) -> int:
        """Close the whole position as the web app does (MARKET, ``web_…``); the trade id."""
        return self._close(symbol, Closer.HAND, position_side, price)

    def liquidate(
        self, symbol: str, *, position_side: str | None = None, price: Quantity | None = None
    ) -> int:
        """Liquidate the whole position (``autoclose-<ms>``, o=LIQUIDATION, x=CALCULATED)."""
        return self._close(symbol, Closer.LIQUIDATION, position_side, price)

    def auto_deleverage(
        self, symbol: str, *, position_side: str | None = None, price: Quantity | None = None
    ) -> int:
        """Auto-deleverage the whole position (``adl_autoclose``); the trade id."""
        return self._close(symbol, Closer.ADL, position_side, price)

    def pay_funding(self, symbol: str, rate: Quantity) -> Decimal:
        """Settle funding at ``rate`` on the symbol's positions; the income (signed)."""
        return self._mutate(lambda account: account.pay_funding(symbol, exact(rate)))

    def margin_call(self, symbol: str) -> None:
        """Push a MARGIN_CALL for the symbol's open positions."""
        self._mutate(lambda account: account.margin_call(symbol))

    def set_hedge_mode(self, on: bool) -> None:
        """Switch hedge mode (dualSidePosition) outright; pushes ACCOUNT_CONFIG_UPDATE."""
        self._mutate(lambda account: account.set_dual_side(on))

    def move_mark(self, symbol: str, price: Quantity) -> None:
        """Move the mark of ``symbol``: positions are valued at it, orders fill at it, a
        resting limit order it crosses fills, and its mark price stream pushes it."""
        mark = exact(price)
        self._mutate(lambda account: account.move_mark(symbol, mark))
        text = mark_price_update(symbol, plain(mark), self.clock())
        self._server.call_soon(self.mark_stream.publish, symbol, text)

    def _current_mark(self, stream_symbol: str) -> str | None:
        """The markPriceUpdate of the symbol a stream names (lower case), if it has a mark."""
        with self._lock:
            for symbol, mark in self.account.marks.items():
                if symbol.lower() == stream_symbol and mark > 0:
                    return mark_price_update(symbol, plain(mark), self.clock())
        return None

    def read(self, view: Callable[[Account], T]) -> T:
        """Run ``view`` on the account under the simulator's lock (a consistent read)."""
        with self._lock:
            return view(self.account)

    def approve_agent(self, signer: str) -> None:
        """Let the API wallet ``signer`` sign v3 requests for the account."""
        with self._lock:
            self.agents.signers.add(signer.lower())

    # ---- faults -------------------------------------------------------------------------------

    def drop_connections(self, *, clean: bool = False) -> None:
        """Cut every WebSocket (user data and mark price): abruptly, or ``clean`` (code 1001)."""
        self._server.call_soon(lambda: self.user_stream.drop(clean=clean))
        if not clean:
            self._server.call_soon(self.mark_stream.drop)

    def refuse_auth(self, n: int = 1) -> None:
        """Answer the next ``n`` keyed requests with -2015 (HTTP 401), whatever they carry."""
        with self._lock:
            self._faults.refused_auths += n

    def rate_limit(self, n: int = 1, status: int = 429) -> None:
        """Answer the next ``n`` requests with HTTP 429 (over the limit) or 418 (IP banned)."""
        if status not in (418, 429):
            raise ValueError(f"status must be 429 or 418, not {status}")
        with self._lock:
            self._faults.rest.extend([rate_limited(status, self.wall_clock())] * n)

    def error(self, n: int = 1, code: int = -1001, msg: str = "", status: int = 500) -> None:
        """Answer the next ``n`` requests with this error payload and HTTP status."""
        message = msg or "Internal error; unable to process your request. Please try again."
        with self._lock:
            self._faults.rest.extend([Fault(status, code, message)] * n)

    def pending_faults(self) -> int:
        """How many armed REST faults (rate limits, errors) no request has met yet."""
        with self._lock:
            return len(self._faults.rest)

    def expire_listen_key(self) -> None:
        """Expire the active listenKey now: its readers get listenKeyExpired and are cut."""
        key = self.user_stream.lapse()
        if key is not None:
            self._server.call_soon(self.user_stream.expired, key, self.clock())

    # ---- what happened ------------------------------------------------------------------------

    @property
    def listen_key(self) -> str | None:
        return self.user_stream.key

    def rest_answers(self) -> list[RestAnswer]:
        """Every REST answer so far, oldest first."""
        with self._lock:
            return list(self._rest.answers)

    def pushed_events(self) -> list[JSON]:
        """Every user-data event the account pushed (read or not), oldest first."""
        with self._lock:
            return list(self._pushed)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``condition`` holds or ``timeout`` passes; False on timeout. Checked
        whenever a stream connection opens or closes."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def wait_readers(self, n: int = 1, timeout: float = 5.0) -> bool:
        """Block until ``n`` clients read the user data stream."""
        return self.wait_for(lambda: self.user_stream.reader_count() >= n, timeout)
