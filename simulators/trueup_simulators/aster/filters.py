"""The symbol filters every symbol of the simulator lists in exchangeInfo, and order entry
holds each order to (futures-api-v1.md, "Filters"): one set for all symbols."""

from decimal import Decimal

MIN_PRICE, MAX_PRICE, TICK_SIZE = Decimal("0.01"), Decimal("1000000"), Decimal("0.01")
MIN_QTY, MAX_QTY, STEP_SIZE = Decimal("0.001"), Decimal("1000"), Decimal("0.001")
MARKET_MAX_QTY = Decimal("100")  # MARKET_LOT_SIZE: its min and step are LOT_SIZE's
MIN_NOTIONAL = Decimal("5")
