"""A Bybit V5 exchange on 127.0.0.1: signed REST and the private WebSocket, over a simulated book.

Real aiohttp server in a background thread with its own event loop. Every public method is
thread-safe and synchronous; operations on the book push the frames Bybit would push, faults
(rate limits, errors, refused auth, dropped connections) are armed for the next requests.
pybit reaches it with ``session.endpoint = sim.base_url`` and
``pybit.unified_trading.PRIVATE_WSS = sim.ws_url``.

Orders come in signed as Bybit signs a POST (the JSON body is the payload): POST
/v5/order/create, /v5/order/amend and /v5/order/cancel (``order_entry``), with Bybit's
retCodes: 110072 for an orderLinkId already used by any order, 110017 for a reduce-only
order larger than what its position leg holds, 10004 for a bad signature. Market orders, and
limit orders that cross, fill at the symbol's mark (``move_mark``); a resting limit order
fills when a later ``move_mark`` crosses it. Every change pushes order, execution, position
and wallet frames as the scripted operations do. Requests are served one at a time under the
book's lock, so any number of clients may place at once. GET /v5/position/list answers as its
docs say: by ``symbol``, else by ``settleCoin`` (linear needs one of them), and an option list
by ``baseCoin`` too (read of options alone; without it, every option); a contract's coins are
read off its name as Bybit names it (BTCUSDT-26DEC25, BTC-26DEC25, BTCUSDZ25,
BTC-13FEB25-89000-P-USDT).

    with BybitSimulator(api_key="k", api_secret="s") as sim:
        order_id = sim.place_order("BTCUSDT", "Buy", "0.3", order_link_id="e-1", price="106250")
        sim.fill("e-1", "0.1")
"""

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from trueup.adapters.bybit import messages, signing
from trueup.adapters.bybit.messages import JSON
from trueup_simulators.amounts import Quantity
from trueup_simulators.amounts import exact as _exact
from trueup_simulators.amounts import optional as _optional
from trueup_simulators.bybit import order_entry
from trueup_simulators.bybit.exchange_book import (
    ANY_GRID,
    Clock,
    ExchangeBook,
    Execution,
    Instrument,
    Order,
    Position,
    base_coin,
    settle_coin,
)
from trueup_simulators.bybit.public_stream import PUBLIC_LINEAR_PATH, PublicTickers
from trueup_simulators.credentials import Credentials
from trueup_simulators.serving import HOST, ServedApp, ServedSimulator

T = TypeVar("T")
RateLimitHow = Literal["retCode", "429", "403"]
# A REST listing: items in page order, each with the key its cursor is made of.
SortKey = tuple[str | int, ...]
Entries = list[tuple[SortKey, JSON]]

PRIVATE_PATH = "/v5/private"
INSTRUMENTS_PATH = "/v5/market/instruments-info"
PRIVATE_TOPICS = ("position", "order", "execution", "wallet")
CATEGORIES = ("linear", "inverse", "spot", "option")
SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000
# Per-endpoint limits from Bybit's rate-limit table (GET endpoints: 50/s per UID).
ENDPOINT_LIMIT = 50
# retMsg texts: Bybit's error-code page for the codes it documents, a fallback otherwise.
RET_MSGS = {
    10001: "Request parameter error",
    10002: "The request time exceeds the time window range.",
    10003: "API key is invalid.",
    10004: "Error sign, please check your signature generation algorithm.",
    10005: "Permission denied, please check your API key permissions.",
    10006: "Too many visits!",
    10016: "Server error.",
}


def real_clock() -> int:
    """Epoch milliseconds from the wall clock."""
    return time.time_ns() // 1_000_000


def _json(body: object) -> str:
    return orjson.dumps(body).decode()


# ---- REST: what each endpoint answers ---------------------------------------------------------


class ParamError(Exception):
    """A request Bybit answers with retCode 10001 (the message says which parameter)."""


@dataclass(frozen=True)
class Endpoint:
    """One GET endpoint: its listing function and its documented page limits."""

    listing: Callable[[ExchangeBook, Mapping[str, str], int], Entries]
    max_limit: int
    default_limit: int


def _category(params: Mapping[str, str]) -> str:
    category = params.get("category", "")
    if category not in CATEGORIES:
        raise ParamError("Illegal category")
    return category


def _list_positions(book: ExchangeBook, params: Mapping[str, str], now: int) -> Entries:
    category = _category(params)
    symbol, coin = params.get("symbol", ""), params.get("settleCoin", "")
    # Its docs: baseCoin is "option only. Return all option positions if not passed".
    base = params.get("baseCoin", "") if category == "option" else ""
    if category == "linear" and not (symbol or coin):
        raise ParamError("Missing some parameters that must be filled in, symbol or settleCoin")
    chosen: list[Position]
    if symbol:
        # With symbol, Bybit answers even for a flat or never-traded symbol (seq -1).
        chosen = book.symbol_keys(category, symbol) or [Position(category, symbol, 0, now, now)]
    else:
        chosen = [
            p
            for p in book.positions.values()
            if p.category == category
            and p.size > 0
            and (not coin or settle_coin(category, p.symbol) == coin)
            and (not base or base_coin(category, p.symbol) == base)
        ]
    chosen.sort(key=lambda p: (p.symbol, p.position_idx))
    return [((p.symbol, p.position_idx), p.item(rest=True)) for p in chosen]


def _matches_scope(category: str, symbol: str, params: Mapping[str, str]) -> bool:
    """Bybit's priority: orderId > orderLinkId > symbol > baseCoin; settleCoin narrows."""
    if params.get("symbol") and symbol != params["symbol"]:
        return False
    if params.get("baseCoin") and base_coin(category, symbol) != params["baseCoin"]:
        return False
    return not params.get("settleCoin") or settle_coin(category, symbol) == params["settleCoin"]


def _matches_order(order: Order, params: Mapping[str, str]) -> bool:
    if params.get("orderId"):
        return order.order_id == params["orderId"]
    if params.get("orderLinkId"):
        return order.order_link_id == params["orderLinkId"]
    return _matches_scope(order.category, order.symbol, params)


def _millis(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise ParamError(f"{name} must be epoch milliseconds")
    return int(value)


def _in_window(at: int, params: Mapping[str, str], now: int) -> bool:
    """startTime/endTime as Bybit reads them: seven days ending now when neither is given."""
    start, end = _millis(params, "startTime"), _millis(params, "endTime")
    if start is None and end is None:
        return at >= now - SEVEN_DAYS_MS
    low = start if start is not None else (end or now) - SEVEN_DAYS_MS
    high = end if end is not None else low + SEVEN_DAYS_MS
    return low <= at <= high


def _newest_first(orders: list[Order]) -> Entries:
    orders.sort(key=lambda o: -o.serial)
    return [((-o.serial,), o.item(rest=True)) for o in orders]


def _list_open_orders(book: ExchangeBook, params: Mapping[str, str], _now: int) -> Entries:
    category = _category(params)
    by_id = bool(params.get("orderId") or params.get("orderLinkId"))
    scoped = by_id or any(params.get(k) for k in ("symbol", "baseCoin", "settleCoin"))
    if category == "linear" and not scoped:
        raise ParamError("Missing some parameters that must be filled in, symbol or settleCoin")
    closed_too = params.get("openOnly", "0") == "1"
    chosen = [
        o
        for o in book.orders.values()
        if o.category == category
        and _matches_order(o, params)
        # openOnly is ignored when querying by orderId or orderLinkId.
        and (by_id or o.is_open != closed_too)
    ]
    return _newest_first(chosen)[:500] if closed_too else _newest_first(chosen)


def _list_order_history(book: ExchangeBook, params: Mapping[str, str], now: int) -> Entries:
    category = _category(params)
    status = params.get("orderStatus")
    chosen = [
        o
        for o in book.orders.values()
        if o.category == category
        and _matches_order(o, params)
        and (not status or o.status == status)
        and _in_window(o.created_time, params, now)
    ]
    return _newest_first(chosen)


def _matches_execution(execution: Execution, params: Mapping[str, str], now: int) -> bool:
    if params.get("execType") and execution.exec_type != params["execType"]:
        return False
    return _matches_order(execution.order, params) and _in_window(execution.time, params, now)


def _list_executions(book: ExchangeBook, params: Mapping[str, str], now: int) -> Entries:
    category = _category(params)
    chosen = [
        e
        for e in book.executions
        if e.order.category == category and _matches_execution(e, params, now)
    ]
    chosen.sort(key=lambda e: -e.serial)
    return [((-e.serial,), e.item(rest=True)) for e in chosen]


WALLET_PATH = "/v5/account/wallet-balance"
ENDPOINTS: dict[str, Endpoint] = {
    "/v5/position/list": Endpoint(_list_positions, max_limit=200, default_limit=20),
    "/v5/order/realtime": Endpoint(_list_open_orders, max_limit=50, default_limit=20),
    "/v5/order/history": Endpoint(_list_order_history, max_limit=50, default_limit=20),
    "/v5/execution/list": Endpoint(_list_executions, max_limit=100, default_limit=50),
}


def encode_cursor(key: SortKey) -> str:
    """A keyset cursor, percent-encoded as Bybit's are (e.g. ``BTCUSDT%2C0``)."""
    return quote(",".join(str(part) for part in key), safe="")


def decode_cursor(cursor: str) -> SortKey:
    # pybit sends the cursor as it came (the server decodes once); a client that encodes it
    # again sends %25...: undo every layer.
    for _ in range(3):
        cursor = unquote(cursor)
    return tuple(int(p) if p.lstrip("-").isdigit() else p for p in cursor.split(","))


def page(entries: Entries, cursor: str, size: int) -> tuple[list[JSON], str]:
    """One page after ``cursor`` (keyset: stable while items come and go) and the next cursor."""
    if cursor:
        after = decode_cursor(cursor)
        try:
            entries = [e for e in entries if e[0] > after]
        except TypeError:
            raise ParamError("cursor is invalid") from None
    chosen = entries[:size]
    more = len(entries) > size
    return [item for _, item in chosen], encode_cursor(chosen[-1][0]) if more else ""


# ---- REST: faults and answers -----------------------------------------------------------------


@dataclass(frozen=True)
class RestAnswer:
    """What the simulator answered one REST request: for tests to check what a client saw."""

    path: str
    status: int
    ret_code: int | None
    query: str
    # time.perf_counter() as the request came in: comparable with the clock of a test or
    # bench in the same process (the simulator runs in a thread of it).
    received: float = 0.0
    order_link_id: str = ""  # an order request's, as sent


@dataclass
class Reply:
    """An HTTP answer; ``ret_code`` is None when the body is no JSON envelope (429, 403)."""

    status: int
    body: str
    ret_code: int | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Faults:
    """Faults armed for the next requests, consumed one per request or auth attempt."""

    rest: deque[tuple[str, int, str]] = field(default_factory=deque)
    refused_auths: int = 0
    page_size: int | None = None


@dataclass
class RateWindow:
    """Requests per endpoint in the last second, for Bybit's X-Bapi-Limit-* headers."""

    seen: dict[str, deque[int]] = field(default_factory=dict)

    def count(self, path: str, now: int) -> int:
        window = self.seen.setdefault(path, deque())
        window.append(now)
        while window and window[0] <= now - 1000:
            window.popleft()
        return len(window)


class Rest:
    """Authenticates one REST request and answers it from the book, or with an armed fault."""

    def __init__(
        self,
        book: ExchangeBook,
        credentials: Credentials,
        faults: Faults,
        wall_clock: Clock,
        reset_ms: int,
    ) -> None:
        self.book, self.credentials, self.faults = book, credentials, faults
        self.wall_clock, self.reset_ms = wall_clock, reset_ms
        self.window = RateWindow()
        self.answers: list[RestAnswer] = []

    def answer(
        self,
        path: str,
        query: Mapping[str, str],
        raw_query: str,
        headers: Mapping[str, str],
        received: float = 0.0,
    ) -> Reply:
        now = self.wall_clock()
        used = self.window.count(path, now)
        reply = self._fault(path, query) or self._authorised(path, query, raw_query, headers)
        limited = reply.ret_code == 10006
        reply.headers.update(
            {
                "X-Bapi-Limit": str(ENDPOINT_LIMIT),
                "X-Bapi-Limit-Status": "0" if limited else str(max(ENDPOINT_LIMIT - used, 0)),
                # pybit sleeps until this instant before retrying a 10006: it must lie ahead of
                # the client's clock, or time.sleep gets a negative length and raises.
                "X-Bapi-Limit-Reset-Timestamp": str(now + self.reset_ms if limited else now),
            }
        )
        self.answers.append(RestAnswer(path, reply.status, reply.ret_code, raw_query, received))
        return reply

    def submit(
        self, path: str, body: str, headers: Mapping[str, str], received: float = 0.0
    ) -> Reply:
        """One signed POST to the order endpoints (the signature covers the body as sent)."""
        now = self.wall_clock()
        self.window.count(path, now)
        # An armed rate limit or error answers an order too (a malformed listing cannot).
        armed = self.faults.rest and self.faults.rest[0][0] != "malformed"
        reply = self._fault(path, {}) if armed else None
        reply = reply or self._order_action(path, body, headers)
        answer = RestAnswer(path, reply.status, reply.ret_code, "", received, _link_id(body))
        self.answers.append(answer)
        return reply

    def _order_action(self, path: str, body: str, headers: Mapping[str, str]) -> Reply:
        ret_code = signing.verify_rest(
            headers,
            body,
            api_key=self.credentials.api_key,
            secret=self.credentials.api_secret,
            now=self.wall_clock(),
        )
        if ret_code:
            return self._error(ret_code)
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return self._error(10001, "request body is not JSON")
        if not isinstance(request, dict):
            return self._error(10001, "request body is not a JSON object")
        try:
            result = order_entry.ACTIONS[path](self.book, request)
        except order_entry.Refusal as refusal:
            return self._error(refusal.ret_code, refusal.ret_msg)
        answer = {
            "retCode": 0,
            "retMsg": "OK",
            "result": result,
            "retExtInfo": {},
            "time": self.book.clock(),
        }
        return Reply(200, _json(answer), 0)

    def _fault(self, path: str, query: Mapping[str, str]) -> Reply | None:
        if not self.faults.rest:
            return None
        kind, ret_code, ret_msg = self.faults.rest.popleft()
        if kind == "raw":  # status and body as armed: ret_code, ret_msg
            return Reply(ret_code, ret_msg, None)
        if kind == "malformed":
            body = self._listing(path, query)
            for item in body["result"]["list"][:1]:
                item.pop(ret_msg, None)
            return Reply(200, _json(body), 0)
        if kind == "429":
            return Reply(429, "System level frequency protection. Please retry.", None)
        if kind == "403":
            # The IP limit answers before the API does: an HTML page, no JSON envelope.
            return Reply(403, "<html><body>403 Forbidden: access too frequent</body></html>", None)
        return self._error(ret_code, ret_msg)

    def _error(self, ret_code: int, ret_msg: str = "") -> Reply:
        message = ret_msg or RET_MSGS.get(ret_code, "error")
        body = messages.rest_error(ret_code, message, time=self.book.clock())
        return Reply(200, _json(body), ret_code)

    def _authorised(
        self, path: str, query: Mapping[str, str], raw_query: str, headers: Mapping[str, str]
    ) -> Reply:
        # The signature covers the query string exactly as sent, before any decoding.
        ret_code = signing.verify_rest(
            headers,
            raw_query,
            api_key=self.credentials.api_key,
            secret=self.credentials.api_secret,
            now=self.wall_clock(),
        )
        if ret_code:
            return self._error(ret_code)
        try:
            return Reply(200, _json(self._listing(path, query)), 0)
        except ParamError as error:
            return self._error(10001, str(error))

    def _listing(self, path: str, query: Mapping[str, str]) -> JSON:
        if path == WALLET_PATH:
            # One list, no pages: the unified account (the only accountType it knows).
            if query.get("accountType") != "UNIFIED":
                raise ParamError("accountType only support UNIFIED")
            now = self.book.clock()
            reply = messages.rest_ok("", [self.book.wallet_item()], time=now)
            del reply["result"]["category"], reply["result"]["nextPageCursor"]
            return reply
        endpoint = ENDPOINTS[path]
        try:
            limit = int(query.get("limit", endpoint.default_limit))
        except ValueError:
            raise ParamError("limit is not an integer") from None
        if limit < 1:
            raise ParamError("limit must be at least 1")
        # Past the documented maximum Bybit's answer is undocumented: a full page is served,
        # so a client asking too much still pages through everything.
        limit = min(limit, endpoint.max_limit, self.faults.page_size or endpoint.max_limit)
        now = self.book.clock()
        entries = endpoint.listing(self.book, query, now)
        items, next_cursor = page(entries, query.get("cursor", ""), limit)
        return messages.rest_ok(query["category"], items, time=now, next_page_cursor=next_cursor)


def _link_id(body: str) -> str:
    """The orderLinkId an order request carries, if it is a JSON object that has one."""
    with contextlib.suppress(orjson.JSONDecodeError):
        request = orjson.loads(body)
        if isinstance(request, dict):
            return str(request.get("orderLinkId") or "")
    return ""


# ---- the private WebSocket --------------------------------------------------------------------


@dataclass(eq=False)
class Connection:
    """One private-stream client; frames go out in order through its outbox."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    conn_id: str
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    authenticated: bool = False
    topics: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class AuthAttempt:
    """One ``op: auth`` as the simulator judged it."""

    conn_id: str
    accepted: bool
    reason: str


# ---- the simulator ----------------------------------------------------------------------------


class BybitSimulator(ServedSimulator):
    """Bybit V5 on 127.0.0.1: REST and /v5/private over one ``ExchangeBook``, in a thread."""

    def __init__(
        self,
        *,
        api_key: str = "sim-api-key",
        api_secret: str = "sim-api-secret",
        clock: Clock | None = None,
        wall_clock: Clock = real_clock,
        book: ExchangeBook | None = None,
        port: int = 0,
        reply_latency: float = 0.01,
        rate_limit_reset_ms: int = 100,
    ) -> None:
        # clock stamps the book's data; wall_clock judges what clients sign with their own
        # clocks (request timestamps, auth expiry) and dates rate-limit resets for them.
        self.clock: Clock = clock or real_clock
        self.wall_clock = wall_clock
        self.book = book or ExchangeBook(clock=self.clock)
        self._credentials = Credentials(api_key, api_secret)
        self._faults = Faults()
        # pybit records a subscription just after sending it: an instant ack can beat it and
        # the KeyError kills its stream. Bybit's acks never come back within microseconds.
        self._reply_latency = reply_latency
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rest = Rest(
            self.book, self._credentials, self._faults, wall_clock, rate_limit_reset_ms
        )
        self._connections: set[Connection] = set()
        self._closing: set[asyncio.Future[bool]] = set()
        self._auths: list[AuthAttempt] = []
        self._pushed: list[JSON] = []
        self._conn_serial = 0
        self._server = ServedApp(
            "bybit-simulator", self._build, port=port, before_close=self._before_close
        )
        # The public linear stream (its tickers): set from tests, scenarios and move_mark.
        self.tickers = PublicTickers(self.clock, reply_latency)

    # ---- lifecycle ----------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}{PRIVATE_PATH}"

    def _build(self) -> web.Application:
        app = web.Application()
        app.router.add_get(PRIVATE_PATH, self._private)
        app.router.add_get(PUBLIC_LINEAR_PATH, self.tickers.serve)
        app.router.add_route("*", "/{tail:.*}", self._http)
        return app

    async def _before_close(self) -> None:
        self._abort_connections()
        self.tickers.abort()

    # ---- REST ---------------------------------------------------------------------------------

    async def _http(self, request: web.Request) -> web.StreamResponse:
        received = time.perf_counter()
        if request.method == "GET" and request.path == INSTRUMENTS_PATH:
            return web.json_response(self._instruments(request.query))
        if request.method == "POST" and request.path in order_entry.ACTIONS:
            body = await request.text()
            reply = self._mutate(
                lambda _: self._rest.submit(request.path, body, request.headers, received)
            )
        elif request.method != "GET" or request.path not in (*ENDPOINTS, WALLET_PATH):
            return web.Response(status=404, text="404 page not found")
        else:
            with self._lock:
                query = request.rel_url.raw_query_string
                reply = self._rest.answer(
                    request.path, request.query, query, request.headers, received
                )
        content_type = "application/json" if reply.status == 200 else "text/html"
        return web.Response(
            status=reply.status, text=reply.body, headers=reply.headers, content_type=content_type
        )

    def _instruments(self, query: Mapping[str, str]) -> JSON:
        """Public: a symbol's trading rules (those a test set, else a grid fine enough)."""
        category, symbol = query.get("category", "linear"), query.get("symbol", "")
        with self._lock:
            rules = self.book.instruments.get(symbol, ANY_GRID)
        listed = [rules.listing(category, symbol)] if symbol else []
        result = {"category": category, "list": listed, "nextPageCursor": ""}
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": 0}

    # ---- the private WebSocket ----------------------------------------------------------------

    async def _private(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self._lock:
            self._conn_serial += 1
            conn = Connection(ws, request.transport, self._conn_id())
            self._connections.add(conn)
            self._changed.notify_all()
        writer = asyncio.create_task(self._write(conn))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(conn, message.data)
        finally:
            writer.cancel()
            with self._lock:
                self._connections.discard(conn)
                self._changed.notify_all()
        return ws

    def _conn_id(self) -> str:
        # Shaped like Bybit's, e.g. "cejreaspqfh3sjdnldmg-p"; unique per connection.
        return f"c{self._conn_serial:019d}-sim"

    async def _write(self, conn: Connection) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                await conn.ws.send_str(await conn.outbox.get())

    def _on_text(self, conn: Connection, data: str) -> None:
        try:
            request = orjson.loads(data)
            op, args = request.get("op"), request.get("args") or []
        except (orjson.JSONDecodeError, AttributeError):
            self._reply(conn, {"success": False, "ret_msg": "error:not json", "op": ""}, None)
            return
        req_id = request.get("req_id")
        if op == "ping":
            pong = {"op": "pong", "args": [str(self.clock())], "conn_id": conn.conn_id}
            self._reply(conn, {"req_id": req_id or "", **pong}, None)
        elif op == "auth":
            self._auth(conn, args, req_id)
        elif op in ("subscribe", "unsubscribe"):
            self._subscribe(conn, op, [str(a) for a in args], req_id)
        else:
            self._reply(conn, {"success": False, "ret_msg": f"error:invalid op {op}"}, req_id)

    def _reply(
        self,
        conn: Connection,
        body: JSON,
        req_id: object,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Answer after the reply latency; ``then`` takes effect just before the answer."""
        if req_id is not None:
            body = {"req_id": req_id, **body}
        body.setdefault("conn_id", conn.conn_id)
        text = _json(body)

        def send() -> None:
            if then is not None:
                then()
            conn.outbox.put_nowait(text)

        asyncio.get_running_loop().call_later(self._reply_latency, send)

    def _auth(self, conn: Connection, args: list[Any], req_id: object) -> None:
        with self._lock:
            reason = self._auth_refusal(args)
            self._auths.append(AuthAttempt(conn.conn_id, reason == "", reason))
            self._changed.notify_all()
        if reason == "":
            conn.authenticated = True
        # Bybit's v5 answer to a failed auth says only "Params Error", whatever the cause.
        body = {"success": reason == "", "ret_msg": "" if reason == "" else "Params Error"}
        self._reply(conn, {**body, "op": "auth"}, req_id)

    def _auth_refusal(self, args: list[Any]) -> str:
        """Why this auth is refused, or "" to accept it."""
        if self._faults.refused_auths > 0:
            self._faults.refused_auths -= 1
            return "refused by the test"
        if len(args) != 3:
            return "args must be [api_key, expires, signature]"
        key, expires, signature = args
        if key != self._credentials.api_key:
            return "unknown api key"
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return "expires is not an integer"
        if expires_at <= self.wall_clock():
            return "expired"
        if not signing.same_signature(
            signing.ws_auth_signature(self._credentials.api_secret, expires_at), str(signature)
        ):
            return "bad signature"
        return ""

    def _subscribe(self, conn: Connection, op: str, topics: list[str], req_id: object) -> None:
        unknown = [t for t in topics if t not in PRIVATE_TOPICS]
        if not conn.authenticated or unknown or not topics:
            why = "Request not authorized" if not conn.authenticated else f"error:topics {unknown}"
            self._reply(conn, {"success": False, "ret_msg": why, "op": op}, req_id)
            return

        def apply() -> None:
            # Topics take effect with the ack, so no push can overtake it.
            with self._lock:
                if op == "subscribe":
                    conn.topics.update(topics)
                else:
                    conn.topics.difference_update(topics)
                self._changed.notify_all()

        self._reply(conn, {"success": True, "ret_msg": "", "op": op}, req_id, then=apply)

    def _fan_out(self, frames: list[tuple[str, str]]) -> None:
        for topic, text in frames:
            for conn in self._connections:
                if conn.authenticated and topic in conn.topics:
                    conn.outbox.put_nowait(text)

    def _drop(self, clean: bool) -> None:
        if not clean:
            self._abort_connections()
            return
        for conn in list(self._connections):
            # Kept in a set until done: the loop holds tasks only weakly.
            task = asyncio.ensure_future(conn.ws.close(code=WSCloseCode.GOING_AWAY))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    def _abort_connections(self) -> None:
        # abort(), not a close handshake: a cut cable, as clients meet it in the field.
        for conn in list(self._connections):
            if conn.transport is not None:
                conn.transport.abort()

    # ---- operations on the book (each pushes what Bybit would push) ---------------------------

    def _mutate(self, operation: Callable[[ExchangeBook], T]) -> T:
        with self._lock:
            try:
                return operation(self.book)
            finally:
                # Also after a failure: a hand close whose fill fails has still placed its order.
                self._publish(self.book.take_frames())

    def _publish(self, frames: list[JSON]) -> None:
        self._pushed.extend(frames)
        if frames:
            texts = [(str(f["topic"]), _json(f)) for f in frames]
            # Frames pushed while nobody listens are lost, as they are on Bybit.
            self._server.call_soon(self._fan_out, texts)

    def place_order(
        self,
        symbol: str,
        side: str,
        qty: Quantity,
        *,
        order_link_id: str = "",
        order_type: str = "Limit",
        price: Quantity | None = None,
        reduce_only: bool = False,
        position_idx: int = 0,
        category: str = "linear",
        time_in_force: str | None = None,
        reject_reason: str | None = None,
    ) -> str:
        """Place an order (New, or Rejected with ``reject_reason``); returns its orderId."""
        order = self._mutate(
            lambda book: book.place_order(
                symbol,
                side,
                _exact(qty),
                order_link_id=order_link_id,
                order_type=order_type,
                price=_optional(price),
                reduce_only=reduce_only,
                position_idx=position_idx,
                category=category,
                time_in_force=time_in_force,
                reject_reason=reject_reason,
            )
        )
        return order.order_id

    def fill(self, order: str, qty: Quantity | None = None, price: Quantity | None = None) -> str:
        """Fill an order (by orderId or orderLinkId), partly or fully; returns the execId."""
        return self._mutate(lambda b: b.fill(order, _optional(qty), _optional(price))).exec_id

    def cancel(self, order: str) -> None:
        """Cancel an open order by orderId or orderLinkId."""
        self._mutate(lambda book: book.cancel(order))

    def close_by_hand(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Quantity | None = None,
    ) -> str:
        """Close a position as Bybit's app does (Market, empty orderLinkId); returns the execId."""
        return self._mutate(
            lambda book: book.close_by_hand(
                symbol, position_idx=position_idx, category=category, price=_optional(price)
            )
        ).exec_id

    def liquidate(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Quantity | None = None,
    ) -> str:
        """Liquidate a position (positionStatus Liq, execType BustTrade); returns the execId."""
        return self._mutate(
            lambda book: book.liquidate(
                symbol, position_idx=position_idx, category=category, price=_optional(price)
            )
        ).exec_id

    def auto_deleverage(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Quantity | None = None,
    ) -> str:
        """Auto-deleverage a position (positionStatus Adl, execType AdlTrade); says the execId."""
        return self._mutate(
            lambda book: book.auto_deleverage(
                symbol, position_idx=position_idx, category=category, price=_optional(price)
            )
        ).exec_id

    def set_trading_stop(
        self,
        symbol: str,
        *,
        take_profit: Quantity | None = None,
        stop_loss: Quantity | None = None,
        position_idx: int = 0,
        category: str = "linear",
    ) -> list[str]:
        """Give a position the venue's own TP and/or SL (Untriggered conditional orders, fired
        by move_mark); returns their orderIds."""
        orders = self._mutate(
            lambda book: book.set_trading_stop(
                symbol,
                take_profit=_optional(take_profit),
                stop_loss=_optional(stop_loss),
                position_idx=position_idx,
                category=category,
            )
        )
        return [order.order_id for order in orders]

    def set_instrument(
        self, symbol: str, *, qty_step: Quantity, min_qty: Quantity, tick_size: Quantity
    ) -> None:
        """Hold ``symbol``'s orders to these rules (10001 "Qty invalid" / "Price invalid"
        off the grid), as instruments-info then says."""
        rules = Instrument(_exact(qty_step), _exact(min_qty), _exact(tick_size))
        self._mutate(lambda book: book.instruments.__setitem__(symbol, rules))

    def move_mark(self, symbol: str, price: Quantity, *, category: str = "linear") -> None:
        """Move the mark price of ``symbol`` (seen by REST, and a linear one on the public
        ticker stream); a TP or SL it reaches fires, and that pushes its order, execution and
        position. It is also the price orders placed by REST fill at: a resting limit order it
        crosses fills."""

        def move(book: ExchangeBook) -> None:
            book.move_mark(symbol, _exact(price), category)
            order_entry.match(book, symbol, category)

        self._mutate(move)
        if category == "linear":
            self.tickers.set(symbol, mark_price=str(_exact(price)))

    def open_position(
        self,
        symbol: str,
        side: str,
        size: Quantity,
        avg_price: Quantity,
        *,
        position_idx: int = 0,
        category: str = "linear",
        mark_price: Quantity | None = None,
    ) -> None:
        """Put a position on the book outright, as if opened before anyone watched."""
        self._mutate(
            lambda book: book.open_position(
                symbol,
                side,
                _exact(size),
                _exact(avg_price),
                position_idx=position_idx,
                category=category,
                mark_price=_optional(mark_price),
            )
        )

    def push_wallet(self) -> None:
        """Push a ``wallet`` frame with the account as it stands."""
        self._mutate(lambda book: book.push_wallet())

    def read(self, view: Callable[[ExchangeBook], T]) -> T:
        """Run ``view`` on the book under the simulator's lock (a consistent read)."""
        with self._lock:
            return view(self.book)

    # ---- faults -------------------------------------------------------------------------------

    def drop_connections(self, *, clean: bool = False) -> None:
        """Cut every private-stream connection: abruptly, or ``clean`` with close code 1001."""
        self._server.call_soon(self._drop, clean)

    def refuse_auth(self, n: int = 1) -> None:
        """Answer the next ``n`` auth attempts with Bybit's failure, whatever they carry."""
        with self._lock:
            self._faults.refused_auths += n

    def rate_limit(self, n: int = 1, how: RateLimitHow = "retCode") -> None:
        """Rate-limit the next ``n`` REST answers: retCode 10006, or HTTP 429 or 403."""
        if how not in ("retCode", "429", "403"):
            raise ValueError(f"how must be retCode, 429 or 403, not {how!r}")
        with self._lock:
            self._faults.rest.extend([(how, 10006, RET_MSGS[10006])] * n)

    def error(self, n: int = 1, ret_code: int = 10016, ret_msg: str | None = None) -> None:
        """Answer the next ``n`` REST requests with this retCode (HTTP 200, empty result)."""
        with self._lock:
            self._faults.rest.extend([("retCode", ret_code, ret_msg or "")] * n)

    def answer_raw(self, status: int, body: str, n: int = 1) -> None:
        """Answer the next ``n`` REST requests with this status and body, whatever they are
        (``null``, a list: what no client expects)."""
        with self._lock:
            self._faults.rest.extend([("raw", status, body)] * n)

    def malform(self, n: int = 1, field: str = "size") -> None:
        """Answer the next ``n`` listings truly but with ``field`` missing from their first item:
        a page a client must refuse although its nextPageCursor looks fine."""
        with self._lock:
            self._faults.rest.extend([("malformed", 0, field)] * n)

    def set_page_size(self, size: int | None) -> None:
        """Cap every page at ``size`` items whatever ``limit`` asks (None: no cap)."""
        with self._lock:
            self._faults.page_size = size

    # ---- what happened ------------------------------------------------------------------------

    def rest_answers(self) -> list[RestAnswer]:
        """Every REST answer so far, oldest first."""
        with self._lock:
            return list(self._rest.answers)

    def auth_attempts(self) -> list[AuthAttempt]:
        """Every private-stream auth so far, oldest first."""
        with self._lock:
            return list(self._auths)

    def pushed_frames(self) -> list[JSON]:
        """Every frame the book pushed (delivered or not), oldest first."""
        with self._lock:
            return list(self._pushed)

    def connection_count(self) -> int:
        """How many private-stream connections are open."""
        with self._lock:
            return len(self._connections)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``condition`` holds or ``timeout`` passes; False on timeout.

        The condition is checked whenever a connection, an auth or a subscription changes.
        """
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def wait_subscribed(
        self, topics: tuple[str, ...] = PRIVATE_TOPICS, *, clients: int = 1, timeout: float = 5.0
    ) -> bool:
        """Block until ``clients`` authenticated connections hold every one of ``topics``."""

        def ready() -> bool:
            holding = [c for c in self._connections if c.topics.issuperset(topics)]
            return len(holding) >= clients

        return self.wait_for(ready, timeout)

    def connection_ids(self) -> list[str]:
        """The conn_id of every open private-stream connection."""
        with self._lock:
            return sorted(c.conn_id for c in self._connections)
