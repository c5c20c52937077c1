"""ccxt's unified structures, as recorded by the ccxt feed, into domain events.

A line of venue ``ccxt:<exchange-id>`` names the ccxt method whose result it holds as its
``endpoint`` (channel ``rest`` for fetch*, ``ws`` for watch*), and that result verbatim in
``data``: a list of unified structures, each with the exchange's own ``info``. A call that
raised holds instead ``error``: ccxt's exception class and its bases, and the message. ccxt
gives no sequence numbers: reports are ordered by their own times, else by the line's ``at``.
"""

from decimal import Decimal

from trueup.adapters.ccxt import records
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
    Source,
)

PREFIX = "ccxt:"
FETCH_POSITIONS = "fetchPositions"
FETCH_OPEN_ORDERS = "fetchOpenOrders"
FETCH_MY_TRADES = "fetchMyTrades"
# Each method whose result trueup reads, by what it lists, and the channel it comes on.
ENDPOINTS: dict[str, tuple[str, str]] = {
    FETCH_POSITIONS: ("positions", "rest"),
    FETCH_OPEN_ORDERS: ("orders", "rest"),
    FETCH_MY_TRADES: ("trades", "rest"),
    "watchPositions": ("positions", "ws"),
    "watchOrders": ("orders", "ws"),
    "watchMyTrades": ("trades", "ws"),
}
# fetchPositions, asked for every symbol, lists every position held: a complete snapshot.
# watchPositions gives only what changed.
POSITION_SNAPSHOTS = (FETCH_POSITIONS,)
# ccxt's exception classes that say we ask too often, or that no reply came.
RATE_LIMIT_ERRORS = frozenset({"RateLimitExceeded", "DDoSProtection"})
NETWORK_ERROR = "NetworkError"
RATE_LIMIT_HTTP_STATUSES = frozenset({418, 429})


class CcxtError(ErrorReply):
    """A ccxt call that raised: ``classes`` its exception's class and bases, most specific
    first (``RateLimitExceeded``, ``NetworkError``, ..., ``BaseError``)."""

    def __init__(self, message: str, *, classes: tuple[str, ...], http_status: int | None) -> None:
        super().__init__(message, http_status=http_status)
        self.classes = classes


def rate_limited(error: ErrorReply) -> bool:
    """Whether a ccxt error says we ask too often (its class, or an HTTP 429 or 418)."""
    if isinstance(error, CcxtError) and RATE_LIMIT_ERRORS & set(error.classes):
        return True
    return error.http_status in RATE_LIMIT_HTTP_STATUSES


def decode(envelope: Envelope, channel: str, line: Payload) -> InputEvent:
    """One capture line of a venue ``ccxt:<exchange-id>``, channel rest or ws."""
    if channel not in ("rest", "ws"):
        # Before its endpoint: a market line has none, and asking for it misled.
        raise MalformedInput(
            f"line.channel: {shown(channel)} is not read of ccxt's venues: only rest and ws"
        )
    endpoint = line.text("endpoint")
    kind, expected = ENDPOINTS.get(endpoint, ("", ""))
    if not kind:
        raise UnknownInput(f"line.endpoint: {shown(endpoint)} is not a ccxt method trueup reads")
    if channel != expected:
        raise MalformedInput(f"line.channel: {endpoint} comes on {expected}, not {shown(channel)}")
    if line.has("error"):
        raise _error(line)
    items = array_items(line.fields.get("data"), "line.data")
    header = envelope.header()
    source: Source = "rest" if channel == "rest" else "ws"
    if kind == "positions":
        return _positions(envelope, source, items)
    sizes = _contract_sizes(line)
    if kind == "orders":
        orders = tuple(records.order(item, envelope.at, sizes) for item in items)
        return OrdersReported(**header, source=source, orders=orders)
    fills = tuple(records.trade(item, sizes) for item in items)
    return ExecutionsReported(**header, source=source, fills=fills)


def _positions(envelope: Envelope, source: Source, items: list[Payload]) -> PositionsReported:
    """fetchPositions: every position held, so one it leaves out is flat (one page: ccxt
    gathers the exchange's pages itself). watchPositions: only those that changed."""
    reports = tuple(records.position(item, envelope.at) for item in items)
    keys = [(r.symbol, r.position_idx) for r in reports]
    if len(set(keys)) != len(keys):
        raise MalformedInput(f"line.data: a position is listed twice: {keys}")
    # ccxt names no server time.
    snapshot = whole_run(records.CATEGORY, None, envelope.at) if source == "rest" else None
    return PositionsReported(**envelope.header(), source=source, reports=reports, snapshot=snapshot)


def _contract_sizes(line: Payload) -> dict[str, Decimal]:
    """``contractSizes``: each listed symbol's contract size, from ccxt's markets (orders and
    trades count contracts; positions say their own). A symbol not in it counts 1."""
    if not line.has("contractSizes"):
        return {}
    sizes = line.child("contractSizes")
    return {
        symbol: records.number(value, f"line.contractSizes.{symbol}")
        for symbol, value in sizes.fields.items()
    }


def _error(line: Payload) -> CcxtError:
    """The error a ccxt call raised. A network error (no reply, a timeout, the exchange
    down) is no reply, as HTTP 0 is for the other venues; the status ccxt saw is kept."""
    error = line.child("error")
    classes = tuple(item for item in _texts(error, "classes"))
    if not classes:
        raise MalformedInput("line.error.classes: names no exception class")
    status = line.integer("status") if line.has("status") else None
    message = f"{classes[0]}: {error.optional_text('message')}"
    if status:
        message = f"HTTP {status}: {message}"
    unreachable = NETWORK_ERROR in classes and not RATE_LIMIT_ERRORS & set(classes)
    return CcxtError(message, classes=classes, http_status=0 if unreachable else status)


def _texts(payload: Payload, name: str) -> list[str]:
    value = payload.fields.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise MalformedInput(f"{payload.where}.{name}: expected an array of strings")
    return value
