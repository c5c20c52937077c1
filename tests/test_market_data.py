"""Public market data: the venues' documented ticker and mids frames decode to prices, the
fold keeps the latest of each, bad frames are refused as elsewhere, and state snapshots keep
the prices."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages as hl
from trueup.adapters.market_data import capture_market
from trueup.adapters.store import snapshots
from trueup.adapters.store.snapshots import Snapshot
from trueup.domain.events import (
    InputEvent,
    InputRejected,
    PriceQuote,
    PricesReported,
    RejectionKind,
)
from trueup.domain.reconciler import Reconciler

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "market-data.json").read_text())
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
AT = 1762199100000


def frame(name: str) -> dict[str, Any]:
    return dict(FIXTURES[name]["frame"])


def decoded(venue: str, data: object, at: int = AT, account: str = "main") -> InputEvent:
    record = capture_market(at, venue, account, data)  # type: ignore[arg-type]
    return decode_line(orjson.dumps(record))


def prices(event: InputEvent) -> tuple[PriceQuote, ...]:
    assert isinstance(event, PricesReported), getattr(event, "reason", event)
    return event.quotes


def test_bybit_s_documented_linear_ticker_snapshot_gives_mark_last_and_index() -> None:
    (quote,) = prices(decoded("bybit", frame("bybit_ticker_linear_snapshot")))
    assert quote == PriceQuote(
        "BTCUSDT",
        mark=Decimal("17217.33"),
        last=Decimal("17216.00"),
        index=Decimal("17227.36"),
        mid=None,
        venue_time=1673272861686,
    )


def test_a_bybit_delta_gives_only_what_changed_and_the_fold_keeps_the_rest() -> None:
    (quote,) = prices(decoded("bybit", frame("bybit_ticker_linear_delta"), AT + 100))
    assert (quote.mark, quote.last, quote.index) == (Decimal("17212.08"), Decimal("17210.50"), None)
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot")))
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_delta"), AT + 100))
    held = reconciler.book("bybit", "main").prices.get("BTCUSDT")
    assert held is not None
    assert (held.mark, held.last, held.index) == (
        Decimal("17212.08"),
        Decimal("17210.50"),
        Decimal("17227.36"),  # unchanged by the delta
    )
    assert (held.venue_time, held.at) == (1673272861786, AT + 100)


def test_an_older_ticker_never_overwrites_a_newer_one() -> None:
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_delta"), AT + 100))
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT + 200))
    held = reconciler.book("bybit", "main").prices.get("BTCUSDT")
    assert held is not None and held.mark == Decimal("17212.08")


def test_hyperliquid_s_all_mids_gives_every_coin_s_mid() -> None:
    quotes = prices(decoded("hyperliquid", frame("hyperliquid_all_mids"), account=USER))
    assert {q.symbol: q.mid for q in quotes} == {
        "@142": Decimal("80907.5"),
        "BTC": Decimal("80868.5"),
        "ETH": Decimal("2296.45"),
        "SOL": Decimal("94.8775"),
        "PURR/USDC": Decimal("0.067131"),
    }
    assert all(q.mark is None and q.venue_time is None for q in quotes)


def test_hyperliquid_s_active_asset_ctx_gives_mark_oracle_and_mid() -> None:
    (quote,) = prices(decoded("hyperliquid", frame("hyperliquid_active_asset_ctx"), account=USER))
    assert quote == PriceQuote(
        "ETH",
        mark=Decimal("3227.4"),
        last=None,
        index=Decimal("3230.1"),
        mid=Decimal("3228.25"),
        venue_time=None,
    )


def test_aster_s_documented_mark_price_update_gives_mark_and_index_at_its_event_time() -> None:
    (quote,) = prices(decoded("aster", frame("aster_mark_price")))
    assert quote == PriceQuote(
        "BTCUSDT",
        mark=Decimal("11794.15000000"),
        last=None,
        index=Decimal("11784.62659091"),
        mid=None,
        venue_time=1562305380000,
    )
    combined = {"stream": "btcusdt@markPrice", "data": frame("aster_mark_price")}
    assert prices(decoded("aster", combined)) == (quote,)


def _with(data: dict[str, Any], **fields: object) -> dict[str, Any]:
    return {**data, "data": {**data["data"], **fields}}


BAD_FRAMES = [
    ("bybit", _with(frame("bybit_ticker_linear_snapshot"), markPrice="1e3"), "malformed"),
    ("bybit", _with(frame("bybit_ticker_linear_snapshot"), markPrice="-1"), "malformed"),
    ("bybit", _with(frame("bybit_ticker_linear_snapshot"), symbol="ETHUSDT"), "malformed"),
    ("bybit", {**frame("bybit_ticker_linear_snapshot"), "type": "full"}, "malformed"),
    (
        "bybit",
        {**frame("bybit_ticker_linear_snapshot"), "topic": "orderbook.50.BTCUSDT"},
        "unknown",
    ),
    ("bybit", {"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "c"}, "control"),
    (
        "bybit",
        {"success": False, "ret_msg": "error:handler not found", "op": "subscribe"},
        "error_reply",
    ),
    ("hyperliquid", {"channel": "allMids", "data": {"mids": {"BTC": 80868.5}}}, "malformed"),
    ("hyperliquid", {"channel": "allMids", "data": {}}, "malformed"),
    ("hyperliquid", {"channel": "trades", "data": []}, "unknown"),
    ("hyperliquid", {"channel": "subscriptionResponse", "data": {}}, "control"),
    ("hyperliquid", {"channel": "error", "data": "Invalid subscription"}, "error_reply"),
    ("aster", {**frame("aster_mark_price"), "p": "-1"}, "malformed"),
    ("aster", {**frame("aster_mark_price"), "p": 11794.15}, "malformed"),
    ("aster", {**frame("aster_mark_price"), "E": "soon"}, "malformed"),
    ("aster", {"e": "aggTrade", "E": 123456789, "s": "BTCUSDT", "p": "0.001"}, "unknown"),
    ("aster", {"result": None, "id": 1}, "control"),
    ("aster", {"code": 2, "msg": "Invalid request: unknown variant SUBSCRIBED"}, "error_reply"),
]


@pytest.mark.parametrize(("venue", "data", "kind"), BAD_FRAMES)
def test_a_bad_price_frame_is_kept_as_a_refusal_of_its_kind_and_alarms_no_one(
    venue: str, data: dict[str, Any], kind: str
) -> None:
    event = decoded(venue, data, account=USER if venue == "hyperliquid" else "main")
    assert isinstance(event, InputRejected)
    assert (event.kind, event.channel) == (RejectionKind(kind), "market")
    # A price frame says nothing of positions: no POSITION_SYNC_FAILED, no RATE_LIMIT.
    assert Reconciler().apply(event) == []


def test_prices_on_the_private_channel_are_not_read_there() -> None:
    record = {"at": AT, "venue": "hyperliquid", "account": USER, "channel": "ws"}
    event = decode_line(orjson.dumps({**record, "data": frame("hyperliquid_all_mids")}))
    assert isinstance(event, InputRejected) and event.kind is RejectionKind.UNKNOWN


def test_the_ticker_s_mark_moves_the_held_position_s_unrealised_pnl() -> None:
    reconciler = Reconciler()
    position = {
        "category": "linear", "symbol": "BTCUSDT", "positionIdx": 0, "side": "Buy",
        "size": "0.1", "entryPrice": "17000", "markPrice": "17100", "seq": 1,
        "updatedTime": str(AT),
    }  # fmt: skip
    ws = {"at": AT, "venue": "bybit", "account": "main", "channel": "ws"}
    pushed = {"topic": "position", "creationTime": AT, "data": [position]}
    reconciler.apply(decode_line(orjson.dumps({**ws, "data": pushed})))
    fill = {
        "category": "linear", "symbol": "BTCUSDT", "execId": "e-1", "orderId": "o-1",
        "side": "Buy", "execPrice": "17000", "execQty": "0.1", "execTime": str(AT),
    }  # fmt: skip
    executions = {"topic": "execution", "creationTime": AT, "data": [fill]}
    reconciler.apply(decode_line(orjson.dumps({**ws, "at": AT + 1, "data": executions})))
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT + 2))
    book = reconciler.book("bybit", "main")
    ledger = book.pnl.keys[book.key("linear", "BTCUSDT", 0)]
    assert ledger.mark == Decimal("17217.33")
    assert ledger.unrealised() == (Decimal("17217.33") - 17000) * Decimal("0.1")


WS = {"venue": "bybit", "account": "main", "channel": "ws"}
TICKER_MARK = Decimal("17217.33")  # the documented snapshot's markPrice


def bought(at: int) -> dict[str, Any]:
    """A fill of 0.1 BTCUSDT at 17000, before any report of the position it opens."""
    fill = {
        "category": "linear", "symbol": "BTCUSDT", "execId": "e-1", "orderId": "o-1",
        "side": "Buy", "execPrice": "17000", "execQty": "0.1", "execTime": str(at),
    }  # fmt: skip
    return {**WS, "at": at, "data": {"topic": "execution", "creationTime": at, "data": [fill]}}


def long_pushed(at: int) -> dict[str, Any]:
    """The push of a BTCUSDT long of 0.1 at 17000, marked 17100, made at ``at``."""
    position = {
        "category": "linear", "symbol": "BTCUSDT", "positionIdx": 0, "side": "Buy",
        "size": "0.1", "entryPrice": "17000", "markPrice": "17100", "seq": 1,
        "updatedTime": str(at),
    }  # fmt: skip
    return {**WS, "at": at, "data": {"topic": "position", "creationTime": at, "data": [position]}}


def btc_ledger(reconciler: Reconciler) -> Any:
    book = reconciler.book("bybit", "main")
    return book.pnl.keys[book.key("linear", "BTCUSDT", 0)]


def test_the_ticker_s_mark_moves_a_position_its_fill_opened_before_any_report_of_it() -> None:
    reconciler = Reconciler()
    reconciler.apply(decode_line(orjson.dumps(bought(AT))))
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT + 1))
    ledger = btc_ledger(reconciler)
    assert ledger.unrealised() == (TICKER_MARK - 17000) * Decimal("0.1")


def test_a_position_opened_after_the_ticker_takes_its_mark() -> None:
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT))
    reconciler.apply(decode_line(orjson.dumps(bought(AT + 1))))
    assert btc_ledger(reconciler).unrealised() == (TICKER_MARK - 17000) * Decimal("0.1")


def test_a_ticker_told_before_the_last_report_leaves_the_report_s_mark() -> None:
    # A capture of two streams merged out of order: the ticker of AT comes after the push
    # of AT + 5, whose mark is the newer.
    reconciler = Reconciler()
    reconciler.apply(decode_line(orjson.dumps(bought(AT))))
    reconciler.apply(decode_line(orjson.dumps(long_pushed(AT + 5))))
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT + 1))
    assert btc_ledger(reconciler).mark == Decimal(17100)
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_delta"), AT + 6))
    assert btc_ledger(reconciler).mark == Decimal("17212.08")


def test_a_price_long_past_marks_no_position_opened_now() -> None:
    # The ticker of an hour ago (its stream since gone, or yesterday's run): the fill of now
    # is not valued at it, the mark unknown until a report or a price of now.
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT))
    reconciler.apply(decode_line(orjson.dumps(bought(AT + 3_600_000))))
    ledger = btc_ledger(reconciler)
    assert (ledger.mark, ledger.unrealised()) == (None, None)


def test_a_mark_refused_as_old_is_taken_when_told_again() -> None:
    # The ticker's mark of a minute before the fill is not taken by its lifecycle; the same
    # mark told again after it (a quiet market: the mark has not moved) is.
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT))
    reconciler.apply(decode_line(orjson.dumps(bought(AT + 61_000))))
    assert btc_ledger(reconciler).unrealised() is None
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot"), AT + 62_000))
    assert btc_ledger(reconciler).unrealised() == (TICKER_MARK - 17000) * Decimal("0.1")


def test_the_mark_of_a_lifecycle_long_closed_does_not_value_the_next() -> None:
    # Long 0.1 marked 17100 by its push, sold; an hour later a long opened anew: valued at
    # nothing until a report or a price of now, not at the mark of an hour ago.
    sold = {
        "category": "linear", "symbol": "BTCUSDT", "execId": "e-2", "orderId": "o-2",
        "side": "Sell", "execPrice": "17100", "execQty": "0.1", "execTime": str(AT + 2),
    }  # fmt: skip
    reconciler = Reconciler()
    reconciler.apply(decode_line(orjson.dumps(bought(AT))))
    reconciler.apply(decode_line(orjson.dumps(long_pushed(AT + 1))))
    frame = {"topic": "execution", "creationTime": AT + 2, "data": [sold]}
    reconciler.apply(decode_line(orjson.dumps({**WS, "at": AT + 2, "data": frame})))
    later = bought(AT + 3_600_000)
    later["data"]["data"][0]["execId"] = "e-3"
    reconciler.apply(decode_line(orjson.dumps(later)))
    ledger = btc_ledger(reconciler)
    assert ledger.open is not None and ledger.open.number == 2
    assert ledger.unrealised() is None


def test_a_quote_with_no_mark_leaves_the_mark_as_old_as_it_was() -> None:
    # Hyperliquid's ETH marked at 3227.4 (activeAssetCtx), a long of 1 bought at 3300; the
    # position's state at T + 5 s marks it 3300; it is sold, and its mids alone (allMids)
    # come. The long opened next is at 3300, not at the older context's mark, which the
    # mids say nothing of.
    user = USER
    reconciler = Reconciler()
    reconciler.apply(decoded("hyperliquid", frame("hyperliquid_active_asset_ctx"), AT, user))
    first = hl.user_fill(
        coin="ETH", px="3300.0", sz="1.0", side="B", time=AT + 1_000, oid=1, tid=1,
        start_position="0.0", direction="Open Long",
    )  # fmt: skip
    reconciler.apply(decode_line(orjson.dumps(fill_frame(AT + 1_000, user, first))))
    eth = hl.asset_position(
        coin="ETH", szi="1.0", entry_px="3300.0", position_value="3300.0", unrealized_pnl="0.0"
    )
    state = hl.clearinghouse_state([eth], time=AT + 5_000, account_value="10000.0")
    polled = hl.capture_rest(AT + 5_000, user, "clearinghouseState", {"user": user}, state)
    reconciler.apply(decode_line(orjson.dumps(polled)))
    closing = hl.user_fill(
        coin="ETH", px="3300.0", sz="1.0", side="A", time=AT + 6_000, oid=2, tid=2,
        start_position="1.0", direction="Close Long", closed_pnl="0.0",
    )  # fmt: skip
    reconciler.apply(decode_line(orjson.dumps(fill_frame(AT + 6_000, user, closing))))
    reconciler.apply(decoded("hyperliquid", frame("hyperliquid_all_mids"), AT + 7_000, user))
    opening = hl.user_fill(
        coin="ETH", px="3300.0", sz="1.0", side="B", time=AT + 8_000, oid=3, tid=3,
        start_position="0.0", direction="Open Long",
    )  # fmt: skip
    reconciler.apply(decode_line(orjson.dumps(fill_frame(AT + 8_000, user, opening))))
    book = reconciler.book("hyperliquid", user)
    ledger = book.pnl.keys[book.key("perp", "ETH", 0)]
    assert (ledger.mark, ledger.unrealised()) == (Decimal(3300), Decimal(0))


def fill_frame(at: int, user: str, fill: dict[str, Any]) -> dict[str, Any]:
    return hl.capture_ws(at, user, hl.user_fills_frame(user, [fill]))


def test_prices_survive_a_snapshot_of_the_state() -> None:
    reconciler = Reconciler()
    reconciler.apply(decoded("bybit", frame("bybit_ticker_linear_snapshot")))
    reconciler.apply(decoded("hyperliquid", frame("hyperliquid_all_mids"), AT + 1, USER))
    restored = snapshots.load(snapshots.dump(Snapshot(2, reconciler)))
    assert restored is not None
    for account in (("bybit", "main"), ("hyperliquid", USER)):
        assert restored.reconciler.book(*account).prices == reconciler.book(*account).prices
    # and it goes on folding from there as the original does
    delta = decoded("bybit", frame("bybit_ticker_linear_delta"), AT + 100)
    restored.reconciler.apply(delta)
    reconciler.apply(delta)
    assert (
        restored.reconciler.book("bybit", "main").prices == reconciler.book("bybit", "main").prices
    )


def test_a_dropped_price_stream_blinds_no_position() -> None:
    reconciler = Reconciler()
    feed = {"at": AT, "venue": "bybit", "account": "main", "channel": "feed"}
    down = {"event": "down", "stream": "prices", "reason": "stream closed"}
    reconciler.apply(decode_line(orjson.dumps({**feed, "data": down})))
    book = reconciler.book("bybit", "main")
    assert book.stream_down is None and book.prices_down == (AT, "stream closed")
    back = {"event": "reconnected", "stream": "prices", "reason": "stream closed", "attempt": 1}
    (told,) = reconciler.apply(decode_line(orjson.dumps({**feed, "at": AT + 5, "data": back})))
    assert told.type == "WS_RECONNECT" and book.prices_down is None
