"""ccxt's unified Position, Order and Trade structures as trueup's normalised records.

The structures are those of ccxt's manual ("Position Structure", "Order Structure", "Trade
Structure"): sides ``long``/``short`` and ``buy``/``sell``, order statuses ``open`` ...
``rejected``, numbers as JSON numbers (ccxt parses the venue's strings into doubles), times in
epoch milliseconds. What an exchange sends beyond them stays in each item's ``info``.
"""

import math
from collections.abc import Mapping
from decimal import Decimal

from trueup.adapters.ccxt.coins import COINS
from trueup.adapters.decimals import to_decimal
from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import Fill, OrderReport, PositionReport
from trueup.domain.vocabulary import (
    ExecutionKind,
    MarginMode,
    OrderSide,
    OrderStatus,
    PositionSide,
)

# One category for every ccxt contract: fetchPositions lists them all in one reply, so one
# snapshot covers them all.
CATEGORY = "perp"
POSITION_SIDES = {"long": PositionSide.LONG, "short": PositionSide.SHORT}
ORDER_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
# The unified order status; "open" is refined by what has filled and whether it waits for a
# trigger price.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "open": OrderStatus.ACCEPTED,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.CANCELED,
    "rejected": OrderStatus.REJECTED,
}
MARGIN_MODES = {"cross": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}
# A hedge-mode leg as Bybit numbers it: one-way 0, the long leg 1, the short leg 2.
HEDGE_LEGS = {PositionSide.LONG: 1, PositionSide.SHORT: 2}
ContractSizes = Mapping[str, Decimal]


def number(value: object, where: str) -> Decimal:
    """A ccxt number as the decimal it was parsed from: a double's shortest repr is the
    venue's decimal whenever that has at most 15 significant digits."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedInput(f"{where}: {shown(value)} is not a number")
        value = format(Decimal(repr(value)), "f")
    return to_decimal(value, where)


def optional_number(item: Payload, name: str) -> Decimal | None:
    value = item.fields.get(name)
    return None if value is None or value == "" else number(value, f"{item.where}.{name}")


def _positive(item: Payload, name: str) -> Decimal | None:
    """A figure ccxt gives as 0 (or null) when the venue has none: a liquidation price."""
    value = optional_number(item, name)
    return value if value is not None and value > 0 else None


def _quantity(item: Payload, name: str, contract_size: Decimal) -> Decimal:
    """An amount in contracts, as a size in the base coin (contracts x contractSize)."""
    value = optional_number(item, name)
    if value is None:
        raise MalformedInput(f"{item.where}.{name}: missing")
    if value < 0:
        raise MalformedInput(f"{item.where}.{name}: a quantity cannot be negative, got {value}")
    return value * contract_size


def _time(item: Payload, *names: str) -> int:
    """The first of ``names`` that holds a time; 0 when none does."""
    for name in names:
        if item.fields.get(name) is not None:
            return item.millis(name)
    return 0


def position(item: Payload, as_of: int) -> PositionReport:
    """One entry of fetchPositions: a size of ``contracts`` x ``contractSize``; a hedged
    position is its side's leg. Ordered by its own update time, else the reply's (``as_of``)."""
    contracts = optional_number(item, "contracts") or Decimal(0)
    if contracts < 0:
        raise MalformedInput(f"{item.where}.contracts: negative ({contracts}): side says which way")
    size = contracts * (optional_number(item, "contractSize") or Decimal(1))
    side = _side(item) if size else PositionSide.FLAT
    mark = _positive(item, "markPrice")
    notional = optional_number(item, "notional")
    mode = item.optional_text("marginMode")
    symbol = item.name("symbol")
    return PositionReport(
        category=CATEGORY,
        symbol=symbol,
        position_idx=_leg(item),
        side=side,
        size=size,
        entry_price=_positive(item, "entryPrice"),
        mark_price=mark,
        unrealised_pnl=optional_number(item, "unrealizedPnl"),
        cum_realised_pnl=None,  # ccxt's realizedPnl means different things on each exchange
        seq=None,  # ccxt gives none
        updated_time=_time(item, "lastUpdateTimestamp", "timestamp") or as_of,
        status="Normal",
        liq_price=_positive(item, "liquidationPrice"),
        leverage=_positive(item, "leverage"),
        position_value=abs(notional) if notional is not None else None,
        initial_margin=_positive(item, "initialMargin"),
        maintenance_margin=_positive(item, "maintenanceMargin"),
        margin_mode=MARGIN_MODES.get(mode.lower()) if mode else None,
        notional_coin=COINS.counted_in(CATEGORY, symbol),
        contract_kind=COINS.kind(CATEGORY, symbol),
        pnl_coin=COINS.pnl_coin(CATEGORY, symbol),
    )


def _side(item: Payload) -> PositionSide:
    """``side``; where ccxt leaves it null for a held position (its aster parser does, in
    one-way mode), the sign of the Binance family's ``info.positionAmt``."""
    if item.fields.get("side") is None and item.has("info"):
        info = item.child("info")
        if info.has("positionAmt"):
            amount = info.decimal("positionAmt")
            if amount:
                return PositionSide.LONG if amount > 0 else PositionSide.SHORT
    return item.choice_of("side", POSITION_SIDES)


def _leg(item: Payload) -> int:
    """0 in one-way mode; in hedge mode (``hedged``, or a ``positionSide`` of long or short)
    the leg of the position's side (a flat leg's too, where ccxt names its side)."""
    leg = item.optional_text("positionSide").lower()
    if leg in POSITION_SIDES:
        return HEDGE_LEGS[POSITION_SIDES[leg]]
    hedged = item.fields.get("hedged")
    if hedged is not None and not isinstance(hedged, bool):
        raise MalformedInput(f"{item.where}.hedged: expected true or false, got {shown(hedged)}")
    side = POSITION_SIDES.get(item.optional_text("side"))
    return HEDGE_LEGS[side] if hedged and side is not None else 0


def order(item: Payload, as_of: int, contract_sizes: ContractSizes) -> OrderReport:
    """One order of fetchOpenOrders (or watchOrders): amounts in contracts, as base sizes."""
    symbol = item.name("symbol")
    contract_size = contract_sizes.get(symbol, Decimal(1))
    wire_status = item.text("status")
    filled = (optional_number(item, "filled") or Decimal(0)) * contract_size
    trigger = _positive(item, "triggerPrice") or _positive(item, "stopPrice")
    status = _status(item, wire_status, filled, trigger)
    created = _time(item, "timestamp")
    return OrderReport(
        category=CATEGORY,
        symbol=symbol,
        venue_order_id=item.text("id"),
        client_order_id=item.optional_text("clientOrderId"),
        side=item.choice_of("side", ORDER_SIDES),
        position_idx=0,  # the unified order names no leg
        order_type=item.optional_text("type"),
        origin=None,  # the unified order does not say who placed it
        status=status,
        qty=_quantity(item, "amount", contract_size),
        price=_positive(item, "price"),
        trigger_price=trigger,
        avg_price=_positive(item, "average"),
        cum_exec_qty=filled,
        cum_exec_fee=_fee(item),
        reduce_only=item.fields.get("reduceOnly") is True,
        cancel_type=wire_status if status is OrderStatus.CANCELED else "",
        reject_reason=wire_status if status is OrderStatus.REJECTED else "",
        created_time=created,
        updated_time=_time(item, "lastUpdateTimestamp", "lastTradeTimestamp") or created or as_of,
    )


def _status(
    item: Payload, wire_status: str, filled: Decimal, trigger: Decimal | None
) -> OrderStatus:
    status = item.choice_of("status", ORDER_STATUSES)
    if wire_status != "open":
        return status
    if filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return OrderStatus.PENDING_TRIGGER if trigger is not None else OrderStatus.ACCEPTED


def _fee(item: Payload) -> Decimal | None:
    """The fee's cost (a rebate negative), in its own currency; null when ccxt has none."""
    if item.fields.get("fee") is None:
        return None
    return optional_number(item.child("fee"), "cost")


def trade(item: Payload, contract_sizes: ContractSizes) -> Fill:
    """One trade of fetchMyTrades (or watchMyTrades). It names no leg (the ledger finds it)
    and not who placed its order (its order's report may)."""
    symbol = item.name("symbol")
    return Fill(
        category=CATEGORY,
        symbol=symbol,
        trade_id=item.text("id"),
        venue_order_id=item.optional_text("order"),
        client_order_id="",
        side=item.choice_of("side", ORDER_SIDES),
        kind=ExecutionKind.TRADE,
        origin=None,
        exec_price=number(item.fields.get("price"), f"{item.where}.price"),
        exec_qty=_quantity(item, "amount", contract_sizes.get(symbol, Decimal(1))),
        exec_fee=_fee(item),
        closed_size=None,
        exec_time=item.millis("timestamp"),
        seq=None,
        notional_coin=COINS.counted_in(CATEGORY, symbol),
        contract_kind=COINS.kind(CATEGORY, symbol),
    )
