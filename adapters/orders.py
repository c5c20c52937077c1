"""What an execution client is asked and what it answers, whatever the venue.

An order request carries its client order id; a placement says whether the venue took it,
already had it (the same id placed before: never a second order), or refused it, and why.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import StrEnum
from typing import Protocol

from trueup.adapters.client_order_id import ClientOrderId
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"


class OrderType(StrEnum):
    MARKET = "Market"
    LIMIT = "Limit"


@dataclass(frozen=True)
class OrderRequest:
    """One order to place; ``price`` is the limit (for a Hyperliquid market order, the worst
    price accepted: Hyperliquid has no order without one)."""

    client_order_id: ClientOrderId
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    reduce_only: bool = False
    position_idx: int = 0  # Bybit: 0 one-way, 1 hedge-mode long leg, 2 short leg

    @property
    def closes_a_leg(self) -> bool:
        """A hedge-mode order against its leg (a sell of the long, a buy of the short): it
        can only reduce, as a reduce-only order does."""
        return (self.position_idx, self.side) in ((1, Side.SELL), (2, Side.BUY))


@dataclass(frozen=True)
class Grid:
    """A symbol's order grid on its venue: quantities in steps from a minimum, prices in
    ticks (a price's significant figures too, where the venue counts them: an integer price
    is valid whatever its figures), and the least value an order may have, where there is
    one (an order that can only reduce is exempt: a position below it must still close)."""

    qty_step: Decimal
    min_qty: Decimal
    tick_size: Decimal
    price_figures: int | None = None  # Hyperliquid: at most 5 significant figures
    # Hyperliquid: $10, at the order's (worst) price; Aster: MIN_NOTIONAL, at its price
    min_value: Decimal | None = None

    def fit(self, request: OrderRequest) -> "OrderRequest | str":
        """The request on the grid, or why it cannot be: a quantity is rounded down (never
        more than was decided, which a reduce-only order could not take); a limit price
        away from the market's side of it (a buy lower, a sell higher) and a market order's
        worst price towards it (never tighter than the caller allowed)."""
        qty = _on_step(request.qty, self.qty_step, ROUND_DOWN)
        if qty < self.min_qty:
            return (
                f"{request.qty} {request.symbol} rounds down to {qty} on the venue's step of "
                f"{self.qty_step}, below its minimum order of {self.min_qty}"
            )
        price = request.price
        if price is not None:
            buy = request.side is Side.BUY
            worst = request.order_type is OrderType.MARKET
            rounding = ROUND_UP if buy == worst else ROUND_DOWN
            if self.price_figures is not None:
                figures = Decimal(1).scaleb(price.adjusted() - self.price_figures + 1)
                price = _on_step(price, min(figures, Decimal(1)), rounding)
            price = _on_step(price, self.tick_size, rounding)
        reduces = request.reduce_only or request.closes_a_leg
        if self.min_value is not None and price is not None and not reduces:
            value = qty * price
            if value < self.min_value:
                return (
                    f"{qty} {request.symbol} at {price:f} is worth {value.normalize():f}, "
                    f"below the venue's minimum order value of {self.min_value}"
                )
        return replace(request, qty=qty, price=price)


def _on_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    stepped = ((value / step).to_integral_value(rounding=rounding) * step).normalize()
    # normalize() writes 10 as 1E+1, which no venue reads: a whole number keeps its digits.
    exponent = stepped.as_tuple().exponent
    return stepped.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else stepped


@dataclass(frozen=True)
class Placement:
    """A venue's answer to one order request; ``reason`` is the venue's own words."""

    outcome: PlacementOutcome
    venue_order_id: str = ""
    reason: str = ""
    refusal: RefusalKind | None = None
    code: str = ""  # the venue's error code, when it gives one (Bybit's retCode)
    qty: Decimal | None = None  # what was asked of the venue, on its grid

    @property
    def placed(self) -> bool:
        """The venue holds the order (placed by this request or an earlier one)."""
        return self.outcome is not PlacementOutcome.REFUSED


def refused(reason: str, kind: RefusalKind) -> Placement:
    """A request refused, in ``reason``'s words, of ``kind``."""
    return Placement(PlacementOutcome.REFUSED, reason=reason, refusal=kind)


def off_grid(reason: str) -> Placement:
    """A request the venue cannot take: refused here, never sent."""
    return refused(reason, RefusalKind.UNSENDABLE)


# Called just before an order is sent, after whatever the client asked the venue first: it
# raises when the caller may no longer place (an executor that lost its account's lease, to
# another that may be placing the same order now), and nothing is sent.
Fence = Callable[[], None]


def unfenced() -> None:
    """The fence of a caller that places alone on its account (a test, say)."""


class ExecutionClient(Protocol):
    """Places orders on one venue account."""

    # How long after it was sent an order the venue has not answered may still be taken: 0
    # where the venue refuses a client order id it has ever had, the request's time to live
    # (and an allowance for clocks) where it keeps ids unique among open orders alone (Aster).
    in_flight_ms: int

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement: ...

    def find(self, request: OrderRequest) -> Placement | None:
        """The order the venue holds under the request's client order id, in any status, as
        already placed; None when it holds none; a refusal when it could not say."""
        ...

    def written(self, client_order_id: ClientOrderId) -> str:
        """The client order id as this venue writes it in its order reports."""
        ...

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        """Cancel the order of ``symbol`` with this client order id, as the venue writes it
        (any order's, the bot's own included)."""
        ...
