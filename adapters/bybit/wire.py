"""Bybit V5 private WebSocket frames and REST responses, as domain events.

Field names and meanings follow Bybit's V5 documentation (position, order, execution and
wallet topics; /v5/position/list, /v5/order/realtime, /v5/order/history,
/v5/execution/list). Its enum values become the domain's vocabulary here: a side, order
status or execType not in Bybit's lists is refused, with its reason. Who placed an order
(stopOrderType, createType) only explains a close, in a list Bybit keeps growing: a value
not known here is read as "not said".
"""

from decimal import Decimal

from trueup.adapters.bybit import tickers
from trueup.adapters.bybit.coins import COINS
from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.venue import fee_coin
from trueup.adapters.wire_errors import ControlMessage, ErrorReply, UnknownInput
from trueup.domain.errors import shown
from trueup.domain.events import (
    CoinBalance,
    ExecutionsReported,
    Fill,
    InputEvent,
    OrderReport,
    OrdersReported,
    PositionReport,
    PositionsReported,
    SnapshotPage,
    Source,
    WalletReport,
    WalletReported,
)
from trueup.domain.vocabulary import (
    ExecutionKind,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionSide,
)

POSITION_SNAPSHOT = "/v5/position/list"
ORDER_SIDES = {"Buy": OrderSide.BUY, "Sell": OrderSide.SELL}
POSITION_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT, "": PositionSide.FLAT}
# Bybit's orderStatus values (its enum page), open and closed. It lists Triggered among the
# closed, but that is the instant a conditional order becomes New under the same orderId.
ORDER_STATUSES: dict[str, OrderStatus] = {
    "New": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Untriggered": OrderStatus.PENDING_TRIGGER,
    "Triggered": OrderStatus.TRIGGERED,
    "Rejected": OrderStatus.REJECTED,
    "PartiallyFilledCanceled": OrderStatus.CANCELED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELED,
    "Deactivated": OrderStatus.CANCELED,  # a conditional order cancelled before its trigger
}
# stopOrderType: the venue's own TP/SL and conditional orders ("" or UNKNOWN: none).
STOP_ORDER_ORIGINS: dict[str, OrderOrigin] = {
    "TakeProfit": OrderOrigin.TAKE_PROFIT,
    "PartialTakeProfit": OrderOrigin.TAKE_PROFIT,
    "StopLoss": OrderOrigin.STOP_LOSS,
    "PartialStopLoss": OrderOrigin.STOP_LOSS,
    "TrailingStop": OrderOrigin.TRAILING_STOP,
    "Stop": OrderOrigin.CONDITIONAL,
    "MmRateClose": OrderOrigin.CLOSING,  # set on the web or app to close at a margin rate
}
# createType: who placed the order (Bybit's enum page; spot and options carry none).
CREATE_TYPE_ORIGINS: dict[str, OrderOrigin] = {
    "CreateByUser": OrderOrigin.CLIENT,
    "CreateByFutureSpread": OrderOrigin.CLIENT,
    "CreateByBlock_PassThrough": OrderOrigin.CLIENT,
    "CreateByBlockTradeMovePosition_PassThrough": OrderOrigin.CLIENT,
    "CreateByClosing": OrderOrigin.CLOSING,  # the close button of the web or app
    "CreateByMmRateClose": OrderOrigin.CLOSING,
    "CreateByAdminClosing": OrderOrigin.CLOSING,
    "CreateBySettle": OrderOrigin.SETTLEMENT,
    "CreateByStopOrder": OrderOrigin.CONDITIONAL,
    "CreateByTakeProfit": OrderOrigin.TAKE_PROFIT,
    "CreateByPartialTakeProfit": OrderOrigin.TAKE_PROFIT,
    "CreateByTrailingProfit": OrderOrigin.TAKE_PROFIT,
    "CreateByStopLoss": OrderOrigin.STOP_LOSS,
    "CreateByPartialStopLoss": OrderOrigin.STOP_LOSS,
    "CreateByTrailingStop": OrderOrigin.TRAILING_STOP,
    "CreateByLiq": OrderOrigin.LIQUIDATION,
    "CreateByTakeOver_PassThrough": OrderOrigin.LIQUIDATION,
    "CreateByAdl_PassThrough": OrderOrigin.ADL,
    **dict.fromkeys(
        (
            "CreateByChaseOrder",
            "CreateByFGridBot",
            "CloseByFGridBot",
            "CreateByTWAP",
            "CreateByMartingaleBot",
            "CloseByMartingaleBot",
            "CreateByIceBerg",
            "CreateByBboOrder",
            "CreateByTVSignal",
            "CreateByArbitrage",
            "CreateByDdh",
        ),
        OrderOrigin.STRATEGY,
    ),
}
# Bybit's execType values (its enum page) in the field's words. A value not here is refused
# with its reason: trueup never guesses what moved a position.
FUNDING = ExecutionKind.FUNDING  # read for every fill: a module global, not the enum's lookup
EXECUTION_KINDS: dict[str, ExecutionKind] = {
    "Trade": ExecutionKind.TRADE,
    "BlockTrade": ExecutionKind.TRADE,
    "FutureSpread": ExecutionKind.TRADE,
    "MovePosition": ExecutionKind.TRADE,
    "Funding": ExecutionKind.FUNDING,
    "BustTrade": ExecutionKind.LIQUIDATION,
    "AdlTrade": ExecutionKind.ADL,
    "Delivery": ExecutionKind.DELIVERY,
    "Settle": ExecutionKind.SETTLEMENT,
}
# Bybit's "too many visits" retCodes, and the HTTP statuses its gateway limits with.
RATE_LIMIT_RET_CODES = frozenset({10006, 10018})
RATE_LIMIT_HTTP_STATUSES = frozenset({403, 429})


def rate_limited(error: ErrorReply) -> bool:
    """Whether Bybit's error reply says we ask too often."""
    return error.ret_code in RATE_LIMIT_RET_CODES or error.http_status in RATE_LIMIT_HTTP_STATUSES


WALLET_BALANCE = "/v5/account/wallet-balance"
REST_ENDPOINTS = (
    POSITION_SNAPSHOT,
    "/v5/order/realtime",
    "/v5/order/history",
    "/v5/execution/list",
    WALLET_BALANCE,
)


def decode(envelope: Envelope, channel: str, line: Payload) -> InputEvent:
    """One capture line of venue bybit, channel ws, market or rest."""
    if channel == "ws":
        return decode_ws(envelope, line.child("data"))
    if channel == "market":
        return tickers.decode_public(envelope, line.child("data"))
    params = line.child("params") if line.has("params") else Payload({}, "params")
    endpoint = line.text("endpoint")
    # An HTTP error (429, 403) often has no JSON body (an HTML page): the capture line
    # keeps the status beside it, and the body is not read.
    status = line.integer("status") if line.has("status") else 200
    if status != 200:
        _known(endpoint)
        reason = f"HTTP {status}" if status else "no reply (network error)"
        raise ErrorReply(reason, http_status=status)
    return decode_rest(envelope, endpoint, params, line.child("data"))


def decode_ws(envelope: Envelope, frame: Payload) -> InputEvent:
    if not frame.has("topic"):
        op = frame.fields.get("op")
        if op == "auth" and frame.fields.get("success") is False:
            # Our key refused: the stream is blind, whatever else it is.
            raise ErrorReply(f"auth refused: {shown(frame.fields.get('ret_msg'))}")
        raise ControlMessage(f"data: a control message (op={shown(op)}), not a report")
    topic = frame.text("topic")
    family = topic.split(".", 1)[0]
    items = frame.items("data")
    header = envelope.header()
    if family == "position":
        reports = tuple(position_report(item, None) for item in items)
        return PositionsReported(**header, source="ws", reports=reports, snapshot=None)
    if family == "order":
        orders = tuple(order_report(item, None) for item in items)
        return OrdersReported(**header, source="ws", orders=orders)
    if family == "execution" and topic != "execution.fast":
        fills = tuple(fill(item, None) for item in items)
        return ExecutionsReported(**header, source="ws", fills=fills)
    if family == "wallet":
        return WalletReported(**header, wallets=tuple(wallet_report(item) for item in items))
    raise UnknownInput(f"data.topic: {shown(topic)} is not a topic trueup reads")


def _known(endpoint: str) -> None:
    if endpoint not in REST_ENDPOINTS:
        raise UnknownInput(f"endpoint: {shown(endpoint)} is not an endpoint trueup reads")


def decode_rest(envelope: Envelope, endpoint: str, params: Payload, body: Payload) -> InputEvent:
    _known(endpoint)
    ret_code = body.integer("retCode")
    if ret_code != 0:
        raise ErrorReply(f"retCode {ret_code}: {body.optional_text('retMsg')}", ret_code=ret_code)
    result = body.child("result")
    items = result.items("list")
    header = envelope.header()
    if endpoint == WALLET_BALANCE:
        # The accounts as the wallet topic pushes them: a push lost is made good here.
        return WalletReported(**header, wallets=tuple(wallet_report(item) for item in items))
    category = result.optional_name("category") or params.name("category")
    source: Source = "rest"
    if endpoint == "/v5/position/list":
        reports = tuple(position_report(item, category) for item in items)
        symbol = params.optional_name("symbol")
        settle_coin = params.optional_name("settleCoin")
        base_coin = params.optional_name("baseCoin")
        page = SnapshotPage(
            category=category,
            symbol=symbol,
            settle_coin=settle_coin,
            cursor=params.optional_text("cursor"),
            next_cursor=result.optional_text("nextPageCursor"),
            server_time=body.millis("time") if body.has("time") else envelope.at,
            symbol_forms=() if symbol else COINS.listed_forms(category, settle_coin, base_coin),
            base_coin=base_coin,
        )
        return PositionsReported(**header, source=source, reports=reports, snapshot=page)
    if endpoint == "/v5/execution/list":
        fills = tuple(fill(item, category) for item in items)
        return ExecutionsReported(**header, source=source, fills=fills)
    orders = tuple(order_report(item, category) for item in items)
    return OrdersReported(**header, source=source, orders=orders)


def _origin(item: Payload) -> OrderOrigin | None:
    """Who placed the order: its stopOrderType where it is one of the venue's stop orders
    (the more precise), else its createType; None where neither says."""
    stop_type = STOP_ORDER_ORIGINS.get(item.optional_text("stopOrderType"))
    return stop_type or CREATE_TYPE_ORIGINS.get(item.optional_text("createType"))


def _category(item: Payload, category: str | None) -> str:
    # WebSocket items carry their category; REST items inherit the response's.
    return item.name("category") if category is None else category


def position_report(item: Payload, category: str | None) -> PositionReport:
    # WebSocket names the average entry price entryPrice, REST names it avgPrice.
    entry = "entryPrice" if item.has("entryPrice") else "avgPrice"
    category, symbol = _category(item, category), item.name("symbol")
    return PositionReport(
        category=category,
        symbol=symbol,
        position_idx=item.position_idx("positionIdx"),
        side=item.choice_of("side", POSITION_SIDES),
        size=item.quantity("size"),
        entry_price=item.optional_decimal(entry),
        mark_price=item.optional_decimal("markPrice"),
        unrealised_pnl=item.optional_decimal("unrealisedPnl"),
        cum_realised_pnl=item.optional_decimal("cumRealisedPnl"),
        cur_realised_pnl=item.optional_decimal("curRealisedPnl"),
        # Documented on every position item, yet absent from real REST lists: optional.
        seq=item.optional_integer("seq"),
        updated_time=item.millis("updatedTime"),
        status=item.optional_text("positionStatus", "Normal"),
        # "" (or "0" on a flat one) when Bybit shows no liquidation price: none.
        liq_price=_positive(item, "liqPrice"),
        leverage=_positive(item, "leverage"),  # "" under portfolio margin
        position_value=item.optional_decimal("positionValue"),
        initial_margin=item.optional_decimal("positionIM"),
        maintenance_margin=item.optional_decimal("positionMM"),
        notional_coin=COINS.counted_in(category, symbol),
        contract_kind=COINS.kind(category, symbol),
        pnl_coin=COINS.pnl_coin(category, symbol),
    )


def _positive(item: Payload, name: str) -> Decimal | None:
    """A figure Bybit sends as "" or 0 when it has none."""
    value = item.optional_decimal(name)
    return value if value is not None and value > 0 else None


def order_report(item: Payload, category: str | None) -> OrderReport:
    return OrderReport(
        category=_category(item, category),
        symbol=item.name("symbol"),
        venue_order_id=item.text("orderId"),
        client_order_id=item.optional_text("orderLinkId"),
        side=item.choice_of("side", ORDER_SIDES),
        position_idx=item.position_idx("positionIdx"),
        order_type=item.optional_text("orderType"),
        origin=_origin(item),
        # An orderStatus not in Bybit's list would fold as an order that never ends (a LIVE
        # entry forever in flight, blocking can-open): refused, with its reason, instead.
        status=item.choice_of("orderStatus", ORDER_STATUSES),
        qty=item.quantity("qty"),
        price=item.optional_decimal("price"),
        trigger_price=item.optional_decimal("triggerPrice"),
        avg_price=item.optional_decimal("avgPrice"),
        cum_exec_qty=item.optional_quantity("cumExecQty") or Decimal(0),
        cum_exec_fee=item.optional_decimal("cumExecFee"),
        reduce_only=item.boolean("reduceOnly"),
        cancel_type=item.optional_text("cancelType"),
        reject_reason=item.optional_text("rejectReason"),
        created_time=item.millis("createdTime"),
        updated_time=item.millis("updatedTime"),
    )


def fill(item: Payload, category: str | None) -> Fill:
    category, symbol = _category(item, category), item.name("symbol")
    coin = COINS.counted_in(category, symbol)
    kind = item.choice_of("execType", EXECUTION_KINDS, default="Trade")
    return Fill(
        category=category,
        symbol=symbol,
        trade_id=item.text("execId"),
        venue_order_id=item.optional_text("orderId"),
        client_order_id=item.optional_text("orderLinkId"),
        side=item.choice_of("side", ORDER_SIDES) if item.optional_text("side") else None,
        kind=kind,
        origin=_origin(item),
        exec_price=item.decimal("execPrice"),
        exec_qty=item.quantity("execQty"),
        exec_fee=item.optional_decimal("execFee"),
        closed_size=item.optional_quantity("closedSize"),
        exec_time=item.millis("execTime"),
        seq=item.optional_integer("seq"),
        # Before fees, as the transaction log's cashFlow; a Funding execution carries none.
        realised_pnl=item.optional_decimal("execPnl"),
        notional_coin=coin,
        fee_coin=fee_coin(item.optional_text("feeCurrency"), coin),
        contract_kind=COINS.kind(category, symbol),
        # A trade's feeRate is its commission's; a Funding execution's, the funding rate.
        funding_rate=item.optional_decimal("feeRate") if kind is FUNDING else None,
    )


def wallet_report(item: Payload) -> WalletReport:
    """One account type's balances (USD); under portfolio margin the margins are ""."""
    return WalletReport(
        account_type=item.optional_text("accountType"),
        total_equity=item.optional_decimal("totalEquity"),
        total_wallet_balance=item.optional_decimal("totalWalletBalance"),
        total_available_balance=item.optional_decimal("totalAvailableBalance"),
        total_margin_balance=item.optional_decimal("totalMarginBalance"),
        total_initial_margin=item.optional_decimal("totalInitialMargin"),
        total_maintenance_margin=item.optional_decimal("totalMaintenanceMargin"),
        total_unrealised_pnl=item.optional_decimal("totalPerpUPL"),
        coins=tuple(coin_balance(coin) for coin in item.items("coin")) if item.has("coin") else (),
        equity_coin=COINS.equity,
    )


def coin_balance(item: Payload) -> CoinBalance:
    return CoinBalance(
        coin=item.text("coin"),
        equity=item.optional_decimal("equity"),
        wallet_balance=item.optional_decimal("walletBalance"),
        usd_value=item.optional_decimal("usdValue"),
        unrealised_pnl=item.optional_decimal("unrealisedPnl"),
        cum_realised_pnl=item.optional_decimal("cumRealisedPnl"),
        position_im=item.optional_decimal("totalPositionIM"),
        position_mm=item.optional_decimal("totalPositionMM"),
        order_im=item.optional_decimal("totalOrderIM"),
        locked=item.optional_decimal("locked"),
    )
