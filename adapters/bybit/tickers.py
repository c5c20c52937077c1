"""Bybit V5's public ticker stream (topic ``tickers.<symbol>``), as venue-neutral prices.

Linear and inverse tickers come as a snapshot, then deltas that carry only what changed: a
price missing from a frame has not changed, so each frame is read for what it gives and the
fold keeps the rest (domain/prices.py).
"""

from decimal import Decimal

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import PriceQuote, PricesReported

TOPIC = "tickers"
FRAME_TYPES = ("snapshot", "delta")
# The prices trueup reads from a ticker (its volume, turnover, open interest are not).
PRICES_READ = ("markPrice", "lastPrice", "indexPrice")


def decode_public(envelope: Envelope, frame: Payload) -> PricesReported:
    """One frame of Bybit's public stream, as pybit (or the wire) hands it on."""
    if not frame.has("topic"):
        op = frame.fields.get("op")
        if frame.fields.get("success") is False:
            raise ErrorReply(f"{op or 'request'} refused: {shown(frame.fields.get('ret_msg'))}")
        raise ControlMessage(f"data: a control message (op={shown(op)}), not a report")
    topic = frame.text("topic")
    family, _, symbol = topic.partition(".")
    if family != TOPIC:
        raise UnknownInput(f"data.topic: {shown(topic)} is not a public topic trueup reads")
    frame.choice("type", FRAME_TYPES)
    item = frame.child("data")
    if item.name("symbol") != symbol:
        raise MalformedInput(
            f"data.data.symbol: {shown(item.text('symbol'))} is not the topic's {symbol!r}"
        )
    mark, last, index = (_price(item, name) for name in PRICES_READ)
    quote = PriceQuote(
        symbol=symbol,
        mark=mark,
        last=last,
        index=index,
        mid=None,
        venue_time=frame.millis("ts"),
    )
    return PricesReported(**envelope.header(), quotes=(quote,))


def _price(item: Payload, name: str) -> Decimal | None:
    value = item.optional_decimal(name)
    if value is not None and value <= 0:
        raise MalformedInput(f"{item.where}.{name}: a price must be positive, got {value}")
    return value


def ticker_frame(
    symbol: str, fields: dict[str, str], *, ts: int, cs: int, snapshot: bool
) -> dict[str, object]:
    """A ``tickers.<symbol>`` push as Bybit sends it: ``fields`` are all of the ticker's
    (a snapshot) or only those that changed (a delta)."""
    return {
        "topic": f"{TOPIC}.{symbol}",
        "type": "snapshot" if snapshot else "delta",
        "data": {"symbol": symbol, **fields},
        "cs": cs,
        "ts": ts,
    }
