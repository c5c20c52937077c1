"""Aster's positions, orders, fills, funding and balances as trueup's normalised records.

Aster's vocabulary (sides BUY and SELL, positionSide BOTH / LONG / SHORT, order statuses NEW
... EXPIRED, execution types, the special client order ids of its liquidation and ADL
engines) becomes the domain's here, once. Formats follow Aster's futures API pages
(futures-api-v1.md and futures-api-v3.md: the same fields under both).
"""

from decimal import Decimal
from typing import NamedTuple

from trueup.adapters.aster.coins import COINS
from trueup.adapters.payload import Payload
from trueup.adapters.venue import fee_coin
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import CoinBalance, Fill, OrderReport, PositionReport, WalletReport
from trueup.domain.vocabulary import (
    ExecutionKind,
    MarginMode,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionSide,
)

# Every Aster futures contract is a USDT-margined perpetual (contractType PERPETUAL).
PERP = "perp"
ACCOUNT_TYPE = "futures"
SIDES = {"BUY": OrderSide.BUY, "SELL": OrderSide.SELL}
# positionSide, as Bybit's positionIdx: one-way mode's BOTH is 0, hedge mode's legs 1 and 2.
POSITION_IDX = {"BOTH": 0, "LONG": 1, "SHORT": 2}
# Order status (ENUM definitions; the order update's list adds the liquidation engine's two,
# both working orders). Aster has no status of its own for a stop waiting for its price.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "NEW": OrderStatus.ACCEPTED,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.CANCELED,
    "NEW_INSURANCE": OrderStatus.ACCEPTED,
    "NEW_ADL": OrderStatus.ACCEPTED,
}
CONDITIONAL_TYPES = frozenset(
    ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
)
# The order update's execution type x: what happened to the order in this message. TRADE
# fills it; CALCULATED is the liquidation engine's execution.
EXECUTION_TYPES = ("NEW", "CANCELED", "CALCULATED", "EXPIRED", "TRADE", "AMENDMENT")
FILLING_EXECUTIONS = frozenset(("TRADE", "CALCULATED"))
# Special client order ids (Event: Order Update; User's Force Orders).
LIQUIDATION_PREFIX = "autoclose-"
ADL_CLIENT_ORDER_ID = "adl_autoclose"
# Who placed an order, by its original type; a type not known here is read as "not said".
TYPE_ORIGINS: dict[str, OrderOrigin] = {
    "LIMIT": OrderOrigin.CLIENT,
    "MARKET": OrderOrigin.CLIENT,
    "TAKE_PROFIT": OrderOrigin.TAKE_PROFIT,
    "TAKE_PROFIT_MARKET": OrderOrigin.TAKE_PROFIT,
    "TRAILING_STOP_MARKET": OrderOrigin.TRAILING_STOP,
    "LIQUIDATION": OrderOrigin.LIQUIDATION,
}
STOP_TYPES = frozenset(("STOP", "STOP_MARKET"))
# marginType: "isolated" / "cross" in replies, "CROSSED" in a margin call.
MARGIN_MODES = {
    "isolated": MarginMode.ISOLATED,
    "cross": MarginMode.CROSS,
    "crossed": MarginMode.CROSS,
}


def position_idx(item: Payload, name: str) -> int:
    return item.choice_of(name, POSITION_IDX)


def side(item: Payload, name: str) -> OrderSide:
    return item.choice_of(name, SIDES)


def _position_side(item: Payload, amount_name: str, idx: int) -> tuple[PositionSide, Decimal]:
    """The side and size of a signed position amount; a hedge leg signed against its own
    side is not understood, and refused."""
    amount = item.decimal(amount_name)
    held = PositionSide.LONG if amount > 0 else PositionSide.SHORT if amount < 0 else None
    if held is None:
        return PositionSide.FLAT, abs(amount)
    if (idx == 1 and held is PositionSide.SHORT) or (idx == 2 and held is PositionSide.LONG):
        raise MalformedInput(
            f"{item.where}.{amount_name}: {amount} on the {'LONG' if idx == 1 else 'SHORT'} leg"
        )
    return held, abs(amount)


def _margin_mode(item: Payload, name: str) -> MarginMode | None:
    value = item.optional_text(name)
    if not value:
        return None
    mode = MARGIN_MODES.get(value.lower())
    if mode is None:
        raise MalformedInput(
            f"{item.where}.{name}: {shown(value)} is not one of {sorted(MARGIN_MODES)}"
        )
    return mode


def _positive(item: Payload, name: str) -> Decimal | None:
    """A figure Aster sends as "0" when it has none (a liquidation price, an order's price)."""
    value = item.optional_decimal(name)
    return value if value is not None and value > 0 else None


def position_risk(item: Payload, as_of: int) -> PositionReport:
    """One entry of positionRisk (Position Information V2 / v3): ordered by its updateTime,
    the instant it last changed. A held leg shown with updateTime 0 (Aster's own example has
    one) is taken as of the reply (``as_of``); a flat one keeps 0, never traded, so that it
    can never undo what the stream told of a fill the reply was served before."""
    idx = position_idx(item, "positionSide")
    held, size = _position_side(item, "positionAmt", idx)
    mark = _positive(item, "markPrice")
    updated = item.millis("updateTime") or (0 if held is PositionSide.FLAT else as_of)
    symbol = item.name("symbol")
    return PositionReport(
        category=PERP,
        symbol=symbol,
        position_idx=idx,
        side=held,
        size=size,
        entry_price=item.optional_decimal("entryPrice"),
        mark_price=mark,
        unrealised_pnl=item.optional_decimal("unRealizedProfit"),
        cum_realised_pnl=None,
        seq=None,
        updated_time=updated,
        status="Normal",
        liq_price=_positive(item, "liquidationPrice"),
        leverage=_positive(item, "leverage"),
        position_value=None if mark is None else size * mark,
        initial_margin=_positive(item, "isolatedMargin"),
        margin_mode=_margin_mode(item, "marginType"),
        notional_coin=COINS.counted_in(PERP, symbol),
    )


def account_update_position(item: Payload, transaction_time: int) -> PositionReport:
    """One entry of an ACCOUNT_UPDATE's ``P``, as of the transaction time T: the instant the
    position changed, on the clock of positionRisk's updateTime. (Its event time E is when
    the update was pushed: a push delayed gets a later E for an older state.)"""
    idx = position_idx(item, "ps")
    held, size = _position_side(item, "pa", idx)
    symbol = item.name("s")
    return PositionReport(
        category=PERP,
        symbol=symbol,
        position_idx=idx,
        side=held,
        size=size,
        entry_price=item.optional_decimal("ep"),
        mark_price=None,
        unrealised_pnl=item.optional_decimal("up"),
        # "cr" is Aster's accumulated realised PnL before fees, not the fees-and-funding
        # figure trueup checks its own against (Bybit's cumRealisedPnl): left out.
        cum_realised_pnl=None,
        seq=None,  # Aster has none
        updated_time=transaction_time,
        status="Normal",
        initial_margin=_positive(item, "iw"),
        margin_mode=_margin_mode(item, "mt"),
        notional_coin=COINS.counted_in(PERP, symbol),
    )


def _origin(client_order_id: str, original_type: str, reduce_only: bool) -> OrderOrigin | None:
    """Who placed the order: the liquidation or ADL engine (their client order ids say so),
    else what its original type says. A stop that only reduces is a stop-loss; one that may
    open is a conditional order."""
    if client_order_id.startswith(LIQUIDATION_PREFIX):
        return OrderOrigin.LIQUIDATION
    if client_order_id == ADL_CLIENT_ORDER_ID:
        return OrderOrigin.ADL
    if original_type in STOP_TYPES:
        return OrderOrigin.STOP_LOSS if reduce_only else OrderOrigin.CONDITIONAL
    return TYPE_ORIGINS.get(original_type)


def _status(item: Payload, name: str, order_type: str) -> OrderStatus:
    status = item.choice_of(name, ORDER_STATUSES)
    if (
        status is OrderStatus.ACCEPTED
        and item.text(name) == "NEW"
        and order_type in CONDITIONAL_TYPES
    ):
        return OrderStatus.PENDING_TRIGGER  # a stop or take-profit not yet triggered
    return status


class OrderFields(NamedTuple):
    """Where an order's fields are: REST replies spell them out, the stream's update abridges."""

    symbol: str
    order_id: str
    client_order_id: str
    side: str
    position_side: str
    order_type: str
    original_type: str
    status: str
    qty: str
    filled: str
    price: str
    stop_price: str
    avg_price: str
    reduce_only: str
    close_all: str


LISTED = OrderFields(
    symbol="symbol",
    order_id="orderId",
    client_order_id="clientOrderId",
    side="side",
    position_side="positionSide",
    order_type="type",
    original_type="origType",
    status="status",
    qty="origQty",
    filled="executedQty",
    price="price",
    stop_price="stopPrice",
    avg_price="avgPrice",
    reduce_only="reduceOnly",
    close_all="closePosition",
)
UPDATED = OrderFields(
    symbol="s",
    order_id="i",
    client_order_id="c",
    side="S",
    position_side="ps",
    order_type="o",
    original_type="ot",
    status="X",
    qty="q",
    filled="z",
    price="p",
    stop_price="sp",
    avg_price="ap",
    reduce_only="R",
    close_all="cp",
)


def order(item: Payload) -> OrderReport:
    """One order as openOrders (and Query Order, allOrders, forceOrders) lists it."""
    return _order(
        item, LISTED, created_time=item.millis("time"), updated_time=item.millis("updateTime")
    )


def order_update(update: Payload, transaction_time: int) -> OrderReport:
    """The order ``o`` of an ORDER_TRADE_UPDATE, as of the message's transaction time T (it
    names no creation time)."""
    return _order(update, UPDATED, created_time=0, updated_time=transaction_time)


def _order(
    item: Payload, names: OrderFields, *, created_time: int, updated_time: int
) -> OrderReport:
    order_type = item.optional_text(names.order_type)
    client_order_id = item.optional_text(names.client_order_id)
    reduce_only = item.boolean(names.reduce_only) or item.boolean(names.close_all)
    status = _status(item, names.status, order_type)
    wire_status = item.text(names.status)
    original_type = item.optional_text(names.original_type, order_type)
    qty, filled = item.quantity(names.qty), item.quantity(names.filled)
    # A close-all order names no quantity (0): it fills whatever is held.
    if filled > qty > 0:
        raise MalformedInput(
            f"{item.where}.{names.filled}: {filled} filled of an order of {qty} ({names.qty})"
        )
    return OrderReport(
        category=PERP,
        symbol=item.name(names.symbol),
        venue_order_id=str(item.integer(names.order_id)),
        client_order_id=client_order_id,
        side=side(item, names.side),
        position_idx=position_idx(item, names.position_side),
        order_type=order_type,
        origin=_origin(client_order_id, original_type, reduce_only),
        status=status,
        qty=qty,
        price=_positive(item, names.price),
        trigger_price=_positive(item, names.stop_price),
        avg_price=_positive(item, names.avg_price),
        cum_exec_qty=filled,
        cum_exec_fee=None,  # an update names its trade's commission only, a listing none
        reduce_only=reduce_only,
        cancel_type=wire_status if status is OrderStatus.CANCELED else "",
        reject_reason=wire_status if status is OrderStatus.REJECTED else "",
        created_time=created_time,
        updated_time=updated_time,
    )


def execution_type(update: Payload) -> str:
    """The order update's execution type x; one not in Aster's list is refused."""
    value = update.text("x")
    if value not in EXECUTION_TYPES:
        raise MalformedInput(
            f"{update.where}.x: {shown(value)} is not one of {sorted(EXECUTION_TYPES)}"
        )
    return value


def update_fill(update: Payload, order_report: OrderReport) -> Fill:
    """The fill an ORDER_TRADE_UPDATE of execution type TRADE (or CALCULATED, the liquidation
    engine's) carries: its last filled quantity and price, commission, realised profit."""
    kind = ExecutionKind.TRADE
    if update.text("x") == "CALCULATED":
        adl = order_report.client_order_id == ADL_CLIENT_ORDER_ID
        kind = ExecutionKind.ADL if adl else ExecutionKind.LIQUIDATION
    coin = COINS.counted_in(PERP, order_report.symbol)
    return Fill(
        category=PERP,
        symbol=order_report.symbol,
        trade_id=str(update.integer("t")),
        venue_order_id=order_report.venue_order_id,
        client_order_id=order_report.client_order_id,
        side=order_report.side,
        kind=kind,
        origin=order_report.origin,
        exec_price=update.decimal("L"),
        exec_qty=update.quantity("l"),
        exec_fee=update.optional_decimal("n"),  # "will not push if no commission"
        closed_size=None,
        exec_time=update.millis("T"),
        seq=None,
        realised_pnl=update.optional_decimal("rp"),
        position_idx=order_report.position_idx,
        notional_coin=coin,
        fee_coin=fee_coin(update.optional_text("N"), coin),
    )


def trade(item: Payload) -> Fill:
    """One entry of userTrades (Account Trade List): ``id`` identifies the fill, as the order
    update's ``t`` does. Who placed its order is left to the order's own report."""
    symbol = item.name("symbol")
    coin = COINS.counted_in(PERP, symbol)
    return Fill(
        category=PERP,
        symbol=symbol,
        trade_id=str(item.integer("id")),
        venue_order_id=str(item.integer("orderId")),
        client_order_id="",
        side=side(item, "side"),
        kind=ExecutionKind.TRADE,
        origin=None,
        exec_price=item.decimal("price"),
        exec_qty=item.quantity("qty"),
        exec_fee=item.optional_decimal("commission"),
        closed_size=None,
        exec_time=item.millis("time"),
        seq=None,
        realised_pnl=item.optional_decimal("realizedPnl"),
        position_idx=position_idx(item, "positionSide"),
        notional_coin=coin,
        fee_coin=fee_coin(item.optional_text("commissionAsset"), coin),
    )


FUNDING_FEE = "FUNDING_FEE"


def funding(item: Payload) -> Fill:
    """An income entry of type FUNDING_FEE as a Funding execution: a payment of no order, so
    it moves nothing. ``income`` is what the user received (negative when paid); the fee is
    its opposite, as Bybit's execFee for funding is. It names no size and no leg."""
    tran_id = item.fields.get("tranId")
    if isinstance(tran_id, int) and not isinstance(tran_id, bool):
        tran_id = str(item.integer("tranId"))
    elif not isinstance(tran_id, str) or not tran_id:
        raise MalformedInput(f"{item.where}.tranId: expected an id, got {shown(tran_id)}")
    symbol = item.name("symbol")  # a funding fee names its symbol
    return Fill(
        category=PERP,
        symbol=symbol,
        trade_id=f"funding:{tran_id}",
        venue_order_id="",
        client_order_id="",
        side=None,
        kind=ExecutionKind.FUNDING,
        origin=None,
        exec_price=Decimal(0),
        exec_qty=Decimal(0),
        exec_fee=-item.decimal("income"),
        closed_size=None,
        exec_time=item.millis("time"),
        seq=None,
        notional_coin=COINS.counted_in(PERP, symbol),
    )


def account(reply: Payload) -> WalletReport:
    """Account Information (v4, and v3's accountWithJoinMargin): the USDT figures and each
    asset's. Equity is the margin balance: wallet balance plus unrealised profit."""
    assets = tuple(_asset(item) for item in reply.items("assets"))
    return WalletReport(
        account_type=ACCOUNT_TYPE,
        total_equity=reply.decimal("totalMarginBalance"),
        total_wallet_balance=reply.decimal("totalWalletBalance"),
        total_available_balance=reply.optional_decimal("availableBalance"),
        total_margin_balance=reply.decimal("totalMarginBalance"),
        total_initial_margin=reply.optional_decimal("totalInitialMargin"),
        total_maintenance_margin=reply.optional_decimal("totalMaintMargin"),
        total_unrealised_pnl=reply.optional_decimal("totalUnrealizedProfit"),
        coins=assets,
        equity_coin=COINS.equity,
    )


def _asset(item: Payload) -> CoinBalance:
    return CoinBalance(
        coin=item.text("asset"),
        equity=item.optional_decimal("marginBalance"),
        wallet_balance=item.optional_decimal("walletBalance"),
        unrealised_pnl=item.optional_decimal("unrealizedProfit"),
        position_im=item.optional_decimal("positionInitialMargin"),
        position_mm=item.optional_decimal("maintMargin"),
        order_im=item.optional_decimal("openOrderInitialMargin"),
    )
