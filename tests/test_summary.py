"""`trueup summary` and `trueup positions` over a journal of two venues and three accounts, on
SQLite and PostgreSQL: balances per account, PnL, distribution, the portfolio's risk, the
filters, the ccxt export, and answers read from the views without a replay."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli_output import json_lines, text_lines
from tests.inputs import T0, execution_frame, position_snapshot
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages
from trueup.adapters.hyperliquid import messages as hl
from trueup.domain.instants import iso
from trueup.runners.cli import main

HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
Json = dict[str, Any]
D = Decimal


def bybit_position(at: int, account: str, symbol: str, side: str, size: str, **more: Any) -> Json:
    item = messages.position_item(
        symbol=symbol, side=side, size=size, seq=at - T0, updated_time=at, **more
    )
    frame = messages.ws_frame("position", [item], message_id=f"p{at}", creation_time=at)
    return messages.capture_ws(at, account, frame)


def bybit_wallet(at: int, account: str, equity: str) -> Json:
    item = messages.wallet_item(
        total_equity=equity,
        total_wallet_balance=equity,
        available=equity,
        initial_margin="100",
        maintenance_margin="5",
    )
    frame = messages.ws_frame("wallet", [item], message_id=f"w{at}", creation_time=at)
    return messages.capture_ws(at, account, frame)


def capture() -> list[Json]:
    """bybit/main: 10000 equity, 0.1 BTCUSDT long (mark 50000: 5000), 2 ETHUSDT short (mark
    1500: 3000, 10x, liquidated at 1600); bybit/alt: 1000 DOGEUSDT long (mark 0.2: 200, no
    wallet yet); Hyperliquid: 1 BTC long (value 50000), account value 25000."""
    btc = hl.asset_position(
        coin="BTC",
        szi="1.0",
        entry_px="49000.0",
        position_value="50000.0",
        unrealized_pnl="1000.0",
        margin_used="5000.0",
        liquidation_px="30000.0",
        leverage=10,
    )
    state = hl.clearinghouse_state([btc], time=T0 + 50, account_value="25000.0")
    return [
        bybit_wallet(T0 + 10, "main", "10000"),
        bybit_position(
            T0 + 20, "main", "BTCUSDT", "Buy", "0.1", mark_price="50000", entry_price="49000",
            leverage="5", unrealised_pnl="100",
        ),
        bybit_position(
            T0 + 30, "main", "ETHUSDT", "Sell", "2", mark_price="1500", entry_price="1550",
            leverage="10", liq_price="1600", unrealised_pnl="100", position_im="300",
            position_mm="15",
        ),
        bybit_position(
            T0 + 40, "alt", "DOGEUSDT", "Buy", "1000", mark_price="0.2", entry_price="0.2"
        ),
        hl.capture_rest(T0 + 50, HL_USER, "clearinghouseState", {"user": HL_USER}, state),
    ]  # fmt: skip


@pytest.fixture
def journal_url(store_url: str, tmp_path: Path) -> str:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in capture()))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    return store_url


def test_the_summary_gives_positions_pnl_balances_distribution_and_risk(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (summary,) = json_lines(capsys, journal_url, "summary", "--json")
    assert summary["positions"] == 4
    assert summary["notional"] == "58200"  # 5000 + 3000 + 200 + 50000
    # No fills seen: the venue's own unrealised PnL for each position.
    assert (summary["unrealised_pnl"], summary["unrealised_from_venue"]) == ("1200.0", 4)
    accounts = {(a["venue"], a["account"]): a for a in summary["accounts"]}
    assert accounts[("bybit", "main")]["wallet"]["equity"] == "10000"
    assert accounts[("bybit", "main")]["wallet"]["maintenance_margin"] == "5"
    assert accounts[("bybit", "alt")]["wallet"] is None  # nothing reported yet
    assert accounts[("hyperliquid", HL_USER)]["wallet"]["equity"] == "25000.0"
    assert [(v["name"], v["share"]) for v in summary["by_venue"]] == [
        ("hyperliquid", "0.859107"),
        ("bybit", "0.140893"),
    ]
    symbols = {s["name"]: s for s in summary["by_symbol"]}
    assert (symbols["ETHUSDT"]["short_notional"], symbols["ETHUSDT"]["long_notional"]) == (
        "3000",
        "0",
    )
    # Bybit's BTCUSDT and Hyperliquid's BTC are one asset: 5000 + 50000 of 58200.
    assert [(a["name"], a["positions"], a["share"]) for a in summary["by_asset"]] == [
        ("BTC", 2, "0.945017"),
        ("ETH", 1, "0.051546"),
        ("DOGE", 1, "0.003436"),
    ]
    risk = summary["risk"]
    assert (risk["positions"], risk["max_leverage"], risk["near_liquidation"]) == (4, "10", 1)
    # Hyperliquid's BTC: 50000 of 25000 equity.
    assert risk["largest_concentration"] == "2"
    assert risk["largest_concentration_of"] == f"hyperliquid/{HL_USER} BTC idx=0"


def test_the_summary_and_positions_take_venue_account_and_symbol(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--venue", "bybit", "--account", "main"]
    (mine,) = json_lines(capsys, journal_url, "summary", *where, "--json")
    assert (mine["positions"], mine["notional"]) == (2, "8000")
    (eth,) = json_lines(capsys, journal_url, "summary", *where, "--symbol", "ETHUSDT", "--json")
    assert eth["positions"] == 1
    rows = json_lines(capsys, journal_url, "positions", "--venue", "bybit", "--json")
    assert {r["symbol"] for r in rows} == {"BTCUSDT", "ETHUSDT", "DOGEUSDT"}
    (row,) = json_lines(capsys, journal_url, "positions", *where, "--symbol", "ETHUSDT", "--json")
    risk = row["risk"]
    # 3000 of 10000: 0.12; 10x: 0.3; 100 / 1500 from liquidation: 1 - 0.666667, x 0.3.
    assert (risk["concentration"], risk["leverage"], risk["liquidation_distance"]) == (
        "0.3",
        "10",
        "0.066667",
    )
    assert risk["score"] == "0.519999"
    assert json_lines(capsys, journal_url, "positions", "--account", "nobody", "--json") == []
    assert main(["--store", journal_url, "positions", "--venue", "bybit", "--account", "x"]) == 0
    said = capsys.readouterr().out
    assert said == "no positions in the journal matching --venue bybit --account x\n"
    # Not an empty portfolio, as if the account held nothing: no such account was seen.
    assert main(["--store", journal_url, "summary", "--venue", "nosuch"]) == 0
    assert capsys.readouterr().out == "no accounts in the journal matching --venue nosuch\n"
    # Nor a portfolio of zeros beside every account's balances, for a symbol none holds.
    assert main(["--store", journal_url, "summary", "--symbol", "XRPUSDT"]) == 0
    said = capsys.readouterr().out
    assert said == "no positions or PnL in the journal matching --symbol XRPUSDT\n"
    assert main(["--store", journal_url, "history", "--symbol", "XRPUSDT"]) == 0
    said = capsys.readouterr().out
    assert said == "no closed positions in the journal matching --symbol XRPUSDT\n"
    assert main(["--store", journal_url, "history", "--since", "2100-01-01T00:00:00Z"]) == 0
    said = capsys.readouterr().out
    assert said == (
        "no closed positions in the journal matching --since 2100-01-01T00:00:00.000Z\n"
    )


def test_positions_shows_pnl_leverage_liquidation_distance_and_score_columns(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["--store", journal_url, "positions", "--symbol", "ETHUSDT"]) == 0
    header, line, note = capsys.readouterr().out.splitlines()
    for column in ("unrealised", "realised", "lev", "to liq", "score"):
        assert column in header
    assert "6.67%" in line and "0.519999" in line
    # No fill of it seen: its unrealised PnL is the venue's, marked and said so.
    assert " 100* " in line and note.startswith("unrealised: * the venue's own figure")


def test_positions_and_summary_align_a_hyperliquid_address_with_bybits_names(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The account column is as wide as the longest account shown (an address's start after
    its venue's name), so every column after it starts where its heading does."""
    header, *rows, _note = text_lines(capsys, journal_url, "positions")
    symbol = header.index("symbol")
    assert [(row[:symbol].rstrip(), row[symbol:].split()[0]) for row in rows] == [
        ("bybit/alt", "DOGEUSDT"),
        ("bybit/main", "BTCUSDT"),
        ("bybit/main", "ETHUSDT"),
        ("hyperliquid/0x5e9ee108", "BTC"),
    ]
    summary = text_lines(capsys, journal_url, "summary")
    start = summary.index(next(line for line in summary if line.startswith("account ")))
    heading, *accounts = summary[start : summary.index("", start)]
    # Every column after the account's is right-aligned: each row ends where its heading does.
    assert [len(line) for line in accounts] == [len(heading)] * 3
    assert accounts[2].startswith("hyperliquid/0x5e9ee108 ")


def test_the_account_column_keeps_its_width_for_short_names(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    header, *_ = text_lines(capsys, journal_url, "positions", "--venue", "bybit")
    assert header.startswith(f"{'account':<16} symbol ")


def test_two_accounts_whose_names_share_their_start_are_told_apart(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        bybit_position(T0 + 1, name, "BTCUSDT", "Buy", "0.1", mark_price="50000")
        for name in ("strategy-alpha-1", "strategy-alpha-2")
    ]
    path = tmp_path / "two.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    _, *rows, _note = text_lines(capsys, store_url, "positions")
    assert [row.split()[0] for row in rows] == ["bybit/strategy-alpha-1", "bybit/strategy-alpha-2"]


def test_two_hyperliquid_addresses_that_share_their_start_are_told_apart(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An address shows its first 8 hex digits, or as many more as tell it from the others
    listed (a walkthrough's two accounts read alike)."""
    users = ("0x00000000aa" + "1" * 30, "0x00000000bb" + "2" * 30)
    records = []
    for n, user in enumerate(users):
        btc = hl.asset_position(
            coin="BTC", szi="1.0", entry_px="49000.0", position_value="50000.0",
            unrealized_pnl="1000.0", margin_used="5000.0",
        )  # fmt: skip
        state = hl.clearinghouse_state([btc], time=T0 + n, account_value="25000.0")
        records.append(hl.capture_rest(T0 + n, user, "clearinghouseState", {"user": user}, state))
    path = tmp_path / "two.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    _, *rows, _note = text_lines(capsys, store_url, "positions")
    assert [row.split()[0] for row in rows] == [
        "hyperliquid/0x00000000aa",
        "hyperliquid/0x00000000bb",
    ]


CCXT_FIELDS = {
    "info": dict,
    "id": str,
    "symbol": str,
    "timestamp": int,
    "datetime": str,
    "lastUpdateTimestamp": int,
    "side": str,
    "contracts": float,
    "contractSize": float,
    "notional": float,
    "leverage": float,
    "unrealizedPnl": float,
    "realizedPnl": type(None),
    "collateral": float,
    "entryPrice": float,
    "markPrice": float,
    "lastPrice": type(None),
    "liquidationPrice": float,
    "marginMode": type(None),
    "hedged": bool,
    "maintenanceMargin": float,
    "maintenanceMarginPercentage": float,
    "initialMargin": float,
    "initialMarginPercentage": float,
    "marginRatio": float,
    "percentage": float,
    "stopLossPrice": type(None),
    "takeProfitPrice": type(None),
}


def test_positions_in_ccxts_unified_structure(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    found = json_lines(capsys, journal_url, "positions", "--format", "ccxt")
    by_symbol = {p["symbol"]: p for p in found}
    assert set(by_symbol) == {"BTC/USDT:USDT", "ETH/USDT:USDT", "DOGE/USDT:USDT", "BTC/USDC:USDC"}
    eth = by_symbol["ETH/USDT:USDT"]
    assert {name: type(eth[name]) for name in CCXT_FIELDS} == CCXT_FIELDS
    assert (eth["side"], eth["contracts"], eth["notional"]) == ("short", 2.0, 3000.0)
    assert (eth["entryPrice"], eth["markPrice"], eth["liquidationPrice"]) == (
        1550.0,
        1500.0,
        1600.0,
    )
    assert (eth["leverage"], eth["unrealizedPnl"], eth["hedged"]) == (10.0, 100.0, False)
    assert (eth["initialMargin"], eth["maintenanceMargin"], eth["collateral"]) == (300, 15, 300)
    assert (eth["initialMarginPercentage"], eth["maintenanceMarginPercentage"]) == (0.1, 0.005)
    assert (eth["marginRatio"], eth["percentage"]) == (0.05, 100 / 3)
    assert eth["datetime"].endswith("Z") and eth["info"]["symbol"] == "ETHUSDT"
    btc = by_symbol["BTC/USDC:USDC"]
    assert (btc["marginMode"], btc["initialMargin"], btc["collateral"]) == ("cross", 5000.0, 5000.0)
    assert btc["initialMarginPercentage"] == 0.1
    # Only what the exchange holds: the flat and local-only keys are no ccxt position.
    (doge,) = json_lines(capsys, journal_url, "positions", "--format", "ccxt", "--account", "alt")
    assert doge["symbol"] == "DOGE/USDT:USDT"


def test_summary_and_positions_answer_from_the_views_without_a_replay(
    journal_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_replay(*_: object, **__: object) -> None:
        raise AssertionError("replayed: the views were current")

    monkeypatch.setattr("trueup.projections.reconciliation.replay", no_replay)
    (summary,) = json_lines(capsys, journal_url, "summary", "--json")
    assert summary["positions"] == 4
    assert len(json_lines(capsys, journal_url, "positions", "--format", "ccxt")) == 4


def test_without_the_projection_the_same_answers_come_by_replay(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in capture()))
    assert main(["--store", store_url, "ingest", "--no-projections", str(path)]) == 0
    (replayed,) = json_lines(capsys, store_url, "summary", "--json")
    assert replayed["positions"] == 4 and replayed["notional"] == "58200"


@pytest.mark.parametrize("projections", [True, False], ids=["views", "replay"])
def test_an_account_known_only_from_a_trigger_command_is_no_account_of_the_portfolio(
    projections: bool, store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As an older trueup took it: a trigger on an account nothing else ever spoke of.
    nobody = {
        "at": T0 + 60, "channel": "trigger", "venue": "bybit", "account": "nobody",
        "data": {
            "command": "add", "trigger_id": "nob", "operator": "alice", "symbol": "XRPUSDT",
            "direction": "long", "kind": "price", "level": "3", "ratio": "0.5",
            "action": "reduce",
        },
    }  # fmt: skip
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [*capture(), nobody]))
    ingest = ["ingest", str(path)] if projections else ["ingest", "--no-projections", str(path)]
    assert main(["--store", store_url, *ingest]) == 0

    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    listed = [(a["venue"], a["account"]) for a in summary["accounts"]]
    assert listed == [("bybit", "alt"), ("bybit", "main"), ("hyperliquid", HL_USER)]
    (nobodys,) = json_lines(capsys, store_url, "summary", "--account", "nobody", "--json")
    assert (nobodys["accounts"], nobodys["positions"]) == ([], 0)
    # can-open, which weighs the same facts, has never seen it either.
    where = ["--venue", "bybit", "--account", "nobody", "--symbol", "XRPUSDT"]
    assert main(["--store", store_url, "can-open", *where, "--json"]) == 1
    reasons = orjson.loads(capsys.readouterr().out)["reasons"]
    assert reasons == [
        "trueup has never seen this account: the journal holds nothing from its exchange or its bot"
    ]


# --- audit and diagnose weigh the position as positions does ---------------------------------

ETH_MAIN = ["--venue", "bybit", "--account", "main", "--symbol", "ETHUSDT"]
BTC_HL = ["--venue", "hyperliquid", "--account", HL_USER, "--symbol", "BTC"]


def test_diagnose_shows_the_positions_leverage_liquidation_margins_and_risk(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = json_lines(capsys, journal_url, "positions", *ETH_MAIN, "--json")
    (report,) = json_lines(capsys, journal_url, "diagnose", *ETH_MAIN, "--json")
    (position,) = report["positions"]
    assert (position["risk"], position["pnl"]) == (row["risk"], row["pnl"])
    risk = position["risk"]
    assert (risk["leverage"], risk["liq_price"], risk["liquidation_distance"]) == (
        "10",
        "1600",
        "0.066667",
    )
    assert (risk["initial_margin"], risk["maintenance_margin"], risk["score"]) == (
        "300",
        "15",
        "0.519999",
    )
    capsys.readouterr()
    assert main(["--store", journal_url, "diagnose", *ETH_MAIN]) == 0
    assert (
        "  risk: score 0.519999 NEAR LIQUIDATION; leverage 10; liquidation 1600 (6.67% away); "
        "margin initial 300, maintenance 15; notional 3000, concentration 0.3 of equity 10000"
    ) in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("command", ["audit", "diagnose"])
@pytest.mark.parametrize("where", [ETH_MAIN, BTC_HL], ids=["bybit", "hyperliquid"])
def test_audit_and_diagnose_say_the_positions_pnl_in_words_too(
    journal_url: str, capsys: pytest.CaptureFixture[str], where: list[str], command: str
) -> None:
    (row,) = json_lines(capsys, journal_url, "positions", *where, "--json")
    pnl = row["pnl"]
    capsys.readouterr()
    assert main(["--store", journal_url, command, *where]) in (0, 1)
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("  pnl: ")]
    whose = " (the venue's)" if pnl["unrealised_source"] == "venue" else ""
    assert line.startswith(
        f"  pnl: unrealised {pnl['unrealised_pnl']}{whose} at mark {pnl['mark_price']}; "
        f"realised {pnl['realised_pnl']}, fees {pnl['fees']}, funding {pnl['funding']} "
        f"{pnl['coin']}"
    )


@pytest.mark.parametrize("where", [ETH_MAIN, BTC_HL], ids=["bybit", "hyperliquid"])
def test_the_audit_weighs_the_position_as_positions_does(
    journal_url: str, capsys: pytest.CaptureFixture[str], where: list[str]
) -> None:
    (row,) = json_lines(capsys, journal_url, "positions", *where, "--json")
    (document,) = json_lines(capsys, journal_url, "audit", *where, "--json")
    assert (document["risk"], document["pnl"]) == (row["risk"], row["pnl"])
    assert document["risk"]["leverage"] == "10"
    capsys.readouterr()
    assert main(["--store", journal_url, "audit", *where]) == 0
    assert f"  risk: score {row['risk']['score']}" in capsys.readouterr().out


def test_the_audit_as_of_before_the_position_was_held_weighs_nothing(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (document,) = json_lines(
        capsys, journal_url, "audit", *ETH_MAIN, "--as-of", str(T0 + 30), "--json"
    )
    assert document["risk"]["notional"] == "3000"
    # Before its report the key is not in the book at all: the audit says so, as a usage error.
    capsys.readouterr()
    assert main(["--store", journal_url, "audit", *ETH_MAIN, "--as-of", str(T0 + 29)]) == 2
    assert capsys.readouterr().err.endswith(f" in the journal as of {iso(T0 + 29)}\n")


def test_the_summary_for_people_groups_the_venues_symbols_by_asset(
    journal_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["--store", journal_url, "summary"]) == 0
    out = capsys.readouterr().out
    by_asset = out.split("by asset:", 1)[1].splitlines()
    assert by_asset[1].split() == ["BTC", "55000", "94.50%", "55000", "0", "(2)"]


# --- coins: the rules' quote_equivalents ------------------------------------------------------


def test_the_summary_sums_at_the_rules_usd_values_and_shows_a_coin_without_one_apart(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """USDT at 0.998 and USDC given no value: Bybit's notionals count at 0.998, Hyperliquid's
    BTC (in USDC) is shown apart, in USDC, and in no total or share. Its concentration, set
    against its account's equity in USDC too, needs no value."""
    rules = {"quote_equivalents": {"USD": "1", "USDT": "0.998"}}
    lines = [{"at": T0, "channel": "rules", "source": "test", "data": rules}, *capture()]
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in lines))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    # (5000 + 3000 + 200) x 0.998, and the venue's unrealised PnL (100 + 100) x 0.998.
    assert Decimal(summary["notional"]) == Decimal("8183.6")
    assert Decimal(summary["unrealised_pnl"]) == Decimal("199.6")
    assert [(v["name"], v["share"]) for v in summary["by_venue"]] == [("bybit", "1")]
    assert [a["name"] for a in summary["by_asset"]] == ["BTC", "ETH", "DOGE"]
    (usdc,) = summary["apart"]
    assert (usdc["coin"], usdc["positions"], Decimal(usdc["notional"])) == (
        "USDC",
        1,
        Decimal(50000),
    )
    assert Decimal(usdc["unrealised_pnl"]) == Decimal(1000)
    # Hyperliquid's BTC, 50000 USDC against 25000 USDC of equity, is the largest.
    risk = summary["risk"]
    assert (risk["positions"], risk["largest_concentration"]) == (4, "2")
    assert risk["largest_concentration_of"].startswith("hyperliquid/")
    capsys.readouterr()
    assert main(["--store", store_url, "summary"]) == 0
    apart = capsys.readouterr().out.split("apart", 1)[1].splitlines()
    # Hyperliquid's equity is in USDC too: apart, beside its one position.
    assert apart[2].split()[:4] == ["USDC", "25000.0", "1", "50000"]


def test_an_inverse_contracts_pnl_is_counted_in_its_settle_coin_its_notional_in_usd(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bybit's BTCUSD is sized in USD and settled in BTC: its unrealisedPnl, 1000 x
    (1/100000 - 1/110000) = 0.00090909 BTC, is about 100 USD. Labelled USD, it was summed
    as 0.0009 USD (a walkthrough); in BTC, which the rules give no value, it is apart."""
    btcusd = bybit_position(
        T0 + 20, "inv", "BTCUSD", "Buy", "1000", category="inverse", entry_price="100000",
        mark_price="110000", unrealised_pnl="0.00090909", leverage="2", liq_price="50000",
    )  # fmt: skip
    path = tmp_path / "capture.jsonl"
    records = [bybit_wallet(T0 + 10, "inv", "10000"), btcusd]
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    assert (Decimal(summary["notional"]), Decimal(summary["unrealised_pnl"])) == (D(1000), D(0))
    (btc,) = summary["apart"]
    assert (btc["coin"], btc["positions"], Decimal(btc["notional"])) == ("BTC", 0, D(0))
    assert Decimal(btc["unrealised_pnl"]) == Decimal("0.00090909")
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    assert (row["pnl"]["coin"], row["pnl"]["unrealised_pnl"]) == ("BTC", "0.00090909")


def test_a_fee_paid_in_another_coin_is_counted_in_that_coin_not_the_positions(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Aster names each commission's asset (N): a short opened in two fills, 2.0 USDT and
    0.001 BNB of fees, closed for 40 USDT paying 3.88 USDT. The BNB was summed as 0.001 USDT
    (a walkthrough): fees are 5.88 USDT, and 0.001 BNB apart (the rules give BNB no value)."""

    def trade(at: int, n: int, side: str, price: str, *, fee: str, asset: str, rp: str) -> Json:
        update = aster.order_trade_update(
            event_time=at, transaction_time=at - 2, symbol="BTCUSDT", order_id=n, side=side,
            qty="0.01" if n < 3 else "0.02", execution_type="TRADE", status="FILLED",
            last_qty="0.01" if n < 3 else "0.02", last_price=price, avg_price=price,
            commission=fee, commission_asset=asset, trade_id=n, realized_profit=rp,
        )  # fmt: skip
        return aster.capture_ws(at, "ast", update)

    def held(at: int, amount: str, entry: str) -> Json:
        position = aster.account_position(symbol="BTCUSDT", amount=amount, entry_price=entry)
        update = aster.account_update(
            event_time=at, transaction_time=at - 1, reason="ORDER",
            balances=[aster.balance("USDT", "20000")], positions=[position],
        )  # fmt: skip
        return aster.capture_ws(at, "ast", update)

    records = [
        trade(T0 + 1_000, 1, "SELL", "100000", fee="2.0", asset="USDT", rp="0"),
        held(T0 + 1_001, "-0.01", "100000"),
        trade(T0 + 2_000, 2, "SELL", "98000", fee="0.001", asset="BNB", rp="0"),
        held(T0 + 2_001, "-0.02", "99000"),
        trade(T0 + 3_000, 3, "BUY", "97000", fee="3.88", asset="USDT", rp="40"),
        held(T0 + 3_001, "0", "0"),
    ]
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    pnl = row["pnl"]
    assert (pnl["realised_pnl"], pnl["fees"], pnl["coin"]) == ("40.00", "5.88", "USDT")
    assert pnl["fees_apart"] == {"BNB": "0.001"}
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    assert (Decimal(summary["fees"]), Decimal(summary["net_pnl"])) == (D("5.88"), D("34.12"))
    (bnb,) = summary["apart"]
    assert (bnb["coin"], Decimal(bnb["fees"])) == ("BNB", D("0.001"))
    # The lifecycle's record keeps it too, beside its fees in USDT.
    (record,) = json_lines(capsys, store_url, "history", "--json")
    assert (record["fees"], record["net_pnl"]) == ("5.88", "34.12")
    assert record["fees_apart"] == {"BNB": "0.001"}
    *_, line = text_lines(capsys, store_url, "history")
    assert line.endswith("(and fees of 0.001 BNB)")


def test_the_pnl_of_a_key_seen_only_by_its_fills_reaches_the_summary(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Hyperliquid ETH long opened and closed between two polled states: only its fills
    were seen, no position report named it. Its PnL is in the totals; it is listed flat."""
    opening = hl.user_fill(
        coin="ETH", px="3000.0", sz="2.0", side="B", time=T0, oid=1, tid=1, fee="1.2"
    )
    closing = hl.user_fill(
        coin="ETH", px="3050.0", sz="2.0", side="A", time=T0 + 700, oid=2, tid=2,
        start_position="2.0", direction="Close Long", closed_pnl="100.0", fee="1.22",
    )  # fmt: skip
    records = [
        hl.capture_ws(T0, HL_USER, hl.user_fills_frame(HL_USER, [opening])),
        hl.capture_ws(T0 + 700, HL_USER, hl.user_fills_frame(HL_USER, [closing])),
    ]
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    figures = [Decimal(summary[name]) for name in ("realised_pnl", "fees", "funding")]
    assert figures == [Decimal(100), Decimal("2.42"), Decimal(0)]
    assert Decimal(summary["net_pnl"]) == Decimal("97.58")
    assert (summary["positions"], summary["notional"]) == (0, "0")
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    assert (row["symbol"], row["exchange_qty"], row["local_qty"]) == ("ETH", "0", "0")
    assert (row["findings"], row["risk"], row["pnl"]["open"]) == ([], None, None)


def eth_fill_then(store_url: str, tmp_path: Path, *later: Json, fee: str = "1.2") -> None:
    """A Hyperliquid ETH long of 2 bought at 3000, no state polled since, then ``later``."""
    opening = hl.user_fill(
        coin="ETH", px="3000.0", sz="2.0", side="B", time=T0, oid=1, tid=1, fee=fee
    )
    records = [hl.capture_ws(T0, HL_USER, hl.user_fills_frame(HL_USER, [opening])), *later]
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0


def test_a_position_no_report_has_named_yet_is_said_apart_not_counted(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Marked at 3050 by the public prices, the long is up 100 by trueup's fills, which
    `positions` shows; the venue has vouched for none of it yet, so the summary counts it
    apart (its fee, none here, would be in the totals)."""
    ctx = {"channel": "activeAssetCtx", "data": {"coin": "ETH", "ctx": {"markPx": "3050.0"}}}
    market = {"at": T0 + 1, "venue": "hyperliquid", "account": HL_USER, "channel": "market"}
    eth_fill_then(store_url, tmp_path, {**market, "data": ctx}, fee="0.0")
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    assert (summary["positions"], summary["notional"], summary["unreported"]) == (0, "0", 1)
    assert Decimal(summary["net_pnl"]) == 0
    for only in ([], ["--symbol", "ETH"]):  # with no fee, all the symbol has to say
        text = "\n".join(text_lines(capsys, store_url, "summary", *only))
        assert "  not counted: 1 position(s) trueup's fills opened that no report" in text
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    assert (row["pnl"]["unrealised_pnl"], row["pnl"]["unrealised_source"]) == ("100.00", "trueup")


def test_a_state_after_the_fill_that_omits_its_coin_leaves_the_position_uncounted(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clearinghouseState polled after the fill that lists no ETH: closed since, or a
    state that had not yet taken the fill in. The summary counts no position; the
    lifecycle is left open (a lagging state must not close a round trip), apart."""
    state = hl.clearinghouse_state([], time=T0 + 4_995, account_value="1000.0")
    polled = hl.capture_rest(T0 + 5_000, HL_USER, "clearinghouseState", {"user": HL_USER}, state)
    eth_fill_then(store_url, tmp_path, polled)
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    assert (summary["positions"], summary["notional"], summary["unreported"]) == (0, "0", 1)
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    where = ["--venue", "hyperliquid", "--account", HL_USER, "--symbol", "ETH", "--json"]
    (audit,) = json_lines(capsys, store_url, "audit", *where)
    assert audit["pnl"] == row["pnl"]


def test_a_spot_buy_is_no_position_left_uncounted(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bybit's spot has no positions: no list will ever name its BTCUSDT, so a spot buy is
    not counted apart as a position no report has named yet (can-open does not wait on it)."""
    spot = {
        "category": "spot",
        "symbol": "BTCUSDT",
        "exec_id": "e-1",
        "order_id": "o-1",
        "side": "Buy",
        "exec_price": "100000",
        "exec_qty": "0.1",
        "exec_time": T0 + 1_000,
        "seq": 1,
    }
    records = [position_snapshot(T0), execution_frame(T0 + 1_000, spot)]
    path = tmp_path / "spot.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (summary,) = json_lines(capsys, store_url, "summary", "--json")
    assert (summary["positions"], summary["unreported"]) == (0, 0)


def test_a_key_whose_order_filled_is_listed_before_any_position_report(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bybit sends an order's fill before the position it opened: the fill is the exchange's
    word that it holds the key, so `positions` lists it (exchange 0 until its report)."""
    order = messages.order_item(
        symbol="BTCUSDT",
        order_id="o1",
        side="Buy",
        qty="0.1",
        status="Filled",
        updated_time=T0 + 1,
        cum_exec_qty="0.1",
        avg_price="50000",
        cum_exec_fee="2.75",
    )
    execution = messages.execution_item(
        symbol="BTCUSDT", exec_id="e1", order_id="o1", side="Buy", exec_price="50000",
        exec_qty="0.1", exec_time=T0 + 1, seq=1, exec_fee="2.75",
    )  # fmt: skip
    records = [
        messages.capture_ws(
            T0 + 2, "main", messages.ws_frame("order", [order], message_id="o", creation_time=T0)
        ),
        messages.capture_ws(
            T0 + 3,
            "main",
            messages.ws_frame("execution", [execution], message_id="e", creation_time=T0 + 1),
        ),
    ]
    path = tmp_path / "fills.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    (row,) = json_lines(capsys, store_url, "positions", "--json")
    assert (row["symbol"], row["exchange_qty"], row["pnl"]["open"]["size"]) == (
        "BTCUSDT",
        "0",
        "0.1",
    )
    assert Decimal(row["pnl"]["fees"]) == Decimal("2.75")


# --- unrealised PnL: what trueup can vouch for -----------------------------------------------


def position_list(at: int, **item: Any) -> Json:
    """One /v5/position/list page: BTCUSDT 0.15 long at 106250, as Bybit's documentation
    shows it (mark 107655.3, unrealised 210.795), ``item`` changing it."""
    fields: Json = {
        "symbol": "BTCUSDT", "side": "Buy", "size": "0.15", "seq": 9518243310,
        "updated_time": at, "entry_price": "106250", "mark_price": "107655.3",
        "unrealised_pnl": "210.795", "position_im": "1593.75", "rest": True, **item,
    }  # fmt: skip
    body = messages.rest_ok("linear", [messages.position_item(**fields)], time=at)
    return messages.capture_rest(at, "main", "/v5/position/list", {"category": "linear"}, body)


def ingested(store_url: str, tmp_path: Path, *records: Json) -> str:
    path = tmp_path / "page.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    return store_url


BTC_MAIN = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]


def test_a_position_opened_before_trueup_saw_its_fills_shows_the_venues_unrealised_pnl(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, position_list(T0))
    (row,) = json_lines(capsys, url, "positions", "--json")
    # The ledger folded no fill of it: it knows neither entry nor size, so not 0 but the
    # venue's figure, saying so.
    assert (row["pnl"]["unrealised_pnl"], row["pnl"]["unrealised_source"]) == (
        "210.795",
        "venue",
    )
    (summary,) = json_lines(capsys, url, "summary", "--json")
    assert (summary["unrealised_pnl"], summary["unrealised_from_venue"]) == ("210.795", 1)
    # The audit replays the journal: the same answer as the views.
    (audit,) = json_lines(capsys, url, "audit", *BTC_MAIN, "--json")
    assert audit["pnl"] == row["pnl"]
    capsys.readouterr()
    assert main(["--store", url, "positions"]) == 0
    _, line, note = capsys.readouterr().out.splitlines()
    assert " 210.795* " in line and note.startswith("unrealised: * the venue's own figure")


def test_a_position_with_neither_trueups_nor_the_venues_figure_shows_its_unrealised_unknown(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = position_list(T0)
    del page["data"]["result"]["list"][0]["unrealisedPnl"]
    url = ingested(store_url, tmp_path, page)
    (row,) = json_lines(capsys, url, "positions", "--json")
    assert (row["pnl"]["unrealised_pnl"], row["pnl"]["unrealised_source"]) == (None, None)
    capsys.readouterr()
    assert main(["--store", url, "positions"]) == 0
    _, line = capsys.readouterr().out.splitlines()
    assert line.split()[5] == "-"  # unrealised, after account, symbol, idx, local, exchange
    (summary,) = json_lines(capsys, url, "summary", "--json")
    assert (summary["unrealised_pnl"], summary["unrealised_unknown"]) == ("0", 1)
    # Its mark is known (the list's): what is missing is a figure, the venue's or trueup's.
    text = "\n".join(text_lines(capsys, url, "summary"))
    assert "unknown for 1 (no figure of the venue's, and no fills of trueup's" in text


def test_a_position_whose_opening_fill_trueup_folded_shows_its_own_unrealised_pnl(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill = messages.execution_item(
        symbol="BTCUSDT", exec_id="e1", order_id="o1", side="Buy", exec_price="106000",
        exec_qty="0.15", exec_time=T0, seq=1,
    )  # fmt: skip
    frame = messages.ws_frame("execution", [fill], message_id="e1", creation_time=T0)
    # The page shows the position the fill opened: 0.15 at 106000, the venue's unrealised
    # rounded to its cent.
    page = position_list(T0, entry_price="106000", unrealised_pnl="248.29")
    url = ingested(store_url, tmp_path, messages.capture_ws(T0, "main", frame), page)
    (row,) = json_lines(capsys, url, "positions", "--json")
    # (107655.3 - 106000) x 0.15 from its own fill, exactly, not the venue's rounded figure.
    assert (row["pnl"]["unrealised_pnl"], row["pnl"]["unrealised_source"]) == (
        "248.295",
        "trueup",
    )
    (audit,) = json_lines(capsys, url, "audit", *BTC_MAIN, "--json")
    assert audit["pnl"] == row["pnl"]


# --- for people: no figure made up, none in exponent notation ---------------------------------


def ada_intent(at: int) -> Json:
    """The bot's LIVE position on ADAUSDT, which no report names: no coin, nothing to sum."""
    intent = {
        "kind": "position_opened", "position_id": "p-ada", "category": "linear",
        "symbol": "ADAUSDT", "position_idx": 0, "side": "Buy", "qty": "500", "mode": "LIVE",
    }  # fmt: skip
    return messages.capture_intent(at, "main", intent)


def test_an_account_with_no_wallet_shows_no_equity_and_a_key_with_nothing_no_coin_apart(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, position_list(T0), ada_intent(T0 + 1))
    (summary,) = json_lines(capsys, url, "summary", "--json")
    assert summary["apart"] == []  # not a coin "?" with every figure 0
    assert summary["equity"] is None  # not an equity of 0
    capsys.readouterr()
    assert main(["--store", url, "summary"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("positions 1, notional 16148.295, equity - (no wallet reported)\n")
    assert "apart" not in out and " ? " not in out


def test_figures_are_shown_in_plain_notation_as_the_venue_wrote_them(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = messages.wallet_item(
        total_equity="7634.00000000", total_wallet_balance="7634.00000000",
        available="7634.00000000", initial_margin="0.00000000", maintenance_margin="0.00000000",
    )  # fmt: skip
    frame = messages.ws_frame("wallet", [item], message_id="w", creation_time=T0)
    url = ingested(store_url, tmp_path, messages.capture_ws(T0, "main", frame))
    capsys.readouterr()
    assert main(["--store", url, "summary"]) == 0
    out = capsys.readouterr().out
    # Decimal's str() gives 0E-8 for the venue's 0.00000000.
    assert "E-" not in out
    (account,) = [line for line in out.splitlines() if line.startswith("bybit/main")]
    assert account.split()[6:8] == ["0.00000000", "0.00000000"]  # initial, maintenance margin
