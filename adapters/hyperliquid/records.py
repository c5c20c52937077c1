"""Hyperliquid's positions, orders and fills as trueup's normalised records.

The domain speaks Bybit's vocabulary (sides Buy and Sell, order statuses New ... Cancelled),
so Hyperliquid's is translated here, once. Hyperliquid is one-way: position_idx is always 0.
"""

from decimal import Decimal

from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput, UnknownInput, shown
from trueup.domain.events import ExecutionKind, Fill, OrderReport, PositionReport

PERP = "perp"
SPOT = "spot"
SIDES = {"B": "Buy", "A": "Sell"}
# The trigger order types whose trigger closes a position, in Bybit's stopOrderType names
# (the rules report a stop-loss's every change as SL_UPDATE).
_STOP_TYPES = {
    ("Stop", True): "StopLoss",
    ("Stop", False): "PartialStopLoss",
    ("Take Profit", True): "TakeProfit",
    ("Take Profit", False): "PartialTakeProfit",
}


def category(coin: str) -> str:
    """Spot pairs are named "@<index>" or "BASE/QUOTE"; every other coin is a perp."""
    return SPOT if coin.startswith("@") or "/" in coin else PERP


def side(item: Payload) -> str:
    return SIDES[item.choice("side", tuple(SIDES))]


def position_report(item: Payload, time: int) -> PositionReport:
    """One assetPositions entry, as of the reply's ``time`` (its seq: Hyperliquid has none)."""
    item.choice("type", ("oneWay",))  # the only mode there is; anything else is not understood
    position = item.child("position")
    szi = position.decimal("szi")
    return PositionReport(
        category=PERP,
        symbol=position.text("coin"),
        position_idx=0,
        side="Buy" if szi > 0 else "Sell" if szi < 0 else "",
        size=abs(szi),
        entry_price=position.optional_decimal("entryPx"),
        mark_price=None,  # clearinghouseState carries none
        unrealised_pnl=position.optional_decimal("unrealizedPnl"),
        cum_realised_pnl=None,
        seq=time,
        updated_time=time,
        status="Normal",
    )


def order_status(status: str, filled: Decimal, where: str) -> str:
    """Hyperliquid's order status in the domain's (Bybit's) names.

    open is New, or PartiallyFilled once part of it has filled (Hyperliquid has no status of
    its own for that). triggered is Triggered: the trigger fired and the order works on under
    the same oid, so the domain keeps it open. Hyperliquid spells "canceled"; every way an
    order ends unfilled (canceled, marginCanceled, reduceOnlyCanceled, selfTradeCanceled,
    scheduledCancel ...) is Cancelled, and every *Rejected status is Rejected, the precise
    status being kept as cancel_type or reject_reason.
    """
    if status == "open":
        return "PartiallyFilled" if filled > 0 else "New"
    if status == "filled":
        return "Filled"
    if status == "triggered":
        return "Triggered"
    if status.endswith(("canceled", "Canceled")) or status == "scheduledCancel":
        return "Cancelled"
    if status.endswith(("rejected", "Rejected")):
        return "Rejected"
    raise UnknownInput(f"{where}: {shown(status)} is not an order status trueup knows")


def order_report(order: Payload, status: str, updated_time: int, where: str) -> OrderReport:
    """One order (openOrders' or orderStatus' form) in the given Hyperliquid ``status``."""
    coin = order.text("coin")
    remaining = order.quantity("sz")
    qty = order.optional_quantity("origSz")
    qty = remaining if qty is None else qty
    if remaining < 0 or remaining > qty:
        raise MalformedInput(f"{order.where}.sz: {remaining} is not within origSz {qty}")
    domain_status = order_status(status, qty - remaining, where)
    is_trigger = order.boolean("isTrigger")
    reduce_only = order.boolean("reduceOnly")
    order_type = order.optional_text("orderType", "Limit")
    return OrderReport(
        category=category(coin),
        symbol=coin,
        order_id=str(order.integer("oid")),
        order_link_id=order.optional_text("cloid"),
        side=side(order),
        position_idx=0,
        order_type=order_type,
        stop_order_type=_stop_type(order_type, is_trigger, order.boolean("isPositionTpsl")),
        status=domain_status,
        qty=qty,
        price=order.decimal("limitPx"),
        trigger_price=order.optional_decimal("triggerPx") if is_trigger else None,
        avg_price=None,  # Hyperliquid reports it per fill only
        cum_exec_qty=qty - remaining,
        cum_exec_fee=None,
        reduce_only=reduce_only,
        cancel_type=status if domain_status == "Cancelled" else "",
        reject_reason=status if domain_status == "Rejected" else "",
        created_time=order.millis("timestamp"),
        updated_time=updated_time,
    )


def _stop_type(order_type: str, is_trigger: bool, whole_position: bool) -> str:
    if not is_trigger:
        return ""
    family = "Take Profit" if order_type.startswith("Take Profit") else "Stop"
    return _STOP_TYPES[(family, whole_position)]


def fill(item: Payload) -> Fill:
    """One fill; ``tid`` identifies it wherever it arrives (REST, userFills, user events)."""
    coin = item.text("coin")
    # A liquidation's fills carry a `liquidation` object: Bybit calls such an execution a
    # BustTrade, which nothing treats apart from a Trade but an audit shows.
    liquidated = item.fields.get("liquidation") is not None
    return Fill(
        category=category(coin),
        symbol=coin,
        exec_id=str(item.integer("tid")),
        order_id=str(item.integer("oid")),
        order_link_id=item.optional_text("cloid"),
        side=side(item),
        kind=ExecutionKind.LIQUIDATION if liquidated else ExecutionKind.TRADE,
        exec_price=item.decimal("px"),
        exec_qty=item.quantity("sz"),
        exec_fee=item.optional_decimal("fee"),
        closed_size=None,
        exec_time=item.millis("time"),
        seq=None,
    )


def funding(item: Payload) -> Fill:
    """A funding payment as a Funding execution: kept, but of no order, so it moves nothing.

    It has no price (0 stands for none); its fee is what the user paid, the opposite of
    ``usdc`` (negative when the user paid), as Bybit's execFee for funding is.
    """
    coin = item.text("coin")
    time = item.millis("time")
    szi = item.decimal("szi")
    return Fill(
        category=category(coin),
        symbol=coin,
        exec_id=f"funding:{coin}:{time}",
        order_id="",
        order_link_id="",
        side="Buy" if szi > 0 else "Sell" if szi < 0 else "",
        kind=ExecutionKind.FUNDING,
        exec_price=Decimal(0),
        exec_qty=abs(szi),
        exec_fee=-item.decimal("usdc"),
        closed_size=None,
        exec_time=time,
        seq=None,
    )
