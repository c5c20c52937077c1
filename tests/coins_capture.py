"""A capture of every venue's positions, fills and balances, each counted in its own coins.

tests/stored/journal-before-coins.jsonl is this capture as trueup stored it before reports
named their coins (written by that trueup: ``codec.encode`` of each decoded line).
"""

from typing import Any

from tests.inputs import T0
from trueup.adapters import rest_capture
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages as bybit
from trueup.adapters.hyperliquid import messages as hl

HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
CCXT = "ccxt:binanceusdm"
Json = dict[str, Any]


def _bybit_ws(at: int, topic: str, item: Json) -> Json:
    frame = bybit.ws_frame(topic, [item], message_id=f"{topic}{at}", creation_time=at)
    return bybit.capture_ws(at, "main", frame)


def _bybit() -> list[Json]:
    """10000 USD of equity; 0.1 BTCUSDT long (USDT), bought at 49000 for a fee of 2; 1000 USD
    of the inverse BTCUSD; 1 BTCPERP (USDC) short."""
    wallet = bybit.wallet_item(
        total_equity="10000",
        total_wallet_balance="10000",
        available="9000",
        initial_margin="100",
        maintenance_margin="5",
    )
    fill = bybit.execution_item(
        symbol="BTCUSDT", exec_id="e-1", order_id="o-1", side="Buy", exec_price="49000",
        exec_qty="0.1", exec_time=T0 + 11, seq=1, exec_fee="2",
    )  # fmt: skip
    return [
        _bybit_ws(T0 + 10, "wallet", wallet),
        _bybit_ws(T0 + 11, "execution", fill),
        _bybit_ws(T0 + 12, "position", bybit.position_item(
            symbol="BTCUSDT", side="Buy", size="0.1", seq=2, updated_time=T0 + 12,
            entry_price="49000", mark_price="50000", unrealised_pnl="100", leverage="5",
        )),
        _bybit_ws(T0 + 13, "position", bybit.position_item(
            symbol="BTCUSD", category="inverse", side="Buy", size="1000", seq=3,
            updated_time=T0 + 13, entry_price="50000", mark_price="50000", leverage="2",
        )),
        _bybit_ws(T0 + 14, "position", bybit.position_item(
            symbol="BTCPERP", side="Sell", size="1", seq=4, updated_time=T0 + 14,
            entry_price="50000", mark_price="50000", unrealised_pnl="0", leverage="10",
        )),
    ]  # fmt: skip


def _hyperliquid() -> list[Json]:
    """25000 USDC of equity and 1 BTC long; ETH bought and sold between two states (its fills
    alone say which coin its PnL is in): 100 USDC realised, fees 1 + 1."""
    btc = hl.asset_position(
        coin="BTC", szi="1.0", entry_px="49000.0", position_value="50000.0",
        unrealized_pnl="1000.0", margin_used="5000.0", liquidation_px="30000.0", leverage=10,
    )  # fmt: skip
    state = hl.clearinghouse_state([btc], time=T0 + 20, account_value="25000.0")
    fills = [
        hl.user_fill(coin="ETH", px="3000.0", sz="1.0", side="B", time=T0 + 21, oid=1, tid=1,
                     fee="1.0"),
        hl.user_fill(coin="ETH", px="3100.0", sz="1.0", side="A", time=T0 + 22, oid=2, tid=2,
                     start_position="1.0", direction="Close Long", closed_pnl="100.0", fee="1.0"),
    ]  # fmt: skip
    return [
        hl.capture_rest(T0 + 20, HL_USER, "clearinghouseState", {"user": HL_USER}, state),
        hl.capture_ws(T0 + 23, HL_USER, hl.user_fills_frame(HL_USER, fills)),
    ]


def _aster() -> list[Json]:
    """2000 USDT of equity and 0.01 BTCUSDT long (mark 50000: 500 USDT)."""
    risk = aster.position_risk(
        symbol="BTCUSDT", position_amt="0.01", update_time=T0 + 31, entry_price="49000",
        mark_price="50000", unrealized_profit="10", leverage="5",
    )  # fmt: skip
    return [
        aster.capture_rest(T0 + 30, "main", "/fapi/v4/account", {}, aster.account(
            wallet_balance="2000")),
        aster.capture_rest(T0 + 31, "main", "/fapi/v2/positionRisk", {}, [risk]),
    ]  # fmt: skip


def _ccxt() -> list[Json]:
    """0.5 BTC/USDT:USDT long (mark 50000), as ccxt's unified Position."""
    position = {
        "symbol": "BTC/USDT:USDT", "timestamp": T0 + 40, "side": "long", "contracts": 0.5,
        "contractSize": 1, "entryPrice": 49000, "markPrice": 50000, "notional": 25000,
        "leverage": 5, "unrealizedPnl": 500, "marginMode": "cross", "info": {},
    }  # fmt: skip
    return [
        rest_capture.capture_rest(T0 + 40, CCXT, "main", "fetchPositions", params={},
                                  body=[position]),
    ]  # fmt: skip


def capture() -> list[Json]:
    """Bybit, Hyperliquid, Aster and a ccxt exchange, in the order they came."""
    return [*_bybit(), *_hyperliquid(), *_aster(), *_ccxt()]
