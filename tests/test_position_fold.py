"""The Position aggregate: what the exchange says, beside what the trading system claims."""

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import T0, event, intent, order_frame, position_frame, position_snapshot
from trueup.adapters.bybit import messages
from trueup.domain.book import fold
from trueup.domain.events import InputEvent, PositionReport, PositionsReported
from trueup.domain.keys import PositionKey
from trueup.domain.position import LIST_SETTLES_MS, Position
from trueup.domain.vocabulary import PositionSide

BTC = PositionKey("bybit", "main", "linear", "BTCUSDT", 0)
# Long enough before the lists at T0 + 3 s for them to have caught up with a push then.
PUSHED = T0 - LIST_SETTLES_MS
ETH = PositionKey("bybit", "main", "linear", "ETHUSDT", 0)


def btc(at: int, size: str, seq: int, side: str = "Buy", **extra: object) -> InputEvent:
    return event(
        position_frame(
            at, symbol="BTCUSDT", side=side, size=size, seq=seq, updated_time=at, **extra
        )
    )


def opened(at: int, position_id: str, qty: str, mode: str = "LIVE", **extra: object) -> InputEvent:
    fields = {"category": "linear", "symbol": "BTCUSDT", "position_idx": 0, "side": "Buy"}
    fields.update(extra)
    return event(
        intent(at, kind="position_opened", position_id=position_id, qty=qty, mode=mode, **fields)
    )


def test_a_report_with_an_older_seq_never_overwrites_a_newer_one() -> None:
    book = fold("bybit", "main", [btc(T0 + 2000, "0.3", seq=11), btc(T0 + 2500, "0.1", seq=10)])
    assert book.positions[BTC].exchange_qty == Decimal("0.3")


def test_a_mark_move_under_the_same_seq_is_taken_when_newer() -> None:
    first = btc(T0 + 2000, "0.3", seq=11, mark_price="65000")
    moved = btc(T0 + 2100, "0.3", seq=11, mark_price="65100")
    exchange = fold("bybit", "main", [moved, first]).positions[BTC].exchange
    assert exchange is not None and exchange.mark_price == Decimal("65100")


def mark_move(at: int, mark: str) -> InputEvent:
    """A frame that moves only the mark: same seq, same update time (the venue restamps
    neither for market moves)."""
    return event(
        position_frame(
            at,
            symbol="BTCUSDT",
            side="Buy",
            size="0.3",
            seq=11,
            updated_time=T0 + 2000,
            mark_price=mark,
        )
    )


@pytest.mark.parametrize("later", ["64000", "66000"], ids=["falling", "rising"])
def test_a_mark_move_under_the_same_seq_and_update_time_is_taken_when_received_later(
    later: str,
) -> None:
    inputs = [mark_move(T0 + 2100, "65000"), mark_move(T0 + 2200, later)]
    for order in (inputs, inputs[::-1]):  # however the journal came to hold them
        exchange = fold("bybit", "main", order).positions[BTC].exchange
        assert exchange is not None and exchange.mark_price == Decimal(later)


def test_a_short_position_has_a_negative_signed_size() -> None:
    book = fold("bybit", "main", [btc(T0 + 2000, "2", seq=5, side="Sell")])
    assert book.positions[BTC].exchange_qty == Decimal("-2")


def test_a_complete_snapshot_that_omits_a_key_makes_it_flat() -> None:
    events = [
        btc(PUSHED, "0.3", seq=11),
        event(
            position_snapshot(
                T0 + 3000,
                {
                    "symbol": "ETHUSDT",
                    "side": "Sell",
                    "size": "1",
                    "seq": 7,
                    "updated_time": T0 + 2900,
                },
            )
        ),
    ]
    book = fold("bybit", "main", events)
    assert book.positions[BTC].exchange_qty == 0
    assert book.positions[ETH].exchange_qty == Decimal("-1")


@pytest.mark.parametrize(
    ("served", "held"), [(T0 + 2_150, "0.3"), (T0 + 2_000 + LIST_SETTLES_MS + 1, "0")]
)
def test_a_list_served_soon_after_a_push_that_omits_its_key_is_no_word_on_it(
    served: int, held: str
) -> None:
    """A list is built apart from the stream: served 150 ms after the push of a position,
    its omission may be its lag, not a close; served later, it is the venue's word."""
    events = [btc(T0 + 2_000, "0.3", seq=11), event(position_snapshot(served))]
    assert fold("bybit", "main", events).positions[BTC].exchange_qty == Decimal(held)


def test_a_position_a_list_told_of_is_flat_by_the_next_list_that_omits_it() -> None:
    listed = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 11, "updated_time": T0}
    events = [event(position_snapshot(T0, listed)), event(position_snapshot(T0 + 1_000))]
    assert fold("bybit", "main", events).positions[BTC].exchange_qty == 0


def test_a_snapshot_older_than_the_last_report_does_not_flatten_it() -> None:
    events = [btc(T0 + 5000, "0.3", seq=11), event(position_snapshot(T0 + 4000))]
    assert fold("bybit", "main", events).positions[BTC].exchange_qty == Decimal("0.3")


def test_an_unfinished_pagination_says_nothing_about_omitted_keys() -> None:
    eth = {"symbol": "ETHUSDT", "side": "Sell", "size": "1", "seq": 7, "updated_time": T0 + 2900}
    first_page = event(position_snapshot(T0 + 3000, eth, next_cursor="page-2"))
    book = fold("bybit", "main", [btc(T0 + 2000, "0.3", seq=11), first_page])
    assert book.positions[BTC].exchange_qty == Decimal("0.3")


def test_the_last_page_of_a_pagination_completes_the_snapshot() -> None:
    btc_item = {
        "symbol": "BTCUSDT",
        "side": "Buy",
        "size": "0.3",
        "seq": 11,
        "updated_time": T0 + 2000,
    }
    eth_item = {
        "symbol": "ETHUSDT",
        "side": "Sell",
        "size": "1",
        "seq": 7,
        "updated_time": T0 + 2900,
    }
    events = [
        btc(T0 + 2000, "0.3", seq=11),
        event(
            position_frame(  # pushed long enough before the list for it to have caught up
                PUSHED, symbol="XRPUSDT", side="Buy", size="10", seq=3, updated_time=PUSHED
            )
        ),
        event(position_snapshot(T0 + 3000, eth_item, next_cursor="page-2")),
        event(position_snapshot(T0 + 3001, btc_item, cursor="page-2")),
    ]
    book = fold("bybit", "main", events)
    assert book.positions[BTC].exchange_qty == Decimal("0.3")
    assert book.positions[ETH].exchange_qty == Decimal("-1")
    xrp = PositionKey("bybit", "main", "linear", "XRPUSDT", 0)
    assert book.positions[xrp].exchange_qty == 0


def test_local_qty_nets_only_live_open_positions() -> None:
    events = [
        opened(T0 + 1000, "p-1", "0.3"),
        opened(T0 + 1001, "p-2", "0.1", side="Sell"),
        opened(T0 + 1002, "p-paper", "5", mode="PAPER"),
        opened(T0 + 1003, "p-3", "1"),
        event(intent(T0 + 1004, kind="position_closed", position_id="p-3", exit_reason="TP2")),
    ]
    position = fold("bybit", "main", events).positions[BTC]
    assert position.local_qty == Decimal("0.2")
    assert {p.position_id for p in position.open_local()} == {"p-1", "p-2", "p-paper"}
    assert position.local["p-3"].exit_reason == "TP2"


def test_a_repeated_open_intent_is_the_same_claim() -> None:
    events = [opened(T0 + 1000, "p-1", "0.3"), opened(T0 + 1500, "p-1", "0.9")]
    assert fold("bybit", "main", events).positions[BTC].local_qty == Decimal("0.3")


def test_resizing_changes_the_local_claim() -> None:
    resize = event(intent(T0 + 1100, kind="position_resized", position_id="p-1", qty="0.15"))
    book = fold("bybit", "main", [opened(T0 + 1000, "p-1", "0.3"), resize])
    assert book.positions[BTC].local_qty == Decimal("0.15")


def test_hedge_mode_legs_are_separate_positions() -> None:
    long_leg = event(
        position_frame(
            T0 + 2000,
            symbol="BTCUSDT",
            side="Buy",
            size="1",
            seq=3,
            updated_time=T0 + 2000,
            position_idx=1,
        )
    )
    short_leg = event(
        position_frame(
            T0 + 2000,
            symbol="BTCUSDT",
            side="Sell",
            size="2",
            seq=3,
            updated_time=T0 + 2000,
            position_idx=2,
        )
    )
    book = fold("bybit", "main", [long_leg, short_leg])
    assert book.positions[BTC._replace(position_idx=1)].exchange_qty == Decimal("1")
    assert book.positions[BTC._replace(position_idx=2)].exchange_qty == Decimal("-2")


def test_tp1_state_follows_the_exchange_order_linked_to_it() -> None:
    placed = event(
        intent(
            T0 + 1100,
            kind="order_placed",
            position_id="p-1",
            order_link_id="p-1-tp1",
            category="linear",
            symbol="BTCUSDT",
            purpose="TP1",
            side="Sell",
            qty="0.15",
            price="66000",
        )
    )
    new = event(
        order_frame(
            T0 + 1200,
            symbol="BTCUSDT",
            order_id="o-tp1",
            order_link_id="p-1-tp1",
            side="Sell",
            qty="0.15",
            status="New",
            updated_time=T0 + 1200,
        )
    )
    filled = event(
        order_frame(
            T0 + 1300,
            symbol="BTCUSDT",
            order_id="o-tp1",
            order_link_id="p-1-tp1",
            side="Sell",
            qty="0.15",
            status="Filled",
            cum_exec_qty="0.15",
            updated_time=T0 + 1300,
        )
    )
    assert fold("bybit", "main", [opened(T0 + 1000, "p-1", "0.3")]).tp1_state("p-1") == "NONE"
    assert (
        fold("bybit", "main", [opened(T0 + 1000, "p-1", "0.3"), placed]).tp1_state("p-1")
        == "PLACED"
    )
    book = fold("bybit", "main", [opened(T0 + 1000, "p-1", "0.3"), placed, new, filled])
    assert book.tp1_state("p-1") == "FILLED"


# --- the order of reports: seq when both carry one, else the update time ----------------------

RECORDED_ITEM = {
    # Bybit's documented /v5/position/list item, as a real reply recorded it: with openTime,
    # and no seq.
    "positionIdx": 0,
    "riskId": 1,
    "riskLimitValue": "2000000",
    "symbol": "BTCUSDT",
    "side": "Sell",
    "size": "0.3",
    "avgPrice": "27464.5",
    "positionValue": "8239.35",
    "tradeMode": 0,
    "positionStatus": "Normal",
    "autoAddMargin": 0,
    "adlRankIndicator": 2,
    "leverage": "10",
    "breakEvenPrice": "27470.1",
    "positionBalance": "824.1",
    "markPrice": "28224.50",
    "liqPrice": "",
    "bustPrice": "",
    "positionMM": "0.0000015",
    "positionIM": "0.00010923",
    "tpslMode": "Full",
    "takeProfit": "0.00",
    "stopLoss": "0.00",
    "trailingStop": "0.00",
    "unrealisedPnl": "-227.85",
    "curRealisedPnl": "0.13",
    "cumRealisedPnl": "-0.97",
    "isReduceOnly": False,
    "mmrSysUpdateTime": "",
    "leverageSysUpdatedTime": "",
    "sessionAvgPrice": "",
    "createdTime": "1676538056258",
    "openTime": "1676538056258",
    "updatedTime": str(T0 - 5_000),
}


def recorded_reply(at: int, item: dict[str, object]) -> InputEvent:
    body = {
        "retCode": 0,
        "retMsg": "OK",
        "result": {"list": [item], "nextPageCursor": "", "category": "linear"},
        "retExtInfo": {},
        "time": at,
    }
    params = {"category": "linear", "settleCoin": "USDT"}
    return event(messages.capture_rest(at, "main", "/v5/position/list", params, body))


def test_a_recorded_position_list_without_seq_and_with_new_fields_is_read() -> None:
    reply = recorded_reply(T0, RECORDED_ITEM)
    assert isinstance(reply, PositionsReported)
    book = fold("bybit", "main", [reply])
    exchange = book.positions[BTC].exchange
    assert exchange is not None and exchange.seq is None
    assert book.positions[BTC].exchange_qty == Decimal("-0.3")


def test_without_seq_the_later_update_wins_in_either_order() -> None:
    older = recorded_reply(T0, RECORDED_ITEM)
    newer = recorded_reply(T0 + 5_000, {**RECORDED_ITEM, "size": "0.1", "updatedTime": str(T0)})
    for events in ([older, newer], [newer, older]):
        assert fold("bybit", "main", events).positions[BTC].exchange_qty == Decimal("-0.1")


def report(seq: int | None, updated_time: int, size: str) -> PositionReport:
    return PositionReport(
        "linear",
        "BTCUSDT",
        0,
        PositionSide.LONG,
        Decimal(size),
        None,
        None,
        None,
        None,
        seq,
        updated_time,
        "",
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 5),
            st.integers(0, 4),
            st.sampled_from(["0.1", "0.2", "0.3"]),
            st.integers(0, 3),  # when it was received
        ),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_reports_that_all_carry_a_seq_or_all_lack_one_fold_the_same_in_any_order(
    drawn: list[tuple[int, int, str, int]], with_seq: bool, rng: random.Random
) -> None:
    received = [
        (report(seq if with_seq else None, T0 + t, size), T0 + 100 + at)
        for seq, t, size, at in drawn
    ]
    shuffled = list(received)
    rng.shuffle(shuffled)
    outcomes = set()
    for order in (received, shuffled, received[::-1]):
        position = Position(BTC)
        for one, at in order:
            position.apply_report(one, at)
        outcomes.add(position.exchange)
    reports = [one for one, _ in received]
    assert len(outcomes) == 1
    (kept,) = outcomes
    assert kept is not None
    rank = (lambda r: (r.seq, r.updated_time)) if with_seq else (lambda r: r.updated_time)
    assert rank(kept) == max(rank(r) for r in reports)


def test_a_book_hands_out_one_key_per_leg_equal_to_the_key_spelled_out() -> None:
    book = fold("bybit", "main", [btc(T0, "0.5", 1)])
    (held,) = book.positions
    assert held == BTC and book.key("linear", "BTCUSDT", 0) is held
    hedge_leg = book.key("linear", "BTCUSDT", 1)
    assert hedge_leg == BTC._replace(position_idx=1)
    assert book.key("linear", "BTCUSDT", 1) is hedge_leg
