"""Aster futures user-data stream events and REST replies, as domain events.

A WebSocket line holds the event verbatim as the user data stream pushes it (``{"e", "E",
...}``); a REST line names the path as its ``endpoint`` and the query, without its
signature, as its ``params``. Formats follow Aster's futures API pages: futures-api-v1.md
(HMAC) and futures-api-v3.md (EIP-712), which share endpoints' replies and the stream's
events. Aster has no sequence number, and its pushes may arrive out of order: a position is
ordered by the instant it changed, an update's transaction time T and a positionRisk entry's
updateTime (one clock for both), never by when the report arrived.
"""

from trueup.adapters.aster import mark_prices, records
from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload, array_items
from trueup.adapters.snapshot_pages import whole_run
from trueup.adapters.wire_errors import ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    OrdersReported,
    PositionsReported,
    PriceQuote,
    PricesReported,
    StreamDown,
    WalletReported,
)

# Each REST reply trueup reads, by the name of its kind; v1 (HMAC) and v3 (EIP-712) paths.
POSITION_RISK = "positionRisk"
REST_KINDS: dict[str, str] = {
    "/fapi/v2/positionRisk": POSITION_RISK,
    "/fapi/v3/positionRisk": POSITION_RISK,
    "/fapi/v1/openOrders": "openOrders",
    "/fapi/v3/openOrders": "openOrders",
    "/fapi/v1/allOrders": "allOrders",
    "/fapi/v3/allOrders": "allOrders",
    "/fapi/v1/userTrades": "userTrades",
    "/fapi/v3/userTrades": "userTrades",
    "/fapi/v4/account": "account",
    "/fapi/v3/accountWithJoinMargin": "account",
    "/fapi/v1/income": "income",
    "/fapi/v3/income": "income",
}
REST_ENDPOINTS = tuple(REST_KINDS)
# The replies that are a position snapshot: positionRisk lists every symbol's positions.
POSITION_SNAPSHOTS = tuple(e for e, kind in REST_KINDS.items() if kind == POSITION_RISK)
WS_EVENTS = ("ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE", "MARGIN_CALL", "listenKeyExpired")
# The stream's own name in feed lines: listenKeyExpired ends it as a lost connection does.
STREAM = "private"
# HTTP 429: a request rate limit broken; 418: the IP banned for going on after 429s; 403:
# the WAF limit. -1003 TOO_MANY_REQUESTS says the same in a body.
RATE_LIMIT_HTTP_STATUSES = frozenset({403, 418, 429})
RATE_LIMIT_CODES = frozenset({-1003})


def rate_limited(error: ErrorReply) -> bool:
    """Whether Aster's error reply says we ask too often."""
    return error.http_status in RATE_LIMIT_HTTP_STATUSES or error.ret_code in RATE_LIMIT_CODES


def decode(envelope: Envelope, channel: str, line: Payload) -> InputEvent:
    """One capture line of venue aster, channel ws, market or rest."""
    if channel == "ws":
        return decode_ws(envelope, line.child("data"))
    if channel == "market":
        return mark_prices.decode_public(envelope, line.child("data"))
    if channel != "rest":
        raise UnknownInput(f"line.channel: {shown(channel)} is not read for Aster yet")
    endpoint = line.text("endpoint")
    kind = REST_KINDS.get(endpoint)
    if kind is None:
        raise UnknownInput(f"line.endpoint: {shown(endpoint)} is not an endpoint trueup reads")
    body = line.fields.get("data")
    status = line.integer("status") if line.has("status") else 200
    if status != 200:
        raise _http_error(status, body)
    if body is None:
        raise MalformedInput("line.data: missing")
    if isinstance(body, dict) and "code" in body:
        raise _error_body(Payload(body, "line.data"), None)
    params = line.child("params") if line.has("params") else Payload({}, "line.params")
    return decode_rest(envelope, kind, params, body)


def _http_error(status: int, body: object) -> ErrorReply:
    """An HTTP error, with Aster's ``{"code", "msg"}`` where the body is one (a 429 or a
    WAF's 403 may come with none, or an HTML page)."""
    if status == 0:
        return ErrorReply("no reply (network error)", http_status=0)
    if isinstance(body, dict) and "code" in body:
        with_code = _error_body(Payload(body, "line.data"), status)
        return with_code
    return ErrorReply(f"HTTP {status}", http_status=status)


def _error_body(body: Payload, status: int | None) -> ErrorReply:
    code = body.integer("code")
    reason = f"code {code}: {body.optional_text('msg')}"
    return ErrorReply(
        reason if status is None else f"HTTP {status}: {reason}",
        ret_code=code,
        http_status=status,
    )


def decode_rest(envelope: Envelope, kind: str, params: Payload, body: object) -> InputEvent:
    header = envelope.header()
    if kind == POSITION_RISK:
        return position_snapshot(envelope, params, body)
    if kind == "account":
        return WalletReported(**header, wallets=(records.account(Payload(body, "line.data")),))
    items = array_items(body, "line.data")
    # allOrders lists one symbol's orders in any status (filled, canceled ...) as
    # openOrders lists the open ones.
    if kind in ("openOrders", "allOrders"):
        return OrdersReported(**header, source="rest", orders=tuple(map(records.order, items)))
    if kind == "userTrades":
        return ExecutionsReported(**header, source="rest", fills=tuple(map(records.trade, items)))
    # income: the funding fees; its other kinds (commission, realised PnL, transfers) repeat
    # what the trades say or move no position, and stay in the line.
    fundings = tuple(
        records.funding(item) for item in items if item.text("incomeType") == records.FUNDING_FEE
    )
    return ExecutionsReported(**header, source="rest", fills=fundings)


def position_snapshot(envelope: Envelope, params: Payload, body: object) -> PositionsReported:
    """A positionRisk reply: every symbol's positions (or the ``symbol`` asked), so a leg it
    leaves out is flat. One page: Aster does not paginate it."""
    reports = tuple(
        records.position_risk(item, envelope.at) for item in array_items(body, "line.data")
    )
    keys = [(r.symbol, r.position_idx) for r in reports]
    if len(set(keys)) != len(keys):
        raise MalformedInput(f"line.data: a position is listed twice: {keys}")
    # The reply names no server time.
    page = whole_run(records.PERP, params.optional_name("symbol"), envelope.at)
    return PositionsReported(**envelope.header(), source="rest", reports=reports, snapshot=page)


def decode_ws(envelope: Envelope, frame: Payload) -> InputEvent:
    if frame.has("stream") and not frame.has("e"):
        frame = frame.child("data")  # a combined stream's {"stream", "data"} wrapper
    event_type = frame.text("e")
    header = envelope.header()
    if event_type == "listenKeyExpired":
        # Not a fact about positions: the stream ends, and says nothing more until a new
        # listenKey is used, as a dropped connection would.
        frame.millis("E")
        return StreamDown(**header, stream=STREAM, reason="listenKeyExpired")
    if event_type == "ACCOUNT_UPDATE":
        return account_update(envelope, frame)
    if event_type == "ORDER_TRADE_UPDATE":
        return order_trade_update(envelope, frame)
    if event_type == "MARGIN_CALL":
        return margin_call(envelope, frame)
    raise UnknownInput(f"{frame.where}.e: {shown(event_type)} is not an event trueup reads")


def account_update(envelope: Envelope, frame: Payload) -> PositionsReported:
    """Balance and Position Update: the positions that changed (never a snapshot: a funding
    fee's update lists none, or only its isolated position). Its balances ``B`` name no
    account totals; they are checked and kept in the line, and the account's figures come
    from the account reply."""
    frame.millis("E")
    transaction_time = frame.millis("T")
    update = frame.child("a")
    update.text("m")  # the reason (ORDER, FUNDING_FEE, ...): Aster's list grows, any is read
    for item in update.items("B") if update.has("B") else ():
        item.text("a")
        item.decimal("wb")
    positions = update.items("P") if update.has("P") else []
    reports = tuple(records.account_update_position(item, transaction_time) for item in positions)
    return PositionsReported(**envelope.header(), source="ws", reports=reports, snapshot=None)


def order_trade_update(envelope: Envelope, frame: Payload) -> InputEvent:
    """Order Update: the order's new status, and, when it traded, the fill with it."""
    frame.millis("E")
    update = frame.child("o")
    execution = records.execution_type(update)
    report = records.order_update(update, frame.millis("T"))
    header = envelope.header()
    if execution not in records.FILLING_EXECUTIONS:
        return OrdersReported(**header, source="ws", orders=(report,))
    fill = records.update_fill(update, report)
    return ExecutionsReported(**header, source="ws", fills=(fill,), orders=(report,))


def margin_call(envelope: Envelope, frame: Payload) -> PricesReported:
    """A margin call: risk guidance, pushed when the position may already be liquidated, so
    its sizes are not taken as the position's. What it tells for sure is each symbol's mark
    price at its event time, kept as the account's prices."""
    event_time = frame.millis("E")
    quotes: dict[str, PriceQuote] = {}
    for item in frame.items("p"):
        records.position_idx(item, "ps")
        item.decimal("pa")
        symbol = item.name("s")
        mark = mark_prices.positive(item, "mp", item.decimal("mp"))
        quotes[symbol] = PriceQuote(symbol, mark, None, None, None, event_time)
    return PricesReported(**envelope.header(), quotes=tuple(quotes.values()))
