"""Wallet and equity: each venue's balances decoded from its documented payloads, folded per
account (per account type and per coin), and shown in the account's view."""

from decimal import Decimal
from typing import Any

from tests.inputs import ACCOUNT, T0, accepted
from trueup.adapters.bybit import messages
from trueup.adapters.hyperliquid import messages as hl
from trueup.domain.book import AccountBook
from trueup.domain.events import CoinBalance, PositionsReported, WalletReport, WalletReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.vocabulary import MarginMode
from trueup.domain.wallet import Wallet
from trueup.projections.view_building import account_view

HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"

# Bybit's wallet page, "Stream Example", verbatim.
BYBIT_WALLET_EXAMPLE: dict[str, Any] = {
    "id": "592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e",
    "topic": "wallet",
    "creationTime": 1700034722104,
    "data": [
        {
            "accountIMRate": "0",
            "accountIMRateByMp": "0",
            "accountMMRate": "0",
            "accountMMRateByMp": "0",
            "totalEquity": "10262.91335023",
            "totalWalletBalance": "9684.46297164",
            "totalMarginBalance": "9684.46297164",
            "totalAvailableBalance": "9556.6056555",
            "totalPerpUPL": "0",
            "totalInitialMargin": "0",
            "totalInitialMarginByMp": "0",
            "totalMaintenanceMargin": "0",
            "totalMaintenanceMarginByMp": "0",
            "coin": [
                {
                    "coin": "BTC",
                    "equity": "0.00102964",
                    "usdValue": "36.70759517",
                    "walletBalance": "0.00102964",
                    "availableToWithdraw": "0.00102964",
                    "availableToBorrow": "",
                    "borrowAmount": "0",
                    "accruedInterest": "0",
                    "totalOrderIM": "",
                    "totalPositionIM": "",
                    "totalPositionMM": "",
                    "unrealisedPnl": "0",
                    "cumRealisedPnl": "-0.00000973",
                    "bonus": "0",
                    "collateralSwitch": True,
                    "marginCollateral": True,
                    "locked": "0",
                    "spotHedgingQty": "0.01592413",
                    "spotBorrow": "0",
                }
            ],
            "accountLTV": "0",
            "accountType": "UNIFIED",
        }
    ],
}

# Hyperliquid's clearinghouseState example (info-userstate.yaml), verbatim.
HL_STATE_EXAMPLE: dict[str, Any] = {
    "assetPositions": [
        {
            "position": {
                "coin": "BTC",
                "entryPx": None,
                "leverage": {"type": "cross", "value": 20},
                "liquidationPx": "NaN",
                "marginUsed": "0.0",
                "maxTradeSzs": ["0.0", "0.0"],
                "positionValue": "0.0",
                "returnOnEquity": "0.0",
                "szi": "0.0",
                "unrealizedPnl": "0.0",
            },
            "type": "oneWay",
        }
    ],
    "marginSummary": {
        "accountValue": "0.0",
        "totalMarginUsed": "0.0",
        "totalNtlPos": "0.0",
        "totalRawUsd": "0.0",
    },
    "crossMarginSummary": {
        "accountValue": "0.0",
        "totalMarginUsed": "0.0",
        "totalNtlPos": "0.0",
        "totalRawUsd": "0.0",
    },
    "withdrawable": "0.0",
}


def bybit_wallet(at: int, frame: dict[str, Any]) -> WalletReported:
    decoded = accepted(messages.capture_ws(at, ACCOUNT, frame))
    assert isinstance(decoded, WalletReported)
    return decoded


def wallet_frame(at: int, equity: str, **figures: str) -> dict[str, Any]:
    item = messages.wallet_item(
        total_equity=equity, total_wallet_balance=equity, available=equity, **figures
    )
    return messages.ws_frame("wallet", [item], message_id=f"w-{at}", creation_time=at)


def hl_state(at: int, state: dict[str, Any]) -> PositionsReported:
    record = hl.capture_rest(at, HL_USER, "clearinghouseState", {"user": HL_USER}, state)
    decoded = accepted(record)
    assert isinstance(decoded, PositionsReported)
    return decoded


# --- decoding: the venues' documented payloads -------------------------------------------


def test_bybits_documented_wallet_frame_decodes_every_balance_and_coin() -> None:
    (report,) = bybit_wallet(T0, BYBIT_WALLET_EXAMPLE).wallets
    assert report == WalletReport(
        account_type="UNIFIED",
        total_equity=Decimal("10262.91335023"),
        total_wallet_balance=Decimal("9684.46297164"),
        total_available_balance=Decimal("9556.6056555"),
        total_margin_balance=Decimal("9684.46297164"),
        total_initial_margin=Decimal(0),
        total_maintenance_margin=Decimal(0),
        total_unrealised_pnl=Decimal(0),
        total_notional=None,
        coins=(
            CoinBalance(
                coin="BTC",
                equity=Decimal("0.00102964"),
                wallet_balance=Decimal("0.00102964"),
                usd_value=Decimal("36.70759517"),
                unrealised_pnl=Decimal(0),
                cum_realised_pnl=Decimal("-0.00000973"),
                position_im=None,  # "" under portfolio margin: not known
                position_mm=None,
                order_im=None,
                locked=Decimal(0),
            ),
        ),
        equity_coin="USD",  # the unified account's figures: Bybit's adapter says so
    )


def test_hyperliquids_documented_state_gives_its_margin_summary_and_no_liquidation_price() -> None:
    event = hl_state(T0, HL_STATE_EXAMPLE | {"time": T0})
    (report,) = event.reports
    assert report.liq_price is None  # "NaN": there is none
    assert (report.leverage, report.margin_mode) == (Decimal(20), MarginMode.CROSS)
    assert report.initial_margin == Decimal("0.0")
    wallet = event.wallet
    assert wallet is not None
    assert (wallet.account_type, wallet.total_equity, wallet.total_available_balance) == (
        "perp",
        Decimal("0.0"),
        Decimal("0.0"),
    )
    assert (wallet.total_initial_margin, wallet.total_notional) == (Decimal("0.0"), Decimal("0.0"))
    assert (wallet.equity_coin, report.notional_coin) == ("USDC", "USDC")


def test_a_hyperliquid_position_gives_its_leverage_liquidation_price_and_margin() -> None:
    position = hl.asset_position(
        coin="ETH",
        szi="-2.0",
        entry_px="3000.0",
        position_value="6100.0",
        unrealized_pnl="-100.0",
        margin_used="610.0",
        liquidation_px="3450.5",
        leverage=10,
        isolated_raw_usd="6610.0",
    )
    state = hl.clearinghouse_state(
        [position], time=T0, account_value="5000.0", total_ntl_pos="6100.0", withdrawable="4390.0"
    )
    event = hl_state(T0, state)
    (report,) = event.reports
    assert (report.liq_price, report.leverage) == (Decimal("3450.5"), Decimal(10))
    assert (report.initial_margin, report.margin_mode) == (Decimal("610.0"), MarginMode.ISOLATED)
    assert report.mark_price == Decimal(3050)
    assert event.wallet is not None
    # Hyperliquid names no wallet balance: the account value less the unrealised PnL.
    assert event.wallet.total_wallet_balance == Decimal("5100.0")
    assert event.wallet.total_unrealised_pnl == Decimal("-100.0")


def test_bybits_documented_position_examples_give_leverage_margins_and_no_liquidation_price() -> (
    None
):
    item = messages.position_item(
        symbol="BTCUSDT",
        side="Buy",
        size="0.1",
        seq=1,
        updated_time=T0,
        mark_price="28224.50",
        leverage="10",
        liq_price="25500.1",
        position_value="2822.45",
        position_im="282.245",
        position_mm="14.11",
    )
    frame = messages.ws_frame("position", [item], message_id="p", creation_time=T0)
    decoded = accepted(messages.capture_ws(T0, ACCOUNT, frame))
    assert isinstance(decoded, PositionsReported)
    (report,) = decoded.reports
    assert (report.liq_price, report.leverage) == (Decimal("25500.1"), Decimal(10))
    assert (report.initial_margin, report.maintenance_margin) == (
        Decimal("282.245"),
        Decimal("14.11"),
    )
    # The documented examples: liqPrice "" (REST) and "0" (a flat WebSocket push) say none.
    for shown in ("", "0"):
        flat = messages.position_item(
            symbol="BTCUSDT", side="", size="0", seq=2, updated_time=T0, liq_price=shown
        )
        frame = messages.ws_frame("position", [flat], message_id=f"f{shown}", creation_time=T0)
        decoded = accepted(messages.capture_ws(T0, ACCOUNT, frame))
        assert isinstance(decoded, PositionsReported)
        assert decoded.reports[0].liq_price is None


# --- the fold -----------------------------------------------------------------------------


def test_the_latest_word_per_account_type_and_per_coin_stands() -> None:
    wallet = Wallet()
    usdt = CoinBalance("USDT", Decimal(900), Decimal(900))
    btc = CoinBalance("BTC", Decimal("0.1"), Decimal("0.1"))
    unified = WalletReport("UNIFIED", Decimal(1000), Decimal(950), Decimal(800), coins=(usdt, btc))
    assert wallet.apply(unified, T0)
    later = CoinBalance("USDT", Decimal(1100), Decimal(1100))  # a frame of the coin that moved
    assert wallet.apply(
        WalletReport("UNIFIED", Decimal(1200), Decimal(1150), Decimal(1000), coins=(later,)),
        T0 + 1,
    )
    summary = wallet.summary()
    assert summary is not None
    assert (summary.equity, summary.wallet_balance, summary.available) == (
        Decimal(1200),
        Decimal(1150),
        Decimal(1000),
    )
    assert [c.coin for c in summary.coins] == ["BTC", "USDT"]
    assert summary.coins[1].equity == Decimal(1100)
    assert summary.updated_at == T0 + 1


def test_account_types_add_up_and_one_unknown_figure_leaves_the_total_unknown() -> None:
    wallet = Wallet()
    wallet.apply(WalletReport("CONTRACT", Decimal(100), Decimal(90), Decimal(80)), T0)
    wallet.apply(WalletReport("SPOT", Decimal(50), Decimal(50), None), T0 + 1)
    summary = wallet.summary()
    assert summary is not None
    assert (summary.equity, summary.wallet_balance, summary.available) == (
        Decimal(150),
        Decimal(140),
        None,
    )
    assert summary.account_types == ("CONTRACT", "SPOT")
    # The same equity again changes nothing that risk is measured against.
    assert not wallet.apply(WalletReport("SPOT", Decimal(50), Decimal(49), None), T0 + 2)


def test_nothing_is_known_before_the_venue_says_anything() -> None:
    assert Wallet().summary() is None
    assert AccountBook("bybit", ACCOUNT).wallet.equity is None


def test_the_account_view_holds_the_balances_folded_from_either_venue() -> None:
    reconciler = Reconciler()
    reconciler.apply(
        bybit_wallet(T0, wallet_frame(T0, "25000", initial_margin="120", maintenance_margin="6"))
    )
    view = account_view(reconciler, ("bybit", ACCOUNT))
    assert view.wallet is not None
    assert (view.wallet.equity, view.wallet.initial_margin, view.wallet.maintenance_margin) == (
        Decimal(25000),
        Decimal(120),
        Decimal(6),
    )
    state = hl.clearinghouse_state([], time=T0, account_value="777.5", total_margin_used="12.5")
    reconciler.apply(hl_state(T0 + 5, state))
    hl_view = account_view(reconciler, ("hyperliquid", HL_USER))
    assert hl_view.wallet is not None
    assert (hl_view.wallet.equity, hl_view.wallet.initial_margin) == (
        Decimal("777.5"),
        Decimal("12.5"),
    )
