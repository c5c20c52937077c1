"""What Aster's REST reads answer from the simulated account (futures-api-v1.md, "Market Data
Endpoints" and "Account/Trades Endpoints"): exchangeInfo, time, premiumIndex, positionRisk,
openOrders, openOrder, order, userTrades, account, balance, income and the position mode.

Each reader takes the account, the request's parameters and the server's time in epoch ms,
and returns the JSON body, or raises ``Refusal`` with Aster's code.
"""

from collections.abc import Callable, Mapping
from decimal import Decimal

from trueup_simulators.amounts import plain
from trueup_simulators.aster import filters
from trueup_simulators.aster.account import Account
from trueup_simulators.aster.order_entry import (
    INVALID_PARAMETER,
    Refusal,
    listed_symbol,
    named_order,
)
from trueup_simulators.aster.records import ASSET, JSON, Income, OrderStatus, Trade

Body = JSON | list[JSON]
Reader = Callable[[Account, Mapping[str, str], int], Body]
SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000
# What allOrders forgets of an order placed over seven days ago that never filled.
FORGOTTEN = frozenset({OrderStatus.CANCELED, OrderStatus.EXPIRED})
NO_SUCH_ORDER = -2013
START_TIME_GREATER_THAN_END_TIME = -1023
MORE_THAN_XX_HOURS = -1127
OPTIONAL_PARAMS_BAD_COMBO = -1128
RATE_LIMITS = [
    {"interval": "MINUTE", "intervalNum": 1, "limit": 2400, "rateLimitType": "REQUEST_WEIGHT"},
    {"interval": "MINUTE", "intervalNum": 1, "limit": 1200, "rateLimitType": "ORDERS"},
]


def ping(_account: Account, _params: Mapping[str, str], _now: int) -> Body:
    return {}


def server_time(_account: Account, _params: Mapping[str, str], now: int) -> Body:
    return {"serverTime": now}


def _symbol_info(symbol: str) -> JSON:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1598252400000,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": symbol.removesuffix(ASSET),
        "quoteAsset": ASSET,
        "marginAsset": ASSET,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "maxPrice": plain(filters.MAX_PRICE),
                "minPrice": plain(filters.MIN_PRICE),
                "tickSize": plain(filters.TICK_SIZE),
            },
            {
                "filterType": "LOT_SIZE",
                "maxQty": plain(filters.MAX_QTY),
                "minQty": plain(filters.MIN_QTY),
                "stepSize": plain(filters.STEP_SIZE),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "maxQty": plain(filters.MARKET_MAX_QTY),
                "minQty": plain(filters.MIN_QTY),
                "stepSize": plain(filters.STEP_SIZE),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": plain(filters.MIN_NOTIONAL)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": 4,
            },
        ],
        "OrderType": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "HIDDEN"],
        "liquidationFee": "0.010000",
        "marketTakeBound": "0.05",
    }


def exchange_info(account: Account, _params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v1/exchangeInfo: the listed symbols (LIMIT and MARKET orders only)."""
    return {
        "exchangeFilters": [],
        "rateLimits": RATE_LIMITS,
        "serverTime": now,
        "assets": [{"asset": ASSET, "marginAvailable": True, "autoAssetExchange": "0"}],
        "symbols": [_symbol_info(symbol) for symbol in account.symbols],
        "timezone": "UTC",
    }


def spot_exchange_info(_account: Account, _params: Mapping[str, str], now: int) -> Body:
    """GET /api/v1/exchangeInfo (the spot API, which ccxt's aster reads beside the futures'
    listing): this simulator lists no spot market."""
    return {
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": RATE_LIMITS,
        "exchangeFilters": [],
        "assets": [],
        "symbols": [],
    }


def premium_index(account: Account, params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v1/premiumIndex: the mark (index and settle prices read the same here)."""

    def item(symbol: str) -> JSON:
        mark = plain(account.mark(symbol))
        return {
            "symbol": symbol,
            "markPrice": mark,
            "indexPrice": mark,
            "estimatedSettlePrice": mark,
            "lastFundingRate": "0.0001",
            "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000,
            "interestRate": "0.0001",
            "time": now,
        }

    symbol = listed_symbol(account, params, required=False)
    return item(symbol) if symbol else [item(s) for s in account.symbols]


def position_risk(account: Account, params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v2/positionRisk: every listed symbol (or the one asked) on every position side
    of the current mode, flat ones included."""
    symbol = listed_symbol(account, params, required=False)
    symbols = (symbol,) if symbol else account.symbols
    return [
        account.position(s, side).rest_item(account.mark(s))
        for s in symbols
        for side in account.position_sides()
    ]


def open_orders(account: Account, params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v1/openOrders: all open orders, or those of ``symbol``."""
    symbol = listed_symbol(account, params, required=False)
    return [o.rest_item() for o in account.open_orders(symbol)]


def query_order(account: Account, params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v1/order: one order in any status."""
    return named_order(account, params, NO_SUCH_ORDER, "Order does not exist.").rest_item()


def open_order(account: Account, params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v1/openOrder: one order, refused once it has ended."""
    order = named_order(account, params, NO_SUCH_ORDER, "Order does not exist.")
    if not order.is_open:
        raise Refusal(NO_SUCH_ORDER, "Order does not exist.")
    return order.rest_item()


def _whole(params: Mapping[str, str], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 19:
        raise Refusal(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")
    return int(value)


def _limit(params: Mapping[str, str], default: int, most: int) -> int:
    limit = _whole(params, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= most:
        raise Refusal(INVALID_PARAMETER, "Data sent for parameter 'limit' is not valid.")
    return limit


def _window(params: Mapping[str, str], now: int) -> tuple[int, int]:
    """startTime..endTime, both inclusive; the last seven days when neither is sent."""
    start, end = _whole(params, "startTime"), _whole(params, "endTime")
    if start is None and end is None:
        return now - SEVEN_DAYS_MS, now
    if start is not None and end is not None:
        if start > end:
            raise Refusal(START_TIME_GREATER_THAN_END_TIME, "Start time is greater than end time.")
        if end - start > SEVEN_DAYS_MS:
            raise Refusal(MORE_THAN_XX_HOURS, "More than 168 hours between startTime and endTime.")
        return start, end
    if start is not None:
        return start, start + SEVEN_DAYS_MS
    assert end is not None
    return end - SEVEN_DAYS_MS, end


def all_orders(account: Account, params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v1/allOrders: one symbol's orders in any status, oldest first; from
    ``orderId`` on, or placed in a time window (the last seven days when none is sent). An
    order cancelled or expired with no fill is forgotten seven days after it was placed."""
    symbol = listed_symbol(account, params, required=True)
    limit = _limit(params, 500, 1000)
    from_id = _whole(params, "orderId")
    mine = [
        o
        for o in sorted(account.orders.values(), key=lambda o: o.order_id)
        if o.symbol == symbol
        and not (o.status in FORGOTTEN and not o.executed_qty and o.time + SEVEN_DAYS_MS < now)
    ]
    if from_id is not None:
        return [o.rest_item() for o in mine if o.order_id >= from_id][:limit]
    start, end = _window(params, now)
    in_window = [o for o in mine if start <= o.time <= end]
    timed = "startTime" in params or "endTime" in params
    chosen = in_window[:limit] if timed else in_window[-limit:]
    return [o.rest_item() for o in chosen]


def user_trades(account: Account, params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v1/userTrades: one symbol's trades, oldest first; from ``fromId`` on, in a
    time window, or (neither) the most recent ``limit`` of the last seven days."""
    symbol = listed_symbol(account, params, required=True)
    limit = _limit(params, 500, 1000)
    from_id = _whole(params, "fromId")
    mine: list[Trade] = [t for t in account.trades if t.order.symbol == symbol]
    if from_id is not None:
        if "startTime" in params or "endTime" in params:
            raise Refusal(OPTIONAL_PARAMS_BAD_COMBO, "Combination of optional parameters invalid.")
        chosen = [t for t in mine if t.trade_id >= from_id][:limit]
    else:
        start, end = _window(params, now)
        in_window = [t for t in mine if start <= t.time <= end]
        timed = "startTime" in params or "endTime" in params
        chosen = in_window[:limit] if timed else in_window[-limit:]
    return [t.rest_item() for t in chosen]


def income(account: Account, params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v1/income: oldest first within the window, at most ``limit``."""
    symbol = listed_symbol(account, params, required=False)
    income_type = params.get("incomeType", "")
    limit = _limit(params, 100, 1000)
    start, end = _window(params, now)
    chosen: list[Income] = [
        i
        for i in account.incomes
        if start <= i.time <= end
        and (not symbol or i.symbol == symbol)
        and (not income_type or i.income_type == income_type)
    ]
    return [i.rest_item() for i in chosen[:limit]]


def _asset(account: Account, now: int) -> JSON:
    wallet, unrealized = account.wallet_balance, account.unrealized()
    margin = sum(
        (abs(p.amount) * account.mark(p.symbol) / 20 for p in account.positions.values()),
        Decimal(0),
    )
    available = plain(wallet + unrealized - margin)
    return {
        "asset": ASSET,
        "walletBalance": plain(wallet),
        "unrealizedProfit": plain(unrealized),
        "marginBalance": plain(wallet + unrealized),
        "maintMargin": "0",
        "initialMargin": plain(margin),
        "positionInitialMargin": plain(margin),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": plain(wallet),
        "crossUnPnl": plain(unrealized),
        "availableBalance": available,
        "maxWithdrawAmount": available,
        "marginAvailable": True,
        "updateTime": now,
    }


def account_information(account: Account, _params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v4/account (and /fapi/v2/account): totals, the USDT asset, every position of
    every listed symbol on the current mode's sides."""
    asset = _asset(account, now)
    totals = {
        "totalInitialMargin": asset["initialMargin"],
        "totalMaintMargin": "0",
        "totalWalletBalance": asset["walletBalance"],
        "totalUnrealizedProfit": asset["unrealizedProfit"],
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": asset["positionInitialMargin"],
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": asset["crossWalletBalance"],
        "totalCrossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
    }
    positions = [
        account.position(s, side).account_item(account.mark(s))
        for s in account.symbols
        for side in account.position_sides()
    ]
    head = {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True}
    return {**head, "updateTime": 0, **totals, "assets": [asset], "positions": positions}


def balance(account: Account, _params: Mapping[str, str], now: int) -> Body:
    """GET /fapi/v2/balance."""
    asset = _asset(account, now)
    return [
        {
            "accountAlias": "SgsR",
            "asset": ASSET,
            "balance": asset["walletBalance"],
            "crossWalletBalance": asset["crossWalletBalance"],
            "crossUnPnl": asset["crossUnPnl"],
            "availableBalance": asset["availableBalance"],
            "maxWithdrawAmount": asset["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": now,
        }
    ]


# One bracket per symbol: 20x up to 10M notional, 0.4 % maintenance (JSON numbers, as the
# docs show them).
BRACKET: JSON = {
    "bracket": 1,
    "initialLeverage": 20,
    "notionalCap": 10_000_000,
    "notionalFloor": 0,
    "maintMarginRatio": 0.004,
    "cum": 0,
}


def leverage_bracket(account: Account, params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v1/leverageBracket: every symbol's brackets, or (``symbol``) one object."""
    symbol = listed_symbol(account, params, required=False)
    if symbol:
        return {"symbol": symbol, "brackets": [BRACKET]}
    return [{"symbol": s, "brackets": [BRACKET]} for s in account.symbols]


def position_mode(account: Account, _params: Mapping[str, str], _now: int) -> Body:
    """GET /fapi/v1/positionSide/dual."""
    return {"dualSidePosition": account.dual_side}
