"""Which position key (leg) an execution belongs to.

In one-way mode a symbol has one key (position_idx 0); in Bybit's hedge mode two, idx 1
the long leg and idx 2 the short. A Bybit execution does not name its leg, so it is found
from what the venue does give, most certain first:

1. the execution's own ``position_idx``, where the venue says (Hyperliquid: always 0);
2. its order's report (``positionIdx`` of the order, the venue's own word on the leg);
3. the bot's intent: the local position the order was placed for;
4. once the symbol is known to be in hedge mode (a report or order of idx 1 or 2):
   ``closedSize`` and side, for a hedge leg only ever grows by its own side and shrinks by
   the other: a Buy that closed nothing opens the long leg (1), a Buy that closed some
   closes the short leg (2), and the mirror for a Sell;
5. otherwise one-way, idx 0.
"""

from typing import TYPE_CHECKING

from trueup.domain.events import Fill
from trueup.domain.vocabulary import OrderSide

if TYPE_CHECKING:  # the book folds the ledger that asks this: imported for its type alone
    from trueup.domain.book import AccountBook
    from trueup.domain.order import Order

LONG_LEG = 1
SHORT_LEG = 2


def leg_index(book: "AccountBook", fill: Fill) -> int:
    """The position_idx of the leg ``fill`` moves, on its own category and symbol."""
    if fill.position_idx is not None:
        return fill.position_idx
    # Found by a plain tuple, equal to its OrderKey: asked for every fill.
    order: Order | None = book.orders.get((fill.category, fill.symbol, fill.venue_order_id))  # type: ignore[call-overload]
    if order is not None and order.report is not None:
        return order.report.position_idx
    placed = book.placed.get(fill.client_order_id) if fill.client_order_id else None
    local_key = book.local_keys.get(placed.position_id) if placed is not None else None
    if local_key is not None:
        return local_key.position_idx
    if hedged(book, fill.category, fill.symbol):
        closing = (fill.closed_size or 0) > 0
        buy = fill.side is OrderSide.BUY
        return SHORT_LEG if buy == closing else LONG_LEG
    return 0


def hedged(book: "AccountBook", category: str, symbol: str) -> bool:
    """Whether the symbol is known to be traded in hedge mode (a key of idx 1 or 2)."""
    return any(book.key(category, symbol, idx) in book.positions for idx in (LONG_LEG, SHORT_LEG))
