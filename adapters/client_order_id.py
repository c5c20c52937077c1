"""Client order ids derived from the decision that leads to an order.

The same decision always gives the same id, so a crash and restart, or a second executor,
asks the venue for the same order again and the venue refuses the repeat. One digest serves
both venues: 128 bits of SHA-256 over the decision id, written as Bybit's orderLinkId
(``tu-`` and 32 hex digits: 35 characters of its allowed set, at most 36) and as
Hyperliquid's cloid (``0x`` and the same 32 hex digits).
"""

import hashlib
from dataclasses import dataclass

BYBIT_PREFIX = "tu-"  # says "placed by trueup" to anyone reading the venue's order list


@dataclass(frozen=True)
class ClientOrderId:
    """One order's client id, as each venue writes it."""

    digest: str  # 32 lower-case hex digits

    @property
    def order_link_id(self) -> str:
        """Bybit's orderLinkId."""
        return BYBIT_PREFIX + self.digest

    @property
    def cloid(self) -> str:
        """Hyperliquid's cloid (a 128-bit hex string)."""
        return "0x" + self.digest


def client_order_id(decision_id: str) -> ClientOrderId:
    """The client order id of the order the decision ``decision_id`` leads to."""
    if not decision_id:
        raise ValueError("a client order id needs a decision id")
    digest = hashlib.sha256(f"trueup-order:{decision_id}".encode()).hexdigest()[:32]
    return ClientOrderId(digest)
