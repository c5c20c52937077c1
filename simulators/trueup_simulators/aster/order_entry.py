"""Aster order entry on the simulated account: POST and DELETE /fapi/v1/order, and the position
mode (/fapi/v1/positionSide/dual).

Each request is judged as futures-api-v1.md says Aster judges it ("New Order", "Cancel
Order", "Error Codes") and then acted on the account, which queues the user-data events.
MARKET orders, and LIMIT orders that cross, fill at once at the symbol's mark; a resting
LIMIT order fills when a later mark crosses it (``Account.match``). Not thread-safe: the
simulator calls it under its lock.
"""

import re
from collections.abc import Mapping
from decimal import Decimal

from trueup.adapters.decimals import to_decimal
from trueup.domain.errors import MalformedInput
from trueup_simulators.aster import filters
from trueup_simulators.aster.account import Account, AccountError
from trueup_simulators.aster.records import (
    JSON,
    Order,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    closes_only,
    crosses,
)

# newClientOrderId's documented rule.
CLIENT_ORDER_ID = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "HIDDEN")
# Aster's error codes (futures-api-v1.md, "Error Codes").
MANDATORY_PARAM = -1102
PARAM_NOT_REQUIRED = -1106
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
BAD_SYMBOL = -1121
INVALID_PARAMETER = -1130
BAD_PRECISION = -1111
INVALID_NEW_ORDER_RESP_TYPE = -1136
CANCEL_REJECTED = -2011
REDUCE_ONLY_REJECT = -2022
PRICE_LESS_THAN_ZERO = -4001
PRICE_GREATER_THAN_MAX_PRICE = -4002
QTY_LESS_THAN_ZERO = -4003
QTY_LESS_THAN_MIN_QTY = -4004
QTY_GREATER_THAN_MAX_QTY = -4005
PRICE_LESS_THAN_MIN_PRICE = -4013
PRICE_NOT_INCREASED_BY_TICK_SIZE = -4014
INVALID_CLIENT_ORDER_ID = -4015
NO_NEED_TO_CHANGE_POSITION_SIDE = -4059
INVALID_POSITION_SIDE = -4060
POSITION_SIDE_NOT_MATCH = -4061
POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS = -4067
POSITION_SIDE_CHANGE_EXISTS_QUANTITY = -4068
MIN_NOTIONAL = -4164
# Aster documents no code for a newClientOrderId already on an open order; this is the one
# Binance's futures API (whose interface Aster's copies) answers, with its message.
DUPLICATED_CLIENT_ORDER_ID = -4116


class Refusal(Exception):
    """A request Aster refuses: the code and msg of its error payload, and the HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def mandatory(params: Mapping[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise Refusal(
            MANDATORY_PARAM,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        )
    return value


def listed_symbol(account: Account, params: Mapping[str, str], *, required: bool) -> str:
    """The ``symbol`` parameter, which must be listed; "" when optional and not sent."""
    symbol = mandatory(params, "symbol") if required else params.get("symbol", "")
    if symbol and symbol not in account.symbols:
        raise Refusal(BAD_SYMBOL, "Invalid symbol.")
    return symbol


def _decimal(params: Mapping[str, str], name: str) -> Decimal:
    try:
        return to_decimal(mandatory(params, name), name)
    except MalformedInput:
        raise Refusal(
            MANDATORY_PARAM,
            f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.",
        ) from None


def _flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise Refusal(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return value == "true"


def _position_side(account: Account, params: Mapping[str, str]) -> PositionSide:
    raw = params.get("positionSide", "BOTH")
    try:
        side = PositionSide(raw)
    except ValueError:
        raise Refusal(INVALID_POSITION_SIDE, "Invalid position side.") from None
    if side not in account.position_sides():
        raise Refusal(
            POSITION_SIDE_NOT_MATCH, "Order's position side does not match user's setting."
        )
    return side


def new_order(account: Account, params: Mapping[str, str]) -> JSON:
    """POST /fapi/v1/order: place, then fill what fills now; the answer as Aster gives it
    (``newOrderRespType`` ACK: the order as accepted; RESULT: as it ended)."""
    symbol = listed_symbol(account, params, required=True)
    try:
        side = Side(mandatory(params, "side"))
    except ValueError:
        raise Refusal(INVALID_SIDE, "Invalid side.") from None
    try:
        order_type = OrderType(mandatory(params, "type"))
    except ValueError:
        raise Refusal(INVALID_ORDER_TYPE, "Invalid orderType.") from None
    if order_type == OrderType.LIQUIDATION:
        raise Refusal(INVALID_ORDER_TYPE, "Invalid orderType.")
    qty = _decimal(params, "quantity")
    if qty <= 0:
        raise Refusal(QTY_LESS_THAN_ZERO, "Quantity less than zero.")
    price: Decimal | None = None
    time_in_force = "GTC"
    if order_type == OrderType.LIMIT:
        time_in_force = mandatory(params, "timeInForce")
        if time_in_force not in TIME_IN_FORCE:
            raise Refusal(INVALID_TIF, "Invalid timeInForce.")
        price = _decimal(params, "price")
        if price <= 0:
            raise Refusal(PRICE_LESS_THAN_ZERO, "Price less than 0.")
    response_type = params.get("newOrderRespType", "ACK")
    if response_type not in ("ACK", "RESULT"):
        raise Refusal(INVALID_NEW_ORDER_RESP_TYPE, "Invalid newOrderRespType.")
    position_side = _position_side(account, params)
    if account.dual_side and "reduceOnly" in params:
        raise Refusal(PARAM_NOT_REQUIRED, "Parameter 'reduceOnly' sent when not required.")
    reduce_only = _flag(params, "reduceOnly")
    _check_filters(order_type, qty, price)
    mark = account.mark(symbol)
    if order_type == OrderType.MARKET and mark <= 0:
        raise Refusal(
            INVALID_PARAMETER, f"no mark price for {symbol}: the simulator needs move_mark"
        )
    if not closes_only(side, position_side, reduce_only):
        _check_notional(qty * (price if price is not None else mark))
    client_order_id = params.get("newClientOrderId", "")
    if client_order_id and not CLIENT_ORDER_ID.fullmatch(client_order_id):
        raise Refusal(INVALID_CLIENT_ORDER_ID, "Client order id is not valid.")
    if client_order_id and any(o.client_order_id == client_order_id for o in account.open_orders()):
        raise Refusal(DUPLICATED_CLIENT_ORDER_ID, "ClientOrderId is duplicated.")
    if closes_only(side, position_side, reduce_only) and qty > account.closable(
        symbol, side, position_side
    ):
        raise Refusal(REDUCE_ONLY_REJECT, "ReduceOnly Order is rejected.")
    order = account.place(
        symbol,
        side,
        qty,
        order_type=order_type,
        price=price,
        time_in_force=time_in_force,
        position_side=position_side,
        reduce_only=reduce_only,
        client_order_id=client_order_id,
    )
    accepted = order.rest_item(answer=True)
    _execute(account, order, mark)
    return order.rest_item(answer=True) if response_type == "RESULT" else accepted


def _check_filters(order_type: OrderType, qty: Decimal, price: Decimal | None) -> None:
    """LOT_SIZE (MARKET_LOT_SIZE's maximum for a MARKET order) and PRICE_FILTER."""
    if qty < filters.MIN_QTY:
        raise Refusal(QTY_LESS_THAN_MIN_QTY, "Quantity less than min quantity.")
    if (qty - filters.MIN_QTY) % filters.STEP_SIZE:
        raise Refusal(BAD_PRECISION, "Precision is over the maximum defined for this asset.")
    most = filters.MARKET_MAX_QTY if order_type == OrderType.MARKET else filters.MAX_QTY
    if qty > most:
        raise Refusal(QTY_GREATER_THAN_MAX_QTY, "Quantity greater than max quantity.")
    if price is None:
        return
    if price < filters.MIN_PRICE:
        raise Refusal(PRICE_LESS_THAN_MIN_PRICE, "Price less than min price.")
    if price > filters.MAX_PRICE:
        raise Refusal(PRICE_GREATER_THAN_MAX_PRICE, "Price greater than max price.")
    if (price - filters.MIN_PRICE) % filters.TICK_SIZE:
        raise Refusal(PRICE_NOT_INCREASED_BY_TICK_SIZE, "Price not increased by tick size.")


def _check_notional(notional: Decimal) -> None:
    """MIN_NOTIONAL: price times quantity (a MARKET order's at the mark), unless the order
    can only reduce."""
    if notional < filters.MIN_NOTIONAL:
        raise Refusal(
            MIN_NOTIONAL,
            f"Order's notional must be no smaller than {filters.MIN_NOTIONAL:.1f} "
            "(unless you choose reduce only)",
        )


def _execute(account: Account, order: Order, mark: Decimal) -> None:
    """What happens to a new order at once: a taker fill, an expiry, or nothing (it rests)."""
    marketable = order.order_type == OrderType.MARKET or crosses(order.side, order.price, mark)
    if order.time_in_force == "GTX" and marketable:
        account.cancel(order, OrderStatus.EXPIRED)  # post-only would have taken
    elif marketable:
        account.fill(order, price=mark)
    elif order.time_in_force in ("IOC", "FOK"):
        account.cancel(order, OrderStatus.EXPIRED)


def cancel_order(account: Account, params: Mapping[str, str]) -> JSON:
    """DELETE /fapi/v1/order, by orderId or origClientOrderId."""
    order = named_order(account, params, CANCEL_REJECTED, "Unknown order sent.")
    if not order.is_open:
        raise Refusal(CANCEL_REJECTED, "Unknown order sent.")
    account.cancel(order)
    return order.rest_item(answer=True)


def named_order(account: Account, params: Mapping[str, str], code: int, msg: str) -> Order:
    """The order ``symbol`` and ``orderId`` or ``origClientOrderId`` name; ``code`` and
    ``msg`` refuse a name that finds none (-2011 to cancel, -2013 to query)."""
    symbol = listed_symbol(account, params, required=True)
    order_id, client_order_id = params.get("orderId", ""), params.get("origClientOrderId", "")
    if not order_id and not client_order_id:
        raise Refusal(
            MANDATORY_PARAM,
            "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!",
        )
    if order_id and not order_id.isdigit():
        raise Refusal(INVALID_PARAMETER, "Data sent for parameter 'orderId' is not valid.")
    try:
        order = account.order(int(order_id) if order_id else None, client_order_id)
    except AccountError:
        raise Refusal(code, msg) from None
    if order.symbol != symbol:
        raise Refusal(code, msg)
    return order


def change_position_mode(account: Account, params: Mapping[str, str]) -> JSON:
    """POST /fapi/v1/positionSide/dual: hedge mode on ("true") or off ("false")."""
    mandatory(params, "dualSidePosition")
    dual = _flag(params, "dualSidePosition")
    if dual == account.dual_side:
        raise Refusal(NO_NEED_TO_CHANGE_POSITION_SIDE, "No need to change position side.")
    if account.open_orders():
        raise Refusal(
            POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS,
            "Position side cannot be changed if there exists open orders.",
        )
    if any(p.amount != 0 for p in account.positions.values()):
        raise Refusal(
            POSITION_SIDE_CHANGE_EXISTS_QUANTITY,
            "Position side cannot be changed if there exists position.",
        )
    account.set_dual_side(dual)
    return {"code": 200, "msg": "success"}
