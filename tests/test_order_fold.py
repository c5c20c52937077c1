"""The Order aggregate: Bybit's orderStatus machine, and fills counted once by exec_id."""

from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import T0, accepted, event, execution_frame, order_frame
from trueup.adapters.bybit.wire import ORDER_STATUSES
from trueup.adapters.store import codec
from trueup.domain.book import fold
from trueup.domain.events import ExecutionsReported, InputEvent, InputRejected
from trueup.domain.keys import OrderKey, PositionKey, order_key_of
from trueup.domain.vocabulary import ExecutionKind, OrderStatus

ENTRY = OrderKey("linear", "BTCUSDT", "o-1")
BTC = PositionKey("bybit", "main", "linear", "BTCUSDT", 0)


def report(at: int, status: str, cum: str = "0", **extra: object) -> InputEvent:
    return event(
        order_frame(
            at,
            symbol="BTCUSDT",
            order_id="o-1",
            order_link_id="p-1-entry",
            side="Buy",
            qty="1",
            status=status,
            cum_exec_qty=cum,
            updated_time=at,
            **extra,
        )
    )


def fill(at: int, exec_id: str, qty: str, price: str, fee: str = "0.01") -> InputEvent:
    return event(
        execution_frame(
            at,
            {
                "symbol": "BTCUSDT",
                "exec_id": exec_id,
                "order_id": "o-1",
                "order_link_id": "p-1-entry",
                "side": "Buy",
                "exec_price": price,
                "exec_qty": qty,
                "exec_fee": fee,
                "exec_time": at,
                "seq": at,
            },
        )
    )


def execution(
    at: int, exec_type: str = "Funding", order_id: str = "", qty: str = "1"
) -> InputEvent:
    """An execution of the given type (a funding payment unless told), of no order unless
    told."""
    fill = {
        "symbol": "BTCUSDT",
        "exec_id": f"{exec_type}-{at}",
        "order_id": order_id,
        "side": "Sell",
        "exec_price": "65000",
        "exec_qty": qty,
        "exec_type": exec_type,
        "exec_time": at,
        "seq": 1,
    }
    return event(execution_frame(at, fill))


def test_an_order_moves_through_bybit_statuses() -> None:
    book = fold(
        "bybit", "main", [report(T0 + 1000, "New"), report(T0 + 1100, "PartiallyFilled", "0.4")]
    )
    assert book.orders[ENTRY].status is OrderStatus.PARTIALLY_FILLED
    assert not book.orders[ENTRY].is_terminal
    book = fold("bybit", "main", [report(T0 + 1000, "New"), report(T0 + 1200, "Filled", "1")])
    assert book.orders[ENTRY].status is OrderStatus.FILLED
    assert book.orders[ENTRY].is_terminal


def test_a_late_open_report_never_reopens_a_filled_order() -> None:
    book = fold("bybit", "main", [report(T0 + 1200, "Filled", "1"), report(T0 + 1300, "New")])
    assert book.orders[ENTRY].status is OrderStatus.FILLED


def test_the_cancel_race_second_filled_message_changes_nothing_that_matters() -> None:
    # Bybit: a cancel accepted while the order fills sends Filled twice, the second with
    # cancelType CancelByUser and rejectReason EC_OrigClOrdIDDoesNotExist.
    first = report(T0 + 1200, "Filled", "1")
    second = report(
        T0 + 1200,
        "Filled",
        "1",
        cancel_type="CancelByUser",
        reject_reason="EC_OrigClOrdIDDoesNotExist",
    )
    book = fold("bybit", "main", [first, second])
    assert book.orders[ENTRY].status is OrderStatus.FILLED
    assert book.orders[ENTRY].filled_qty == Decimal("1")


def test_fills_give_cumulative_qty_average_price_and_fees() -> None:
    events = [
        fill(T0 + 1000, "e-1", "0.4", "65000"),
        fill(T0 + 1001, "e-2", "0.6", "65100", fee="0.02"),
    ]
    order = fold("bybit", "main", events).orders[ENTRY]
    assert order.filled_qty == Decimal("1.0")
    assert order.avg_price == Decimal("65060")
    assert order.fees == Decimal("0.03")


def test_a_fill_delivered_twice_counts_once() -> None:
    once = fill(T0 + 1000, "e-1", "0.4", "65000")
    order = fold("bybit", "main", [once, once, fill(T0 + 1000, "e-1", "0.4", "65000")]).orders[
        ENTRY
    ]
    assert order.filled_qty == Decimal("0.4")


def test_the_reported_cumulative_qty_counts_when_fills_lag() -> None:
    events = [
        report(T0 + 1100, "PartiallyFilled", "0.7", avg_price="65000"),
        fill(T0 + 1000, "e-1", "0.4", "64000"),
    ]
    order = fold("bybit", "main", events).orders[ENTRY]
    assert order.filled_qty == Decimal("0.7")
    assert order.avg_price == Decimal("65000")


def test_funding_touches_no_order() -> None:
    funding = execution(T0 + 1000, qty="0.3")
    assert fold("bybit", "main", [funding]).orders == {}


def test_an_open_order_shows_under_its_position_until_it_ends() -> None:
    book = fold("bybit", "main", [report(T0 + 1000, "New")])
    assert [o.venue_order_id for o in book.open_orders_for(BTC)] == ["o-1"]
    book = fold("bybit", "main", [report(T0 + 1000, "New"), report(T0 + 1100, "Cancelled")])
    assert book.open_orders_for(BTC) == []


def sell(at: int, order_id: str, status: str, updated_time: int) -> InputEvent:
    return event(
        order_frame(
            at,
            symbol="BTCUSDT",
            order_id=order_id,
            side="Sell",
            qty="1",
            status=status,
            updated_time=updated_time,
        )
    )


def test_a_terminal_report_of_an_order_let_go_is_a_replay_but_an_open_one_is_news() -> None:
    finished = [report(T0 + 1000, "New"), report(T0 + 1200, "Filled", "1")]
    an_hour_later = T0 + 3_600_000
    resting = sell(an_hour_later, "o-3", "New", an_hour_later)  # o-1 is let go meanwhile
    # o-1's Filled sent again, and another order's end stamped before o-1 finished: history.
    replays = [finished[1], sell(an_hour_later, "o-4", "Cancelled", T0 + 1100)]
    book = fold("bybit", "main", [*finished, resting, *replays])
    assert set(book.orders) == {OrderKey("linear", "BTCUSDT", "o-3")}
    assert book.forgotten_until == T0 + 1200
    # An open report is news however old its stamp: a resting order first seen by REST.
    first_seen = sell(an_hour_later, "o-5", "New", T0 + 500)
    book = fold("bybit", "main", [*finished, resting, first_seen])
    assert OrderKey("linear", "BTCUSDT", "o-5") in book.orders


def test_an_order_id_reported_under_another_symbol_is_another_order() -> None:
    # A venue's order never changes instrument: a report of its id under another symbol (a
    # hostile line) touches only the symbol it names, as its audit reads it.
    first = order_frame(
        T0 + 1_000,
        symbol="BTCUSDT",
        order_id="o-1",
        side="Buy",
        qty="1",
        status="New",
        updated_time=T0 + 1_000,
    )
    other = order_frame(
        T0 + 2_000,
        symbol="ETHUSDT",
        order_id="o-1",
        side="Buy",
        qty="1",
        status="New",
        updated_time=T0 + 2_000,
    )
    book = fold("bybit", "main", [accepted(first), accepted(other)])
    btc = book.key("linear", "BTCUSDT", 0)
    eth = book.key("linear", "ETHUSDT", 0)
    assert [o.venue_order_id for o in book.open_orders_for(btc)] == ["o-1"]
    assert [o.venue_order_id for o in book.open_orders_for(eth)] == ["o-1"]
    assert len(book.orders) == 2


@settings(max_examples=100, deadline=None)
@given(
    qty=st.sampled_from(["0.1", "0.3", "5"]),
    with_order=st.booleans(),
    reported_first=st.booleans(),
)
def test_a_funding_execution_never_changes_a_quantity(
    qty: str, with_order: bool, reported_first: bool
) -> None:
    entry = report(T0 + 1000, "New")
    funding = execution(T0 + 2000, order_id="o-1" if with_order else "", qty=qty)
    before = fold("bybit", "main", [entry])
    after = fold("bybit", "main", [entry, funding] if reported_first else [funding, entry])
    assert {k: o.filled_qty for k, o in after.orders.items()} == {
        k: o.filled_qty for k, o in before.orders.items()
    }
    assert {k: p.exchange_qty for k, p in after.positions.items()} == {
        k: p.exchange_qty for k, p in before.positions.items()
    }


def test_an_execution_of_a_kind_trueup_does_not_know_is_refused_with_its_reason() -> None:
    unknown = execution(T0 + 2000, exec_type="CorporateAction", order_id="o-1")
    assert isinstance(unknown, InputRejected)
    assert "execType: 'CorporateAction' is not one of" in unknown.reason


def test_a_fill_stored_with_its_venues_exec_type_is_read_with_its_kind() -> None:
    funding = execution(T0 + 2000)
    assert isinstance(funding, ExecutionsReported)
    stored = orjson.loads(codec.encode(funding))
    for fill in stored["fills"]:  # as an older trueup stored it
        fill["exec_type"] = {"funding": "Funding"}[fill.pop("kind")]
    older = codec.decode(orjson.dumps(stored))
    assert older == funding and older.fills[0].kind is ExecutionKind.FUNDING


@settings(max_examples=200, deadline=None)
@given(status=st.text(min_size=1, max_size=20))
def test_no_order_status_the_venue_does_not_list_ever_yields_an_open_order(status: str) -> None:
    frame = order_frame(
        T0 + 1000,
        symbol="BTCUSDT",
        order_id="o-1",
        side="Buy",
        qty="1",
        status=status,
        updated_time=T0 + 1000,
    )
    decoded = event(frame)
    if status in ORDER_STATUSES:
        return
    assert isinstance(decoded, InputRejected)
    assert "orderStatus" in decoded.reason
    assert fold("bybit", "main", [decoded]).orders == {}


@settings(max_examples=200, deadline=None)
@given(side=st.text(max_size=10))
def test_no_side_the_venue_does_not_list_ever_yields_an_order(side: str) -> None:
    frame = order_frame(
        T0 + 1000,
        symbol="BTCUSDT",
        order_id="o-1",
        side=side,
        qty="1",
        status="New",
        updated_time=T0 + 1000,
    )
    decoded = event(frame)
    if side in ("Buy", "Sell"):
        return
    assert isinstance(decoded, InputRejected)
    assert "side" in decoded.reason
    assert fold("bybit", "main", [decoded]).orders == {}


def test_a_misspelt_order_status_is_refused_not_folded_as_an_order_that_never_ends() -> None:
    typo = event(
        order_frame(
            T0 + 1000,
            symbol="BTCUSDT",
            order_id="o-1",
            side="Buy",
            qty="1",
            status="Fillled",
            updated_time=T0 + 1000,
        )
    )
    assert isinstance(typo, InputRejected)
    assert "orderStatus: 'Fillled' is not one of" in typo.reason


def test_an_order_key_made_the_quick_way_is_the_key_spelled_out() -> None:
    made = order_key_of("linear", "BTCUSDT", "o-1")
    assert made == ENTRY and type(made) is OrderKey
    assert (made.category, made.symbol, made.venue_order_id) == ("linear", "BTCUSDT", "o-1")
    assert hash(made) == hash(ENTRY)
