"""The coins money is counted in come from each venue's own reports, never from the domain:
a position's notional and PnL in the coin its report names, an account's equity in the coin
its wallet report names; a journal stored before reports named them reads the same; and
`trueup summary` sums the accounts' equity in USD at the rules' quote_equivalents."""

import ast
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.coins_capture import CCXT, HL_USER, capture
from tests.http_server import TOKEN, running_server
from tests.inputs import T0
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import coins as bybit_coins
from trueup.adapters.bybit import messages as bybit
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.adapters.venue import Contract
from trueup.adapters.venues import VENUES
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    PositionsReported,
    WalletReported,
)
from trueup.domain.reconciler import Reconciler
from trueup.domain.vocabulary import ContractKind
from trueup.projections import view_building, views
from trueup.projections.summary import summarise
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

STORED = Path(__file__).parent / "stored" / "journal-before-coins.jsonl"
DOMAIN = Path(__file__).parent.parent / "domain"
Json = dict[str, Any]


def decoded() -> list[InputEvent]:
    return [decode_line(orjson.dumps(record)) for record in capture()]


def coins(events: Iterable[InputEvent]) -> set[tuple[str, str, str | None]]:
    """(venue, symbol or "equity", coin) of every report the events carry."""
    found: set[tuple[str, str, str | None]] = set()
    for event in events:
        if isinstance(event, PositionsReported):
            found |= {(event.venue, r.symbol, r.notional_coin) for r in event.reports}
            if event.wallet is not None:
                found.add((event.venue, "equity", event.wallet.equity_coin))
        elif isinstance(event, ExecutionsReported):
            found |= {(event.venue, f"fill {f.symbol}", f.notional_coin) for f in event.fills}
        elif isinstance(event, WalletReported):
            found |= {(event.venue, "equity", w.equity_coin) for w in event.wallets}
    return found


def summary_of(events: Iterable[InputEvent]) -> Json:
    reconciler = Reconciler()
    for event in events:
        reconciler.apply(event)
    built = list(view_building.every_view(reconciler))
    accounts = [v for v in built if isinstance(v, views.AccountView)]
    symbols = [v for v in built if isinstance(v, views.SymbolView)]
    return summarise(accounts, symbols).as_json()


# --- each venue's adapter names the coins -----------------------------------------------


def test_each_venues_reports_name_the_coins_their_money_is_counted_in() -> None:
    assert coins(decoded()) == {
        # Bybit: a linear contract in its settle coin, an inverse one in USD (its size unit),
        # the unified account's equity in USD.
        ("bybit", "equity", "USD"),
        ("bybit", "fill BTCUSDT", "USDT"),
        ("bybit", "BTCUSDT", "USDT"),
        ("bybit", "BTCUSD", "USD"),
        ("bybit", "BTCPERP", "USDC"),
        # Hyperliquid: every perpetual and the account in USDC.
        ("hyperliquid", "BTC", "USDC"),
        ("hyperliquid", "equity", "USDC"),
        ("hyperliquid", "fill ETH", "USDC"),
        # Aster: USDT-margined, the account in USDT.
        ("aster", "equity", "USDT"),
        ("aster", "BTCUSDT", "USDT"),
        # ccxt: the settle coin of the unified symbol.
        (CCXT, "BTC/USDT:USDT", "USDT"),
    }


def test_asters_trades_and_ccxts_name_their_settle_coin() -> None:
    trade = aster.user_trade(
        symbol="ETHUSDC", trade_id=7, order_id=8, side="BUY", price="3000", qty="1", time=T0
    )
    line = aster.capture_rest(T0, "main", "/fapi/v1/userTrades", {}, [trade])
    ccxt_trade = {
        "id": "t-1", "order": "o-1", "symbol": "ETH/USDC:USDC", "side": "buy", "price": 3000,
        "amount": 1, "timestamp": T0, "fee": {"cost": 0.1, "currency": "USDC"}, "info": {},
    }  # fmt: skip
    ccxt_line = {"at": T0, "venue": CCXT, "account": "main", "channel": "rest",
                 "endpoint": "fetchMyTrades", "params": {}, "data": [ccxt_trade]}  # fmt: skip
    found = coins(decode_line(orjson.dumps(record)) for record in (line, ccxt_line))
    assert found == {("aster", "fill ETHUSDC", "USDC"), (CCXT, "fill ETH/USDC:USDC", "USDC")}


def test_bybits_inverse_contracts_are_known_by_its_adapter_and_others_are_linear() -> None:
    kinds = {
        (event.venue, r.symbol): r.contract_kind
        for event in decoded()
        if isinstance(event, PositionsReported)
        for r in event.reports
    }
    assert kinds.pop(("bybit", "BTCUSD")) is ContractKind.INVERSE
    assert set(kinds.values()) == {ContractKind.LINEAR}
    # A dated inverse future, whose name says no coin, is inverse all the same.
    bybit = next(v.coins for v in VENUES if v.name == "bybit")
    assert bybit.kind("inverse", "BTCUSDH25") is ContractKind.INVERSE


def test_a_bybit_option_says_it_is_an_option_in_its_reports_its_fills_and_an_old_journal() -> None:
    """An option is neither linear nor inverse: the premium is what its size x mark is worth,
    and the domain can tell it apart by its kind, never by its name."""
    symbol = "BTC-13FEB25-89000-P-USDT"
    fill = bybit.execution_item(
        symbol=symbol, category="option", exec_id="e-9", order_id="o-9", side="Buy",
        exec_price="500", exec_qty="2", exec_time=T0 + 2, seq=9,
    )  # fmt: skip
    lines = [
        _position("option", symbol, "2", "500", 1),
        _bybit_ws_line("execution", fill, T0 + 2),
    ]
    events = [decode_line(orjson.dumps(line)) for line in lines]
    report, executions = events
    assert isinstance(report, PositionsReported) and isinstance(executions, ExecutionsReported)
    kinds = [report.reports[0].contract_kind, executions.fills[0].contract_kind]
    assert kinds == [ContractKind.OPTION, ContractKind.OPTION]
    # Stored before reports named their kind, or when an option's was said to be linear.
    for event in events:
        stored = codec.encode(event)
        assert b'"contract_kind":"option"' in stored
        for older in (b"", b',"contract_kind":"linear"'):
            read = codec.decode(stored.replace(b',"contract_kind":"option"', older))
            assert read == event
    # Whatever category it is asked of, and only an option's name is one.
    assert bybit_coins.kind("linear", symbol) is ContractKind.OPTION
    assert bybit_coins.kind("option", "ETH-28FEB25-2800-C") is ContractKind.OPTION
    assert bybit_coins.kind("linear", "BTCUSDT-26DEC25") is ContractKind.LINEAR


def _bybit_ws_line(topic: str, item: Json, at: int) -> Json:
    frame = bybit.ws_frame(topic, [item], message_id=f"{topic}-{at}", creation_time=at)
    return bybit.capture_ws(at, "main", frame)


def test_a_symbol_whose_name_says_no_coin_names_none() -> None:
    by_name = {v.name: v.coins for v in VENUES}
    assert by_name["hyperliquid"].counted_in("spot", "@107") is None
    assert by_name["ccxt"].counted_in("perp", "BTCUSDT") is None  # not a unified symbol


# --- Bybit's dated futures and options, by the names its docs give them (enum "symbol") ------


@pytest.mark.parametrize(
    ("category", "symbol", "contract"),
    [
        # A USDT future settles in USDT, a USDC one in USDC, as their perpetuals do.
        ("linear", "BTCUSDT-26DEC25", Contract("BTC", "USDT", "USDT", "USDT")),
        ("linear", "ETHUSDT-14FEB25", Contract("ETH", "USDT", "USDT", "USDT")),
        ("linear", "BTC-26DEC25", Contract("BTC", "USDC", "USDC", "USDC")),
        # A day of one digit, as Bybit's option names write theirs (BTC-6JAN23-18000-C).
        ("linear", "BTCUSDT-7MAR25", Contract("BTC", "USDT", "USDT", "USDT")),
        ("linear", "ETH-7MAR25", Contract("ETH", "USDC", "USDC", "USDC")),
        # An inverse future settles in its base coin; sized in USD, as BTCUSD is.
        ("inverse", "BTCUSDZ25", Contract("BTC", "USD", "BTC", "USD")),
        ("inverse", "ETHUSDH26", Contract("ETH", "USD", "ETH", "USD")),
    ],
)
def test_a_bybit_dated_future_is_counted_in_the_coin_its_perpetual_is(
    category: str, symbol: str, contract: Contract
) -> None:
    assert bybit_coins.contract(category, symbol) == contract


@pytest.mark.parametrize("category", ["linear", "option", "inverse"])
@pytest.mark.parametrize(
    "symbol",
    [
        "BTC-13FEB25-89000-P-USDT",
        "ETH-28FEB25-2800-C",
        # A coin worth less than its strike's unit has a strike with decimals.
        "XRP-27DEC24-0.5-C",
        "DOGE-7MAR25-0.12-P-USDT",
    ],
)
def test_a_bybit_option_is_never_read_as_a_linear_contract(category: str, symbol: str) -> None:
    # BTC-13FEB25-89000-P-USDT ends as BTCUSDT does: its name is an option's all the same.
    assert bybit_coins.contract(category, symbol) is None
    assert bybit_coins.categories(symbol) == ("option",)


def _position(category: str, symbol: str, size: str, mark: str, seq: int) -> Json:
    item = bybit.position_item(
        symbol=symbol, category=category, side="Buy", size=size, seq=seq, updated_time=T0 + seq,
        entry_price=mark, mark_price=mark, leverage="5",
    )  # fmt: skip
    frame = bybit.ws_frame("position", [item], message_id=f"p-{seq}", creation_time=T0 + seq)
    return bybit.capture_ws(T0 + seq, "main", frame)


def test_bybits_dated_futures_are_summed_in_their_coins_and_an_option_in_none(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = {"quote_equivalents": {"USD": "1", "USDT": "0.998"}}  # USDC: no value
    lines = [
        {"at": T0, "channel": "rules", "source": "test", "data": rules},
        _position("linear", "BTCUSDT-26DEC25", "0.1", "50000", 1),  # 5000 USDT
        _position("linear", "BTC-26DEC25", "1", "50000", 2),  # 50000 USDC
        _position("inverse", "BTCUSDZ25", "1000", "50000", 3),  # 1000 USD
        _position("option", "BTC-13FEB25-89000-P-USDT", "2", "500", 4),  # coin untold
    ]
    path = tmp_path / "dated.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in lines))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    summary = summary_json(capsys, store_url)
    # 5000 USDT at 0.998 and 1000 USD; the USDC future and the option apart, in their coins.
    assert Decimal(summary["notional"]) == Decimal(5990)
    by_symbol = {e["name"]: Decimal(e["notional"]) for e in summary["by_symbol"]}
    assert by_symbol == {"BTCUSDT-26DEC25": Decimal(4990), "BTCUSDZ25": Decimal(1000)}
    apart = {a["coin"]: (a["positions"], Decimal(a["notional"])) for a in summary["apart"]}
    assert apart == {"USDC": (1, Decimal(50000)), "?": (1, Decimal(1000))}
    assert main(["--store", store_url, "positions", "--json"]) == 0
    rows = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    coins = {row["symbol"]: row["risk"]["notional_coin"] for row in rows}
    assert coins == {
        "BTCUSDT-26DEC25": "USDT",
        "BTC-26DEC25": "USDC",
        "BTCUSDZ25": "USD",
        "BTC-13FEB25-89000-P-USDT": None,
    }


# --- a journal stored before the reports named their coins ------------------------------------


def test_a_journal_stored_before_reports_named_coins_reads_as_one_stored_now() -> None:
    """The stored fixture was written by the trueup before this change: no report in it names
    a coin; each is given its venue's as it is read."""
    lines = STORED.read_bytes().splitlines()
    assert not any(b"notional_coin" in line or b"equity_coin" in line for line in lines)
    old = [codec.decode(line) for line in lines]
    assert old == decoded()
    assert summary_of(old) == summary_of(decoded())


def test_an_old_journals_summary_counts_each_position_and_account_in_its_coin() -> None:
    summary = summary_of(codec.decode(line) for line in STORED.read_bytes().splitlines())
    assert summary["apart"] == []  # every coin named, and worth one USD by default
    # 5000 BTCUSDT + 1000 BTCUSD + 50000 BTCPERP; 50000 Hyperliquid BTC; 500 Aster; 25000 ccxt.
    assert Decimal(summary["notional"]) == Decimal(131500)
    assert Decimal(summary["equity"]) == Decimal(37000)  # 10000 USD + 25000 USDC + 2000 USDT
    # Bybit's BTCUSDT fee, in the USDT its fill names.
    bybit = next(a for a in summary["accounts"] if a["venue"] == "bybit")
    assert Decimal(bybit["fees"]) == Decimal(2)


def test_the_ledger_counts_a_key_in_the_coin_its_fills_name() -> None:
    """Hyperliquid's ETH, bought and sold between two states that never showed it."""
    reconciler = Reconciler()
    for line in STORED.read_bytes().splitlines():
        reconciler.apply(codec.decode(line))
    book = reconciler.books[("hyperliquid", HL_USER)]
    (eth,) = [ledger for key, ledger in book.pnl.keys.items() if key.symbol == "ETH"]
    assert (eth.realised, eth.fees, eth.coin) == (Decimal(100), Decimal(2), "USDC")


# --- equity in USD ---------------------------------------------------------------------------


@pytest.fixture
def priced_journal(store_url: str, tmp_path: Path) -> str:
    """The capture under rules that value USDT at 0.998 and give USDC no value."""
    rules = {"quote_equivalents": {"USD": "1", "USDT": "0.998"}}
    lines = [{"at": T0, "channel": "rules", "source": "test", "data": rules}, *capture()]
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in lines))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    return store_url


def summary_json(capsys: pytest.CaptureFixture[str], url: str) -> Json:
    capsys.readouterr()
    assert main(["--store", url, "summary", "--json"]) == 0
    found: Json = orjson.loads(capsys.readouterr().out)
    return found


def test_the_accounts_equity_is_summed_in_usd_and_a_coin_without_a_value_shown_apart(
    priced_journal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = summary_json(capsys, priced_journal)
    # Bybit's 10000 USD at 1, Aster's 2000 USDT at 0.998; Hyperliquid's USDC has no value.
    assert Decimal(summary["equity"]) == Decimal("11996")
    accounts = {(a["venue"], a["account"]): a for a in summary["accounts"]}
    assert Decimal(accounts[("aster", "main")]["equity"]) == Decimal("1996")
    assert accounts[("aster", "main")]["wallet"]["equity_coin"] == "USDT"
    assert accounts[("hyperliquid", HL_USER)]["equity"] is None
    assert accounts[("hyperliquid", HL_USER)]["wallet"]["equity"] == "25000.0"  # its own
    assert accounts[(CCXT, "main")]["equity"] is None  # no balance reported
    (usdc,) = summary["apart"]
    # Hyperliquid's equity and its BTC, and Bybit's BTCPERP, in USDC and in no total.
    assert (usdc["coin"], Decimal(usdc["equity"])) == ("USDC", Decimal(25000))
    assert (usdc["positions"], Decimal(usdc["notional"])) == (2, Decimal(100000))
    capsys.readouterr()
    assert main(["--store", priced_journal, "summary"]) == 0
    out = capsys.readouterr().out
    assert "equity 11996" in out.splitlines()[0]
    apart = out.split("apart", 1)[1].splitlines()
    assert apart[1].split()[:2] == ["coin", "equity"]
    assert apart[2].split()[:2] == ["USDC", "25000.0"]


def test_the_http_summary_gives_the_equity_in_usd_as_the_cli_does(
    priced_journal: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = summary_json(capsys, priced_journal)
    settings = ApiSettings(token=TOKEN)
    with (
        Journal.open(priced_journal, create=False) as journal,
        running_server(journal, settings, lambda: 10**13) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        found = client.get("/v1/summary").json()
    assert found == expected
    assert Decimal(found["equity"]) == Decimal("11996")


# --- the domain's boundary -------------------------------------------------------------------

# A venue's name as a word of its own ("bybit", "ccxt:okx", "ASTER_PERP"), not inside one
# ("master").
VENUE_NAME = re.compile(r"(?<![a-z])(bybit|hyperliquid|aster|ccxt)(?![a-z])")


def _code_names(tree: ast.AST) -> Iterable[tuple[int, str]]:
    """Every identifier and every string in ``tree`` but its docstrings: what the code says,
    not what its prose cites as an example."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                yield node.lineno, node.value
        elif isinstance(node, ast.Name):
            yield node.lineno, node.id
        elif isinstance(node, ast.Attribute):
            yield node.lineno, node.attr
        elif isinstance(node, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef | ast.alias):
            yield node.lineno, node.name


def test_the_domain_imports_no_adapter_or_runner_and_its_code_names_no_venue() -> None:
    found = []
    for path in sorted(DOMAIN.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        where = path.relative_to(DOMAIN.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                modules += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for module in modules:
                    if module.split(".")[:2] != ["trueup", "domain"] and module.startswith(
                        "trueup."
                    ):
                        found.append(f"{where}:{node.lineno} imports {module}")
        for line, name in _code_names(tree):
            if VENUE_NAME.search(name.lower()):
                found.append(f"{where}:{line} names {name!r}")
    assert found == []
