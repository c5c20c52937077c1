"""What an execution client is asked and what it answers, whatever the venue.

An order request carries its client order id; a placement says whether the venue took it,
already had it (the same id placed before: never a second order), or refused it, and why.
"""

from dataclasses import dataclass
from decimal import Decimal
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


@dataclass(frozen=True)
class Placement:
    """A venue's answer to one order request; ``reason`` is the venue's own words."""

    outcome: PlacementOutcome
    venue_order_id: str = ""
    reason: str = ""
    refusal: RefusalKind | None = None
    code: str = ""  # the venue's error code, when it gives one (Bybit's retCode)

    @property
    def placed(self) -> bool:
        """The venue holds the order (placed by this request or an earlier one)."""
        return self.outcome is not PlacementOutcome.REFUSED


class ExecutionClient(Protocol):
    """Places orders on one venue account."""

    def place(self, request: OrderRequest) -> Placement: ...

    def written(self, client_order_id: ClientOrderId) -> str:
        """The client order id as this venue writes it in its order reports."""
        ...

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        """Cancel the order of ``symbol`` with this client order id, as the venue writes it
        (any order's, the bot's own included)."""
        ...
