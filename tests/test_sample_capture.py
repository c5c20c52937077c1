"""The sample Bybit session (samples/bybit-session.jsonl) tells the story it is meant to tell.

A LIVE account with a PAPER leftover on SOLUSDT; BTCUSDT entered in two fills, half taken at
TP1 and the rest at TP2; an ETHUSDT short closed by hand on the exchange while the trading
system still holds it open; and the usual noise: a redelivered execution, a late stale
position frame, a rate-limited poll, a garbled frame, wallet pushes and clock ticks.
Facts are read from the folded book, decoded straight from the file (no journal).
"""

from decimal import Decimal
from pathlib import Path

import orjson

from trueup.adapters.capture import decode_line
from trueup.domain.book import AccountBook, fold
from trueup.domain.events import (
    ClockTicked,
    ExecutionsReported,
    InputRejected,
    PositionsReported,
    WalletReported,
)
from trueup.domain.keys import PositionKey
from trueup.domain.order import Order
from trueup.domain.position import ABSENT

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "bybit-session.jsonl"
VENUE, ACCOUNT = "bybit", "main"
BTC = PositionKey(VENUE, ACCOUNT, "linear", "BTCUSDT", 0)
ETH = PositionKey(VENUE, ACCOUNT, "linear", "ETHUSDT", 0)
SOL = PositionKey(VENUE, ACCOUNT, "linear", "SOLUSDT", 0)

LINES = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
EVENTS = [decode_line(line) for line in LINES]


def book_after(count: int | None = None) -> AccountBook:
    """The account's book once the first ``count`` lines (all of them by default) are in."""
    events = EVENTS[:count]
    return fold(VENUE, ACCOUNT, (e for e in events if (e.venue, e.account) == (VENUE, ACCOUNT)))


BOOK = book_after()


def order(link: str) -> Order:
    found = BOOK.order_by_link(link)
    assert found is not None, link
    return found


def test_the_session_is_bybit_account_main_in_receive_time_order() -> None:
    ats = [event.at for event in EVENTS]
    assert ats == sorted(ats) and len(set(ats)) == len(ats)
    assert 1762199100000 <= ats[0] < ats[-1] < 1762199100000 + 3_600_000
    assert {(e.venue, e.account) for e in EVENTS if not isinstance(e, ClockTicked)} == {
        (VENUE, ACCOUNT)
    }


def test_every_line_is_used_but_a_rate_limited_reply_and_a_garbled_position_frame() -> None:
    rejected = [e for e in EVENTS if isinstance(e, InputRejected)]
    assert len(rejected) == 2
    limited, garbled = rejected
    assert (limited.channel, limited.endpoint, limited.ret_code) == (
        "rest",
        "/v5/position/list",
        10006,
    )
    assert limited.reason == "retCode 10006: Too many visits!"
    assert (garbled.channel, garbled.endpoint, garbled.ret_code) == ("ws", None, None)
    assert garbled.reason.endswith("data.data[0].size: not a decimal: 'abc'")


def test_the_session_carries_wallet_pushes_and_clock_ticks() -> None:
    assert sum(isinstance(e, WalletReported) for e in EVENTS) >= 3
    assert sum(isinstance(e, ClockTicked) for e in EVENTS) >= 3


def test_the_account_trades_live() -> None:
    assert BOOK.mode == "LIVE"


def test_btcusdt_ends_flat_on_the_exchange_and_closed_locally_by_tp2() -> None:
    position = BOOK.positions[BTC]
    assert position.exchange is not None
    assert (position.exchange.side, position.exchange.size) == ("", Decimal(0))
    assert position.local_qty == 0
    local = position.local["p-btc-1"]
    assert (local.status, local.exit_reason, local.mode, local.timeframe) == (
        "CLOSED",
        "TP2",
        "LIVE",
        "1h",
    )
    assert BOOK.open_orders_for(BTC) == []


def test_the_btcusdt_entry_filled_in_two_parts_and_each_take_profit_took_half() -> None:
    entry = order("p-btc-1-entry")
    assert entry.status == "Filled" and entry.filled_qty == Decimal("0.3")
    assert len(entry.fills) == 2
    assert sorted(f.exec_qty for f in entry.fills.values()) == [Decimal("0.1"), Decimal("0.2")]
    for link in ("p-btc-1-tp1", "p-btc-1-tp2"):
        tp = order(link)
        assert tp.status == "Filled" and tp.filled_qty == Decimal("0.15"), link
        assert tp.report is not None and tp.report.reduce_only, link
    assert BOOK.tp1_state("p-btc-1") == "FILLED"


def btc_frames() -> list[tuple[int, int, Decimal]]:
    """(event index, seq, size) of every BTCUSDT WebSocket position report, in arrival order."""
    return [
        (index, report.seq, report.size)
        for index, event in enumerate(EVENTS)
        if isinstance(event, PositionsReported) and event.source == "ws"
        for report in event.reports
        if report.symbol == "BTCUSDT"
    ]


def test_the_btcusdt_position_grows_to_0_3_then_shrinks_by_fills_with_increasing_seq() -> None:
    in_seq_order = [size for _, size in sorted({(seq, size) for _, seq, size in btc_frames()})]
    assert in_seq_order == [Decimal("0.1"), Decimal("0.3"), Decimal("0.15"), Decimal(0)]


def test_a_redelivered_execution_is_counted_once() -> None:
    frames = [orjson.loads(line).get("data") or {} for line in LINES]
    executions = [f for f in frames if f.get("topic") == "execution"]
    repeated = [f for i, f in enumerate(executions) if f in executions[:i]]
    assert len(repeated) == 1  # the very same message, delivered twice
    (fill,) = repeated[0]["data"]
    tp1 = order(fill["orderLinkId"])
    assert list(tp1.fills) == [fill["execId"]]
    assert tp1.filled_qty == Decimal(fill["execQty"]) == Decimal("0.15")


def test_the_rest_trade_history_adds_no_fill_the_stream_already_gave() -> None:
    (history,) = [e for e in EVENTS if isinstance(e, ExecutionsReported) and e.source == "rest"]
    assert len(history.fills) == 4
    btc_orders = [o for o in BOOK.orders.values() if o.report and o.report.symbol == "BTCUSDT"]
    assert sum(len(o.fills) for o in btc_orders) == 4
    assert {e for o in btc_orders for e in o.fills} == {f.exec_id for f in history.fills}


def test_a_late_position_frame_with_an_older_seq_does_not_overwrite_a_newer_one() -> None:
    frames = btc_frames()
    late = [
        (index, size)
        for n, (index, seq, size) in enumerate(frames)
        if any(seq < earlier for _, earlier, _ in frames[:n])
    ]
    ((index, size),) = late  # exactly one: the push from TP1's placement, delayed
    assert size == Decimal("0.3")
    before, after = book_after(index).positions[BTC], book_after(index + 1).positions[BTC]
    assert after.exchange == before.exchange
    assert after.exchange is not None and after.exchange.size == Decimal("0.15")


def test_ethusdt_closed_by_hand_is_flat_on_the_exchange_while_the_local_short_stays_open() -> None:
    position = BOOK.positions[ETH]
    assert position.exchange is not None
    assert (position.exchange.side, position.exchange.size) == ("", Decimal(0))
    local = position.local["p-eth-1"]
    assert (local.status, local.mode, local.side) == ("OPEN", "LIVE", "Sell")
    assert local.qty == Decimal(2)
    assert position.local_qty == Decimal(-2)  # the drift trueup exists to catch
    assert order("p-eth-1-entry").filled_qty == 2


def test_the_hand_close_is_a_market_buy_without_order_link_id_closing_two() -> None:
    by_hand = [
        o
        for o in BOOK.orders.values()
        if o.report is not None and o.report.symbol == "ETHUSDT" and not o.report.order_link_id
    ]
    (close,) = by_hand
    assert close.report is not None
    assert (close.report.side, close.report.order_type, close.report.status) == (
        "Buy",
        "Market",
        "Filled",
    )
    (fill,) = close.fills.values()
    assert fill.closed_size == Decimal(2)
    assert all(p.order_link_id != "" for p in BOOK.placed.values())


def test_the_paper_solusdt_leftover_stays_open_and_was_never_on_the_exchange() -> None:
    position = BOOK.positions[SOL]
    local = position.local["p-sol-paper-1"]
    assert (local.status, local.mode) == ("OPEN", "PAPER")
    assert position.local_qty == 0  # PAPER is never expected on the exchange
    # The only word on SOLUSDT from the exchange is its absence from the complete snapshot.
    assert position.exchange is None or (
        position.exchange.status == ABSENT and position.exchange.size == 0
    )


def test_the_complete_snapshot_lists_only_btcusdt_0_15() -> None:
    snapshots = [e for e in EVENTS if isinstance(e, PositionsReported) and e.snapshot]
    (snapshot,) = snapshots
    assert snapshot.snapshot is not None
    assert (snapshot.snapshot.settle_coin, snapshot.snapshot.next_cursor) == ("USDT", "")
    assert [(r.symbol, r.side, r.size) for r in snapshot.reports] == [
        ("BTCUSDT", "Buy", Decimal("0.15"))
    ]


def test_the_rejected_lines_change_nothing_in_the_book() -> None:
    for index, event in enumerate(EVENTS):
        if isinstance(event, InputRejected):
            before, after = book_after(index), book_after(index + 1)
            assert {k: p.exchange for k, p in before.positions.items()} == {
                k: p.exchange for k, p in after.positions.items()
            }
            assert before.orders == after.orders
