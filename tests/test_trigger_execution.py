"""A fired trigger's order, followed from the journal: the executor's placement report, then
the venue's order reports, end the firing once (EXECUTED with the venue's ids and fills,
FAILED with the venue's reason, CANCELLED); and firings on one position never ask for more
than it holds."""

from decimal import Decimal
from typing import Any

import pytest

from tests.triggers import (
    ACCOUNT,
    SYMBOL,
    T0,
    add,
    command,
    link_id,
    of,
    order,
    placement,
    position,
    price,
    run,
    tick,
)
from trueup.adapters.bybit.messages import order_item
from trueup.domain.emitted import Emitted, TriggerFired, TriggerOutcome, TriggerRefused
from trueup.domain.reconciler import Reconciler

D = Decimal


def fire(reconciler: Reconciler, **spec: Any) -> TriggerFired:
    """A long of 2 whose price trigger (reduce half, auto) fires at 110."""
    run([position(T0, "Buy", 2), add(T0 + 1, auto_execute=True, **spec)], reconciler)
    (fired,) = of(run([price(T0 + 2, "110")], reconciler), "TRIGGER_FIRED")
    assert isinstance(fired, TriggerFired)
    return fired


def outcomes(emitted: list[Emitted]) -> list[TriggerOutcome]:
    return [e for e in emitted if isinstance(e, TriggerOutcome)]


def test_a_filled_order_executes_the_firing_with_the_venue_s_ids_and_fills() -> None:
    reconciler = Reconciler()
    fired = fire(reconciler)
    assert outcomes(run([placement(T0 + 3, fired, venue_order_id="o-1")], reconciler)) == []
    emitted = run([order(T0 + 4, fired, "Filled", "1.0", filled="1.0")], reconciler)
    (executed,) = outcomes(emitted)
    assert executed.type == "TRIGGER_EXECUTED"
    assert (executed.decision_id, executed.venue_order_id) == (fired.event_id, "o-1")
    assert executed.client_order_id.startswith("tu-")
    assert (executed.filled_qty, executed.avg_price) == (D("1.0"), D(110))


def test_order_reports_that_came_before_the_placement_report_still_end_it() -> None:
    reconciler = Reconciler()
    fired = fire(reconciler)
    assert outcomes(run([order(T0 + 3, fired, "Filled", "1.0", filled="1.0")], reconciler)) == []
    (executed,) = outcomes(run([placement(T0 + 4, fired)], reconciler))
    assert executed.type == "TRIGGER_EXECUTED"
    assert executed.venue_order_id == f"o-{fired.event_id[:8]}"


def test_a_refusal_fails_the_firing_with_the_venue_s_reason_and_is_not_asked_again() -> None:
    reconciler = Reconciler()
    fired = fire(reconciler)
    refused = placement(
        T0 + 3, fired, "refused", reason="reduce-only rule not satisfied", refusal="reduce only"
    )
    refused["data"]["code"] = "110017"
    (failed,) = outcomes(run([refused], reconciler))
    assert failed.type == "TRIGGER_FAILED"
    assert "reduce only 110017" in failed.reason
    assert "reduce-only rule not satisfied" in failed.reason
    # The order the venue refused never comes: a later acceptance of the decision is a
    # stale repeat, and changes nothing.
    assert run([placement(T0 + 4, fired)], reconciler) == []


def test_each_transition_happens_once_however_often_it_is_reported() -> None:
    reconciler = Reconciler()
    fired = fire(reconciler)
    run([placement(T0 + 3, fired)], reconciler)
    (executed,) = outcomes(run([order(T0 + 4, fired, "Filled", "1.0", "1.0")], reconciler))
    again = [
        placement(T0 + 5, fired, "already placed"),
        order(T0 + 6, fired, "Filled", "1.0", "1.0"),
        order(T0 + 7, fired, "Cancelled", "1.0", "1.0"),
    ]
    assert outcomes(run(again, reconciler)) == []
    assert executed.type == "TRIGGER_EXECUTED"


def test_a_venue_cancel_or_reject_with_nothing_filled_cancels_or_fails_it() -> None:
    for status, expected in (("Cancelled", "TRIGGER_CANCELLED"), ("Rejected", "TRIGGER_FAILED")):
        reconciler = Reconciler()
        fired = fire(reconciler)
        run([placement(T0 + 3, fired)], reconciler)
        (ended,) = outcomes(run([order(T0 + 4, fired, status, "1.0")], reconciler))
        assert ended.type == expected
        assert ended.filled_qty is None


def test_a_partial_fill_then_cancel_is_executed_for_what_filled() -> None:
    reconciler = Reconciler()
    fired = fire(reconciler)
    run([placement(T0 + 3, fired)], reconciler)
    (ended,) = outcomes(run([order(T0 + 4, fired, "Cancelled", "1.0", "0.4")], reconciler))
    assert ended.type == "TRIGGER_EXECUTED"
    assert ended.filled_qty == D("0.4")
    assert "filled 0.4 of 1.0" in ended.reason


def test_a_refused_placement_of_an_order_the_venue_holds_is_followed_not_failed() -> None:
    # An executor placed it and died before saying so; its successor, too late to place
    # again, says so: the venue's own report of the order outranks that.
    reconciler = Reconciler()
    fired = fire(reconciler)
    run([order(T0 + 3, fired, "New", "1.0")], reconciler)
    late = placement(T0 + 40_000, fired, "refused", reason="too old", refusal="too late")
    assert outcomes(run([late], reconciler)) == []
    (executed,) = outcomes(run([order(T0 + 40_001, fired, "Filled", "1.0", "1.0")], reconciler))
    assert executed.type == "TRIGGER_EXECUTED"


def test_triggers_firing_together_on_one_position_never_ask_for_more_than_it_holds() -> None:
    # Four reduces of 0.4 each on a long of 2: each takes its ratio of what the others
    # have not already taken (seed 003 deducted the same position twice).
    reconciler = Reconciler()
    records = [position(T0, "Buy", 2)]
    records += [add(T0 + 1 + n, f"t{n}", ratio="0.4", auto_execute=True) for n in range(4)]
    run(records, reconciler)
    fired = of(run([price(T0 + 10, "110")], reconciler), "TRIGGER_FIRED")
    quantities = [e.quantity for e in fired if isinstance(e, TriggerFired)]
    assert quantities == [D("0.8"), D("0.48"), D("0.288"), D("0.1728")]
    assert sum(quantities) <= 2


def test_an_executed_reduce_counts_until_a_position_report_shows_it() -> None:
    reconciler = Reconciler()
    first = fire(reconciler, trigger_id="a", ratio="1")
    run([placement(T0 + 3, first)], reconciler)
    run([order(T0 + 4, first, "Filled", "2", "2")], reconciler)
    # Before the venue's position report says so, the position still reads 2, all of it
    # taken: a second trigger has nothing left to reduce.
    run([add(T0 + 5, "b", level="111", auto_execute=True)], reconciler)
    emitted = run([price(T0 + 6, "111")], reconciler)
    (failed,) = outcomes(emitted)
    assert failed.type == "TRIGGER_FAILED" and "nothing left to reduce" in failed.reason
    assert of(emitted, "ORDER_REQUESTED") == []


def test_nothing_left_after_the_position_report_shows_the_reduce() -> None:
    reconciler = Reconciler()
    first = fire(reconciler, trigger_id="a", ratio="0.5")
    run([placement(T0 + 3, first)], reconciler)
    run([order(T0 + 4, first, "Filled", "1.0", "1.0")], reconciler)
    run([position(T0 + 5, "Buy", 1)], reconciler)  # the venue's word: 1 left
    run([add(T0 + 6, "b", level="111", ratio="0.5", auto_execute=True)], reconciler)
    (fired,) = of(run([price(T0 + 7, "111")], reconciler), "TRIGGER_FIRED")
    assert isinstance(fired, TriggerFired) and fired.quantity == D("0.5")


def test_a_fault_judging_one_trigger_disables_it_alone_told_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trueup.domain.triggers.conditions import holds as real

    def faulty(spec: Any, *args: Any) -> bool:
        if spec.level == D(111):
            raise ArithmeticError("a fault in trueup")
        return real(spec, *args)

    monkeypatch.setattr("trueup.domain.triggers.detector.holds", faulty)
    reconciler = Reconciler()
    records = [position(T0, "Buy", 2), add(T0 + 1, "bad", level="111"), add(T0 + 2, "good")]
    emitted = run([*records, price(T0 + 3, "112")], reconciler)
    assert [(e.type, getattr(e, "trigger_id", "")) for e in emitted if "TRIGGER" in e.type] == [
        ("TRIGGER_ERROR", "bad"),
        ("TRIGGER_FIRED", "good"),
    ]
    assert "ArithmeticError: a fault in trueup" in getattr(emitted[0], "reason", "")
    assert run([price(T0 + 4, "113")], reconciler) == []  # disabled: told once


@pytest.mark.parametrize("verb", ["disable", "remove"])
def test_a_trigger_whose_order_is_requested_is_disabled_or_removed_only_once_it_ends(
    verb: str,
) -> None:
    # Its order is the executor's, maybe on its way: taken, the command would hide the order
    # that goes out all the same (a walkthrough's remove, then a sell that closed the whole
    # position under a trigger listed "removed"). An enable re-armed it once, throwing away
    # the firing (found by tests/test_trigger_state_machine.py). A line that has not claimed
    # the order from the executor (``withdraws``: tests/test_executor.py) is one of these.
    reconciler = Reconciler()
    fired = fire(reconciler)
    (refused,) = of(run([command(T0 + 3, verb)], reconciler), "TRIGGER_REFUSED")
    assert isinstance(refused, TriggerRefused)
    assert "its order is requested: the executor may be sending it" in refused.reason
    assert of(run([command(T0 + 4, "enable")], reconciler), "TRIGGER_REFUSED")  # nor re-armed
    run([placement(T0 + 5, fired)], reconciler)
    (executed,) = outcomes(run([order(T0 + 6, fired, "Filled", "1.0", "1.0")], reconciler))
    assert (executed.type, executed.decision_id) == ("TRIGGER_EXECUTED", fired.event_id)
    assert of(run([command(T0 + 7, verb)], reconciler), "TRIGGER_REFUSED") == []


def fire_lock(reconciler: Reconciler) -> tuple[TriggerFired, Emitted]:
    """A hedge-mode long of 2 on leg 1 whose price trigger (lock half, auto) fires at 110:
    its TRIGGER_FIRED and ORDER_REQUESTED."""
    run([position(T0, "Buy", 2, idx=1)], reconciler)
    run([add(T0 + 1, action="lock", auto_execute=True)], reconciler)
    emitted = run([price(T0 + 2, "110")], reconciler)
    (fired,), (requested,) = of(emitted, "TRIGGER_FIRED"), of(emitted, "ORDER_REQUESTED")
    assert isinstance(fired, TriggerFired)
    return fired, requested


def lock_order(at: int, fired: TriggerFired, status: str, filled: str) -> dict[str, Any]:
    """The venue's report of the lock's order: a market sell opening the short leg (2)."""
    item = order_item(
        symbol=SYMBOL, order_id="o-lock", order_link_id=link_id(fired), side="Sell", qty="1",
        status=status, updated_time=at, cum_exec_qty=filled, avg_price="110", position_idx=2,
    )  # fmt: skip
    frame = {"topic": "order", "creationTime": at, "data": [item]}
    return {"at": at, **ACCOUNT, "channel": "ws", "data": frame}


@pytest.mark.parametrize("leg_first", [False, True], ids=["fill first", "leg first"])
def test_the_leg_a_lock_opened_is_trueup_s_own_position_never_untracked(leg_first: bool) -> None:
    reconciler = Reconciler()
    fired, requested = fire_lock(reconciler)
    leg = position(T0 + 3, "Sell", 1, idx=2)
    filled = [
        placement(T0 + 3, fired, requested=requested),
        lock_order(T0 + 4, fired, "Filled", "1"),
    ]
    emitted = run([leg, *filled] if leg_first else [*filled, leg], reconciler)
    emitted += run([tick(T0 + 60_000)], reconciler)
    assert [e.type for e in outcomes(emitted)] == ["TRIGGER_EXECUTED"]
    on_leg = [e for e in emitted if e.position_idx == 2]  # leg 1 is no claim of the bot's here
    assert of(on_leg, "UNTRACKED_POSITION") == of(on_leg, "CONSISTENCY_DRIFT") == []
    book = reconciler.book("bybit", "main")
    held = book.positions[book.key("linear", SYMBOL, 2)]
    assert [p.position_id for p in held.live_open] == ["lock:t1:1"]
    assert held.local_qty == held.exchange_qty == D(-1)


@pytest.mark.parametrize("leg_first", [False, True], ids=["fill first", "leg first"])
def test_a_lock_leg_closed_on_the_exchange_is_reported_closed_like_any_position(
    leg_first: bool,
) -> None:
    reconciler = Reconciler()
    fired, requested = fire_lock(reconciler)
    leg = position(T0 + 3, "Sell", 1, idx=2)
    filled = [
        placement(T0 + 3, fired, requested=requested),
        lock_order(T0 + 4, fired, "Filled", "1"),
    ]
    run([leg, *filled] if leg_first else [*filled, leg], reconciler)
    # No fill says why: reported on the tick past close_cause_grace_ms.
    flat = [position(T0 + 6, "", 0, idx=2), {"at": T0 + 3_006, **ACCOUNT, "channel": "clock"}]
    (closed,) = of(run(flat, reconciler), "POSITION_CLOSED")
    assert closed.position_id == "lock:t1:1"  # type: ignore[attr-defined]


@pytest.mark.parametrize("leg_shown", [False, True], ids=["fill alone", "leg shown"])
def test_a_second_lock_takes_only_what_the_first_left_unhedged(leg_shown: bool) -> None:
    # A long of 2 half locked (a short leg of 1): a lock of the whole is of the 1 left, not
    # of 2, which would leave the account net short 1 (a walkthrough's second lock). The
    # first lock counts from its fill, before a report of the leg shows it.
    reconciler = Reconciler()
    fired, requested = fire_lock(reconciler)
    filled = [
        placement(T0 + 3, fired, requested=requested),
        lock_order(T0 + 4, fired, "Filled", "1"),
    ]
    run([*filled, *([position(T0 + 5, "Sell", 1, idx=2)] if leg_shown else [])], reconciler)
    second = [add(T0 + 6, "t2", action="lock", ratio="1", auto_execute=True), price(T0 + 7, 111)]
    (again,) = of(run(second, reconciler), "TRIGGER_FIRED")
    assert isinstance(again, TriggerFired)
    assert (again.trigger_id, again.quantity) == ("t2", D(1))
    # Once all of it is hedged, a third has nothing left to lock, and says why.
    third = [add(T0 + 8, "t3", action="lock", ratio="1", auto_execute=True), price(T0 + 9, 112)]
    run([position(T0 + 8, "Sell", 2, idx=2)], reconciler)
    (failed,) = of(run(third, reconciler), "TRIGGER_FAILED")
    assert isinstance(failed, TriggerOutcome)
    assert "orders and the opposite leg already take all 2" in failed.reason


def test_a_lock_confirmed_after_the_opposite_leg_grew_is_not_sent() -> None:
    # Half of a long of 2 to lock, waiting on its confirm; meanwhile a short of 1.5 was
    # opened by hand on the opposite leg: 1 more would turn the account net short.
    reconciler = Reconciler()
    run([position(T0, "Buy", 2, idx=1), add(T0 + 1, action="lock"), price(T0 + 2, "110")],
        reconciler)  # fmt: skip
    run([position(T0 + 3, "Sell", "1.5", idx=2)], reconciler)
    (failed,) = outcomes(run([command(T0 + 4, "confirm")], reconciler))
    assert failed.type == "TRIGGER_FAILED"
    assert failed.reason == (
        "the position holds 2 now, less than the 2.5 its firings' orders and the opposite "
        "leg would lock: not sent"
    )


def test_a_lock_that_filled_nothing_opens_no_position() -> None:
    reconciler = Reconciler()
    fired, requested = fire_lock(reconciler)
    run(
        [
            placement(T0 + 3, fired, requested=requested),
            lock_order(T0 + 4, fired, "Cancelled", "0"),
        ],
        reconciler,
    )
    book = reconciler.book("bybit", "main")
    assert book.local_position("lock:t1:1") is None
