"""The sample Bybit session (samples/bybit-session.jsonl) tells the story it is meant to tell.

A LIVE account with a PAPER leftover on SOLUSDT; BTCUSDT entered in two fills, half taken at
TP1 and the rest at TP2, with a stop-loss above break-even in between; an ETHUSDT short closed
by hand on the exchange while the trading system still holds it open; an XRPUSDT entry that
fills 60 of 100 and stalls; a LINKUSDT entry rejected; DOGEUSDT bought by hand, unknown to the
trading system; an ADAUSDT position the trading system recorded but never got on the exchange;
and the usual noise: a redelivered execution, a late stale position frame, a rate-limited poll,
a garbled frame, wallet pushes and clock ticks.
Facts are read from the folded book and from what the rules emit, decoded straight from the
file (no journal). samples/README.md tells the same story line by line.
"""

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import orjson

from trueup.adapters.capture import decode_line
from trueup.domain.book import AccountBook, fold
from trueup.domain.emitted import (
    ConsistencyDrift,
    CooldownStarted,
    Emitted,
    OrderPartialFill,
    OrderRejected,
    OrderTimeout,
    PositionClosed,
    SlUpdate,
    StalePosition,
    UntrackedPosition,
)
from trueup.domain.events import (
    ClockTicked,
    ExecutionsReported,
    InputRejected,
    LocalPositionClosed,
    LocalPositionResized,
    PositionsReported,
    WalletReported,
)
from trueup.domain.keys import PositionKey
from trueup.domain.order import Order
from trueup.domain.position import ABSENT
from trueup.domain.reconciler import reconcile
from trueup.domain.vocabulary import OrderSide, OrderStatus, PositionSide

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "bybit-session.jsonl"
VENUE, ACCOUNT = "bybit", "main"
BTC = PositionKey(VENUE, ACCOUNT, "linear", "BTCUSDT", 0)
ETH = PositionKey(VENUE, ACCOUNT, "linear", "ETHUSDT", 0)
SOL = PositionKey(VENUE, ACCOUNT, "linear", "SOLUSDT", 0)
XRP = PositionKey(VENUE, ACCOUNT, "linear", "XRPUSDT", 0)
DOGE = PositionKey(VENUE, ACCOUNT, "linear", "DOGEUSDT", 0)
ADA = PositionKey(VENUE, ACCOUNT, "linear", "ADAUSDT", 0)
LINK = PositionKey(VENUE, ACCOUNT, "linear", "LINKUSDT", 0)

LINES = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
EVENTS = [decode_line(line) for line in LINES]


def book_after(count: int | None = None) -> AccountBook:
    """The account's book once the first ``count`` lines (all of them by default) are in."""
    events = EVENTS[:count]
    return fold(VENUE, ACCOUNT, (e for e in events if (e.venue, e.account) == (VENUE, ACCOUNT)))


BOOK = book_after()


def order(link: str) -> Order:
    found = BOOK.order_by_client_id(link)
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
    assert garbled.reason.endswith(
        "data.data[0].size: not a plain decimal of at most 15 digits before the point "
        "and 12 after: 'abc'"
    )


def test_the_session_carries_wallet_pushes_and_clock_ticks() -> None:
    assert sum(isinstance(e, WalletReported) for e in EVENTS) >= 3
    assert sum(isinstance(e, ClockTicked) for e in EVENTS) >= 3


def test_the_account_trades_live() -> None:
    assert BOOK.mode == "LIVE"


def test_btcusdt_ends_flat_on_the_exchange_and_closed_locally_by_tp2() -> None:
    position = BOOK.positions[BTC]
    assert position.exchange is not None
    assert (position.exchange.side, position.exchange.size) == (PositionSide.FLAT, Decimal(0))
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
    assert entry.status is OrderStatus.FILLED and entry.filled_qty == Decimal("0.3")
    assert len(entry.fills) == 2
    assert sorted(f.exec_qty for f in entry.fills.values()) == [Decimal("0.1"), Decimal("0.2")]
    for link in ("p-btc-1-tp1", "p-btc-1-tp2"):
        tp = order(link)
        assert tp.status is OrderStatus.FILLED and tp.filled_qty == Decimal("0.15"), link
        assert tp.report is not None and tp.report.reduce_only, link
    assert BOOK.tp1_state("p-btc-1") == "FILLED"


def btc_frames() -> list[tuple[int, int, Decimal]]:
    """(event index, seq, size) of every BTCUSDT WebSocket position report, in arrival order
    (the sample's WebSocket frames all carry their seq)."""
    return [
        (index, report.seq, report.size)
        for index, event in enumerate(EVENTS)
        if isinstance(event, PositionsReported) and event.source == "ws"
        for report in event.reports
        if report.seq is not None
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
    assert {e for o in btc_orders for e in o.fills} == {f.trade_id for f in history.fills}


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
    assert (position.exchange.side, position.exchange.size) == (PositionSide.FLAT, Decimal(0))
    local = position.local["p-eth-1"]
    assert (local.status, local.mode, local.side) == ("OPEN", "LIVE", PositionSide.SHORT)
    assert local.qty == Decimal(2)
    assert position.local_qty == Decimal(-2)  # the drift trueup exists to catch
    assert order("p-eth-1-entry").filled_qty == 2


def test_the_hand_close_is_a_market_buy_without_order_link_id_closing_two() -> None:
    by_hand = [
        o
        for o in BOOK.orders.values()
        if o.report is not None and o.report.symbol == "ETHUSDT" and not o.report.client_order_id
    ]
    (close,) = by_hand
    assert close.report is not None
    assert (close.report.side, close.report.order_type, close.report.status) == (
        OrderSide.BUY,
        "Market",
        OrderStatus.FILLED,
    )
    (fill,) = close.fills.values()
    assert fill.closed_size == Decimal(2)
    assert all(p.client_order_id != "" for p in BOOK.placed.values())


def test_the_paper_solusdt_leftover_stays_open_and_was_never_on_the_exchange() -> None:
    position = BOOK.positions[SOL]
    local = position.local["p-sol-paper-1"]
    assert (local.status, local.mode) == ("OPEN", "PAPER")
    assert position.local_qty == 0  # PAPER is never expected on the exchange
    # The only word on SOLUSDT from the exchange is its absence from the complete snapshot.
    assert position.exchange is None or (
        position.exchange.status == ABSENT and position.exchange.size == 0
    )


def test_two_complete_snapshots_list_btcusdt_dogeusdt_and_xrpusdt_and_nothing_else() -> None:
    snapshots = [e for e in EVENTS if isinstance(e, PositionsReported) and e.snapshot]
    assert len(snapshots) == 2
    assert snapshots[1].at - snapshots[0].at == 5_000
    for snapshot in snapshots:
        assert snapshot.snapshot is not None
        assert (snapshot.snapshot.settle_coin, snapshot.snapshot.next_cursor) == ("USDT", "")
        assert [(r.symbol, r.side, r.size) for r in snapshot.reports] == [
            ("BTCUSDT", PositionSide.LONG, Decimal("0.15")),
            ("DOGEUSDT", PositionSide.LONG, Decimal(1500)),
            ("XRPUSDT", PositionSide.LONG, Decimal(60)),
        ]


def test_the_rejected_lines_change_nothing_in_the_book() -> None:
    for index, event in enumerate(EVENTS):
        if isinstance(event, InputRejected):
            before, after = book_after(index), book_after(index + 1)
            assert {k: p.exchange for k, p in before.positions.items()} == {
                k: p.exchange for k, p in after.positions.items()
            }
            assert before.orders == after.orders


# --- what the reconciliation rules emit for the session -----------------------------------

E = TypeVar("E", bound=Emitted)

EMITTED = reconcile(EVENTS)
LINE_OF = {event.input_id: number for number, event in enumerate(EVENTS, start=1)}

# Every emitted event, as (line of the input that caused it, type): samples/README.md's table.
EXPECTED_BY_LINE = [
    (2, "STALE_POSITION"),  # SOLUSDT PAPER_LEFTOVER
    (7, "ENTRY_SUBMITTED"),  # BTCUSDT
    (9, "RISK_WARNING"),  # BTCUSDT at 10x: liquidation 9.5 % away
    (10, "ENTRY_FILLED"),
    (12, "RISK_WARNING"),  # BTCUSDT 0.3: its notional past the equity, score 0.71
    (19, "ENTRY_SUBMITTED"),  # XRPUSDT
    (25, "CONSISTENCY_DRIFT"),  # XRPUSDT local 100, exchange 60
    (26, "ORDER_TIMEOUT"),
    (27, "ORDER_PARTIAL_FILL"),
    (31, "TP_FILLED"),  # BTCUSDT TP1
    (36, "SL_UPDATE"),  # BTCUSDT stop-loss Untriggered
    (43, "ENTRY_SUBMITTED"),  # ETHUSDT, a market order filled at once
    (43, "ENTRY_FILLED"),
    (49, "ORDER_REJECTED"),  # LINKUSDT
    (56, "UNTRACKED_POSITION"),  # DOGEUSDT
    (59, "POSITION_CLOSED"),  # ETHUSDT closed by hand (CreateByClosing): MANUAL
    (64, "STALE_POSITION"),  # ADAUSDT NEVER_ON_EXCHANGE
    (68, "RATE_LIMIT"),
    (70, "POSITION_SYNC_FAILED"),  # the garbled position frame
    (72, "TP_FILLED"),  # BTCUSDT TP2
    (76, "SL_UPDATE"),  # BTCUSDT stop-loss Deactivated once the position is gone
]

EXPECTED_COUNTS = Counter(
    {
        "ENTRY_SUBMITTED": 3,
        "ENTRY_FILLED": 2,
        "TP_FILLED": 2,
        "SL_UPDATE": 2,
        "STALE_POSITION": 2,
        "CONSISTENCY_DRIFT": 1,
        "ORDER_TIMEOUT": 1,
        "ORDER_PARTIAL_FILL": 1,
        "ORDER_REJECTED": 1,
        "UNTRACKED_POSITION": 1,
        "POSITION_CLOSED": 1,
        "RATE_LIMIT": 1,
        "POSITION_SYNC_FAILED": 1,
        "RISK_WARNING": 2,
    }
)


def emitted(kind: type[E]) -> list[E]:
    return [e for e in EMITTED if isinstance(e, kind)]


def line_of(event: Emitted) -> int:
    return LINE_OF[event.cause]


def test_reconciling_the_session_emits_exactly_the_documented_counts() -> None:
    assert Counter(e.type for e in EMITTED) == EXPECTED_COUNTS
    assert sum(EXPECTED_COUNTS.values()) == len(EXPECTED_BY_LINE) == 21


def test_each_emitted_event_comes_from_the_line_the_readme_names() -> None:
    assert [(line_of(e), e.type) for e in EMITTED] == EXPECTED_BY_LINE
    for event in EMITTED:
        assert (event.venue, event.account) == (VENUE, ACCOUNT)
        assert event.at == EVENTS[line_of(event) - 1].at


def test_reconciling_is_deterministic() -> None:
    assert reconcile(decode_line(line) for line in LINES) == EMITTED


def test_only_the_ethusdt_hand_close_is_reported_closed_by_hand_and_cools_nothing() -> None:
    (closed,) = emitted(PositionClosed)
    # Line 58: the closing fill's order is none of the bot's (no orderLinkId), and no TP/SL:
    # Bybit's app close (createType CreateByClosing). A hand close is no loss: no cooldown.
    assert (closed.symbol, closed.position_id, closed.exit_reason) == (
        "ETHUSDT",
        "p-eth-1",
        "MANUAL",
    )
    assert emitted(CooldownStarted) == []


def test_btcusdt_is_closed_locally_by_tp2_before_the_exchange_shows_it_flat() -> None:
    flat = [
        n
        for n, e in enumerate(EVENTS, start=1)
        if isinstance(e, PositionsReported)
        and any(r.symbol == "BTCUSDT" and r.size == 0 for r in e.reports)
    ]
    (closing,) = [
        n
        for n, e in enumerate(EVENTS, start=1)
        if isinstance(e, LocalPositionClosed) and e.position_id == "p-btc-1"
    ]
    assert (closing, flat) == (73, [75])
    assert [e.symbol for e in emitted(PositionClosed)] == ["ETHUSDT"]
    assert all(e.symbol != "BTCUSDT" for e in emitted(UntrackedPosition))


def test_the_xrpusdt_entry_fills_60_of_100_drifts_times_out_and_stalls() -> None:
    (drift,) = emitted(ConsistencyDrift)
    assert drift.symbol == "XRPUSDT"
    assert (drift.local_qty, drift.exchange_qty, drift.drift_pct) == (
        Decimal(100),
        Decimal(60),
        Decimal("40.00"),
    )
    (timeout,) = emitted(OrderTimeout)
    (stalled,) = emitted(OrderPartialFill)
    for event in (timeout, stalled):
        assert (event.symbol, event.client_order_id, event.position_id) == (
            "XRPUSDT",
            "p-xrp-1-entry",
            "p-xrp-1",
        )
    assert (stalled.filled_qty, stalled.qty) == (Decimal(60), Decimal(100))
    placed = BOOK.placed["p-xrp-1-entry"]
    assert timeout.at >= placed.at + 20_000 > EVENTS[line_of(timeout) - 2].at
    entry = order("p-xrp-1-entry")
    assert (entry.status, entry.filled_qty) == (OrderStatus.CANCELED, Decimal(60))
    # The trading system cancelled the rest and resized: both sides agree on 60 at the end.
    position = BOOK.positions[XRP]
    assert position.local_qty == position.exchange_qty == Decimal(60)


def test_the_drift_is_told_once_because_it_is_resolved_within_its_window() -> None:
    (drift,) = emitted(ConsistencyDrift)
    (resized,) = [
        e for e in EVENTS if isinstance(e, LocalPositionResized) and e.position_id == "p-xrp-1"
    ]
    assert resized.qty == Decimal(60)
    assert resized.at - drift.at < 5 * 60_000  # within the 300 s window: no second report


def test_the_linkusdt_entry_is_rejected_and_the_local_record_closed() -> None:
    (rejected,) = emitted(OrderRejected)
    assert (rejected.symbol, rejected.client_order_id, rejected.reason) == (
        "LINKUSDT",
        "p-link-1-entry",
        "EC_PostOnlyWillTakeLiquidity",
    )
    local = BOOK.positions[LINK].local["p-link-1"]
    assert (local.status, local.exit_reason) == ("CLOSED", "ENTRY_REJECTED")
    assert not any(e.symbol == "LINKUSDT" for e in emitted(StalePosition))


def test_dogeusdt_bought_by_hand_is_untracked() -> None:
    (untracked,) = emitted(UntrackedPosition)
    assert (untracked.symbol, untracked.exchange_qty) == ("DOGEUSDT", Decimal(1500))
    assert BOOK.positions[DOGE].local == {}
    (by_hand,) = [o for o in BOOK.orders.values() if o.report and o.report.symbol == "DOGEUSDT"]
    assert by_hand.client_order_id == "" and by_hand.filled_qty == Decimal(1500)


def test_the_stale_positions_are_the_paper_leftover_and_the_ada_never_on_the_exchange() -> None:
    paper, never = emitted(StalePosition)
    assert (paper.symbol, paper.position_id, paper.reason, paper.mode) == (
        "SOLUSDT",
        "p-sol-paper-1",
        "PAPER_LEFTOVER",
        "PAPER",
    )
    assert (never.symbol, never.position_id, never.reason, never.mode) == (
        "ADAUSDT",
        "p-ada-1",
        "NEVER_ON_EXCHANGE",
        "LIVE",
    )
    position = BOOK.positions[ADA]
    assert position.local["p-ada-1"].is_open and position.local_qty == Decimal(500)
    assert position.exchange is not None and position.exchange.status == ABSENT
    assert BOOK.placed_order("p-ada-1", "ENTRY") is None  # its order never went out


def test_the_btcusdt_stop_loss_is_reported_when_set_and_when_deactivated() -> None:
    updates = emitted(SlUpdate)
    assert [(u.status, u.trigger_price, u.qty) for u in updates] == [
        ("PENDING_TRIGGER", Decimal("106400.0"), Decimal("0.15")),
        ("CANCELED", Decimal("106400.0"), Decimal("0.15")),
    ]
    assert {(u.symbol, u.client_order_id, u.position_id) for u in updates} == {
        ("BTCUSDT", "p-btc-1-sl", "p-btc-1")
    }
    sl = order("p-btc-1-sl")
    assert sl.report is not None
    assert (sl.report.origin, sl.report.reduce_only, sl.fills) == ("STOP_LOSS", True, {})
