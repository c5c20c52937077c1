"""Bybit V5 order entry on the simulated book: /v5/order/create, /amend and /cancel.

Each request is judged as Bybit judges it (its retCodes from error.mdx) and then acted on the
book, which queues the private frames. Market orders, and limit orders that cross, fill at
the symbol's price (its mark, moved by ``move_mark``); resting limit orders fill when a later
mark crosses them (``match``). Not thread-safe: the simulator calls it under its lock.
"""

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from trueup.adapters.bybit.messages import JSON
from trueup_simulators.bybit.exchange_book import BookError, ExchangeBook, Order

ORDER_LINK_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
CATEGORIES = ("linear", "inverse")
# retCodes from Bybit's error page.
PARAMETER_ERROR = 10001
ORDER_NOT_FOUND = 110001
ORDER_FINISHED = 110008
REDUCE_ONLY = 110017
QTY_NOT_ABOVE_FILLED = 110064
DUPLICATE_ORDER_LINK_ID = 110072


class Refusal(Exception):
    """An order request Bybit refuses: its retCode and retMsg."""

    def __init__(self, ret_code: int, ret_msg: str) -> None:
        super().__init__(ret_msg)
        self.ret_code, self.ret_msg = ret_code, ret_msg


def _decimal(body: Mapping[str, Any], name: str, *, required: bool) -> Decimal | None:
    value = body.get(name)
    if value in (None, ""):
        if required:
            raise Refusal(
                PARAMETER_ERROR, f"Missing some parameters that must be filled in, {name}"
            )
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise Refusal(PARAMETER_ERROR, f"{name} is not a number") from None
    if not result.is_finite() or result <= 0:
        raise Refusal(PARAMETER_ERROR, f"{name} must be positive")
    return result


def _choice(body: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = body.get(name)
    if value not in allowed:
        raise Refusal(PARAMETER_ERROR, f"Illegal {name}")
    return str(value)


def symbol_price(book: ExchangeBook, category: str, symbol: str) -> Decimal:
    """The price orders of ``symbol`` fill at: its mark (0 when nothing set it yet)."""
    marks = [p.mark_price for p in book.symbol_keys(category, symbol) if p.mark_price > 0]
    return marks[0] if marks else Decimal(0)


def _crosses(order: Order, price: Decimal) -> bool:
    return price > 0 and (price <= order.price if order.side == "Buy" else price >= order.price)


def _position_idx(body: Mapping[str, Any], side: str, reduce_only: bool) -> int:
    raw = body.get("positionIdx", 0)
    if raw not in (0, 1, 2, "0", "1", "2"):
        raise Refusal(PARAMETER_ERROR, "Illegal positionIdx")
    idx = int(raw)
    # Hedge mode: leg 1 holds the long, leg 2 the short; the other side only closes a leg.
    opens_wrong_leg = (idx == 1 and side == "Sell") or (idx == 2 and side == "Buy")
    if opens_wrong_leg and not reduce_only:
        raise Refusal(PARAMETER_ERROR, "position idx not match position mode")
    return idx


def create(book: ExchangeBook, body: Mapping[str, Any]) -> JSON:
    """POST /v5/order/create: place, then fill what can fill now; the result Bybit answers."""
    category = _choice(body, "category", CATEGORIES)
    symbol = str(body.get("symbol") or "")
    if not symbol:
        raise Refusal(PARAMETER_ERROR, "Missing some parameters that must be filled in, symbol")
    side = _choice(body, "side", ("Buy", "Sell"))
    order_type = _choice(body, "orderType", ("Market", "Limit"))
    qty = _decimal(body, "qty", required=True)
    assert qty is not None
    price = _decimal(body, "price", required=order_type == "Limit")
    link_id = str(body.get("orderLinkId") or "")
    if link_id and not ORDER_LINK_ID.fullmatch(link_id):
        raise Refusal(PARAMETER_ERROR, "orderLinkId is illegal")
    # Bybit keeps orderLinkId unique over the account's orders, open or ended.
    if link_id and any(o.order_link_id == link_id for o in book.orders.values()):
        raise Refusal(DUPLICATE_ORDER_LINK_ID, "OrderLinkedID is duplicate")
    rules = book.instruments.get(symbol)
    if rules is not None:
        if qty % rules.qty_step or qty < rules.min_qty:
            raise Refusal(PARAMETER_ERROR, "Qty invalid")
        if price is not None and price % rules.tick_size:
            raise Refusal(PARAMETER_ERROR, "Price invalid")
    reduce_only = body.get("reduceOnly") in (True, "true")
    position_idx = _position_idx(body, side, reduce_only)
    position = book.position(symbol, position_idx, category)
    if reduce_only:
        held = position.size if position.side and position.side != side else Decimal(0)
        if qty > held:
            raise Refusal(REDUCE_ONLY, "Reduce-only rule not satisfied")
    market = symbol_price(book, category, symbol)
    if order_type == "Market" and market <= 0:
        raise Refusal(PARAMETER_ERROR, f"no price for {symbol}: the simulator needs move_mark")
    order = book.place_order(
        symbol,
        side,
        qty,
        order_link_id=link_id,
        order_type=order_type,
        price=price if order_type == "Limit" else market,
        reduce_only=reduce_only,
        position_idx=position_idx,
        category=category,
        time_in_force=str(body.get("timeInForce") or "") or None,
    )
    if order_type == "Market" or _crosses(order, market):
        book.fill(order.order_id, price=market)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def _target(book: ExchangeBook, body: Mapping[str, Any]) -> Order:
    """The order a request names (orderId first, then orderLinkId), open."""
    _choice(body, "category", CATEGORIES)
    ref = str(body.get("orderId") or body.get("orderLinkId") or "")
    if not ref:
        raise Refusal(PARAMETER_ERROR, "orderId or orderLinkId is required")
    try:
        order = book.order(ref)
    except BookError:
        raise Refusal(ORDER_NOT_FOUND, "Order does not exist") from None
    if order.symbol != body.get("symbol"):
        raise Refusal(ORDER_NOT_FOUND, "Order does not exist")
    if not order.is_open:
        raise Refusal(ORDER_FINISHED, "The order has been completed or cancelled.")
    return order


def amend(book: ExchangeBook, body: Mapping[str, Any]) -> JSON:
    """POST /v5/order/amend: a new qty and/or price for an open order."""
    order = _target(book, body)
    qty = _decimal(body, "qty", required=False)
    price = _decimal(body, "price", required=False)
    if qty is not None and qty <= order.cum_exec_qty:
        raise Refusal(
            QTY_NOT_ABOVE_FILLED,
            "The modified contract quantity cannot be less than or equal to the filled quantity.",
        )
    book.amend(order.order_id, qty, price)
    market = symbol_price(book, order.category, order.symbol)
    if order.order_type == "Limit" and _crosses(order, market):
        book.fill(order.order_id, price=market)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def cancel(book: ExchangeBook, body: Mapping[str, Any]) -> JSON:
    """POST /v5/order/cancel."""
    order = _target(book, body)
    book.cancel(order.order_id)
    return {"orderId": order.order_id, "orderLinkId": order.order_link_id}


def match(book: ExchangeBook, symbol: str, category: str = "linear") -> None:
    """Fill the resting limit orders of ``symbol`` its price now crosses, oldest first, at
    their own price (makers); a reduce-only one with nothing left to reduce is cancelled."""
    price = symbol_price(book, category, symbol)
    resting = [
        o
        for o in book.orders.values()
        if (o.category, o.symbol) == (category, symbol)
        and o.is_open
        and o.order_type == "Limit"
        and not o.stop_order_type
    ]
    for order in sorted(resting, key=lambda o: o.serial):
        if not order.is_open or not _crosses(order, price):
            continue
        try:
            book.fill(order.order_id, price=order.price)
        except BookError:
            book.cancel(order.order_id, "CancelByReduceOnly")


ACTIONS = {"/v5/order/create": create, "/v5/order/amend": amend, "/v5/order/cancel": cancel}
