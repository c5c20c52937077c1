"""The records of the simulated Aster account and their wire shapes: positions, orders,
trades and income rows as futures-api-v1.md shows them ("Position Information V2", "Query
Order", "Account Trade List", "Get Income History", "Event: Order Update").
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trueup_simulators.amounts import plain

JSON = dict[str, object]
ASSET = "USDT"
ZERO = Decimal(0)
# Aster writes an average price to five decimals ("6563.66500"), never the 28 digits a
# division leaves.
PRICE_DECIMALS = Decimal("0.00001")


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class PositionSide(StrEnum):
    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    LIQUIDATION = "LIQUIDATION"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"


class ExecutionType(StrEnum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"  # a liquidation or ADL execution
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"


OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass
class Position:
    """One position by (symbol, positionSide); ``amount`` is signed (negative: short)."""

    symbol: str
    side: PositionSide
    amount: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized: Decimal = ZERO  # "cr": accumulated realized PnL, before fees
    update_time: int = 0

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry_price) * self.amount if self.amount and mark else ZERO

    def rest_item(self, mark: Decimal) -> JSON:
        """One row of GET /fapi/v2/positionRisk."""
        return {
            "entryPrice": plain(self.entry_price),
            "marginType": "cross",
            "isAutoAddMargin": "false",
            "isolatedMargin": "0",
            "leverage": "20",
            "liquidationPrice": "0",
            "markPrice": plain(mark),
            "maxNotionalValue": "20000000",
            "positionAmt": plain(self.amount),
            "symbol": self.symbol,
            "unRealizedProfit": plain(self.unrealized(mark)),
            "positionSide": self.side.value,
            "updateTime": self.update_time,
        }

    def account_item(self, mark: Decimal) -> JSON:
        """One row of GET /fapi/v4/account's ``positions``."""
        margin = plain(abs(self.amount) * mark / 20)
        return {
            "symbol": self.symbol,
            "initialMargin": margin,
            "maintMargin": "0",
            "unrealizedProfit": plain(self.unrealized(mark)),
            "positionInitialMargin": margin,
            "openOrderInitialMargin": "0",
            "leverage": "20",
            "isolated": False,
            "entryPrice": plain(self.entry_price),
            "maxNotional": "20000000",
            "positionSide": self.side.value,
            "positionAmt": plain(self.amount),
            "updateTime": self.update_time,
        }

    def event_item(self, mark: Decimal) -> JSON:
        """One entry of ACCOUNT_UPDATE's ``P``."""
        return {
            "s": self.symbol,
            "pa": plain(self.amount),
            "ep": plain(self.entry_price),
            "cr": plain(self.realized),
            "up": plain(self.unrealized(mark)),
            "mt": "cross",
            "iw": "0",
            "ps": self.side.value,
        }


@dataclass
class Order:
    """One order; ids grow with time, so the highest is the newest."""

    order_id: int
    client_order_id: str
    symbol: str
    side: Side
    position_side: PositionSide
    order_type: OrderType
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    update_time: int
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def closes_only(self) -> bool:
        return closes_only(self.side, self.position_side, self.reduce_only)

    @property
    def leaves_qty(self) -> Decimal:
        return self.orig_qty - self.executed_qty if self.is_open else ZERO

    @property
    def avg_price(self) -> Decimal:
        if not self.executed_qty:
            return ZERO
        return (self.cum_quote / self.executed_qty).quantize(PRICE_DECIMALS)

    def rest_item(self, *, answer: bool = False) -> JSON:
        """The order as GET /fapi/v1/openOrders lists it; ``answer``: as POST/DELETE
        /fapi/v1/order answer it (with cumQty, without time)."""
        item: JSON = {
            "avgPrice": plain(self.avg_price),
            "clientOrderId": self.client_order_id,
            "cumQuote": plain(self.cum_quote),
            "executedQty": plain(self.executed_qty),
            "orderId": self.order_id,
            "origQty": plain(self.orig_qty),
            "origType": self.order_type.value,
            "price": plain(self.price) if self.order_type == OrderType.LIMIT else "0",
            "reduceOnly": self.reduce_only,
            "side": self.side.value,
            "positionSide": self.position_side.value,
            "status": self.status.value,
            "stopPrice": "0",
            "closePosition": False,
            "symbol": self.symbol,
            "timeInForce": self.time_in_force,
            "type": self.order_type.value,
            "updateTime": self.update_time,
            "workingType": "CONTRACT_PRICE",
            "priceProtect": False,
        }
        if answer:
            item["cumQty"] = plain(self.executed_qty)
        else:
            item["time"] = self.time
        return item


@dataclass(frozen=True)
class Trade:
    """One fill of an order."""

    trade_id: int
    order: Order
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized_pnl: Decimal
    maker: bool
    time: int

    def rest_item(self) -> JSON:
        """One row of GET /fapi/v1/userTrades."""
        return {
            "buyer": self.order.side == Side.BUY,
            "commission": plain(self.commission),
            "commissionAsset": ASSET,
            "id": self.trade_id,
            "maker": self.maker,
            "orderId": self.order.order_id,
            "price": plain(self.price),
            "qty": plain(self.qty),
            "quoteQty": plain(self.price * self.qty),
            "realizedPnl": plain(self.realized_pnl),
            "side": self.order.side.value,
            "positionSide": self.order.position_side.value,
            "symbol": self.order.symbol,
            "time": self.time,
        }


@dataclass(frozen=True)
class Income:
    """One row of GET /fapi/v1/income."""

    symbol: str
    income_type: str
    income: Decimal
    time: int
    tran_id: int
    trade_id: str = ""

    def rest_item(self) -> JSON:
        return {
            "symbol": self.symbol,
            "incomeType": self.income_type,
            "income": plain(self.income),
            "asset": ASSET,
            "info": self.income_type,
            "time": self.time,
            "tranId": str(self.tran_id),
            "tradeId": self.trade_id,
        }


def closes_only(side: Side, position_side: PositionSide, reduce_only: bool) -> bool:
    """Whether an order may only reduce its position: reduce-only, or in hedge mode the side
    against its position side (a SELL on LONG, a BUY on SHORT)."""
    against = (position_side == PositionSide.LONG and side == Side.SELL) or (
        position_side == PositionSide.SHORT and side == Side.BUY
    )
    return reduce_only or against


def crosses(side: Side, limit: Decimal, price: Decimal) -> bool:
    """Whether a limit order of ``side`` at ``limit`` is marketable at ``price``."""
    return price > 0 and (price <= limit if side == Side.BUY else price >= limit)
