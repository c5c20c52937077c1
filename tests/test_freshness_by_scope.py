"""A complete snapshot vouches only for what it was asked for: can-open says yes to a symbol
only while a fresh complete snapshot covers it, and the absent-means-flat rule flattens only
what it covers. Each venue's scopes, in its documented formats: Bybit's position list by
settle coin (linear USDT is not USDC, nor inverse), Aster's positionRisk of one symbol or of
all, Hyperliquid's clearinghouseState of every perp and no spot pair."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.http_server import TOKEN, running_server
from tests.inputs import T0, accepted, line
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages as bybit
from trueup.adapters.hyperliquid import messages as hyperliquid
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.can_open import CanOpenAnswer
from trueup.application.service import TrueupService
from trueup.domain.coverage import Coverage, coverage_of
from trueup.domain.events import PositionsReported
from trueup.domain.position import LIST_SETTLES_MS
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig
from trueup.domain.snapshots import describe, scope_of
from trueup.projections.view_building import account_view
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

LIMIT_MS = RuleConfig().freshness_limit_ms
# When the positions these specs hold were pushed: long enough before the lists that follow
# for those to have caught up with the push (a list served sooner may lag it).
PUSHED = T0 - LIST_SETTLES_MS
JSON = dict[str, Any]


def bybit_list(at: int, *items: JSON, **params: str) -> JSON:
    """A one-page /v5/position/list reply, asked with ``params`` (category linear unless said)."""
    category = params.setdefault("category", "linear")
    body = bybit.rest_ok(category, [bybit.position_item(**i, rest=True) for i in items], time=at)
    return bybit.capture_rest(at, "main", "/v5/position/list", params, body)


def held(symbol: str, size: str, seq: int = 1) -> JSON:
    return {"symbol": symbol, "side": "Buy", "size": size, "seq": seq, "updated_time": T0 - 1}


def bybit_position(at: int, symbol: str, size: str, category: str = "linear") -> JSON:
    item = bybit.position_item(
        symbol=symbol, side="Buy", size=size, seq=7, updated_time=at - 1, category=category
    )
    frame = bybit.ws_frame("position", [item], message_id=f"p-{at}-{symbol}", creation_time=at)
    return bybit.capture_ws(at, "main", frame)


def folded(*records: JSON) -> Reconciler:
    reconciler = Reconciler()
    for record in records:
        reconciler.apply(accepted(record))
    return reconciler


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(f"sqlite://{tmp_path / 'journal.db'}") as journal:
        yield journal


def ingest(journal: Journal, *records: JSON) -> None:
    TrueupService(journal).ingest([[line(record) for record in records]])


def verdict(journal: Journal, venue: str, account: str, symbol: str, at: int) -> CanOpenAnswer:
    """can-open as every entry point asks it (the views, the venue's rules)."""
    return TrueupService(journal).can_open(venue, account, symbol, at=at)


# --- Bybit: a list by settle coin --------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol",
    [
        "BTCPERP",  # a USDC perpetual
        "ETHUSDC",  # a USDC perpetual too
        "BTC-26DEC25",  # a USDC future
        "BTCUSD",  # an inverse contract
        "BTCUSDZ25",  # an inverse future
        "BTC-13FEB25-89000-P-USDT",  # a USDT option: its name ends in USDT, its list is another
    ],
)
def test_a_list_of_linear_usdt_contracts_vouches_for_no_other_symbol(
    local: Journal, symbol: str
) -> None:
    # What `trueup run` asks Bybit for: category=linear, settleCoin=USDT.
    ingest(local, bybit_list(T0, settleCoin="USDT"))
    assert verdict(local, "bybit", "main", "BTCUSDT", T0 + 1_000).allowed
    answer = verdict(local, "bybit", "main", symbol, T0 + 1_000)
    assert (answer.allowed, answer.reasons) == (
        False,
        [
            "the exchange's positions were last listed for linear USDT-settled contracts; "
            f"{symbol} is not among them: what it holds of it is unknown"
        ],
    )


@pytest.mark.parametrize(
    ("params", "listed", "others"),
    [
        # Bybit's category enum: linear is "USDT perpetual, USDT Futures and USDC contract,
        # including USDC perp, USDC futures"; a list by settle coin returns all of that coin.
        (
            {"settleCoin": "USDT"},
            ["BTCUSDT", "BTCUSDT-26DEC25", "ETHUSDT-14FEB25", "1000PEPEUSDT"],
            ["BTC-26DEC25", "BTCPERP", "BTCUSD"],
        ),
        (
            {"settleCoin": "USDC"},
            ["BTCPERP", "ETHUSDC", "BTC-26DEC25", "ETH-27MAR26"],
            ["BTCUSDT-26DEC25", "BTCUSDT", "ETH-28FEB25-2800-C"],
        ),
        # An inverse contract settles in its base coin: a list by coin is that coin's
        # perpetual and its quarterly futures.
        (
            {"category": "inverse", "settleCoin": "BTC"},
            ["BTCUSD", "BTCUSDH26", "BTCUSDZ25"],
            ["ETHUSD", "ETHUSDZ25", "BTCUSDT", "BTCUSDT-26DEC25"],
        ),
        (
            {"category": "inverse"},
            ["BTCUSD", "ETHUSD", "ETHUSDZ25"],
            ["BTCUSDT", "BTCUSDT-26DEC25", "BTC-26DEC25", "BTCPERP"],
        ),
        # An option list by base coin is that coin's options, USDT- and USDC-settled alike
        # (baseCoin: "option only. Return all option positions if not passed").
        (
            {"category": "option", "baseCoin": "BTC"},
            ["BTC-13FEB25-89000-P-USDT", "BTC-28FEB25-90000-C", "BTC-6JAN26-18000-C"],
            ["ETH-28FEB25-2800-C", "ETH-13FEB25-2800-P-USDT", "BTCUSDT", "BTC-26DEC25"],
        ),
        # A strike with decimals, as a coin worth less than a dollar has (XRP, DOGE).
        (
            {"category": "option", "baseCoin": "XRP"},
            ["XRP-27DEC24-0.5-C", "XRP-7MAR25-2.25-P-USDT", "XRP-27DEC24-3-C"],
            ["DOGE-27DEC24-0.12-P", "XRPUSDT", "BTC-27DEC24-0.5-C"],
        ),
        (
            {"category": "option"},
            ["BTC-13FEB25-89000-P-USDT", "ETH-28FEB25-2800-C", "SOL-27MAR26-150-P-USDT"],
            ["BTCUSDT", "BTC-26DEC25", "BTCUSD"],
        ),
        # baseCoin is an option list's alone: were Bybit to read it of another category,
        # the list would be narrower than it returns, never wider.
        (
            {"settleCoin": "USDT", "baseCoin": "ETH"},
            ["ETHUSDT", "ETHUSDT-14FEB25"],
            ["BTCUSDT", "BTCUSDT-26DEC25", "ETHPERP"],
        ),
    ],
)
def test_a_list_vouches_for_every_contract_it_returns_dated_or_not_and_no_other(
    local: Journal, params: dict[str, str], listed: list[str], others: list[str]
) -> None:
    ingest(local, bybit_list(T0, **params))
    for symbol in listed:
        assert verdict(local, "bybit", "main", symbol, T0 + 1_000).allowed, symbol
    for symbol in others:
        answer = verdict(local, "bybit", "main", symbol, T0 + 1_000)
        assert not answer.allowed, symbol
        assert f"; {symbol} is not among them" in answer.reasons[0]


def test_a_list_by_settle_coin_flattens_the_dated_futures_it_omits_and_no_other() -> None:
    reconciler = folded(
        bybit_position(PUSHED, "BTCUSDT-26DEC25", "0.25"),
        bybit_position(PUSHED, "BTC-26DEC25", "0.5"),
        bybit_list(T0 + 1_000, settleCoin="USDT"),  # lists neither
    )
    positions = reconciler.book("bybit", "main").positions
    by_symbol = {key.symbol: p.exchange_qty for key, p in positions.items()}
    assert by_symbol == {"BTCUSDT-26DEC25": 0, "BTC-26DEC25": 0.5}
    reconciler.apply(accepted(bybit_list(T0 + 2_000, settleCoin="USDC")))
    assert all(p.exchange_qty == 0 for p in positions.values())


@pytest.mark.parametrize(
    ("future", "settle_coin"), [("BTCUSDT-7MAR25", "USDT"), ("ETH-7MAR25", "USDC")]
)
def test_a_future_whose_day_has_one_digit_is_listed_and_closed_as_any_other(
    local: Journal, future: str, settle_coin: str
) -> None:
    """Bybit's docs spell a future's day in two digits (BTCUSDT-21FEB25, BTC-24MAR23), its
    options' without a leading zero (BTC-6JAN23-18000-C): a future so named is read too."""
    # Held, then closed by hand: the list of its settle coin no longer names it.
    held_then_listed = (
        bybit_position(PUSHED, future, "0.5"),
        bybit_list(T0 + 1_000, settleCoin=settle_coin),
    )
    positions = folded(*held_then_listed).book("bybit", "main").positions
    assert {key.symbol: p.exchange_qty for key, p in positions.items()} == {future: 0}
    ingest(local, bybit_list(T0, settleCoin=settle_coin))
    assert verdict(local, "bybit", "main", future, T0 + 1_000).allowed


def test_an_inverse_list_by_coin_flattens_that_coins_contracts_alone() -> None:
    def inverse(symbol: str) -> JSON:
        item = bybit.position_item(
            symbol=symbol, side="Buy", size="100", seq=3, updated_time=PUSHED, category="inverse"
        )
        frame = bybit.ws_frame("position", [item], message_id=f"p-{symbol}", creation_time=PUSHED)
        return bybit.capture_ws(PUSHED, "main", frame)

    reconciler = folded(
        inverse("BTCUSDZ25"),
        inverse("ETHUSD"),
        bybit_list(T0 + 1_000, category="inverse", settleCoin="BTC"),
    )
    positions = reconciler.book("bybit", "main").positions
    assert {key.symbol: p.exchange_qty for key, p in positions.items()} == {
        "BTCUSDZ25": 0,
        "ETHUSD": 100,
    }


def test_an_option_list_by_base_coin_says_so_and_flattens_that_coins_options_alone(
    local: Journal,
) -> None:
    def option(symbol: str, seq: int) -> JSON:
        item = bybit.position_item(
            symbol=symbol, side="Buy", size="1", seq=seq, updated_time=PUSHED, category="option"
        )
        frame = bybit.ws_frame("position", [item], message_id=f"p-{seq}", creation_time=PUSHED)
        return bybit.capture_ws(PUSHED, "main", frame)

    still = held("BTC-28FEB25-90000-C", "2", seq=5)
    records = (
        option("BTC-13FEB25-89000-P-USDT", 3),
        option("BTC-27DEC24-0.5-C", 6),
        option("ETH-28FEB25-2800-C", 4),
        bybit_list(T0 + 1_000, still, category="option", baseCoin="BTC"),
    )
    positions = folded(*records).book("bybit", "main").positions
    assert {key.symbol: p.exchange_qty for key, p in positions.items()} == {
        "BTC-13FEB25-89000-P-USDT": 0,  # a BTC option the list omits: flat
        "BTC-27DEC24-0.5-C": 0,  # its strike has decimals: flat all the same
        "BTC-28FEB25-90000-C": 2,
        "ETH-28FEB25-2800-C": 1,  # not asked of
    }
    ingest(local, *records)
    answer = verdict(local, "bybit", "main", "ETH-13FEB25-2800-P-USDT", T0 + 2_000)
    assert answer.reasons == [
        "the exchange's positions were last listed for option contracts on BTC; "
        "ETH-13FEB25-2800-P-USDT is not among them: what it holds of it is unknown"
    ]


def test_an_option_list_by_base_coin_stored_before_pages_named_it_covers_that_coins_alone() -> None:
    """A trueup before pages named their base coin stored Bybit's option list by baseCoin as
    a list asked of none; its line says what it was asked, and Bybit returned that coin's
    options alone: it covers those, under the scope it was filed and folded under."""
    btc_only = accepted(bybit_list(T0 + 1_000, category="option", baseCoin="BTC"))
    assert isinstance(btc_only, PositionsReported) and btc_only.snapshot is not None
    forms = orjson.dumps(list(btc_only.snapshot.symbol_forms))
    stored = codec.encode(btc_only)
    older = stored.replace(b',"symbol_forms":' + forms, b"").replace(b',"base_coin":"BTC"', b"")
    assert b"symbol_forms" not in older and b"base_coin" not in older
    read = codec.decode(older)
    assert isinstance(read, PositionsReported) and read.snapshot is not None
    assert scope_of(read.snapshot) == ("option", None, None, None)
    covered = coverage_of(read.snapshot)
    assert covered.names("BTC-13FEB25-89000-P-USDT") and covered.names("BTC-27DEC24-0.5-C")
    assert not covered.names("ETH-28FEB25-2800-C")
    reconciler = folded(
        bybit_position(PUSHED, "BTC-13FEB25-89000-P-USDT", "1", category="option"),
        bybit_position(PUSHED, "ETH-28FEB25-2800-C", "1", category="option"),
    )
    reconciler.apply(read)
    positions = reconciler.book("bybit", "main").positions
    assert {key.symbol: p.exchange_qty for key, p in positions.items()} == {
        "BTC-13FEB25-89000-P-USDT": 0,
        "ETH-28FEB25-2800-C": 1,  # not asked of, though the page was stored as if
    }


def test_a_list_by_base_coin_of_a_venue_that_cannot_name_it_covers_nothing() -> None:
    # Forms untold: a list narrowed by a coin is not the whole category.
    narrowed = Coverage("option", None, None, (), base_coin="BTC")
    assert not narrowed.covers("option", "BTC-13FEB25-89000-P-USDT")
    assert Coverage("option", None, None, ()).covers("option", "BTC-13FEB25-89000-P-USDT")


def test_a_list_stored_before_pages_named_their_base_coin_reads_as_it_did() -> None:
    event = accepted(bybit_list(T0, settleCoin="USDT"))
    stored = codec.encode(event)
    assert b',"base_coin":null' in stored
    read = codec.decode(stored.replace(b',"base_coin":null', b""))
    assert read == event


def test_each_settle_coin_list_vouches_for_its_own_symbols_at_its_own_age(local: Journal) -> None:
    ingest(
        local,
        bybit_list(T0, settleCoin="USDT"),
        bybit_list(T0 + 10_000, settleCoin="USDC"),
        bybit_list(T0 + 10_000, category="inverse"),
    )
    now = T0 + LIMIT_MS + 5_000  # the USDT list too old by then, the others not
    for symbol in ("BTCPERP", "ETHUSDC", "BTCUSD"):
        assert verdict(local, "bybit", "main", symbol, now).allowed, symbol
    late = verdict(local, "bybit", "main", "BTCUSDT", now)
    assert late.reasons == [
        "the exchange view is 20 s old (last complete snapshot at 2025-11-03T19:43:20.000Z); "
        "answers need one within 15 s"
    ]


def test_a_key_held_in_another_category_is_not_vouched_for_by_its_name(local: Journal) -> None:
    # BTCUSD is inverse: a linear list whose names end as its does not cover it.
    inverse = bybit.position_item(
        symbol="BTCUSD", side="Buy", size="100", seq=3, updated_time=T0 - 1, category="inverse"
    )
    frame = bybit.ws_frame("position", [inverse], message_id="p-inverse", creation_time=T0)
    ingest(
        local,
        bybit.capture_ws(T0, "main", frame),
        bybit_list(T0, category="linear", symbol="BTCUSD"),
    )
    answer = verdict(local, "bybit", "main", "BTCUSD", T0 + 1_000)
    assert (
        "the exchange's positions were last listed for BTCUSD alone (linear)" in (answer.reasons[0])
    )


def test_a_list_of_usdt_contracts_never_closes_a_usdc_position() -> None:
    reconciler = folded(
        bybit_position(PUSHED, "BTCPERP", "0.5"),
        bybit_position(PUSHED, "BTCUSDT", "0.1"),
        bybit_list(T0 + 1_000, settleCoin="USDT"),  # lists neither
    )
    positions = reconciler.book("bybit", "main").positions
    by_symbol = {key.symbol: p.exchange_qty for key, p in positions.items()}
    assert by_symbol == {"BTCPERP": 0.5, "BTCUSDT": 0}  # absent from its own list: flat
    reconciler.apply(accepted(bybit_list(T0 + 2_000, settleCoin="USDC")))
    assert all(p.exchange_qty == 0 for p in positions.values())


def test_a_stream_rebuilt_is_resynced_only_where_a_list_begun_since_covers(local: Journal) -> None:
    reconnected = {"event": "reconnected", "stream": "private", "reason": "ping timeout"}
    feed = {"at": T0 + 2_000, "venue": "bybit", "account": "main", "channel": "feed"}
    ingest(
        local,
        bybit_list(T0, settleCoin="USDT"),
        bybit_list(T0 + 1_000, settleCoin="USDC"),
        feed | {"data": reconnected | {"attempt": 1}},
        bybit_list(T0 + 3_000, settleCoin="USDT"),
    )
    assert verdict(local, "bybit", "main", "BTCUSDT", T0 + 4_000).allowed
    usdc = verdict(local, "bybit", "main", "BTCPERP", T0 + 4_000)
    assert usdc.reasons == [
        "the venue's stream was rebuilt at 2025-11-03T19:43:22.000Z (ping timeout) and no "
        "complete snapshot of the exchange's positions has been taken since: what it missed "
        "is unknown"
    ]
    ingest(local, bybit_list(T0 + 5_000, settleCoin="USDC"))
    assert verdict(local, "bybit", "main", "BTCPERP", T0 + 6_000).allowed


@pytest.mark.parametrize(
    "older",
    [
        b"",  # stored before pages named what they cover
        b',"symbol_endings":["USDC","PERP"]',  # stored when they named only the endings
    ],
)
def test_a_list_stored_before_pages_named_their_forms_is_given_them_as_read(older: bytes) -> None:
    event = accepted(bybit_list(T0, settleCoin="USDC"))
    assert isinstance(event, PositionsReported) and event.snapshot is not None
    forms = event.snapshot.symbol_forms
    assert forms
    stored = codec.encode(event).replace(b',"symbol_forms":' + orjson.dumps(list(forms)), older)
    assert b"symbol_forms" not in stored
    read = codec.decode(stored)
    assert isinstance(read, PositionsReported) and read.snapshot is not None
    assert read.snapshot.symbol_forms == forms
    assert coverage_of(read.snapshot).names("BTC-26DEC25")


@pytest.mark.parametrize("newer_first", [True, False])
def test_the_exchange_view_is_as_old_as_the_complete_snapshot_folded_last(
    newer_first: bool,
) -> None:
    """An older complete snapshot folded after a newer one (a capture of the past, or a clock
    set back after it ran ahead: its dates cannot tell which) leaves only the older one to
    vouch with: the view is never younger than what trueup can vouch for."""
    newer = bybit_list(T0 + 5_000, held("BTCUSDT", "1"), settleCoin="USDT")
    older = bybit_list(T0 + 1_000, held("BTCUSDT", "1"), settleCoin="USDT")
    reconciler = folded(*((newer, older) if newer_first else (older, newer)))
    book = reconciler.book("bybit", "main")
    view = account_view(reconciler, ("bybit", "main"))
    last = T0 + 1_000 if newer_first else T0 + 5_000
    assert book.complete_snapshot_at == last
    assert [v.at for v in book.vouched.values()] == [last]
    assert view.freshness.complete_snapshot_at == last
    assert view.facts.complete_snapshot_at == last


# --- Aster: positionRisk of one symbol, or of all ---------------------------------------------


def aster_risk(at: int, *legs: tuple[str, str], symbol: str | None = None) -> JSON:
    params = {} if symbol is None else {"symbol": symbol}
    body = [aster.position_risk(symbol=s, position_amt=q, update_time=T0 - 1) for s, q in legs]
    return aster.capture_rest(at, "ast1", "/fapi/v2/positionRisk", params, body)


def test_an_aster_list_of_one_symbol_vouches_for_that_symbol_alone(local: Journal) -> None:
    ingest(local, aster_risk(T0, ("ETHUSDT", "0"), symbol="ETHUSDT"))
    assert verdict(local, "aster", "ast1", "ETHUSDT", T0 + 1_000).allowed
    answer = verdict(local, "aster", "ast1", "BTCUSDT", T0 + 1_000)
    assert answer.reasons == [
        "the exchange's positions were last listed for ETHUSDT alone (perp); BTCUSDT is not "
        "among them: what it holds of it is unknown"
    ]


def test_an_aster_list_of_one_symbol_keeps_no_other_fresh(local: Journal) -> None:
    # The walkthrough's: all listed at T0, ETHUSDT alone later; past the limit of the first,
    # BTCUSDT is as old as the list of all.
    ingest(
        local,
        aster_risk(T0, ("BTCUSDT", "0"), ("ETHUSDT", "0")),
        aster_risk(T0 + 10_000, ("ETHUSDT", "0"), symbol="ETHUSDT"),
    )
    now = T0 + LIMIT_MS + 1
    assert verdict(local, "aster", "ast1", "ETHUSDT", now).allowed
    for symbol in ("BTCUSDT", "SOLUSDT"):
        answer = verdict(local, "aster", "ast1", symbol, now)
        assert not answer.allowed and answer.reasons[0].startswith(
            "the exchange view is 15.001 s old"
        )


def test_an_aster_list_of_all_vouches_for_every_symbol(local: Journal) -> None:
    ingest(local, aster_risk(T0, ("BTCUSDT", "0")))
    for symbol in ("BTCUSDT", "SOLUSDT", "ETHUSDC", "1000PEPEUSDT"):
        assert verdict(local, "aster", "ast1", symbol, T0 + 1_000).allowed, symbol


# --- Hyperliquid: clearinghouseState, every perp ----------------------------------------------


def test_a_clearinghouse_state_vouches_for_every_perp(local: Journal) -> None:
    user = "0x" + "ab" * 20
    state = hyperliquid.clearinghouse_state(
        [hyperliquid.asset_position(coin="BTC", szi="0.1", entry_px="65000.0")], time=T0
    )
    ingest(local, hyperliquid.capture_rest(T0, user, "clearinghouseState", {}, state))
    for symbol in ("ETH", "kPEPE", "SOL"):
        assert verdict(local, "hyperliquid", user, symbol, T0 + 1_000).allowed, symbol
    held_btc = verdict(local, "hyperliquid", user, "BTC", T0 + 1_000)
    assert held_btc.reasons == ["the exchange holds LONG 0.1 BTC (idx 0, seq 1762199000000)"]


@pytest.mark.parametrize("name", ["@107", "PURR/USDC", "xyz:XYZ100"])
def test_a_clearinghouse_state_vouches_for_no_spot_pair_nor_another_dexs_perp(
    local: Journal, name: str
) -> None:
    """The reason does not claim the list was of every perp: a builder dex's is not in it."""
    user = "0x" + "ab" * 20
    state = hyperliquid.clearinghouse_state([], time=T0)
    ingest(local, hyperliquid.capture_rest(T0, user, "clearinghouseState", {}, state))
    assert verdict(local, "hyperliquid", user, "ETH", T0 + 1_000).allowed
    answer = verdict(local, "hyperliquid", user, name, T0 + 1_000)
    assert answer.reasons == [
        "the exchange's positions were last listed for the perp contracts such a list "
        f"returns; {name} is not among them: what it holds of it is unknown"
    ]


def test_a_clearinghouse_state_stored_before_it_named_its_forms_still_covers_no_spot() -> None:
    user = "0x" + "ab" * 20
    state = hyperliquid.clearinghouse_state([], time=T0)
    event = accepted(hyperliquid.capture_rest(T0, user, "clearinghouseState", {}, state))
    assert isinstance(event, PositionsReported) and event.snapshot is not None
    forms = event.snapshot.symbol_forms
    stored = codec.encode(event).replace(b',"symbol_forms":' + orjson.dumps(list(forms)), b"")
    read = codec.decode(stored)
    assert isinstance(read, PositionsReported) and read.snapshot is not None
    covered = coverage_of(read.snapshot)
    assert covered.names("kPEPE") and not covered.names("@107")


# --- as the CLI and HTTP answer it, from the persisted views ----------------------------------


def test_can_open_and_health_answer_by_scope_from_the_views(
    journal: Journal, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    at = T0 + 1_000
    TrueupService(journal).ingest(
        [[line(bybit_list(T0, held("BTCUSDT", "0.3"), settleCoin="USDT"))]]
    )
    where = ["--venue", "bybit", "--account", "main", "--at", str(at)]
    assert main(["--store", store_url, "can-open", *where, "--symbol", "DOGEUSDT"]) == 0
    capsys.readouterr()
    assert main(["--store", store_url, "can-open", *where, "--symbol", "ETHUSDC"]) == 1
    told = capsys.readouterr().out
    assert "linear USDT-settled contracts; ETHUSDC is not among them" in told
    with (
        running_server(journal, ApiSettings(token=TOKEN), lambda: at) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        query: dict[str, str | int] = {"venue": "bybit", "account": "main", "at": at}
        assert client.get("/v1/can-open", params=query | {"symbol": "DOGEUSDT"}).json()["allowed"]
        no = client.get("/v1/can-open", params=query | {"symbol": "BTCPERP"}).json()
        assert not no["allowed"]
        assert "BTCPERP is not among them" in no["reasons"][0]
        (account,) = client.get("/health").json()["accounts"]
    assert account["snapshots"] == [
        {
            "covers": "linear USDT-settled contracts",
            "complete_snapshot_at": T0,
            "complete_snapshot_iso": "2025-11-03T19:43:20.000Z",
            "age_ms": 1_000,
            "fresh": True,
        }
    ]


def test_a_snapshot_run_is_named_in_the_domains_words_not_a_venues_parameters() -> None:
    """What POSITION_SYNC_FAILED and /health call a run: no request parameter of any venue."""
    assert describe(("linear", "", "USDT", None)) == "linear settled in USDT"
    assert describe(("option", "", None, "BTC")) == "option on BTC"
    assert describe(("inverse", "", "BTC", "BTC")) == "inverse settled in BTC on BTC"
    assert describe(("linear", "BTCUSDT", None, None)) == "linear BTCUSDT"
    assert describe(("spot", "", None, None)) == "spot (all)"
