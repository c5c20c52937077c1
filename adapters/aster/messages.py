"""Aster futures replies and user-data events, built in Aster's documented formats.

Used wherever trueup has to speak as Aster: the sample capture, tests and fuzz seeds (and a
simulator). Field lists follow futures-api-v1.md: Position Information V2, Current All Open
Orders, Account Trade List, Get Income History, Account Information V4, and the user data
stream's events. Numbers travel as decimal strings, ids and times as JSON integers.
"""

from typing import Any

from trueup.adapters import rest_capture

JSON = dict[str, Any]
VENUE = "aster"


# --- REST replies -------------------------------------------------------------------------


def position_risk(
    *,
    symbol: str,
    position_amt: str,
    update_time: int,
    position_side: str = "BOTH",
    entry_price: str = "0.00000",
    mark_price: str = "0",
    unrealized_profit: str = "0.00000000",
    liquidation_price: str = "0",
    leverage: str = "10",
    margin_type: str = "cross",
    isolated_margin: str = "0.00000000",
) -> JSON:
    """One entry of positionRisk; ``position_amt`` is signed (negative: short)."""
    return {
        "entryPrice": entry_price,
        "marginType": margin_type,
        "isAutoAddMargin": "false",
        "isolatedMargin": isolated_margin,
        "leverage": leverage,
        "liquidationPrice": liquidation_price,
        "markPrice": mark_price,
        "maxNotionalValue": "20000000",
        "positionAmt": position_amt,
        "symbol": symbol,
        "unRealizedProfit": unrealized_profit,
        "positionSide": position_side,
        "updateTime": update_time,
    }


def order(
    *,
    symbol: str,
    order_id: int,
    side: str,
    orig_qty: str,
    status: str,
    update_time: int,
    client_order_id: str = "",
    order_type: str = "LIMIT",
    price: str = "0",
    stop_price: str = "0",
    executed_qty: str = "0",
    avg_price: str = "0.00000",
    position_side: str = "BOTH",
    reduce_only: bool = False,
    close_position: bool = False,
    time: int | None = None,
) -> JSON:
    """One order as openOrders (and Query Order, allOrders) lists it."""
    return {
        "avgPrice": avg_price,
        "clientOrderId": client_order_id,
        "cumQuote": "0",
        "executedQty": executed_qty,
        "orderId": order_id,
        "origQty": orig_qty,
        "origType": order_type,
        "price": price,
        "reduceOnly": reduce_only,
        "side": side,
        "positionSide": position_side,
        "status": status,
        "stopPrice": stop_price,
        "closePosition": close_position,
        "symbol": symbol,
        "time": update_time if time is None else time,
        "timeInForce": "GTC",
        "type": order_type,
        "updateTime": update_time,
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
    }


def user_trade(
    *,
    symbol: str,
    trade_id: int,
    order_id: int,
    side: str,
    price: str,
    qty: str,
    time: int,
    position_side: str = "BOTH",
    commission: str = "0",
    realized_pnl: str = "0",
    maker: bool = False,
) -> JSON:
    """One entry of userTrades (Account Trade List)."""
    return {
        "buyer": side == "BUY",
        "commission": commission,
        "commissionAsset": "USDT",
        "id": trade_id,
        "maker": maker,
        "orderId": order_id,
        "price": price,
        "qty": qty,
        "quoteQty": "0",
        "realizedPnl": realized_pnl,
        "side": side,
        "positionSide": position_side,
        "symbol": symbol,
        "time": time,
    }


def income(
    *, symbol: str, income_type: str, amount: str, time: int, tran_id: str, trade_id: str = ""
) -> JSON:
    """One entry of Get Income History; ``amount`` is what the user received."""
    return {
        "symbol": symbol,
        "incomeType": income_type,
        "income": amount,
        "asset": "USDT",
        "info": income_type,
        "time": time,
        "tranId": tran_id,
        "tradeId": trade_id,
    }


def account(
    *,
    wallet_balance: str,
    unrealized_profit: str = "0.00000000",
    margin_balance: str | None = None,
    available: str | None = None,
    initial_margin: str = "0.00000000",
    maint_margin: str = "0.00000000",
    update_time: int = 0,
) -> JSON:
    """Account Information V4, with its one USDT asset (the positions list left empty)."""
    margin = wallet_balance if margin_balance is None else margin_balance
    free = margin if available is None else available
    asset = {
        "asset": "USDT",
        "walletBalance": wallet_balance,
        "unrealizedProfit": unrealized_profit,
        "marginBalance": margin,
        "maintMargin": maint_margin,
        "initialMargin": initial_margin,
        "positionInitialMargin": initial_margin,
        "openOrderInitialMargin": "0.00000000",
        "crossWalletBalance": wallet_balance,
        "crossUnPnl": unrealized_profit,
        "availableBalance": free,
        "maxWithdrawAmount": free,
        "marginAvailable": True,
        "updateTime": update_time,
    }
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "totalInitialMargin": initial_margin,
        "totalMaintMargin": maint_margin,
        "totalWalletBalance": wallet_balance,
        "totalUnrealizedProfit": unrealized_profit,
        "totalMarginBalance": margin,
        "totalPositionInitialMargin": initial_margin,
        "totalOpenOrderInitialMargin": "0.00000000",
        "totalCrossWalletBalance": wallet_balance,
        "totalCrossUnPnl": unrealized_profit,
        "availableBalance": free,
        "maxWithdrawAmount": free,
        "assets": [asset],
        "positions": [],
    }


def error(code: int, msg: str) -> JSON:
    """Any endpoint's error payload, e.g. -1121 "Invalid symbol."."""
    return {"code": code, "msg": msg}


# --- user data stream events --------------------------------------------------------------


def account_update(
    *,
    event_time: int,
    transaction_time: int,
    reason: str,
    balances: list[JSON],
    positions: list[JSON],
) -> JSON:
    """Balance and Position Update (ACCOUNT_UPDATE)."""
    return {
        "e": "ACCOUNT_UPDATE",
        "E": event_time,
        "T": transaction_time,
        "a": {"m": reason, "B": balances, "P": positions},
    }


def balance(asset: str, wallet_balance: str, change: str = "0") -> JSON:
    """One entry of ACCOUNT_UPDATE's ``B``."""
    return {"a": asset, "wb": wallet_balance, "cw": wallet_balance, "bc": change}


def account_position(
    *,
    symbol: str,
    amount: str,
    entry_price: str,
    position_side: str = "BOTH",
    realized: str = "0",
    unrealized: str = "0",
    margin_type: str = "cross",
    isolated_wallet: str = "0",
) -> JSON:
    """One entry of ACCOUNT_UPDATE's ``P``; ``amount`` is signed."""
    return {
        "s": symbol,
        "pa": amount,
        "ep": entry_price,
        "cr": realized,
        "up": unrealized,
        "mt": margin_type,
        "iw": isolated_wallet,
        "ps": position_side,
    }


def order_trade_update(
    *,
    event_time: int,
    transaction_time: int,
    symbol: str,
    order_id: int,
    side: str,
    qty: str,
    execution_type: str,
    status: str,
    client_order_id: str = "",
    order_type: str = "MARKET",
    original_type: str | None = None,
    price: str = "0",
    avg_price: str = "0",
    stop_price: str = "0",
    last_qty: str = "0",
    last_price: str = "0",
    filled_qty: str = "0",
    commission: str | None = None,
    commission_asset: str = "USDT",
    trade_id: int = 0,
    position_side: str = "BOTH",
    reduce_only: bool = False,
    realized_profit: str = "0",
) -> JSON:
    """Order Update (ORDER_TRADE_UPDATE); a TRADE carries its fill in l, L, n, t and rp."""
    update: JSON = {
        "s": symbol,
        "c": client_order_id,
        "S": side,
        "o": order_type,
        "f": "GTC",
        "q": qty,
        "p": price,
        "ap": avg_price,
        "sp": stop_price,
        "x": execution_type,
        "X": status,
        "i": order_id,
        "l": last_qty,
        "z": filled_qty,
        "L": last_price,
        "N": commission_asset,
        "n": commission,
        "T": transaction_time,
        "t": trade_id,
        "b": "0",
        "a": "0",
        "m": False,
        "R": reduce_only,
        "wt": "CONTRACT_PRICE",
        "ot": order_type if original_type is None else original_type,
        "ps": position_side,
        "cp": False,
        "rp": realized_profit,
    }
    if commission is None:  # "will not push if no commission"
        del update["N"], update["n"]
    return {"e": "ORDER_TRADE_UPDATE", "E": event_time, "T": transaction_time, "o": update}


def margin_call(*, event_time: int, positions: list[JSON], cross_wallet: str = "0") -> JSON:
    return {"e": "MARGIN_CALL", "E": event_time, "cw": cross_wallet, "p": positions}


def listen_key_expired(event_time: int) -> JSON:
    return {"e": "listenKeyExpired", "E": event_time}


# --- capture lines ------------------------------------------------------------------------


def capture_ws(at: int, account: str, event: JSON) -> JSON:
    return {"at": at, "venue": VENUE, "account": account, "channel": "ws", "data": event}


def capture_rest(
    at: int, account: str, endpoint: str, params: JSON, body: Any, *, status: int | None = None
) -> JSON:
    """A reply to GET ``endpoint``: ``params`` its query without timestamp and signature.
    An HTTP error keeps its ``status`` (and Aster's ``{"code", "msg"}`` body, if it came)."""
    return rest_capture.capture_rest(
        at, VENUE, account, endpoint, params=params, body=body, status=status
    )


def capture_intent(at: int, account: str, intent: JSON) -> JSON:
    return {"at": at, "venue": VENUE, "account": account, "channel": "intent", "data": intent}
