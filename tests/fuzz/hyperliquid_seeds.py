"""A Hyperliquid seed session built with Hyperliquid's message builders: every info reply
and channel trueup reads, errors and control messages included."""

from typing import Any

from trueup.adapters.hyperliquid import messages as hyperliquid

JSON = dict[str, Any]
T0 = 1_762_199_100_000
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


def hyperliquid_session() -> tuple[JSON, ...]:
    """A Hyperliquid session: every info reply and channel trueup reads, errors included."""
    at = T0
    btc = hyperliquid.asset_position(coin="BTC", szi="0.5", entry_px="65000.0")
    eth = hyperliquid.asset_position(coin="ETH", szi="-2.0", entry_px="3000.0")
    state = hyperliquid.clearinghouse_state([btc, eth], time=at, account_value="1000.0")
    order = hyperliquid.open_order(
        coin="BTC", oid=7, side="B", limit_px="64000.0", sz="0.5", timestamp=at, cloid="0x01"
    )
    stop = hyperliquid.frontend_order(
        coin="BTC",
        oid=8,
        side="A",
        limit_px="60000.0",
        sz="0.5",
        timestamp=at,
        order_type="Stop Market",
        trigger_px="61000.0",
        reduce_only=True,
        is_position_tpsl=True,
    )
    fill = hyperliquid.user_fill(
        coin="BTC", px="64000.0", sz="0.1", side="B", time=at + 5, oid=7, tid=70
    )
    liquidated = hyperliquid.user_fill(
        coin="ETH",
        px="3100.0",
        sz="2.0",
        side="B",
        time=at + 9,
        oid=9,
        tid=90,
        direction="Close Short",
        liquidation=hyperliquid.liquidation_marker(liquidated_user=USER, mark_px="3100.0"),
    )
    user = {"user": USER}

    def rest(offset: int, endpoint: str, body: Any, **params: Any) -> JSON:
        return hyperliquid.capture_rest(at + offset, USER, endpoint, user | params, body)

    def ws(offset: int, frame: JSON) -> JSON:
        return hyperliquid.capture_ws(at + offset, USER, frame)

    def bot(offset: int, **fields: Any) -> JSON:
        return hyperliquid.capture_intent(at + offset, USER, fields)

    return (
        bot(0, kind="account_mode", mode="LIVE"),
        bot(
            1,
            kind="position_opened",
            position_id="h-btc",
            category="perp",
            symbol="BTC",
            side="Buy",
            qty="0.5",
            mode="LIVE",
        ),
        rest(2, "clearinghouseState", state, dex=""),
        ws(3, hyperliquid.web_data2_frame(USER, state, [order], server_time=at + 3)),
        ws(4, hyperliquid.user_fills_frame(USER, [fill], is_snapshot=True)),
        ws(5, hyperliquid.order_updates_frame([hyperliquid.order_update(order, "open", at + 5)])),
        ws(6, hyperliquid.user_fills_event([fill])),
        ws(
            7,
            hyperliquid.funding_event(
                time=at + 7, coin="BTC", usdc="-0.5", szi="0.5", funding_rate="0.0001"
            ),
        ),
        ws(
            8,
            hyperliquid.liquidation_event(
                lid=1,
                liquidator="0x0",
                liquidated_user=USER,
                liquidated_ntl_pos="6200.0",
                liquidated_account_value="10.0",
            ),
        ),
        ws(9, hyperliquid.user_fills_frame(USER, [liquidated])),
        ws(10, hyperliquid.non_user_cancel_event([("BTC", 7)])),
        rest(11, "openOrders", [order]),
        rest(12, "userFills", [fill, liquidated]),
        rest(13, "orderStatus", hyperliquid.order_status(stop, "triggered", at + 13), oid=8),
        rest(14, "orderStatus", hyperliquid.order_status_unknown(), oid=99),
        hyperliquid.capture_rest(at + 15, USER, "clearinghouseState", user, None, status=429),
        ws(16, hyperliquid.subscription_response("subscribe", {"type": "userFills"})),
        ws(17, hyperliquid.pong()),
        ws(18, {"channel": "error", "data": "Invalid subscription"}),
        rest(19, "clearinghouseState", hyperliquid.clearinghouse_state([], time=None), dex=""),
        bot(20, kind="position_closed", position_id="h-btc", exit_reason="TP2"),
        {"at": at + 60_000, "channel": "clock"},
    )
