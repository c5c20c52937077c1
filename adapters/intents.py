"""The trading system's intents (docs/intents.md), as domain events.

Intents name sides and orders as Bybit does (side Buy or Sell, order_link_id): a position
opened Buy is long, and an order's order_link_id is its client order id.
"""

from collections.abc import Callable

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import UnknownInput
from trueup.domain.errors import shown
from trueup.domain.events import (
    MODES,
    PURPOSES,
    AccountModeSet,
    InputEvent,
    LocalPositionCleaned,
    LocalPositionClosed,
    LocalPositionOpened,
    LocalPositionResized,
    Mode,
    OrderCancelled,
    OrderPlaced,
    Purpose,
)
from trueup.domain.vocabulary import OrderSide, PositionSide

ORDER_SIDES = {"Buy": OrderSide.BUY, "Sell": OrderSide.SELL}
POSITION_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}


def _account_mode(envelope: Envelope, data: Payload) -> InputEvent:
    mode: Mode = data.choice("mode", MODES)  # type: ignore[assignment]
    return AccountModeSet(**envelope.header(), mode=mode)


def _position_opened(envelope: Envelope, data: Payload) -> InputEvent:
    mode: Mode = data.choice("mode", MODES)  # type: ignore[assignment]
    position_idx = data.position_idx("position_idx") if data.has("position_idx") else 0
    return LocalPositionOpened(
        **envelope.header(),
        position_id=data.name("position_id"),
        category=data.name("category"),
        symbol=data.name("symbol"),
        position_idx=position_idx,
        side=data.choice_of("side", POSITION_SIDES),
        qty=data.positive_decimal("qty"),
        mode=mode,
        timeframe=data.optional_text("timeframe") or None,
    )


def _position_resized(envelope: Envelope, data: Payload) -> InputEvent:
    return LocalPositionResized(
        **envelope.header(), position_id=data.name("position_id"), qty=data.positive_decimal("qty")
    )


def _position_closed(envelope: Envelope, data: Payload) -> InputEvent:
    return LocalPositionClosed(
        **envelope.header(),
        position_id=data.name("position_id"),
        exit_reason=data.optional_text("exit_reason", "UNSPECIFIED"),
    )


def _order_placed(envelope: Envelope, data: Payload) -> InputEvent:
    purpose: Purpose = data.choice("purpose", PURPOSES)  # type: ignore[assignment]
    return OrderPlaced(
        **envelope.header(),
        position_id=data.name("position_id"),
        client_order_id=data.name("order_link_id"),
        category=data.name("category"),
        symbol=data.name("symbol"),
        purpose=purpose,
        side=data.choice_of("side", ORDER_SIDES),
        qty=data.positive_decimal("qty"),
        price=data.optional_decimal("price"),
    )


def _order_cancelled(envelope: Envelope, data: Payload) -> InputEvent:
    return OrderCancelled(**envelope.header(), client_order_id=data.name("order_link_id"))


DECODERS: dict[str, Callable[[Envelope, Payload], InputEvent]] = {
    "account_mode": _account_mode,
    "position_opened": _position_opened,
    "position_resized": _position_resized,
    "position_closed": _position_closed,
    "order_placed": _order_placed,
    "order_cancelled": _order_cancelled,
}


def decode(envelope: Envelope, data: Payload) -> InputEvent:
    kind = data.text("kind")
    decoder = DECODERS.get(kind)
    if decoder is None:
        raise UnknownInput(f"data.kind: {shown(kind)} is not one of {sorted(DECODERS)}")
    return decoder(envelope, data)


CLEANUP_REASONS = ("STALE_CLEANUP", "MANUAL_CLEANUP")


def decode_operator(envelope: Envelope, data: Payload) -> InputEvent:
    """An operator's action on the local book, recorded so an audit shows who did what."""
    action = data.text("action")
    if action != "clean_position":
        raise UnknownInput(f"data.action: {shown(action)} is not one of ['clean_position']")
    return LocalPositionCleaned(
        **envelope.header(),
        position_id=data.name("position_id"),
        exit_reason=data.choice("exit_reason", CLEANUP_REASONS),
        operator=data.name("operator"),
    )
