"""The reconciler's state follows what is open, not how long the journal is.

A finished order and its intent, a closed local position and what the detectors remember of
them are let go once untouched for ``FORGET_AFTER_MS`` of input time (domain/retention.py);
what a repeat of them needs stays, so forgetting never changes what is emitted.
"""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests import inputs
from tests.inputs import (
    T0,
    accepted,
    event,
    execution_frame,
    intent,
    order_frame,
    position_frame,
)
from tests.scenarios import busy_session
from trueup.adapters.bybit import messages
from trueup.adapters.store import codec
from trueup.domain.book import AccountBook, fold
from trueup.domain.emitted import Emitted, PositionClosed
from trueup.domain.events import InputEvent, OrdersReported
from trueup.domain.keys import OrderKey
from trueup.domain.reconciler import Reconciler
from trueup.domain.retention import FORGET_AFTER_MS
from trueup.domain.rules.can_open_facts import can_open
from trueup.projections import audit as audit_module

# What is due is let go at the next sweep, a tenth of the window apart: within 1.1 windows.
KEPT_MS = FORGET_AFTER_MS + FORGET_AFTER_MS // 10
LATER = T0 + 2 * KEPT_MS  # long after anything at T0 has been forgotten
CENTURY = 100 * 365 * 24 * 3_600_000  # a window nothing outlives: the book as it used to be
Record = dict[str, Any]


def events(records: list[Record]) -> list[InputEvent]:
    return [accepted(r) for r in records]


def reconciler(window_ms: int = FORGET_AFTER_MS) -> Reconciler:
    found = Reconciler()
    found.book("bybit", "main").forget_after_ms = window_ms
    return found


def emitted_by(inputs: list[InputEvent], window_ms: int = FORGET_AFTER_MS) -> list[Emitted]:
    rules = reconciler(window_ms)
    return [e for event in inputs for e in rules.apply(event)]


# --- a long, busy session ----------------------------------------------------------------

BUSY = [event(r) for r in busy_session(24_000)]  # (its rate limits are refused inputs)
BUSY_RULES = reconciler()
BUSY_EMITTED = [e for event in BUSY for e in BUSY_RULES.apply(event)]
BOOK = BUSY_RULES.books[("bybit", "main")]
DETECTORS = BUSY_RULES.detectors("bybit", "main")


def recent(*types: str) -> list[InputEvent]:
    """The busy session's inputs of these types within the window before its end: all that
    can have touched something finished that the book still holds."""
    return [e for e in BUSY if e.type in types and e.at > BOOK.clock - KEPT_MS]


def everywhere(*types: str) -> list[InputEvent]:
    return [e for e in BUSY if e.type in types]


def owner_open(book: AccountBook, position_id: str) -> bool:
    local = book.local_position(position_id)
    return local is not None and local.is_open


def order_ids(inputs: list[InputEvent]) -> set[str]:
    return {o.venue_order_id for e in inputs if isinstance(e, OrdersReported) for o in e.orders}


def test_the_busy_session_is_long_enough_to_forget_and_keeps_positions_open() -> None:
    assert BOOK.clock - BUSY[0].at > 20 * KEPT_MS
    assert sum(len(p.opened) for p in BOOK.positions.values()) > 100


def test_after_a_busy_session_closed_local_positions_kept_are_only_the_recent_ones() -> None:
    closed = [
        local
        for position in BOOK.positions.values()
        for local in position.local.values()
        if not local.is_open
    ]
    assert all(local.closed_at and local.closed_at > BOOK.clock - KEPT_MS for local in closed)
    # Closed by the bot's intents, or by trueup when the exchange showed them closed.
    reported = [e for e in BUSY_EMITTED if e.type == "POSITION_CLOSED"]
    recently_reported = [e for e in reported if e.at > BOOK.clock - KEPT_MS]
    closes = "LocalPositionClosed"
    kept_at_most = len(recent(closes)) + len(recently_reported)
    assert len(closed) <= kept_at_most < (len(everywhere(closes)) + len(reported)) / 10


def test_after_a_busy_session_finished_orders_kept_are_those_of_open_positions_or_recent() -> None:
    def of_open_position(link: str) -> bool:
        placed = BOOK.placed.get(link)
        return placed is not None and owner_open(BOOK, placed.position_id)

    finished = [
        o
        for o in BOOK.orders.values()
        if (o.report is None or o.is_terminal) and not of_open_position(o.client_order_id)
    ]
    reports = ("OrdersReported", "ExecutionsReported", "LocalPositionClosed")
    assert len(finished) <= len(recent(*reports))
    assert len(order_ids(recent(*reports))) < len(order_ids(everywhere(*reports))) / 10


def test_after_a_busy_session_intents_kept_are_those_of_open_positions_or_recent() -> None:
    done_with = [p for p in BOOK.placed.values() if not owner_open(BOOK, p.position_id)]
    # Each close touches the intents of its position: one ENTRY in this session.
    touching = ("OrderPlaced", "LocalPositionClosed", "OrdersReported", "ExecutionsReported")
    assert len(done_with) <= len(recent(*touching))
    assert len(recent("OrderPlaced")) < len(everywhere("OrderPlaced")) / 10


def test_the_detectors_memory_follows_the_book() -> None:
    orders, closes, stale = DETECTORS.orders, DETECTORS.manual_close, DETECTORS.stale
    assert set(orders.reports) <= set(BOOK.orders)
    assert set(orders.sl_seen) <= set(BOOK.orders)
    assert set(orders.partial_since) <= set(BOOK.orders)
    assert set(orders.entry_deadlines) <= set(BOOK.placed)
    for remembered in (closes.confirmed, closes.closed_reported, stale.reported):
        assert remembered <= set(BOOK.local_keys)
    assert set(stale.unseen_since) <= set(BOOK.local_keys)
    assert all(came > BOOK.clock - KEPT_MS for _, came in closes.last_fills.values())


def test_the_fills_kept_to_explain_a_close_are_those_of_the_window() -> None:
    # A fill explains a close for a minute after it (rules/manual_close.py); kept no longer
    # than the book keeps a finished order, the last fills follow the symbols traded lately,
    # not every symbol the account ever traded.
    def fill(at: int, symbol: str) -> Record:
        data = {
            "symbol": symbol, "exec_id": f"x-{symbol}-{at}", "order_id": f"o-{symbol}",
            "order_link_id": "", "side": "Sell", "exec_price": "100", "exec_qty": "1",
            "exec_time": at, "seq": at,
        }  # fmt: skip
        return execution_frame(at, data)

    rules = reconciler()
    traded = [fill(T0 + n, f"C{n:02d}USDT") for n in range(20)]
    for record in [*traded, wallet(T0 + FORGET_AFTER_MS // 2)]:
        rules.apply(accepted(record))
    closes = rules.detectors("bybit", "main").manual_close
    assert len(closes.last_fills) == 20
    for record in [wallet(LATER), fill(LATER + 1, "BTCUSDT")]:
        rules.apply(accepted(record))
    assert [symbol for _, symbol, _, _ in closes.last_fills] == ["BTCUSDT"]


def test_forgetting_changes_nothing_the_busy_session_emits() -> None:
    remembering = emitted_by(BUSY, window_ms=CENTURY)
    assert [codec.encode_emitted(e) for e in BUSY_EMITTED] == [
        codec.encode_emitted(e) for e in remembering
    ]


def test_replaying_the_busy_session_forgets_the_same_and_emits_the_same_bytes() -> None:
    again = reconciler()
    replayed = [e for event in BUSY for e in again.apply(event)]
    assert [codec.encode_emitted(e) for e in replayed] == [
        codec.encode_emitted(e) for e in BUSY_EMITTED
    ]
    book = again.books[("bybit", "main")]
    assert list(book.orders) == list(BOOK.orders)
    assert list(book.placed) == list(BOOK.placed)


def test_the_audit_shows_every_change_it_showed_when_the_book_forgot_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def timeline() -> list[tuple[int, str, str, object]]:
        found = audit_module.audit("bybit", "main", enumerate(BUSY[:8_000], 1), symbol="BTCUSDT")
        return [(t.at, t.type, t.input_id, t.state) for t in found.timeline]

    forgetting = timeline()
    monkeypatch.setattr(
        audit_module,
        "AccountBook",
        lambda venue, account, timeout_ms: AccountBook(venue, account, timeout_ms, CENTURY),
    )
    assert forgetting == timeline()


# --- trade cycles: every position closes ------------------------------------------------


def trade_cycles(count: int) -> Iterator[Record]:
    """``count`` positions, each opened, entered, taken profit on and closed, 20 s apart."""
    yield intent(T0, kind="account_mode", mode="LIVE")
    for n in range(1, count + 1):
        at, pid = T0 + n * 20_000, f"p-{n}"
        yield opened(at, pid)
        yield from order_life(at + 100, pid, "ENTRY", f"o-{n}-e", "Buy")
        yield exchange(at + 300, "0.3", seq=3 * n)
        yield from order_life(at + 400, pid, "TP1", f"o-{n}-t", "Sell")
        yield exchange(at + 600, "0", seq=3 * n + 1)
        yield intent(at + 700, kind="position_closed", position_id=pid, exit_reason="TP1")


def exchange(at: int, size: str, seq: int) -> Record:
    """Bybit's position push for the long on BTCUSDT (flat when ``size`` is 0)."""
    side = "" if size == "0" else "Buy"
    return position_frame(at, symbol="BTCUSDT", side=side, size=size, seq=seq, updated_time=at)


def opened(at: int, pid: str, qty: str = "0.3") -> Record:
    return intent(
        at,
        kind="position_opened",
        position_id=pid,
        category="linear",
        symbol="BTCUSDT",
        position_idx=0,
        side="Buy",
        qty=qty,
        mode="LIVE",
    )


def placed(
    at: int, pid: str, purpose: str, side: str, *, qty: str = "0.3", link: str = ""
) -> Record:
    return intent(
        at,
        kind="order_placed",
        position_id=pid,
        order_link_id=link or f"{pid}-{purpose.lower()}",
        category="linear",
        symbol="BTCUSDT",
        purpose=purpose,
        side=side,
        qty=qty,
    )


def report(
    at: int, order_id: str, link: str, side: str, status: str, *, qty: str = "0.3", **extra: Any
) -> Record:
    return order_frame(
        at,
        symbol="BTCUSDT",
        order_id=order_id,
        order_link_id=link,
        side=side,
        qty=qty,
        status=status,
        cum_exec_qty=qty if status == "Filled" else "0",
        updated_time=at,
        **extra,
    )


def execution(at: int, order_id: str, link: str, exec_id: str, qty: str = "0.3") -> Record:
    return execution_frame(
        at,
        {
            "symbol": "BTCUSDT",
            "exec_id": exec_id,
            "order_id": order_id,
            "order_link_id": link,
            "side": "Buy",
            "exec_price": "65000",
            "exec_qty": qty,
            "exec_time": at,
            "seq": at,
        },
    )


def order_life(at: int, pid: str, purpose: str, order_id: str, side: str) -> Iterator[Record]:
    link = f"{pid}-{purpose.lower()}"
    yield placed(at, pid, purpose, side)
    yield report(at + 50, order_id, link, side, "Filled")
    yield execution(at + 60, order_id, link, f"{order_id}-x")


def test_a_session_twice_as_long_keeps_no_more_orders_intents_or_local_positions() -> None:
    def kept(cycles: int) -> tuple[int, int, int]:
        book = fold("bybit", "main", events(list(trade_cycles(cycles))))
        locals_ = sum(len(p.local) for p in book.positions.values())
        return len(book.orders), len(book.placed), locals_

    shorter, longer = kept(300), kept(600)  # 100 and 200 minutes of trading
    assert longer == shorter
    orders, intents, local_positions = longer
    per_window = KEPT_MS // 20_000 + 1  # positions opened within one window
    assert orders <= 2 * per_window and intents <= 2 * per_window
    assert local_positions <= per_window


# --- repeats, early and late -------------------------------------------------------------


def entry_filled_and_closed() -> list[Record]:
    """p-1 entered (o-1 filled) and closed; nothing else happens until LATER."""
    return [
        intent(T0, kind="account_mode", mode="LIVE"),
        opened(T0 + 1_000, "p-1"),
        placed(T0 + 1_000, "p-1", "ENTRY", "Buy"),
        report(T0 + 1_050, "o-1", "p-1-entry", "Buy", "Filled"),
        execution(T0 + 1_060, "o-1", "p-1-entry", "x-1"),
        intent(T0 + 2_000, kind="position_closed", position_id="p-1", exit_reason="TP2"),
    ]


def wallet(at: int) -> Record:
    """An input of the account that concerns no order or position: time passing, as data."""
    data = {"topic": "wallet", "id": f"w-{at}", "creationTime": at, "data": []}
    return {"at": at, "venue": "bybit", "account": "main", "channel": "ws", "data": data}


def late_repeat_emits(history: list[Record], repeat: Record) -> list[Emitted]:
    rules = reconciler()
    for record in [*history, wallet(LATER)]:
        rules.apply(accepted(record))
    return rules.apply(accepted(repeat))


@pytest.mark.parametrize(
    ("purpose", "status", "extra"),
    [
        ("ENTRY", "Filled", {}),
        ("TP1", "Filled", {}),
        ("ENTRY", "Rejected", {"reject_reason": "EC_PostOnlyWillTakeLiquidity"}),
        ("SL", "Deactivated", {"stop_order_type": "StopLoss", "trigger_price": "60000"}),
    ],
)
def test_a_late_repeat_of_a_long_finished_orders_report_emits_nothing_new(
    purpose: str, status: str, extra: dict[str, Any]
) -> None:
    link = "p-1-second"
    final = report(T0 + 1_500, "o-2", link, "Sell", status, **extra)
    history = entry_filled_and_closed()[:-1]
    history += [placed(T0 + 1_400, "p-1", purpose, "Sell", link=link), final]
    history.append(entry_filled_and_closed()[-1])
    first = emitted_by(events(history))
    assert [
        e.type for e in first if getattr(e, "venue_order_id", None) == "o-2"
    ]  # it was told once
    assert late_repeat_emits(history, final) == []


def test_a_late_repeat_of_an_order_no_intent_placed_emits_nothing_new() -> None:
    stop = report(T0 + 1_500, "o-9", "", "Sell", "Deactivated", stop_order_type="StopLoss")
    rejected = report(T0 + 1_600, "o-8", "", "Sell", "Rejected", reject_reason="EC_Whatever")
    history = [*entry_filled_and_closed(), stop, rejected]
    told = [e.type for e in emitted_by(events(history))]
    assert "SL_UPDATE" in told and "ORDER_REJECTED" in told
    assert late_repeat_emits(history, stop) == []
    assert late_repeat_emits(history, rejected) == []


def test_the_book_lets_go_of_a_finished_order_and_does_not_take_it_back_from_a_repeat() -> None:
    history = entry_filled_and_closed()
    within = fold("bybit", "main", events([*history, wallet(T0 + FORGET_AFTER_MS // 2)]))
    assert OrderKey("linear", "BTCUSDT", "o-1") in within.orders and "p-1-entry" in within.placed
    assert within.local_position("p-1") is not None
    later = [*history, wallet(LATER), history[3], history[4]]  # the report and fill, again
    book = fold("bybit", "main", events(later))
    assert book.orders == {} and book.placed == {} and book.local_keys == {}
    assert book.forgotten_until == T0 + 1_060


def test_a_late_fill_counts_once_however_late_it_is() -> None:
    history = entry_filled_and_closed()
    late_fill = execution(T0 + 1_070, "o-1", "p-1-entry", "x-2", qty="0.1")
    # Within the window, a fill of a finished order is counted, and counted once.
    book = fold("bybit", "main", events([*history, late_fill, late_fill]))
    order = book.orders[OrderKey("linear", "BTCUSDT", "o-1")]
    assert order.filled_qty == Decimal("0.4") and set(order.fills) == {"x-1", "x-2"}
    # Sent again long after (as Hyperliquid's userFills snapshot does on every subscription):
    # the order was counted and let go, and stays let go.
    book = fold("bybit", "main", events([*history, late_fill, wallet(LATER), late_fill]))
    assert book.orders == {}


def test_a_fill_of_an_order_never_reported_is_let_go_too() -> None:
    orphan = execution(T0 + 1_000, "o-7", "", "x-7")
    book = fold("bybit", "main", events([orphan, wallet(T0 + 1_000 + FORGET_AFTER_MS // 2)]))
    assert OrderKey("linear", "BTCUSDT", "o-7") in book.orders
    book = fold("bybit", "main", events([orphan, wallet(LATER)]))
    assert book.orders == {}


def test_an_intent_repeated_within_the_window_is_the_same_claim() -> None:
    history = entry_filled_and_closed()
    again = [opened(T0 + 300_000, "p-1"), placed(T0 + 300_000, "p-1", "ENTRY", "Buy")]
    rules = reconciler()
    told = [e for record in [*history, *again] for e in rules.apply(accepted(record))]
    book = rules.books[("bybit", "main")]
    local = book.local_position("p-1")
    assert local is not None and not local.is_open
    assert [e.type for e in told].count("ENTRY_SUBMITTED") == 1
    assert "ORDER_TIMEOUT" not in [e.type for e in emitted_by(events([*history, *again]))]


def test_what_is_let_go_depends_on_its_instant_not_on_the_inputs_folded_before_it() -> None:
    # An audit of one symbol folds that symbol's inputs, the reconciler all the account's:
    # a position named again around the window's end must be found, or not, by both alike.
    history = entry_filled_and_closed()
    closed_at = history[-1]["at"]
    for late in range(FORGET_AFTER_MS - 5_000, KEPT_MS + 5_000, 3_000):
        again = placed(closed_at + late, "p-1", "TP1", "Sell", link="p-1-again")
        between = [wallet(at) for at in range(closed_at + 1, closed_at + late, 1_000)]
        alone = fold("bybit", "main", events([*history, again]))
        beside = fold("bybit", "main", events([*history, *between, again]))
        assert alone.local_keys == beside.local_keys, late
        assert alone.placed.keys() == beside.placed.keys(), late
        assert alone.touched == beside.touched, late


# --- what an open position still reads is kept, however long it is open ----------------


def held_for_hours(tp1: str) -> list[Record]:
    """p-1 entered, its TP1 ``tp1`` (Filled or Cancelled) at once, then held for hours
    until the exchange shows it flat."""
    records = entry_filled_and_closed()[:-1]
    records += [
        exchange(T0 + 1_100, "0.3", seq=1),
        placed(T0 + 1_200, "p-1", "TP1", "Sell", qty="0.15"),
        report(T0 + 1_250, "o-2", "p-1-tp1", "Sell", tp1, qty="0.15"),
    ]
    hours = range(T0 + 60_000, T0 + 3 * 3_600_000, 60_000)
    records += [exchange(at, "0.3", seq=2 + n) for n, at in enumerate(hours)]
    records.append(exchange(T0 + 3 * 3_600_000, "0", seq=10_000))
    # No fill says why: the close is reported once close_cause_grace_ms is over.
    records.append({"at": T0 + 3 * 3_600_000 + 5_000, "channel": "clock"})
    return records


@pytest.mark.parametrize(
    ("tp1", "exit_reason"), [("Filled", "EXCHANGE_CLOSED"), ("Cancelled", "STOP_LOSS")]
)
def test_an_open_positions_finished_take_profit_is_remembered_while_it_is_open(
    tp1: str, exit_reason: str
) -> None:
    records = held_for_hours(tp1)
    told = emitted_by(events(records))
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    assert closed.exit_reason == exit_reason
    assert told == emitted_by(events(records), window_ms=CENTURY)


def test_an_open_order_is_kept_however_long_it_rests() -> None:
    resting = report(T0 + 1_000, "o-5", "", "Sell", "New", price="90000", order_type="Limit")
    hours = [wallet(at) for at in range(T0 + 60_000, T0 + 5 * 3_600_000, 600_000)]
    book = fold("bybit", "main", events([resting, *hours]))
    key = book.key("linear", "BTCUSDT", 0)
    assert [o.venue_order_id for o in book.open_orders_for(key)] == ["o-5"]


def test_an_entry_never_acknowledged_blocks_can_open_as_long_as_its_position_is_open() -> None:
    records = [
        intent(T0, kind="account_mode", mode="LIVE"),
        opened(T0 + 1_000, "p-1"),
        placed(T0 + 1_000, "p-1", "ENTRY", "Buy"),
        wallet(LATER),
    ]
    rules = reconciler()
    for record in records:
        rules.apply(accepted(record))
    book, detectors = rules.book("bybit", "main"), rules.detectors("bybit", "main")
    verdict = can_open(book, detectors, "BTCUSDT", LATER)
    assert any("LIVE entry p-1-entry in flight (not acknowledged)" in r for r in verdict.reasons)
    given_up = intent(LATER, kind="position_closed", position_id="p-1", exit_reason="GAVE_UP")
    book = fold("bybit", "main", events([*records, given_up, wallet(LATER + KEPT_MS)]))
    assert book.placed == {} and book.local_keys == {}


def test_a_position_id_opened_again_after_a_refused_reply_is_a_new_position() -> None:
    # The book lets go of closed positions on any input, a refused reply included; the
    # detectors must forget them then too, or a reopened id meets the old one's state.
    window = 60_000

    def refused(at: int) -> dict[str, Any]:
        body = messages.rest_error(10006, "Too many visits!", time=at)
        params = {"category": "linear", "settleCoin": "USDT"}
        return messages.capture_rest(at, "main", "/v5/position/list", params, body)

    records = [
        intent(T0, kind="account_mode", mode="LIVE"),
        inputs.opened(T0 + 1, "m", "BTCUSDT", "1", mode="PAPER"),
        inputs.opened(T0 + 2, "q", "BTCUSDT", "1"),
        position_frame(T0 + 3, symbol="BTCUSDT", side="Buy", size="1", seq=2, updated_time=T0 + 3),
        intent(T0 + 4, kind="position_closed", position_id="m", exit_reason="TP2"),
        intent(T0 + 30_004, kind="position_closed", position_id="q", exit_reason="TP2"),
        position_frame(
            T0 + 30_005, symbol="BTCUSDT", side="", size="0", seq=3, updated_time=T0 + 30_005
        ),
        refused(T0 + 72_004),
        inputs.opened(T0 + 72_005, "m", "BTCUSDT", "1", mode="PAPER"),
        refused(T0 + 102_004),
        inputs.opened(T0 + 102_005, "q", "BTCUSDT", "1"),
    ]
    reconciler = Reconciler()
    reconciler.book("bybit", "main").forget_after_ms = window
    emitted = [e for record in records for e in reconciler.apply(event(record))]
    assert "POSITION_CLOSED" not in [e.type for e in emitted]
    assert "COOLDOWN_STARTED" not in [e.type for e in emitted]


# --- one object per repeated value ----------------------------------------------------------


def stored_order(at: int, order_id: str, qty: str) -> OrdersReported:
    record = order_frame(
        at, symbol="BTCUSDT", order_id=order_id, side="Buy", qty=qty, status="New", updated_time=at
    )
    read = codec.decode(codec.encode(accepted(record)))
    assert isinstance(read, OrdersReported)
    return read


def test_inputs_read_from_the_journal_share_their_names_and_amounts() -> None:
    """A replay holds tens of thousands of orders: "linear", "bybit" or "0.5" once each."""
    first, second = stored_order(T0, "o-1", "0.5"), stored_order(T0 + 1, "o-2", "0.5")
    one, other = first.orders[0], second.orders[0]
    assert first.venue is second.venue and first.account is second.account
    assert one.category is other.category and one.symbol is other.symbol
    assert one.qty is other.qty and one.cum_exec_fee is other.cum_exec_fee
    assert one.venue_order_id != other.venue_order_id  # ids are read as they are


def test_an_input_read_unshared_is_the_same_input_holding_its_own_values() -> None:
    """An audit reads a few thousand inputs, not a replay's millions: it skips the sharing."""
    record = order_frame(
        T0, symbol="BTCUSDT", order_id="o-1", side="Buy", qty="0.5", status="New", updated_time=T0
    )
    stored = codec.encode(accepted(record))
    shared, own = codec.decode(stored), codec.decode(stored, shared=False)
    assert own == shared
    assert isinstance(own, OrdersReported) and isinstance(shared, OrdersReported)
    assert own.orders[0].qty is not shared.orders[0].qty


def test_amounts_equal_in_value_but_not_in_form_stay_apart() -> None:
    """0.50 is not 0.5: what is shown and what an event's id is minted from keep the form."""
    plain, padded = stored_order(T0, "o-1", "0.5"), stored_order(T0 + 1, "o-2", "0.50")
    assert plain.orders[0].qty == padded.orders[0].qty
    assert str(plain.orders[0].qty) == "0.5" and str(padded.orders[0].qty) == "0.50"
