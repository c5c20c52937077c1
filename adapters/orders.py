"""What an execution client is asked and what it answers, whatever the venue.

An order request carries its client order id; a placement says whether the venue took it,
already had it (the same id placed before: never a second order), or refused it, and why.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from trueup.adapters.client_order_id import ClientOrderId


class Side(StrEnum):
    BUY = "Buy"
    SELL = "Sell"


class OrderType(StrEnum):
    MARKET = "Market"
    LIMIT = "Limit"


class Outcome(StrEnum):
    """ACCEPTED: placed now. ALREADY_PLACED: the venue holds an order with this client order
    id, so this request placed nothing (not a failure: never retry it as one). REFUSED: the
    venue said no; ``RefusalKind`` says whether trying again could ever help."""

    ACCEPTED = "accepted"
    ALREADY_PLACED = "already placed"
    REFUSED = "refused"


class RefusalKind(StrEnum):
    """Why a venue refused an order, in the terms the executor acts on."""

    REDUCE_ONLY = "reduce only"  # nothing (or not enough) to reduce
    INSUFFICIENT_MARGIN = "insufficient margin"
    INVALID = "invalid"  # a parameter the venue will never accept
    NOT_MATCHED = "not matched"  # an immediate-or-cancel order found nothing to fill against
    AUTH = "auth"  # key, signature or request time refused
    RATE_LIMITED = "rate limited"
    UNREACHABLE = "unreachable"  # no answer: the order may or may not be on the venue
    OTHER = "other"


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

    outcome: Outcome
    venue_order_id: str = ""
    reason: str = ""
    refusal: RefusalKind | None = None
    code: str = ""  # the venue's error code, when it gives one (Bybit's retCode)

    @property
    def placed(self) -> bool:
        """The venue holds the order (placed by this request or an earlier one)."""
        return self.outcome is not Outcome.REFUSED


class ExecutionClient(Protocol):
    """Places orders on one venue account."""

    def place(self, request: OrderRequest) -> Placement: ...

    def cancel(self, client_order_id: ClientOrderId, symbol: str) -> Placement: ...
