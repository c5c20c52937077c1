"""Hyperliquid info replies and WebSocket frames, as domain events.

A REST capture line names the info request's type as its ``endpoint`` and the rest of the
request body as its ``params``; a WebSocket line holds the verbatim ``{"channel", "data"}``
frame. Formats follow Hyperliquid's info and WebSocket documentation.
"""

from trueup.adapters.envelope import Envelope
from trueup.adapters.hyperliquid import mids, records
from trueup.adapters.hyperliquid.coins import COINS, PERP
from trueup.adapters.payload import Payload, array_items
from trueup.adapters.snapshot_pages import whole_run
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import (
    ExecutionsReported,
    Fill,
    InputEvent,
    OrderReport,
    OrdersReported,
    PositionsReported,
    Source,
)

POSITION_SNAPSHOT = "clearinghouseState"
# frontendOpenOrders lists the same orders as openOrders, each with its type and trigger.
OPEN_ORDERS = ("openOrders", "frontendOpenOrders")
# userFillsByTime lists fills as userFills does, from a startTime on (oldest first);
# historicalOrders lists recent orders, open and ended, each as orderStatus gives one.
FILLS = ("userFills", "userFillsByTime")
# The user's funding payments since a time: what user events pushed while nobody listened.
FUNDING_HISTORY = "userFunding"
REST_ENDPOINTS = (
    POSITION_SNAPSHOT, *OPEN_ORDERS, *FILLS, FUNDING_HISTORY, "orderStatus", "historicalOrders"
)  # fmt: skip
WS_CHANNELS = ("userFills", "orderUpdates", "user", "webData2")
CONTROL_CHANNELS = ("subscriptionResponse", "pong")
RATE_LIMIT_HTTP_STATUSES = frozenset({429})


def rate_limited(error: ErrorReply) -> bool:
    """Whether Hyperliquid's error reply says we ask too often."""
    return error.http_status in RATE_LIMIT_HTTP_STATUSES


USER_EVENTS = ("fills", "funding", "liquidation", "nonUserCancel")


def decode(envelope: Envelope, channel: str, line: Payload) -> InputEvent:
    """One capture line of venue hyperliquid, channel ws, market or rest."""
    if channel == "ws":
        return decode_ws(envelope, line.child("data"))
    if channel == "market":
        return mids.decode_public(envelope, line.child("data"))
    endpoint = line.text("endpoint")
    if endpoint not in REST_ENDPOINTS:
        raise UnknownInput(f"line.endpoint: {shown(endpoint)} is not an info request trueup reads")
    # Hyperliquid answers 429 and 5xx in plain text: the line keeps the status, not a body.
    status = line.integer("status") if line.has("status") else 200
    if status != 200:
        raise ErrorReply(f"HTTP {status}", http_status=status)
    params = line.child("params") if line.has("params") else Payload({}, "line.params")
    _same_account(envelope, params, "user")
    if not line.has("data"):
        raise MalformedInput("line.data: missing")
    return decode_rest(envelope, endpoint, params, line.fields["data"])


def decode_rest(envelope: Envelope, endpoint: str, params: Payload, body: object) -> InputEvent:
    header = envelope.header()
    source: Source = "rest"
    if endpoint == "clearinghouseState":
        # Another perp dex's state says nothing of the main dex's positions, and a snapshot
        # of it would flatten them all.
        dex = params.optional_text("dex")
        if dex:
            raise UnknownInput(f"line.params.dex: {shown(dex)}: only the main perp dex is read")
        return positions_reported(envelope, source, Payload(body, "line.data"))
    if endpoint in OPEN_ORDERS:
        orders = tuple(
            records.order_report(item, "open", item.millis("timestamp"), item.where)
            for item in array_items(body, "line.data")
        )
        return OrdersReported(**header, source=source, orders=orders)
    if endpoint in FILLS:
        fills = tuple(records.fill(item) for item in array_items(body, "line.data"))
        return ExecutionsReported(**header, source=source, fills=fills)
    if endpoint == "historicalOrders":
        orders = tuple(map(_with_status, array_items(body, "line.data")))
        return OrdersReported(**header, source=source, orders=orders)
    if endpoint == FUNDING_HISTORY:
        return ExecutionsReported(**header, source=source, fills=funding_history(body))
    reply = Payload(body, "line.data")
    if reply.choice("status", ("order", "unknownOid")) == "unknownOid":
        raise ErrorReply("orderStatus: unknownOid, the user has no such order")
    return OrdersReported(**header, source=source, orders=(_with_status(reply.child("order")),))


def _with_status(entry: Payload) -> OrderReport:
    """``{"order", "status", "statusTimestamp"}``: an order as of its status' time (the
    entries of orderUpdates, historicalOrders and an orderStatus reply)."""
    return records.order_report(
        entry.child("order"),
        entry.text("status"),
        entry.millis("statusTimestamp"),
        f"{entry.where}.status",
    )


def funding_history(body: object) -> tuple[Fill, ...]:
    """A userFunding reply: each entry's ``delta`` is a payment, at the entry's ``time``."""
    fills = []
    for entry in array_items(body, "line.data"):
        delta = entry.child("delta")
        delta.choice("type", ("funding",))
        fills.append(records.funding(delta, entry.millis("time")))
    return tuple(fills)


def positions_reported(envelope: Envelope, source: Source, state: Payload) -> PositionsReported:
    """A clearinghouseState: every open perp position, so a perp it leaves out is flat (a
    spot pair it never lists, nor vouches for)."""
    time = state.millis("time") if state.has("time") else envelope.at
    # The documented shape, in full: an error body must never read as "no positions".
    state.child("marginSummary")
    reports = tuple(records.position_report(item, time) for item in state.items("assetPositions"))
    wallet = records.margin_summary(state, reports)
    coins = [r.symbol for r in reports]
    if len(set(coins)) != len(coins):
        raise MalformedInput(f"{state.where}.assetPositions: a coin is listed twice: {coins}")
    page = whole_run(PERP, None, time, COINS.listed_forms(PERP, None, None))
    return PositionsReported(
        **envelope.header(), source=source, reports=reports, snapshot=page, wallet=wallet
    )


def decode_ws(envelope: Envelope, frame: Payload) -> InputEvent:
    channel = frame.text("channel")
    if channel in CONTROL_CHANNELS:
        raise ControlMessage(
            f"{frame.where}.channel: a control message ({shown(channel)}), not a report"
        )
    if channel == "error":
        # The venue refused a request on the stream (a subscription): the stream may be blind.
        raise ErrorReply(f"websocket error: {shown(frame.fields.get('data'))}")
    header = envelope.header()
    if channel == "userFills":
        data = frame.child("data")
        _same_account(envelope, data, "user")
        fills = tuple(records.fill(item) for item in data.items("fills"))
        return ExecutionsReported(**header, source="ws", fills=fills)
    if channel == "orderUpdates":
        orders = tuple(map(_with_status, frame.items("data")))
        return OrdersReported(**header, source="ws", orders=orders)
    if channel == "user":
        return user_event(envelope, frame.child("data"))
    if channel == "webData2":
        data = frame.child("data")
        _same_account(envelope, data, "user")
        return positions_reported(envelope, "ws", data.child("clearinghouseState"))
    raise UnknownInput(f"{frame.where}.channel: {shown(channel)} is not a channel trueup reads")


def user_event(envelope: Envelope, data: Payload) -> InputEvent:
    """The user channel (subscription userEvents): fills, funding, liquidation or cancels.

    A liquidation notice names no coin and no size, and a nonUserCancel names only coin and
    oid: neither is a record the fold can use. Both are kept as reports of nothing (their
    text stays in ``raw``), because what they announce reaches the book in full elsewhere:
    the liquidation's closing fills (userFills and the user channel, marked `liquidation`)
    and the next clearinghouseState; each cancelled order's orderUpdates with status
    marginCanceled, reduceOnlyCanceled and the like. Rejecting them instead would report a
    failed sync that never happened.
    """
    header = envelope.header()
    if data.has("fills"):
        fills = tuple(records.fill(item) for item in data.items("fills"))
        return ExecutionsReported(**header, source="ws", fills=fills)
    if data.has("funding"):
        payment = data.child("funding")
        fills = (records.funding(payment, payment.millis("time")),)
        return ExecutionsReported(**header, source="ws", fills=fills)
    if data.has("liquidation"):
        data.child("liquidation")
        return ExecutionsReported(**header, source="ws", fills=())
    if data.has("nonUserCancel"):
        for cancel in data.items("nonUserCancel"):
            cancel.text("coin")
            cancel.integer("oid")
        return OrdersReported(**header, source="ws", orders=())
    raise UnknownInput(f"{data.where}: a user event of none of the kinds {list(USER_EVENTS)}")


def _same_account(envelope: Envelope, fields: Payload, name: str) -> None:
    # A report on another address must never be folded into this account's book (a
    # snapshot of someone else's would flatten every position here).
    if not fields.has(name):
        return
    user = fields.text(name)
    if user.lower() != envelope.account.lower():
        raise MalformedInput(
            f"{fields.where}.{name}: {shown(user)} is not the line's account {envelope.account!r}"
        )
