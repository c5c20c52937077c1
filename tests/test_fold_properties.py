"""Properties of the folds: order, duplication and replay never change what trueup concludes."""

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import T0, accepted, execution_frame, intent, order_frame, position_frame
from trueup.adapters.aster import messages as aster
from trueup.adapters.store import codec
from trueup.domain.book import AccountBook, fold
from trueup.domain.events import InputEvent
from trueup.domain.keys import OrderKey, PositionKey
from trueup.projections.audit import position_state

BTC = PositionKey("bybit", "main", "linear", "BTCUSDT", 0)
ORDER = OrderKey("linear", "BTCUSDT", "order-1")

quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3)
prices = st.decimals(min_value=Decimal("1"), max_value=Decimal("100000"), places=2)


@st.composite
def position_reports(draw: st.DrawFn) -> InputEvent:
    size = draw(st.one_of(st.just(Decimal(0)), quantities))
    side = "" if size == 0 else draw(st.sampled_from(["Buy", "Sell"]))
    return accepted(
        position_frame(
            draw(st.integers(T0 + 1_000, T0 + 2_000)),
            symbol="BTCUSDT",
            side=side,
            size=str(size),
            seq=draw(st.integers(1, 30)),
            updated_time=draw(st.integers(T0 + 1_000, T0 + 1_010)),
            entry_price=str(draw(prices)),
            mark_price=str(draw(prices)),
        )
    )


@st.composite
def order_reports(draw: st.DrawFn) -> InputEvent:
    status = draw(st.sampled_from(["New", "PartiallyFilled", "Filled", "Cancelled", "Rejected"]))
    return accepted(
        order_frame(
            draw(st.integers(T0 + 1_000, T0 + 2_000)),
            symbol="BTCUSDT",
            order_id=ORDER.venue_order_id,
            order_link_id="p-1-entry",
            side="Buy",
            qty="1",
            status=status,
            cum_exec_qty=str(draw(st.sampled_from(["0", "0.4", "1"]))),
            updated_time=draw(st.integers(T0 + 1_000, T0 + 1_010)),
        )
    )


@st.composite
def fills(draw: st.DrawFn) -> InputEvent:
    # An exec_id names one execution: its price and qty never differ between deliveries.
    n = draw(st.integers(1, 6))
    return accepted(
        execution_frame(
            draw(st.integers(T0 + 1_000, T0 + 2_000)),
            {
                "symbol": "BTCUSDT",
                "exec_id": f"exec-{n}",
                "order_id": ORDER.venue_order_id,
                "side": "Buy",
                "exec_price": f"{60000 + n}.5",
                "exec_qty": f"0.{n:03d}",
                "exec_time": T0 + 1_000 + n,
                "seq": 100 + n,
            },
        )
    )


exchange_reports = st.lists(st.one_of(position_reports(), order_reports(), fills()), max_size=25)


def exchange_side(book: AccountBook) -> tuple[object, ...]:
    position = book.positions.get(BTC)
    order = book.orders.get(ORDER)
    return (
        position.exchange if position else None,
        order.report if order else None,
        order.filled_qty if order else None,
        order.avg_price if order else None,
        order.fees if order else None,
    )


@given(exchange_reports, st.randoms(use_true_random=False), st.data())
def test_any_reordering_and_duplication_folds_to_the_same_exchange_state(
    reports: list[InputEvent], random: object, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(reports))
    repeated = (
        shuffled + data.draw(st.lists(st.sampled_from(reports), max_size=10)) if reports else []
    )
    repeated = data.draw(st.permutations(repeated))
    assert exchange_side(fold("bybit", "main", reports)) == exchange_side(
        fold("bybit", "main", repeated)
    )


@given(exchange_reports)
def test_the_newest_position_report_wins(reports: list[InputEvent]) -> None:
    book = fold("bybit", "main", reports)
    sent = [r for e in reports for r in getattr(e, "reports", ())]
    if not sent:
        assert BTC not in book.positions or book.positions[BTC].exchange is None
        return
    newest = max((r.seq, r.updated_time) for r in sent)
    held = book.positions[BTC].exchange
    assert held is not None
    assert (held.seq, held.updated_time) == newest


@given(exchange_reports)
def test_a_terminal_order_state_stays_terminal(reports: list[InputEvent]) -> None:
    book = fold("bybit", "main", reports)
    statuses = {o.status for e in reports for o in getattr(e, "orders", ())}
    if any(status.is_terminal for status in statuses):
        assert book.orders[ORDER].is_terminal


@given(st.lists(fills(), min_size=1, max_size=20))
def test_each_fill_counts_once_however_often_it_is_reported(executions: list[InputEvent]) -> None:
    book = fold("bybit", "main", executions + executions[::-1])
    distinct = {f.trade_id: f for e in executions for f in getattr(e, "fills", ())}
    order = book.orders[ORDER]
    assert order.filled_qty == sum((f.exec_qty for f in distinct.values()), Decimal(0))
    notional = sum((f.exec_qty * f.exec_price for f in distinct.values()), Decimal(0))
    assert order.avg_price == notional / order.filled_qty


@given(exchange_reports)
def test_replaying_twice_gives_identical_state(reports: list[InputEvent]) -> None:
    first = fold("bybit", "main", reports)
    stored = [codec.decode(codec.encode(e)) for e in reports]
    second = fold("bybit", "main", stored)
    assert stored == reports
    assert exchange_side(first) == exchange_side(second)
    if BTC in first.positions:
        assert position_state(first, first.positions[BTC]) == position_state(
            second, second.positions[BTC]
        )


@settings(max_examples=50)
@given(st.lists(quantities, min_size=1, max_size=40), st.lists(st.booleans(), min_size=40))
def test_local_quantities_sum_exactly(qtys: list[Decimal], sells: list[bool]) -> None:
    events = [
        accepted(
            intent(
                T0 + 1_000 + i,
                kind="position_opened",
                position_id=f"p-{i}",
                category="linear",
                symbol="BTCUSDT",
                position_idx=0,
                side="Sell" if sells[i] else "Buy",
                qty=str(qty),
                mode="LIVE",
            )
        )
        for i, qty in enumerate(qtys)
    ]
    book = fold("bybit", "main", events)
    expected = sum((-q if sells[i] else q for i, q in enumerate(qtys)), Decimal(0))
    assert book.positions[BTC].local_qty == expected
    assert str(book.positions[BTC].local_qty) == str(expected)


# --- Aster: no seq, pushes out of order, fills carried with their orders ------------------

ASTER_BTC = PositionKey("aster", "main", "perp", "BTCUSDT", 0)
ASTER_ORDER = OrderKey("perp", "BTCUSDT", "7")
aster_times = st.integers(T0 + 1_000, T0 + 1_010)


@st.composite
def aster_positions(draw: st.DrawFn) -> InputEvent:
    """An ACCOUNT_UPDATE, or a positionRisk reply, on BTCUSDT's one-way leg."""
    amount = str(draw(st.one_of(st.just(Decimal(0)), quantities, quantities.map(lambda q: -q))))
    at, changed = draw(st.integers(T0 + 1_000, T0 + 2_000)), draw(aster_times)
    if draw(st.booleans()):
        leg = aster.account_position(symbol="BTCUSDT", amount=amount, entry_price="65000.0")
        update = aster.account_update(
            event_time=draw(aster_times),
            transaction_time=changed,
            reason="ORDER",
            balances=[],
            positions=[leg],
        )
        return accepted(aster.capture_ws(at, "main", update))
    entry = aster.position_risk(
        symbol="BTCUSDT", position_amt=amount, update_time=changed, mark_price=str(draw(prices))
    )
    return accepted(aster.capture_rest(at, "main", "/fapi/v2/positionRisk", {}, [entry]))


@st.composite
def aster_order_updates(draw: st.DrawFn) -> InputEvent:
    """An ORDER_TRADE_UPDATE of order 7: a new order, a cancel, or one of its trades."""
    n = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["NEW", "CANCELED", "TRADE"]))
    trade = kind == "TRADE"
    update = aster.order_trade_update(
        event_time=draw(aster_times),
        transaction_time=draw(aster_times),
        symbol="BTCUSDT",
        order_id=7,
        side="BUY",
        qty="1",
        execution_type=kind,
        status={"NEW": "NEW", "CANCELED": "CANCELED"}.get(kind, "PARTIALLY_FILLED"),
        last_qty=f"0.{n}" if trade else "0",
        last_price=f"{65000 + n}.5" if trade else "0",
        filled_qty=f"0.{n}" if trade else draw(st.sampled_from(["0", "0.2"])),
        commission=f"0.0{n}" if trade else None,
        trade_id=n if trade else 0,
        client_order_id="p-1-entry",
    )
    return accepted(aster.capture_ws(draw(st.integers(T0 + 1_000, T0 + 2_000)), "main", update))


aster_reports = st.lists(st.one_of(aster_positions(), aster_order_updates()), max_size=25)


def aster_side(book: AccountBook) -> tuple[object, ...]:
    position = book.positions.get(ASTER_BTC)
    order = book.orders.get(ASTER_ORDER)
    return (
        position.exchange if position else None,
        order.report if order else None,
        order.filled_qty if order else None,
        order.avg_price if order else None,
    )


@given(aster_reports, st.data())
def test_aster_reports_in_any_order_and_repeated_fold_to_the_same_exchange_state(
    reports: list[InputEvent], data: st.DataObject
) -> None:
    repeated = (
        reports + data.draw(st.lists(st.sampled_from(reports), max_size=10)) if reports else []
    )
    repeated = data.draw(st.permutations(repeated))
    assert aster_side(fold("aster", "main", reports)) == aster_side(fold("aster", "main", repeated))


@given(aster_reports)
def test_asters_latest_change_of_a_position_wins(reports: list[InputEvent]) -> None:
    sent = [r for e in reports for r in getattr(e, "reports", ())]
    if not sent:
        return
    held = fold("aster", "main", reports).positions[ASTER_BTC].exchange
    assert held is not None
    assert held.updated_time == max(r.updated_time for r in sent)
