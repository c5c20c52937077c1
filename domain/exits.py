"""Why a position was closed: one rule, ``exit_reason``, for POSITION_CLOSED and the
position history. Each applies it to the closing fill it has: POSITION_CLOSED to the last
fill on the symbol when the exchange shows the key flat, the history to the fill that took
the lifecycle flat; they differ only when that fill comes after the flat (the seeds' rule,
then the fill's word)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from trueup.domain.emitted import ExitReason
from trueup.domain.events import Fill
from trueup.domain.keys import PositionKey, order_key_of
from trueup.domain.vocabulary import ExecutionKind, OrderOrigin

if TYPE_CHECKING:  # the book folds the ledger that asks this: imported for its type alone
    from trueup.domain.book import AccountBook

_BY_KIND = {
    ExecutionKind.LIQUIDATION: ExitReason.LIQUIDATION,
    ExecutionKind.ADL: ExitReason.ADL,
    ExecutionKind.DELIVERY: ExitReason.DELIVERY,
    ExecutionKind.SETTLEMENT: ExitReason.DELIVERY,
}
_BY_ORIGIN = {
    OrderOrigin.LIQUIDATION: ExitReason.LIQUIDATION,
    OrderOrigin.ADL: ExitReason.ADL,
    OrderOrigin.SETTLEMENT: ExitReason.DELIVERY,
    OrderOrigin.TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    OrderOrigin.STOP_LOSS: ExitReason.STOP_LOSS,
    OrderOrigin.TRAILING_STOP: ExitReason.STOP_LOSS,
    OrderOrigin.CONDITIONAL: ExitReason.STOP_LOSS,  # a stop that closes is a stop-loss
    OrderOrigin.CLOSING: ExitReason.MANUAL,
    OrderOrigin.STRATEGY: ExitReason.MANUAL,
}


def shown_by(book: "AccountBook", fill: Fill) -> ExitReason | None:
    """The exit reason a closing fill shows, if it shows one (None: the bot's own order of
    no TP or SL purpose)."""
    by_kind = _BY_KIND.get(fill.kind)
    if by_kind is not None:
        return by_kind
    placed = book.placed.get(fill.client_order_id) if fill.client_order_id else None
    if placed is not None:  # the bot's own order
        if placed.purpose.startswith("TP"):
            return ExitReason.TAKE_PROFIT
        return ExitReason.STOP_LOSS if placed.purpose == "SL" else None
    origin = fill.origin
    if origin is None or origin is OrderOrigin.CLIENT:  # its order's report may say more
        order = book.orders.get(order_key_of(fill.category, fill.symbol, fill.venue_order_id))
        origin = (order.origin if order else None) or origin
    if origin is None:
        return ExitReason.MANUAL  # an order the bot never placed: a close by hand
    # Placed by an engine of the venue's, or else by hand (an order form, another program).
    return _BY_ORIGIN.get(origin, ExitReason.MANUAL)


def exit_reason(
    book: "AccountBook", key: PositionKey, fill: Fill | None, position_ids: Sequence[str]
) -> str:
    """Why the local positions ``position_ids`` on ``key`` were closed: what the closing
    ``fill`` shows; where it shows nothing (or there is none yet), the reason the last of
    them was closed with (by the bot, an operator, or trueup's POSITION_CLOSED); else the
    seeds' rule: EXCHANGE_CLOSED once a TP1 of theirs had filled, STOP_LOSS before."""
    shown = shown_by(book, fill) if fill is not None else None
    if shown is not None:
        return shown.value
    position = book.positions.get(key)
    if position is not None:
        for pid in reversed(position_ids):
            local = position.local.get(pid)
            if local is not None and local.exit_reason:
                return local.exit_reason
        if any(book.tp1_state(pid) == "FILLED" for pid in position_ids):
            return ExitReason.EXCHANGE_CLOSED.value
    return ExitReason.STOP_LOSS.value
