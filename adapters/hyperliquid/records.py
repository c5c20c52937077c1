"""Hyperliquid's positions, orders and fills as trueup's normalised records.

Hyperliquid's vocabulary (sides B and A, order statuses open ... marginCanceled, a fill's
``dir``) becomes the domain's here, once. Hyperliquid is one-way: position_idx is always 0.
"""

from decimal import Decimal

from trueup.adapters.hyperliquid.coins import COINS, PERP, category_of
from trueup.adapters.payload import Payload
from trueup.adapters.venue import fee_coin
from trueup.adapters.wire_errors import UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import Fill, OrderReport, PositionReport, WalletReport
from trueup.domain.vocabulary import (
    ExecutionKind,
    MarginMode,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionSide,
)

SIDES = {"B": OrderSide.BUY, "A": OrderSide.SELL}
# A fill's ``dir`` where it names a cause: "Liquidated Cross Long", "Liquidated Isolated
# Short" ... start with "Liquidated"; the others ("Open Long", "Close Short" ...) name none.
LIQUIDATED_DIR = "Liquidated"
DIR_KINDS = {"Auto-Deleveraging": ExecutionKind.ADL, "Settlement": ExecutionKind.SETTLEMENT}
# Hyperliquid's prices: up to this many significant figures, or a whole number.
PRICE_FIGURES = 5


def side(item: Payload) -> OrderSide:
    return item.choice_of("side", SIDES)


def position_side(szi: Decimal) -> PositionSide:
    """The side of a signed size (``szi``: negative is short)."""
    return PositionSide.LONG if szi > 0 else PositionSide.SHORT if szi < 0 else PositionSide.FLAT


def position_report(item: Payload, time: int) -> PositionReport:
    """One assetPositions entry, as of the reply's ``time`` (its seq: Hyperliquid has none)."""
    item.choice("type", ("oneWay",))  # the only mode there is; anything else is not understood
    position = item.child("position")
    szi = position.decimal("szi")
    coin = position.name("coin")
    return PositionReport(
        category=PERP,
        symbol=coin,
        position_idx=0,
        side=position_side(szi),
        size=abs(szi),
        entry_price=position.optional_decimal("entryPx"),
        mark_price=_mark(position, abs(szi)),
        unrealised_pnl=position.optional_decimal("unrealizedPnl"),
        cum_realised_pnl=None,
        seq=time,
        updated_time=time,
        status="Normal",
        liq_price=_liquidation_price(position),
        leverage=_leverage(position),
        position_value=position.optional_decimal("positionValue"),
        initial_margin=position.optional_decimal("marginUsed"),
        margin_mode=_margin_mode(position),
        notional_coin=COINS.counted_in(PERP, coin),
    )


MARGIN_MODES = {"cross": MarginMode.CROSS, "isolated": MarginMode.ISOLATED}


def _liquidation_price(position: Payload) -> Decimal | None:
    """liquidationPx: null, or "NaN", when there is none (a flat or unleveraged position)."""
    value = position.fields.get("liquidationPx")
    if value == "NaN":
        return None
    price = position.optional_decimal("liquidationPx")
    return price if price is not None and price > 0 else None


def _leverage(position: Payload) -> Decimal | None:
    """leverage: {"type": "cross" | "isolated", "value": N}, where the reply has it."""
    if position.fields.get("leverage") is None:
        return None
    value = position.child("leverage").decimal("value")
    return value if value > 0 else None


def _margin_mode(position: Payload) -> MarginMode | None:
    if position.fields.get("leverage") is None:
        return None
    return position.child("leverage").choice_of("type", MARGIN_MODES)


def margin_summary(state: Payload, reports: tuple[PositionReport, ...]) -> WalletReport:
    """A clearinghouseState's account figures (USDC): marginSummary (cross and isolated
    together), withdrawable, and the cross maintenance margin. Hyperliquid names no wallet
    balance: it is the account value less the positions' unrealised PnL."""
    summary = state.child("marginSummary")
    equity = summary.optional_decimal("accountValue")
    unrealised = sum((r.unrealised_pnl or Decimal(0) for r in reports), Decimal(0))
    return WalletReport(
        account_type="perp",
        total_equity=equity,
        total_wallet_balance=None if equity is None else equity - unrealised,
        total_available_balance=state.optional_decimal("withdrawable"),
        total_margin_balance=summary.optional_decimal("accountValue"),
        total_initial_margin=summary.optional_decimal("totalMarginUsed"),
        total_maintenance_margin=state.optional_decimal("crossMaintenanceMarginUsed"),
        total_unrealised_pnl=unrealised,
        total_notional=summary.optional_decimal("totalNtlPos"),
        equity_coin=COINS.equity,
    )


def _mark(position: Payload, size: Decimal) -> Decimal | None:
    """The mark the venue valued the position at: clearinghouseState names no mark price,
    but its positionValue is size x mark, the value rounded. So the quotient is put on
    Hyperliquid's price grid: at most 5 significant figures, a whole price always allowed;
    not 28 digits of a division, which made a position's unrealised PnL
    99.9999999999999999999999999 of 100, nor 25.0025 of a value rounded over a size of 4."""
    value = position.optional_decimal("positionValue")
    if value is None or value == 0 or size == 0:
        return None  # a value of 0 with a size says nothing of the mark
    mark = value / size
    places = max(0, PRICE_FIGURES - (mark.adjusted() + 1))
    on_grid = mark.quantize(Decimal(1).scaleb(-places))
    if on_grid != mark:
        return on_grid
    # On it already: as the venue wrote it, but a whole one in plain digits (3050.0 / 0.05
    # is 6.100E+4, which no decimal parser of a bot's need read).
    exponent = mark.as_tuple().exponent
    return on_grid if isinstance(exponent, int) and exponent > 0 else mark


def order_status(status: str, filled: Decimal, where: str) -> OrderStatus:
    """Hyperliquid's order status in the domain's words.

    open is ACCEPTED, or PARTIALLY_FILLED once part of it has filled (Hyperliquid has no
    status of its own for that). triggered is TRIGGERED: the trigger fired and the order works
    on under the same oid, so the domain keeps it open. Every way an order ends unfilled
    (canceled, marginCanceled, reduceOnlyCanceled, selfTradeCanceled, scheduledCancel ...) is
    CANCELED, and every *Rejected status REJECTED, the precise status being kept as
    cancel_type or reject_reason.
    """
    if status == "open":
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    if status == "filled":
        return OrderStatus.FILLED
    if status == "triggered":
        return OrderStatus.TRIGGERED
    if status.endswith(("canceled", "Canceled")) or status == "scheduledCancel":
        return OrderStatus.CANCELED
    if status.endswith(("rejected", "Rejected")):
        return OrderStatus.REJECTED
    raise UnknownInput(f"{where}: {shown(status)} is not an order status trueup knows")


def order_report(order: Payload, status: str, updated_time: int, where: str) -> OrderReport:
    """One order (openOrders' or orderStatus' form) in the given Hyperliquid ``status``.

    Only orderStatus and frontendOpenOrders say what kind of order it is (isTrigger,
    orderType); openOrders and orderUpdates do not, so their reports say nothing of who
    placed it (origin None) and leave what an earlier report said standing.
    """
    coin = order.name("coin")
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
        category=category_of(coin),
        symbol=coin,
        venue_order_id=str(order.integer("oid")),
        client_order_id=order.optional_text("cloid"),
        side=side(order),
        position_idx=0,
        order_type=order_type,
        origin=_origin(order_type) if is_trigger else _untriggered_origin(order),
        status=domain_status,
        qty=qty,
        price=order.decimal("limitPx"),
        trigger_price=order.optional_decimal("triggerPx") if is_trigger else None,
        avg_price=None,  # Hyperliquid reports it per fill only
        cum_exec_qty=qty - remaining,
        cum_exec_fee=None,
        reduce_only=reduce_only,
        cancel_type=status if domain_status is OrderStatus.CANCELED else "",
        reject_reason=status if domain_status is OrderStatus.REJECTED else "",
        created_time=order.millis("timestamp"),
        updated_time=updated_time,
    )


def _untriggered_origin(order: Payload) -> OrderOrigin | None:
    # The forms that carry isTrigger say a plain order was placed by a client (the bot, a
    # person); the others say nothing.
    return OrderOrigin.CLIENT if order.has("isTrigger") else None


def _origin(trigger_order_type: str) -> OrderOrigin:
    # Trigger orders are "Take Profit Market", "Stop Limit" ...: all placed to exit.
    if trigger_order_type.startswith("Take Profit"):
        return OrderOrigin.TAKE_PROFIT
    return OrderOrigin.STOP_LOSS


def _fill_kind(item: Payload) -> ExecutionKind:
    """A liquidation's fills carry a ``liquidation`` object, or a ``dir`` of "Liquidated ...";
    auto-deleveraging and a delisted market's settlement name themselves in ``dir``."""
    direction = item.optional_text("dir")
    if item.fields.get("liquidation") is not None or direction.startswith(LIQUIDATED_DIR):
        return ExecutionKind.LIQUIDATION
    return DIR_KINDS.get(direction, ExecutionKind.TRADE)


def _closed_size(start: Decimal | None, sold: bool, size: Decimal) -> Decimal | None:
    """What of the fill closed a position, from ``startPosition`` (the signed position before
    it), as Bybit's closedSize says: a close at the entry price realises a closedPnl of 0, and
    a fill past zero ("Long > Short") closes only what was held. None where it is not given."""
    if start is None:
        return None
    held = start if sold else -start  # what the fill's side takes off
    return min(held, size) if held > 0 else Decimal(0)


def fill(item: Payload) -> Fill:
    """One fill; ``tid`` identifies it wherever it arrives (REST, userFills, user events)."""
    coin = item.name("coin")
    fill_side = side(item)
    size = item.quantity("sz")
    start = item.optional_decimal("startPosition")
    counted_in = COINS.counted_in(category_of(coin), coin)
    return Fill(
        category=category_of(coin),
        symbol=coin,
        trade_id=str(item.integer("tid")),
        venue_order_id=str(item.integer("oid")),
        client_order_id=item.optional_text("cloid"),
        side=fill_side,
        kind=_fill_kind(item),
        origin=None,  # a fill names its order (oid), whose report says who placed it
        exec_price=item.decimal("px"),
        exec_qty=size,
        exec_fee=item.optional_decimal("fee"),
        closed_size=_closed_size(start, fill_side is OrderSide.SELL, size),
        position_before=start,
        exec_time=item.millis("time"),
        seq=None,
        realised_pnl=item.optional_decimal("closedPnl"),  # before the fee, as Bybit's execPnl
        position_idx=0,
        notional_coin=counted_in,
        fee_coin=fee_coin(item.optional_text("feeToken"), counted_in),
    )


def funding(item: Payload, time: int) -> Fill:
    """A funding payment (user events' ``funding``, or a userFunding entry's ``delta``, whose
    ``time`` is beside it) as a Funding execution: kept, but of no order, so it moves nothing.

    It has no price (0 stands for none); its fee is what the user paid, the opposite of
    ``usdc`` (negative when the user paid), as Bybit's execFee for funding is. Its identity
    is coin and time, the one thing both forms share (userFunding's hash is all zeros).
    """
    coin = item.name("coin")
    szi = item.decimal("szi")
    return Fill(
        category=category_of(coin),
        symbol=coin,
        trade_id=f"funding:{coin}:{time}",
        venue_order_id="",
        client_order_id="",
        side=None,
        kind=ExecutionKind.FUNDING,
        origin=None,
        exec_price=Decimal(0),
        exec_qty=abs(szi),
        exec_fee=-item.decimal("usdc"),
        closed_size=None,
        exec_time=time,
        seq=None,
        position_idx=0,
        notional_coin=COINS.counted_in(category_of(coin), coin),
    )
