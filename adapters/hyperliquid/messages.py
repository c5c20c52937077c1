"""Hyperliquid info replies and WebSocket frames, built in Hyperliquid's documented formats.

Used wherever trueup has to speak as Hyperliquid: the live client, tests, the simulator
(trueup_simulators) and benchmarks. Field lists follow Hyperliquid's info and WebSocket
documentation (POST /info, GET /ws); numbers travel as decimal strings ("0.0"), ids and times
as JSON integers, sides as "B" (bid, buy) and "A" (ask, sell).
"""

from typing import Any

from trueup.adapters import rest_capture

JSON = dict[str, Any]
VENUE = "hyperliquid"


# --- info replies (POST /info) ------------------------------------------------------------


def asset_position(
    *,
    coin: str,
    szi: str,
    entry_px: str | None,
    unrealized_pnl: str = "0.0",
    position_value: str = "0.0",
    margin_used: str = "0.0",
    return_on_equity: str = "0.0",
    liquidation_px: str | None = None,
    leverage: int = 20,
    isolated_raw_usd: str | None = None,
    max_leverage: int = 50,
    cum_funding: str = "0.0",
) -> JSON:
    """One entry of clearinghouseState's assetPositions; ``szi`` is signed (negative: short)."""
    lever: JSON = {"type": "cross", "value": leverage}
    if isolated_raw_usd is not None:
        lever = {"type": "isolated", "value": leverage, "rawUsd": isolated_raw_usd}
    return {
        "position": {
            "coin": coin,
            "szi": szi,
            "leverage": lever,
            "entryPx": entry_px,
            "positionValue": position_value,
            "unrealizedPnl": unrealized_pnl,
            "returnOnEquity": return_on_equity,
            "liquidationPx": liquidation_px,
            "marginUsed": margin_used,
            "maxLeverage": max_leverage,
            "cumFunding": {"allTime": cum_funding, "sinceOpen": cum_funding, "sinceChange": "0.0"},
        },
        "type": "oneWay",
    }


def margin_summary(
    *,
    account_value: str = "0.0",
    total_ntl_pos: str = "0.0",
    total_raw_usd: str = "0.0",
    total_margin_used: str = "0.0",
) -> JSON:
    return {
        "accountValue": account_value,
        "totalNtlPos": total_ntl_pos,
        "totalRawUsd": total_raw_usd,
        "totalMarginUsed": total_margin_used,
    }


def clearinghouse_state(
    asset_positions: list[JSON],
    *,
    time: int | None,
    account_value: str = "0.0",
    total_ntl_pos: str = "0.0",
    total_margin_used: str = "0.0",
    withdrawable: str | None = None,
) -> JSON:
    """The reply to {"type": "clearinghouseState", "user": ...}: every open perp position.

    ``time=None`` leaves out the server time, as some captures do.
    """
    summary = margin_summary(
        account_value=account_value,
        total_ntl_pos=total_ntl_pos,
        total_raw_usd=account_value,
        total_margin_used=total_margin_used,
    )
    state: JSON = {
        "marginSummary": summary,
        "crossMarginSummary": dict(summary),
        "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": account_value if withdrawable is None else withdrawable,
        "assetPositions": asset_positions,
    }
    if time is not None:
        state["time"] = time
    return state


def open_order(
    *,
    coin: str,
    oid: int,
    side: str,
    limit_px: str,
    sz: str,
    timestamp: int,
    orig_sz: str | None = None,
    cloid: str | None = None,
) -> JSON:
    """One order as openOrders lists it and orderUpdates carries it; ``sz`` is what remains."""
    order: JSON = {
        "coin": coin,
        "side": side,
        "limitPx": limit_px,
        "sz": sz,
        "oid": oid,
        "timestamp": timestamp,
        "origSz": sz if orig_sz is None else orig_sz,
    }
    if cloid is not None:
        order["cloid"] = cloid
    return order


def frontend_order(
    *,
    coin: str,
    oid: int,
    side: str,
    limit_px: str,
    sz: str,
    timestamp: int,
    orig_sz: str | None = None,
    cloid: str | None = None,
    order_type: str = "Limit",
    tif: str | None = "Gtc",
    reduce_only: bool = False,
    trigger_px: str = "0.0",
    is_position_tpsl: bool = False,
) -> JSON:
    """One order as orderStatus (and frontendOpenOrders) give it: open_order's fields and more.

    A trigger order (``order_type`` "Stop Market", "Take Profit Limit", ...) has a trigger price.
    """
    is_trigger = order_type not in ("Limit", "Market")
    # A sell's take-profit fires on a rise, its stop on a fall; a buy's the opposite.
    above = order_type.startswith("Take Profit") == (side == "A")
    condition = f"Price {'above' if above else 'below'} {trigger_px}" if is_trigger else "N/A"
    order = open_order(
        coin=coin,
        oid=oid,
        side=side,
        limit_px=limit_px,
        sz=sz,
        timestamp=timestamp,
        orig_sz=orig_sz,
    )
    return order | {
        "triggerCondition": condition,
        "isTrigger": is_trigger,
        "triggerPx": trigger_px,
        "children": [],
        "isPositionTpsl": is_position_tpsl,
        "reduceOnly": reduce_only,
        "orderType": order_type,
        "tif": tif,
        "cloid": cloid,
    }


def order_status(order: JSON, status: str, status_timestamp: int) -> JSON:
    """The reply to {"type": "orderStatus", "user": ..., "oid": ...} for an order it knows."""
    return {
        "status": "order",
        "order": {"order": order, "status": status, "statusTimestamp": status_timestamp},
    }


def order_status_unknown() -> JSON:
    """The reply to orderStatus for an oid (or cloid) the user never had."""
    return {"status": "unknownOid"}


def user_fill(
    *,
    coin: str,
    px: str,
    sz: str,
    side: str,
    time: int,
    oid: int,
    tid: int,
    start_position: str = "0.0",
    direction: str = "Open Long",
    closed_pnl: str | None = None,
    hash: str | None = None,
    crossed: bool = True,
    fee: str = "0.0",
    fee_token: str = "USDC",
    cloid: str | None = None,
    liquidation: JSON | None = None,
) -> JSON:
    """One fill as userFills and the user and userFills channels send it; ``tid`` identifies it.

    Fills of one block share ``time`` and ``hash`` (by default derived from ``time``).
    """
    fill: JSON = {
        "coin": coin,
        "px": px,
        "sz": sz,
        "side": side,
        "time": time,
        "startPosition": start_position,
        "dir": direction,
        "closedPnl": closed_pnl,
        "hash": hash if hash is not None else f"0x{time:064x}",
        "oid": oid,
        "crossed": crossed,
        "fee": fee,
        "tid": tid,
        "feeToken": fee_token,
    }
    if closed_pnl is None:
        # Left out unless given: trueup checks its own PnL against the venue's figure.
        del fill["closedPnl"]
    if cloid is not None:
        fill["cloid"] = cloid
    if liquidation is not None:
        fill["liquidation"] = liquidation
    return fill


def liquidation_marker(*, liquidated_user: str, mark_px: str, method: str = "market") -> JSON:
    """The ``liquidation`` object a fill closing a liquidated position carries."""
    return {"liquidatedUser": liquidated_user, "markPx": mark_px, "method": method}


def meta(sz_decimals: dict[str, int], *, max_leverage: int = 50) -> JSON:
    """The reply to {"type": "meta"}: the perp universe, in asset-index order."""
    return {
        "universe": [
            {"name": coin, "szDecimals": decimals, "maxLeverage": max_leverage}
            for coin, decimals in sz_decimals.items()
        ]
    }


def spot_meta() -> JSON:
    """The reply to {"type": "spotMeta"} of a venue listing no spot pairs."""
    return {"universe": [], "tokens": []}


# --- WebSocket frames (GET /ws) -----------------------------------------------------------


def ws_frame(channel: str, data: Any) -> JSON:
    """Every server push: ``{"channel", "data"}``."""
    return {"channel": channel, "data": data}


def user_fills_frame(user: str, fills: list[JSON], *, is_snapshot: bool = False) -> JSON:
    """The userFills channel: the first frame after subscribing is the snapshot."""
    data: JSON = {"user": user, "fills": fills}
    if is_snapshot:
        data = {"isSnapshot": True} | data
    return ws_frame("userFills", data)


def order_update(order: JSON, status: str, status_timestamp: int) -> JSON:
    """One entry of the orderUpdates channel: an order (open_order's form) and its new status."""
    return {"order": order, "status": status, "statusTimestamp": status_timestamp}


def order_updates_frame(updates: list[JSON]) -> JSON:
    return ws_frame("orderUpdates", updates)


def user_fills_event(fills: list[JSON]) -> JSON:
    """The user channel (subscription userEvents) announcing fills."""
    return ws_frame("user", {"fills": fills})


def funding_event(*, time: int, coin: str, usdc: str, szi: str, funding_rate: str) -> JSON:
    """The user channel announcing a funding payment; ``usdc`` is negative when the user paid."""
    funding = {"time": time, "coin": coin, "usdc": usdc, "szi": szi, "fundingRate": funding_rate}
    return ws_frame("user", {"funding": funding})


# The hash a funding payment carries in userFunding: it is no transaction of the user's.
FUNDING_HASH = "0x" + "0" * 64


def user_funding_item(
    *,
    time: int,
    coin: str,
    usdc: str,
    szi: str,
    funding_rate: str,
    hash: str = FUNDING_HASH,
    n_samples: int | None = None,
) -> JSON:
    """One entry of the userFunding reply: the payment user events announce, under ``delta``."""
    delta = {
        "type": "funding",
        "coin": coin,
        "usdc": usdc,
        "szi": szi,
        "fundingRate": funding_rate,
        "nSamples": n_samples,
    }
    return {"time": time, "hash": hash, "delta": delta}


def liquidation_event(
    *,
    lid: int,
    liquidator: str,
    liquidated_user: str,
    liquidated_ntl_pos: str,
    liquidated_account_value: str,
) -> JSON:
    """The user channel announcing a liquidation (it names no coin: the fills do)."""
    liquidation = {
        "lid": lid,
        "liquidator": liquidator,
        "liquidated_user": liquidated_user,
        "liquidated_ntl_pos": liquidated_ntl_pos,
        "liquidated_account_value": liquidated_account_value,
    }
    return ws_frame("user", {"liquidation": liquidation})


def non_user_cancel_event(cancels: list[tuple[str, int]]) -> JSON:
    """The user channel announcing orders the venue cancelled, as (coin, oid) pairs."""
    return ws_frame("user", {"nonUserCancel": [{"coin": c, "oid": oid} for c, oid in cancels]})


def web_data2_frame(user: str, state: JSON, open_orders: list[JSON], *, server_time: int) -> JSON:
    """The webData2 channel: the front end's aggregate, holding a whole clearinghouseState."""
    return ws_frame(
        "webData2",
        {
            "clearinghouseState": state,
            "leadingVaults": [],
            "totalVaultEquity": "0.0",
            "openOrders": open_orders,
            "agentAddress": None,
            "agentValidUntil": None,
            "cumLedger": "0.0",
            "serverTime": server_time,
            "isVault": False,
            "user": user,
            "twapStates": [],
        },
    )


def subscription_response(method: str, subscription: JSON) -> JSON:
    """The acknowledgement of a subscribe or unsubscribe request."""
    return ws_frame("subscriptionResponse", {"method": method, "subscription": subscription})


def pong() -> JSON:
    return {"channel": "pong"}


# --- capture lines ------------------------------------------------------------------------


def capture_ws(at: int, account: str, frame: JSON) -> JSON:
    return {"at": at, "venue": VENUE, "account": account, "channel": "ws", "data": frame}


def capture_rest(
    at: int, account: str, endpoint: str, params: JSON, body: Any, *, status: int | None = None
) -> JSON:
    """A reply to POST /info: ``endpoint`` is the request's type, ``params`` the rest of it.

    An HTTP error keeps its ``status`` and no body (Hyperliquid answers 429 and 5xx in text).
    """
    return rest_capture.capture_rest(
        at, VENUE, account, endpoint, params=params, body=body, status=status
    )


def capture_intent(at: int, account: str, intent: JSON) -> JSON:
    return {"at": at, "venue": VENUE, "account": account, "channel": "intent", "data": intent}
