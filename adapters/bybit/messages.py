"""Bybit V5 private messages built in Bybit's documented formats (full field sets).

Used wherever trueup has to speak as Bybit: the sample capture, tests, benchmarks and the
exchange simulator (trueup_simulators). Field lists and example values follow Bybit's V5
pages.
"""

from typing import Any

JSON = dict[str, Any]


def position_item(
    *,
    symbol: str,
    side: str,
    size: str,
    seq: int,
    updated_time: int,
    category: str = "linear",
    position_idx: int = 0,
    entry_price: str = "0",
    mark_price: str = "0",
    unrealised_pnl: str = "0",
    cum_realised_pnl: str = "0",
    cur_realised_pnl: str | None = None,
    status: str = "Normal",
    leverage: str = "10",
    liq_price: str = "",
    position_value: str = "0",
    position_im: str = "0",
    position_mm: str = "0",
    created_time: int = 1694402496913,
    rest: bool = False,
) -> JSON:
    """One position as the WebSocket ``position`` topic (or, ``rest=True``, /v5/position/list)
    sends it: REST names the entry price avgPrice and carries no category per item."""
    item: JSON = {
        "positionIdx": position_idx,
        "tradeMode": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": symbol,
        "side": side,
        "size": size,
        "entryPrice": entry_price,
        "leverage": leverage,
        "breakEvenPrice": entry_price,
        "positionValue": position_value,
        "positionBalance": position_im,
        "markPrice": mark_price,
        "positionIM": position_im,
        "positionIMByMp": position_im,
        "positionMM": position_mm,
        "positionMMByMp": position_mm,
        "takeProfit": "0",
        "stopLoss": "0",
        "trailingStop": "0",
        "unrealisedPnl": unrealised_pnl,
        "curRealisedPnl": cur_realised_pnl,
        "cumRealisedPnl": cum_realised_pnl,
        "sessionAvgPrice": "0",
        "createdTime": str(created_time),
        "updatedTime": str(updated_time),
        "tpslMode": "Full",
        "liqPrice": liq_price,
        "bustPrice": "",
        "category": category,
        "positionStatus": status,
        "adlRankIndicator": 2 if size not in ("0", "") else 0,
        "autoAddMargin": 0,
        "leverageSysUpdatedTime": "",
        "mmrSysUpdatedTime": "",
        "seq": seq,
        "isReduceOnly": False,
    }
    if cur_realised_pnl is None:
        # Left out unless given: trueup checks its own PnL against the venue's figure.
        del item["curRealisedPnl"]
    if rest:
        item["avgPrice"] = item.pop("entryPrice")
        del item["category"]
    return item


def order_item(
    *,
    symbol: str,
    order_id: str,
    side: str,
    qty: str,
    status: str,
    updated_time: int,
    category: str = "linear",
    order_link_id: str = "",
    price: str = "0",
    order_type: str = "Market",
    cum_exec_qty: str = "0",
    avg_price: str = "",
    cum_exec_fee: str = "0",
    position_idx: int = 0,
    reduce_only: bool = False,
    stop_order_type: str = "",
    create_type: str = "CreateByUser",
    trigger_price: str = "",
    cancel_type: str = "UNKNOWN",
    reject_reason: str = "EC_NoError",
    created_time: int | None = None,
    rest: bool = False,
) -> JSON:
    """One order as the ``order`` topic (or /v5/order/realtime and /history) sends it."""
    leaves = "0" if status in ("Filled", "Cancelled", "Rejected", "Deactivated") else qty
    item: JSON = {
        "category": category,
        "symbol": symbol,
        "orderId": order_id,
        "orderLinkId": order_link_id,
        "blockTradeId": "",
        "side": side,
        "orderType": order_type,
        "cancelType": cancel_type,
        "price": price,
        "qty": qty,
        "orderIv": "",
        "timeInForce": "IOC" if order_type == "Market" else "GTC",
        "orderStatus": status,
        "lastPriceOnCreated": "",
        "reduceOnly": reduce_only,
        "leavesQty": leaves,
        "leavesValue": "0",
        "cumExecQty": cum_exec_qty,
        "cumExecValue": "0",
        "avgPrice": avg_price,
        "positionIdx": position_idx,
        "cumExecFee": cum_exec_fee,
        "closedPnl": "0",
        "createdTime": str(created_time if created_time is not None else updated_time),
        "updatedTime": str(updated_time),
        "rejectReason": reject_reason,
        "stopOrderType": stop_order_type,
        "createType": create_type,
        "tpslMode": "",
        "triggerPrice": trigger_price,
        "takeProfit": "",
        "stopLoss": "",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "feeCurrency": "",
        "cumFeeDetail": {"USDT": cum_exec_fee},
    }
    if rest:
        del item["category"]
    return item


def execution_item(
    *,
    symbol: str,
    exec_id: str,
    order_id: str,
    side: str,
    exec_price: str,
    exec_qty: str,
    exec_time: int,
    seq: int,
    category: str = "linear",
    order_link_id: str = "",
    order_qty: str | None = None,
    leaves_qty: str = "0",
    exec_fee: str = "0",
    exec_type: str = "Trade",
    closed_size: str = "0",
    exec_pnl: str | None = None,
    order_type: str = "Market",
    stop_order_type: str = "UNKNOWN",
    create_type: str = "CreateByUser",
    fee_rate: str = "0.00055",
    rest: bool = False,
) -> JSON:
    """One execution as the ``execution`` topic (or /v5/execution/list) sends it; a Funding
    one's ``fee_rate`` is the funding rate."""
    item: JSON = {
        "category": category,
        "symbol": symbol,
        "closedSize": closed_size,
        "execFee": exec_fee,
        "execId": exec_id,
        "execPrice": exec_price,
        "execQty": exec_qty,
        "execType": exec_type,
        "execValue": "0",
        "feeRate": fee_rate,
        "tradeIv": "",
        "markIv": "",
        "blockTradeId": "",
        "markPrice": exec_price,
        "indexPrice": "",
        "underlyingPrice": "",
        "leavesQty": leaves_qty,
        "orderId": order_id,
        "orderLinkId": order_link_id,
        "orderPrice": exec_price,
        "orderQty": order_qty or exec_qty,
        "orderType": order_type,
        "stopOrderType": stop_order_type,
        "side": side,
        "execTime": str(exec_time),
        "isLeverage": "0",
        "isMaker": order_type == "Limit",
        "seq": seq,
        "marketUnit": "",
        "execPnl": exec_pnl,
        "createType": create_type,
        "extraFees": [],
        "feeCurrency": "USDT",
    }
    if rest:
        del item["category"]
    if exec_pnl is None:
        # Left out unless given: trueup checks its own PnL against the venue's figure.
        del item["execPnl"]
    return item


def wallet_item(
    *,
    total_equity: str,
    total_wallet_balance: str,
    available: str,
    initial_margin: str = "0",
    maintenance_margin: str = "0",
) -> JSON:
    """One account as the ``wallet`` topic sends it."""
    return {
        "accountIMRate": "0",
        "accountIMRateByMp": "0",
        "accountMMRate": "0",
        "accountMMRateByMp": "0",
        "totalEquity": total_equity,
        "totalWalletBalance": total_wallet_balance,
        "totalMarginBalance": total_wallet_balance,
        "totalAvailableBalance": available,
        "totalPerpUPL": "0",
        "totalInitialMargin": initial_margin,
        "totalInitialMarginByMp": initial_margin,
        "totalMaintenanceMargin": maintenance_margin,
        "totalMaintenanceMarginByMp": maintenance_margin,
        "coin": [
            {
                "coin": "USDT",
                "equity": total_equity,
                "usdValue": total_equity,
                "walletBalance": total_wallet_balance,
                "availableToWithdraw": available,
                "availableToBorrow": "",
                "borrowAmount": "0",
                "accruedInterest": "0",
                "totalOrderIM": "0",
                "totalPositionIM": initial_margin,
                "totalPositionMM": maintenance_margin,
                "unrealisedPnl": "0",
                "cumRealisedPnl": "0",
                "bonus": "0",
                "collateralSwitch": True,
                "marginCollateral": True,
                "locked": "0",
                "spotHedgingQty": "0",
                "spotBorrow": "0",
            }
        ],
        "accountLTV": "0",
        "accountType": "UNIFIED",
    }


def ws_frame(topic: str, items: list[JSON], *, message_id: str, creation_time: int) -> JSON:
    """A private-stream push: ``{"id", "topic", "creationTime", "data": [...]}``."""
    return {"id": message_id, "topic": topic, "creationTime": creation_time, "data": items}


def rest_ok(category: str, items: list[JSON], *, time: int, next_page_cursor: str = "") -> JSON:
    """A successful list response (retCode 0) with one page of items."""
    return {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"category": category, "list": items, "nextPageCursor": next_page_cursor},
        "retExtInfo": {},
        "time": time,
    }


def rest_error(ret_code: int, ret_msg: str, *, time: int) -> JSON:
    """An error response, e.g. 10006 "Too many visits!" when rate-limited."""
    return {"retCode": ret_code, "retMsg": ret_msg, "result": {}, "retExtInfo": {}, "time": time}


def capture_ws(at: int, account: str, frame: JSON) -> JSON:
    return {"at": at, "venue": "bybit", "account": account, "channel": "ws", "data": frame}


def capture_rest(at: int, account: str, endpoint: str, params: JSON, body: JSON) -> JSON:
    return {
        "at": at,
        "venue": "bybit",
        "account": account,
        "channel": "rest",
        "endpoint": endpoint,
        "params": params,
        "data": body,
    }


def capture_intent(at: int, account: str, intent: JSON) -> JSON:
    return {"at": at, "venue": "bybit", "account": account, "channel": "intent", "data": intent}
