"""Hyperliquid's public prices over its WebSocket, as venue-neutral prices.

``allMids`` gives every coin's mid price (no time of its own); ``activeAssetCtx`` gives one
coin's mark, oracle (the index) and mid price. Neither is about a user, so neither names one.
"""

from decimal import Decimal

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import PriceQuote, PricesReported

CHANNELS = ("allMids", "activeAssetCtx")
CONTROL_CHANNELS = ("subscriptionResponse", "pong")


def decode_public(envelope: Envelope, frame: Payload) -> PricesReported:
    """One frame of a public subscription, verbatim ``{"channel", "data"}``."""
    channel = frame.text("channel")
    if channel in CONTROL_CHANNELS:
        raise ControlMessage(
            f"{frame.where}.channel: a control message ({shown(channel)}), not a report"
        )
    if channel == "error":
        raise ErrorReply(f"websocket error: {shown(frame.fields.get('data'))}")
    if channel == "allMids":
        mids = frame.child("data").child("mids")
        quotes = tuple(
            PriceQuote(coin, None, None, None, _price(mids, coin), None)
            for coin in sorted(mids.fields)
        )
        return PricesReported(**envelope.header(), quotes=quotes)
    if channel == "activeAssetCtx":
        data = frame.child("data")
        ctx = data.child("ctx")
        quote = PriceQuote(
            symbol=data.name("coin"),
            mark=_price(ctx, "markPx"),
            last=None,
            index=_price(ctx, "oraclePx"),
            mid=_price(ctx, "midPx"),
            venue_time=None,
        )
        return PricesReported(**envelope.header(), quotes=(quote,))
    raise UnknownInput(
        f"{frame.where}.channel: {shown(channel)} is not a public channel trueup reads"
    )


def _price(fields: Payload, name: str) -> Decimal | None:
    # A coin with no book has no mid: Hyperliquid sends null for it.
    value = fields.optional_decimal(name)
    if value is not None and value <= 0:
        raise MalformedInput(f"{fields.where}.{name}: a price must be positive, got {value}")
    return value


def active_asset_ctx_frame(coin: str, *, mark: str, oracle: str, mid: str) -> dict[str, object]:
    """An ``activeAssetCtx`` push of a perp as Hyperliquid sends it (PerpsAssetCtx), prices
    as decimal strings; the fields trueup does not read hold neutral values."""
    ctx = {
        "funding": "0.0",
        "openInterest": "0.0",
        "prevDayPx": mark,
        "dayNtlVlm": "0.0",
        "premium": "0.0",
        "oraclePx": oracle,
        "markPx": mark,
        "midPx": mid,
        "impactPxs": [mid, mid],
        "dayBaseVlm": "0.0",
    }
    return {"channel": "activeAssetCtx", "data": {"coin": coin, "ctx": ctx}}


def all_mids_frame(mids: dict[str, str]) -> dict[str, object]:
    """An ``allMids`` push as Hyperliquid sends it: every coin's mid, as a decimal string."""
    return {"channel": "allMids", "data": {"mids": dict(mids)}}
