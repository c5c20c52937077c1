"""Bybit seed sessions built with Bybit's message builders and the test helpers: every
endpoint and intent kind, pagination, errors, control messages and a reconnect."""

from functools import cache
from typing import Any

from tests.inputs import (
    ACCOUNT,
    execution_frame,
    intent,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.adapters import feed_status
from trueup.adapters.bybit import messages as bybit

JSON = dict[str, Any]
T0 = 1_762_199_100_000


@cache
def position_items() -> tuple[JSON, ...]:
    """Bybit REST position items of a few symbols, sides and position indexes."""
    return tuple(
        bybit.position_item(
            symbol=symbol,
            side=side,
            size=size,
            seq=seq,
            updated_time=T0,
            position_idx=idx,
            rest=True,
        )
        for seq, (symbol, side, size, idx) in enumerate(
            (
                ("BTCUSDT", "Buy", "0.3", 0),
                ("ETHUSDT", "Sell", "1", 0),
                ("ETHUSDT", "Buy", "1", 1),
                ("SOLUSDT", "", "0", 0),
                ("XRPUSDT", "Buy", "1500", 0),
            )
        )
    )


def position_page(at: int, items: list[JSON], cursor: str, next_cursor: str) -> JSON:
    """One page of /v5/position/list by settleCoin, at ``cursor``, naming the next one."""
    params = {"category": "linear", "settleCoin": "USDT"} | ({"cursor": cursor} if cursor else {})
    body = bybit.rest_ok("linear", items, time=at, next_page_cursor=next_cursor)
    return bybit.capture_rest(at, ACCOUNT, "/v5/position/list", params, body)


def bybit_edges() -> tuple[JSON, ...]:
    """A Bybit session through every endpoint and intent kind, with pagination and errors."""
    at = T0
    position = {"symbol": "ETHUSDT", "side": "Buy", "size": "1", "seq": 10, "updated_time": at}
    listing = {"category": "linear", "settleCoin": "USDT"}
    order = bybit.order_item(
        symbol="ETHUSDT",
        order_id="o-sl",
        side="Sell",
        qty="1",
        status="Untriggered",
        updated_time=at + 40,
        stop_order_type="StopLoss",
        trigger_price="3000",
        reduce_only=True,
        rest=True,
    )
    fill = bybit.execution_item(
        symbol="ETHUSDT",
        exec_id="e-9",
        order_id="o-9",
        side="Buy",
        exec_price="3300",
        exec_qty="1",
        exec_time=at + 50,
        seq=11,
        rest=True,
    )
    wallet = bybit.wallet_item(total_equity="1000", total_wallet_balance="1000", available="900")
    return (
        intent(at, kind="account_mode", mode="LIVE"),
        intent(
            at + 1,
            kind="position_opened",
            position_id="p-eth",
            category="linear",
            symbol="ETHUSDT",
            position_idx=1,
            side="Buy",
            qty="1",
            mode="LIVE",
            timeframe="4h",
        ),
        intent(
            at + 2,
            kind="order_placed",
            position_id="p-eth",
            order_link_id="p-eth-sl",
            category="linear",
            symbol="ETHUSDT",
            purpose="SL",
            side="Sell",
            qty="1",
            price="3000",
        ),
        position_snapshot(at + 10, position, next_cursor="cursor-2"),
        position_snapshot(at + 20, cursor="cursor-2"),
        position_frame(at + 30, position_idx=1, **(position | {"size": "0.5"})),
        order_frame(
            at + 35,
            symbol="ETHUSDT",
            order_id="o-9",
            order_link_id="p-eth-sl",
            side="Sell",
            qty="1",
            status="PartiallyFilled",
            cum_exec_qty="0.5",
            updated_time=at + 35,
        ),
        execution_frame(
            at + 36,
            {
                "symbol": "ETHUSDT",
                "exec_id": "e-1",
                "order_id": "o-9",
                "side": "Sell",
                "exec_price": "3000",
                "exec_qty": "0.5",
                "exec_time": at + 36,
                "seq": 12,
            },
        ),
        bybit.capture_rest(
            at + 40,
            ACCOUNT,
            "/v5/order/realtime",
            listing,
            bybit.rest_ok("linear", [order], time=at + 40),
        ),
        bybit.capture_rest(
            at + 41,
            ACCOUNT,
            "/v5/order/history",
            listing,
            bybit.rest_ok("linear", [order], time=at + 41),
        ),
        bybit.capture_rest(
            at + 50,
            ACCOUNT,
            "/v5/execution/list",
            {"category": "linear"},
            bybit.rest_ok("linear", [fill], time=at + 50),
        ),
        bybit.capture_rest(
            at + 60,
            ACCOUNT,
            "/v5/position/list",
            listing,
            bybit.rest_error(10006, "Too many visits!", time=at + 60),
        ),
        bybit.capture_rest(at + 61, ACCOUNT, "/v5/position/list", listing, {}) | {"status": 429},
        bybit.capture_ws(
            at + 70,
            ACCOUNT,
            bybit.ws_frame("wallet", [wallet], message_id="w-1", creation_time=at + 70),
        ),
        bybit.capture_ws(at + 71, ACCOUNT, {"op": "pong", "success": True}),
        feed_status.reconnected(
            at + 80, "bybit", ACCOUNT, stream="private", reason="socket closed", attempt=2
        ),
        intent(at + 90, kind="position_resized", position_id="p-eth", qty="0.5"),
        intent(at + 91, kind="order_cancelled", order_link_id="p-eth-sl"),
        intent(at + 92, kind="position_closed", position_id="p-eth", exit_reason="TP2"),
        {
            "at": at + 93,
            "venue": "bybit",
            "account": ACCOUNT,
            "channel": "operator",
            "data": {
                "action": "clean_position",
                "position_id": "p-eth",
                "exit_reason": "STALE_CLEANUP",
                "operator": "ops",
            },
        },
        {"at": at + 40_000, "channel": "clock"},
    )
