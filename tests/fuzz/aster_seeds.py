"""An Aster seed session built with Aster's message builders: every user-data event and REST
reply trueup reads, errors and an event it does not read included."""

from typing import Any

from trueup.adapters.aster import messages as aster

JSON = dict[str, Any]
T0 = 1_762_199_100_000
ACCOUNT = "main"


def aster_session() -> tuple[JSON, ...]:
    """An Aster session in hedge mode: every event and reply trueup reads, errors included."""
    at = T0
    long = aster.position_risk(
        symbol="BTCUSDT",
        position_amt="0.5",
        update_time=at,
        position_side="LONG",
        entry_price="65000.0",
        mark_price="65010.0",
        liquidation_price="52000.0",
    )
    short = aster.position_risk(
        symbol="BTCUSDT",
        position_amt="-0.2",
        update_time=0,
        position_side="SHORT",
        entry_price="65100.0",
        mark_price="65010.0",
        margin_type="isolated",
        isolated_margin="1302.0",
    )
    order = aster.order(
        symbol="BTCUSDT",
        order_id=11,
        side="SELL",
        orig_qty="0.5",
        status="NEW",
        update_time=at,
        client_order_id="h-btc-tp1",
        order_type="TAKE_PROFIT_MARKET",
        stop_price="66000.0",
        position_side="LONG",
        close_position=True,
    )
    trade = aster.user_trade(
        symbol="BTCUSDT",
        trade_id=70,
        order_id=7,
        side="BUY",
        price="65000.0",
        qty="0.5",
        time=at + 5,
        position_side="LONG",
        commission="13.0",
    )
    funding = aster.income(
        symbol="BTCUSDT", income_type="FUNDING_FEE", amount="-0.5", time=at + 6, tran_id="91"
    )
    transfer = aster.income(
        symbol="", income_type="TRANSFER", amount="100", time=at + 6, tran_id="92"
    )

    def rest(
        offset: int, endpoint: str, body: Any, status: int | None = None, **params: Any
    ) -> JSON:
        return aster.capture_rest(at + offset, ACCOUNT, endpoint, params, body, status=status)

    def ws(offset: int, event: JSON) -> JSON:
        return aster.capture_ws(at + offset, ACCOUNT, event)

    def bot(offset: int, **fields: Any) -> JSON:
        return aster.capture_intent(at + offset, ACCOUNT, fields)

    def update(offset: int, **fields: Any) -> JSON:
        defaults: JSON = {
            "event_time": at + offset,
            "transaction_time": at + offset - 1,
            "symbol": "BTCUSDT",
            "order_id": 7,
            "side": "BUY",
            "qty": "0.5",
            "position_side": "LONG",
        }
        return ws(offset, aster.order_trade_update(**(defaults | fields)))

    legs = [
        aster.account_position(
            symbol="BTCUSDT", amount="0.5", entry_price="65000.0", position_side="LONG"
        ),
        aster.account_position(
            symbol="BTCUSDT", amount="-0.2", entry_price="65100.0", position_side="SHORT"
        ),
    ]
    return (
        bot(0, kind="account_mode", mode="LIVE"),
        bot(
            1,
            kind="position_opened",
            position_id="h-btc",
            category="perp",
            symbol="BTCUSDT",
            position_idx=1,
            side="Buy",
            qty="0.5",
            mode="LIVE",
        ),
        rest(2, "/fapi/v2/positionRisk", [long, short]),
        rest(3, "/fapi/v3/positionRisk", [long], symbol="BTCUSDT"),
        update(
            4,
            execution_type="NEW",
            status="NEW",
            client_order_id="h-btc-entry",
            order_type="LIMIT",
            price="65000.0",
        ),
        update(
            5,
            execution_type="TRADE",
            status="FILLED",
            client_order_id="h-btc-entry",
            order_type="LIMIT",
            price="65000.0",
            last_qty="0.5",
            last_price="65000.0",
            filled_qty="0.5",
            commission="13.0",
            trade_id=70,
        ),
        ws(
            6,
            aster.account_update(
                event_time=at + 6,
                transaction_time=at + 5,
                reason="ORDER",
                balances=[aster.balance("USDT", "987.0")],
                positions=legs,
            ),
        ),
        ws(
            7,
            aster.account_update(
                event_time=at + 7,
                transaction_time=at + 7,
                reason="FUNDING_FEE",
                balances=[aster.balance("USDT", "986.5", "-0.5")],
                positions=[],
            ),
        ),
        rest(8, "/fapi/v1/openOrders", [order]),
        rest(9, "/fapi/v3/openOrders", []),
        rest(10, "/fapi/v1/userTrades", [trade], symbol="BTCUSDT"),
        rest(11, "/fapi/v1/income", [transfer, funding]),
        rest(
            12,
            "/fapi/v4/account",
            aster.account(wallet_balance="986.5", unrealized_profit="2.0", margin_balance="988.5"),
        ),
        rest(13, "/fapi/v3/accountWithJoinMargin", aster.account(wallet_balance="986.5")),
        ws(
            14,
            aster.margin_call(
                event_time=at + 14,
                positions=[
                    {
                        "s": "BTCUSDT",
                        "ps": "SHORT",
                        "pa": "-0.2",
                        "mt": "ISOLATED",
                        "iw": "1302.0",
                        "mp": "70000.0",
                        "up": "-979.0",
                        "mm": "50.0",
                    }
                ],
            ),
        ),
        update(
            15,
            side="BUY",
            qty="0.2",
            position_side="SHORT",
            execution_type="CALCULATED",
            status="FILLED",
            client_order_id="autoclose-1762199100015000001",
            order_type="LIQUIDATION",
            order_id=8,
            last_qty="0.2",
            last_price="70010.0",
            filled_qty="0.2",
            trade_id=80,
            realized_profit="-982.0",
        ),
        update(
            16,
            side="SELL",
            qty="0.1",
            execution_type="TRADE",
            status="FILLED",
            client_order_id="adl_autoclose",
            order_id=9,
            order_type="LIMIT",
            last_qty="0.1",
            last_price="70000.0",
            filled_qty="0.1",
            trade_id=90,
        ),
        update(
            17,
            side="SELL",
            qty="0.4",
            execution_type="CANCELED",
            status="CANCELED",
            order_id=11,
            client_order_id="h-btc-tp1",
            order_type="TAKE_PROFIT_MARKET",
            stop_price="66000.0",
        ),
        ws(18, aster.listen_key_expired(at + 18)),
        ws(
            19,
            {
                "e": "ACCOUNT_CONFIG_UPDATE",
                "E": at + 19,
                "T": at + 19,
                "ac": {"s": "BTCUSDT", "l": 25},
            },
        ),
        rest(20, "/fapi/v2/positionRisk", aster.error(-1121, "Invalid symbol.")),
        rest(
            21, "/fapi/v2/positionRisk", aster.error(-1003, "Too many requests queued."), status=429
        ),
        rest(22, "/fapi/v1/openOrders", None, status=418),
        rest(
            23,
            "/fapi/v2/positionRisk",
            [
                aster.position_risk(
                    symbol="BTCUSDT", position_amt="0", update_time=at + 23, position_side="LONG"
                ),
                aster.position_risk(
                    symbol="BTCUSDT", position_amt="0", update_time=at + 23, position_side="SHORT"
                ),
            ],
        ),
        {"at": at + 24, "venue": "aster", "account": ACCOUNT, "channel": "clock"},
    )
