"""Aster's public mark price stream (``<symbol>@markPrice``), as venue-neutral prices.

Each ``markPriceUpdate`` gives one symbol's mark and index price at its event time E (and
the funding rate, read by no one here). Aster pushes it every 3 s (or 1 s) whether or not
it moved; the feed records only those that moved a price read here.
"""

from decimal import Decimal

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import PriceQuote, PricesReported

EVENT = "markPriceUpdate"
# The prices trueup reads from an update: the mark and the index.
PRICES_READ = ("p", "i")
STREAM_SUFFIX = "@markPrice"


def stream_name(symbol: str) -> str:
    """The stream of ``symbol``'s mark price: stream names are lower case."""
    return symbol.lower() + STREAM_SUFFIX


def decode_public(envelope: Envelope, frame: Payload) -> PricesReported:
    """One frame of the market stream, verbatim: an update, raw or in a combined stream's
    ``{"stream", "data"}``; a request's answer ``{"result", "id"}`` or error ``{"code",
    "msg"}`` is about the connection."""
    if frame.has("stream") and not frame.has("e"):
        frame = frame.child("data")
    if not frame.has("e"):
        if frame.has("code"):
            raise ErrorReply(f"market stream error: {shown(frame.fields.get('msg'))}")
        raise ControlMessage(
            f"{frame.where}: a request's answer (id {shown(frame.fields.get('id'))})"
        )
    event = frame.text("e")
    if event != EVENT:
        raise UnknownInput(f"{frame.where}.e: {shown(event)} is not an event trueup reads")
    mark, index = (_price(frame, name) for name in PRICES_READ)
    quote = PriceQuote(
        symbol=frame.name("s"),
        mark=mark,
        last=None,
        index=index,
        mid=None,
        venue_time=frame.millis("E"),
    )
    return PricesReported(**envelope.header(), quotes=(quote,))


def _price(frame: Payload, name: str) -> Decimal | None:
    value = frame.optional_decimal(name)
    return None if value is None else positive(frame, name, value)


def positive(frame: Payload, name: str, value: Decimal) -> Decimal:
    """``value``, the price ``frame`` names ``name``: refused unless above 0."""
    if value <= 0:
        raise MalformedInput(f"{frame.where}.{name}: a price must be positive, got {value}")
    return value
