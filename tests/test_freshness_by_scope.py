"""A complete snapshot vouches only for what it was asked for: can-open says yes to a symbol
only while a fresh complete snapshot covers it, and the absent-means-flat rule flattens only
what it covers. Each venue's scopes, in its documented formats: Bybit's position list by
settle coin (linear USDT is not USDC, nor inverse), Aster's positionRisk of one symbol or of
all, Hyperliquid's clearinghouseState of every perp."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
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
from trueup.domain.events import PositionsReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

LIMIT_MS = RuleConfig().freshness_limit_ms
JSON = dict[str, Any]


def bybit_list(at: int, *items: JSON, **params: str) -> JSON:
    """A one-page /v5/position/list reply, asked with ``params`` (category linear unless said)."""
    category = params.setdefault("category", "linear")
    body = bybit.rest_ok(category, [bybit.position_item(**i, rest=True) for i in items], time=at)
    return bybit.capture_rest(at, "main", "/v5/position/list", params, body)


def held(symbol: str, size: str, seq: int = 1) -> JSON:
    return {"symbol": symbol, "side": "Buy", "size": size, "seq": seq, "updated_time": T0 - 1}


def bybit_position(at: int, symbol: str, size: str) -> JSON:
    item = bybit.position_item(symbol=symbol, side="Buy", size=size, seq=7, updated_time=at - 1)
    frame = bybit.ws_frame("position", [item], message_id=f"p-{at}", creation_time=at)
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
        "BTCUSD",  # an inverse contract
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
        bybit_position(T0, "BTCPERP", "0.5"),
        bybit_position(T0, "BTCUSDT", "0.1"),
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


def test_a_list_stored_before_pages_named_what_they_cover_is_given_it_as_read() -> None:
    event = accepted(bybit_list(T0, settleCoin="USDC"))
    assert isinstance(event, PositionsReported) and event.snapshot is not None
    assert event.snapshot.symbol_endings == ("USDC", "PERP")
    # As an older trueup stored it: the same page, no endings.
    stored = codec.encode(event).replace(b',"symbol_endings":["USDC","PERP"]', b"")
    assert b"symbol_endings" not in stored
    read = codec.decode(stored)
    assert isinstance(read, PositionsReported) and read.snapshot is not None
    assert read.snapshot.symbol_endings == ("USDC", "PERP")


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
