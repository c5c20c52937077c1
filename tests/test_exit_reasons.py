"""Exit reasons: a position the exchange closed is reported with the cause its last fill
shows (liquidation, ADL, delivery, the venue's or the bot's TP and SL, a close by hand),
the seeds' rule where nothing shows it; and only losses cool the symbol down, each for as
long as the rules say for its reason.

Bybit's fills name their cause in execType and createType (and a stop order's
stopOrderType); its order reports too, so either may tell it first."""

from typing import Any

import orjson
import pytest

from tests.inputs import (
    ACCOUNT,
    T0,
    accepted,
    execution_frame,
    intent,
    opened,
    order_frame,
    position_frame,
    position_snapshot,
    tick,
)
from tests.journal_formats import as_format
from tests.stored_events import emitted_in
from trueup.adapters import rule_changes
from trueup.adapters.bybit import messages
from trueup.adapters.store import codec, snapshots
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.snapshots import Snapshot
from trueup.application.service import TrueupService
from trueup.domain.emitted import CooldownStarted, Emitted, PositionClosed
from trueup.domain.errors import MalformedInput
from trueup.domain.events import RulesSet
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.rules.config import RuleConfig, rule_config, rule_values
from trueup.projections.reconciliation import ReconciliationProjection


def held(at: int, size: str, seq: int) -> dict[str, Any]:
    return position_frame(at, symbol="BTCUSDT", side="Buy", size=size, seq=seq, updated_time=at)


def closing_fill(
    exec_type: str,
    order_id: str = "o-x",
    link: str = "",
    create_type: str = "CreateByUser",
    stop_order_type: str = "UNKNOWN",
) -> dict[str, Any]:
    fill = {
        "symbol": "BTCUSDT",
        "exec_id": f"e-{exec_type}",
        "order_id": order_id,
        "order_link_id": link,
        "side": "Sell",
        "exec_price": "60000",
        "exec_qty": "1",
        "exec_type": exec_type,
        "exec_time": T0 + 2_900,
        "seq": 9,
        "create_type": create_type,
        "stop_order_type": stop_order_type,
    }
    return execution_frame(T0 + 2_900, fill)


def venue_order(stop_order_type: str, create_type: str = "CreateByUser") -> dict[str, Any]:
    return order_frame(
        T0 + 2_800,
        symbol="BTCUSDT",
        order_id="o-x",
        side="Sell",
        qty="1",
        status="Filled",
        updated_time=T0 + 2_800,
        reduce_only=True,
        stop_order_type=stop_order_type,
        create_type=create_type,
    )


def the_bots_sl() -> dict[str, Any]:
    return intent(
        T0 + 500,
        kind="order_placed",
        position_id="p-1",
        order_link_id="p-1-sl",
        category="linear",
        symbol="BTCUSDT",
        purpose="SL",
        side="Sell",
        qty="1",
    )


def emitted_for(*records: dict[str, Any]) -> list[Emitted]:
    reconciler = Reconciler()
    before = [opened(T0, "p-1", "BTCUSDT", "1"), held(T0 + 1_000, "1", 2)]
    # The tick a live run appends: a close no fill explains is reported once its grace is over.
    after = [held(T0 + 3_000, "0", 10), tick(T0 + 6_000)]
    return [e for r in [*before, *records, *after] for e in reconciler.apply(accepted(r))]


CASES = {
    "liquidation": ([closing_fill("BustTrade")], "LIQUIDATION", True),
    "adl": ([closing_fill("AdlTrade")], "ADL", True),
    "delivery": ([closing_fill("Delivery", order_id="")], "DELIVERY", False),
    "laddered liquidation": (
        [closing_fill("Trade", create_type="CreateByLiq")],
        "LIQUIDATION",
        True,
    ),
    "delisting settlement": (
        [closing_fill("Trade", create_type="CreateBySettle")],
        "DELIVERY",
        False,
    ),
    "venue take-profit, its fill tells": (
        [closing_fill("Trade", create_type="CreateByTakeProfit", stop_order_type="TakeProfit")],
        "TAKE_PROFIT",
        False,
    ),
    "venue take-profit, its order tells": (
        [venue_order("TakeProfit"), closing_fill("Trade")],
        "TAKE_PROFIT",
        False,
    ),
    "venue stop-loss, its fill tells": (
        [closing_fill("Trade", create_type="CreateByStopLoss", stop_order_type="StopLoss")],
        "STOP_LOSS",
        True,
    ),
    "venue stop-loss, its order tells": (
        [venue_order("StopLoss"), closing_fill("Trade")],
        "STOP_LOSS",
        True,
    ),
    "trailing stop": (
        [closing_fill("Trade", create_type="CreateByTrailingStop", stop_order_type="TrailingStop")],
        "STOP_LOSS",
        True,
    ),
    "closed from the venue's position panel": (
        [closing_fill("Trade", create_type="CreateByClosing")],
        "MANUAL",
        False,
    ),
    "closed from the panel, its order late": (
        [closing_fill("Trade", create_type="CreateByClosing"), venue_order("", "CreateByClosing")],
        "MANUAL",
        False,
    ),
    "a createType trueup does not know is no cause": (
        [closing_fill("Trade", create_type="CreateByTomorrow")],
        "MANUAL",  # still an order the bot never placed
        False,
    ),
    "the bot's stop-loss": (
        [the_bots_sl(), closing_fill("Trade", link="p-1-sl")],
        "STOP_LOSS",
        True,
    ),
    "by hand": ([venue_order(""), closing_fill("Trade")], "MANUAL", False),
    "nothing shows why": ([], "STOP_LOSS", True),  # the seeds' rule: TP1 never filled
}


@pytest.mark.parametrize(("records", "reason", "cools"), CASES.values(), ids=CASES.keys())
def test_a_close_is_reported_with_the_cause_its_fills_show_and_losses_cool_down(
    records: list[dict[str, Any]], reason: str, cools: bool
) -> None:
    told = emitted_for(*records)
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    assert closed.exit_reason == reason
    cooldowns = [e for e in told if isinstance(e, CooldownStarted)]
    assert [c.reason for c in cooldowns] == ([f"{reason} on p-1"] if cools else [])


def test_which_exit_reasons_cool_down_is_a_rule() -> None:
    rules = rule_changes.record(T0 - 1, RuleConfig(cooldown_exit_reasons=("MANUAL",)), "test")
    told = emitted_for(rules, venue_order(""), closing_fill("Trade"))
    assert [e.reason for e in told if isinstance(e, CooldownStarted)] == ["MANUAL on p-1"]


def test_each_exit_reason_may_cool_down_for_as_long_as_the_rules_say() -> None:
    config = RuleConfig(cooldown_ms_by_exit_reason={"LIQUIDATION": 3_600_000, "STOP_LOSS": 0})
    rules = rule_changes.record(T0 - 1, config, "test")
    liquidated = emitted_for(rules, closing_fill("BustTrade"))
    (cooldown,) = [e for e in liquidated if isinstance(e, CooldownStarted)]
    assert cooldown.until == T0 + 3_000 + 3_600_000
    stopped = emitted_for(rules, closing_fill("Trade", create_type="CreateByStopLoss"))
    assert not [e for e in stopped if isinstance(e, CooldownStarted)]
    deleveraged = emitted_for(rules, closing_fill("AdlTrade"))  # no duration of its own
    (cooldown,) = [e for e in deleveraged if isinstance(e, CooldownStarted)]
    assert cooldown.until == T0 + 3_000 + config.cooldown_ms


def test_a_cooldown_duration_per_exit_reason_is_checked_when_the_rules_are_read() -> None:
    with pytest.raises(MalformedInput, match="cooldown_ms_by_exit_reason"):
        rule_config({"cooldown_ms_by_exit_reason": {"BAD_LUCK": 1}})
    with pytest.raises(MalformedInput, match="cooldown_ms_by_exit_reason"):
        rule_config({"cooldown_ms_by_exit_reason": {"LIQUIDATION": -1}})
    read = rule_config({"cooldown_ms_by_exit_reason": {"STOP_LOSS": 5, "LIQUIDATION": 7}})
    assert read.cooldown_ms_by_exit_reason == {"LIQUIDATION": 7, "STOP_LOSS": 5}
    assert rule_values(read)["cooldown_ms_by_exit_reason"] == {"LIQUIDATION": 7, "STOP_LOSS": 5}


def test_a_fill_long_before_the_close_explains_nothing() -> None:
    reconciler = Reconciler()
    records = [
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        closing_fill("BustTrade"),
        held(T0 + 120_000, "0", 10),  # two minutes later: that fill did not close it
        tick(T0 + 123_000),
    ]
    told = [e for r in records for e in reconciler.apply(accepted(r))]
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    assert closed.exit_reason == "STOP_LOSS"


def test_a_fill_before_the_position_opened_explains_nothing() -> None:
    """p-1 closed by hand, p-2 opened 7 s later, then the exchange shows the key flat with no
    fill of p-2's: the hand close of p-1, within the minute, is not p-2's cause. p-2 waits
    for one, then is the seeds' STOP_LOSS, with its cooldown (a walkthrough: MANUAL at once,
    no cooldown, and can-open said yes after an unseen stop-loss)."""
    reconciler = Reconciler()
    records = [
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        venue_order(""),
        closing_fill("Trade"),
        held(T0 + 3_000, "0", 10),
        opened(T0 + 10_000, "p-2", "BTCUSDT", "1"),
        held(T0 + 11_000, "1", 11),
        held(T0 + 30_000, "0", 12),
        tick(T0 + 30_000 + RuleConfig().close_cause_grace_ms),
    ]
    told = [e for r in records for e in reconciler.apply(accepted(r))]
    closes = [(e.position_id, e.exit_reason, e.at) for e in told if isinstance(e, PositionClosed)]
    assert closes == [
        ("p-1", "MANUAL", T0 + 3_000),
        ("p-2", "STOP_LOSS", T0 + 30_000 + RuleConfig().close_cause_grace_ms),
    ]
    assert [e.reason for e in told if isinstance(e, CooldownStarted)] == ["STOP_LOSS on p-2"]


def test_in_hedge_mode_a_fill_of_one_leg_explains_nothing_of_the_others_close() -> None:
    """The long leg's opening Buy is on the short leg's closing side, but not its leg: the
    short leg's flat, with no fill of its own, is the seeds' STOP_LOSS (a walkthrough: MANUAL)."""
    reconciler = Reconciler()
    opening_buy = {
        "symbol": "BTCUSDT", "exec_id": "e-long", "order_id": "o-long", "side": "Buy",
        "exec_price": "60000", "exec_qty": "1", "exec_time": T0 + 5_000, "seq": 20,
    }  # fmt: skip

    def short_leg(at: int, side: str, size: str, seq: int) -> dict[str, Any]:
        item = {"side": side, "size": size, "seq": seq, "updated_time": at, "position_idx": 2}
        return position_frame(at, symbol="BTCUSDT", **item)

    records = [
        opened(T0, "s-1", "BTCUSDT", "1", side="Sell", position_idx=2),
        short_leg(T0 + 1_000, "Sell", "1", 2),
        execution_frame(T0 + 5_000, opening_buy),
        short_leg(T0 + 6_000, "", "0", 21),
        tick(T0 + 6_000 + RuleConfig().close_cause_grace_ms),
    ]
    told = [e for r in records for e in reconciler.apply(accepted(r))]
    closes = [(e.position_id, e.exit_reason) for e in told if isinstance(e, PositionClosed)]
    assert closes == [("s-1", "STOP_LOSS")]
    assert [e.reason for e in told if isinstance(e, CooldownStarted)] == ["STOP_LOSS on s-1"]


def test_a_fill_explains_a_close_a_minute_later_however_short_the_books_window() -> None:
    # The rule lets go of fills with the book's finished orders, but never sooner than a
    # fill can explain a close: a minute, to the millisecond.
    reconciler = Reconciler()
    reconciler.book("bybit", ACCOUNT).forget_after_ms = 1_000
    records = [
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        closing_fill("BustTrade"),  # at T0 + 2_900
        # A minute to the millisecond later: the rule's sweep of old fills, which runs
        # before the input is judged, keeps it.
        held(T0 + 2_900 + 60_000, "0", 10),
    ]
    told = [e for r in records for e in reconciler.apply(accepted(r))]
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    assert closed.exit_reason == "LIQUIDATION"


def opening_fill() -> dict[str, Any]:
    fill = {
        "symbol": "BTCUSDT", "exec_id": "e-open", "order_id": "o-open", "order_link_id": "",
        "side": "Buy", "exec_price": "59000", "exec_qty": "1", "exec_type": "Trade",
        "exec_time": T0 + 900, "seq": 1,
    }  # fmt: skip
    return execution_frame(T0 + 900, fill)


def closed_and_history(
    *records: dict[str, Any], rules: dict[str, Any] | None = None
) -> tuple[str, str]:
    """POSITION_CLOSED's exit reason and the history's, for a long of 1 opened by a fill
    (under ``rules``, a rules line, if given)."""
    reconciler = Reconciler()
    before = [opened(T0, "p-1", "BTCUSDT", "1"), opening_fill(), held(T0 + 1_000, "1", 2)]
    if rules is not None:
        before.insert(0, rules)
    told = [e for r in [*before, *records] for e in reconciler.apply(accepted(r))]
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    (lifecycle,) = reconciler.book("bybit", "main").pnl.closed
    return closed.exit_reason, lifecycle.exit_reason


FILLED = {name: case for name, case in CASES.items() if case[0]}


@pytest.mark.parametrize(("records", "reason"), [c[:2] for c in FILLED.values()], ids=FILLED.keys())
def test_position_closed_and_the_history_read_one_rule_from_the_closing_fill(
    records: list[dict[str, Any]], reason: str
) -> None:
    assert closed_and_history(*records, held(T0 + 3_000, "0", 10)) == (reason, reason)


def test_a_closing_fill_seen_within_the_grace_after_the_flat_is_position_closed_s_word_too() -> (
    None
):
    # As after a stream gap (samples/aster-session.jsonl, lines 19-20), or a REST poll read
    # before the stream's fill: the key shows flat before the fill of the close by hand comes.
    # POSITION_CLOSED waits close_cause_grace_ms for it, and reads it as the history does.
    by_hand = [venue_order(""), closing_fill("Trade")]
    assert closed_and_history(held(T0 + 2_000, "0", 10), *by_hand) == ("MANUAL", "MANUAL")


def test_a_closing_fill_seen_only_after_the_grace_is_the_history_s_word_not_position_closed_s() -> (
    None
):
    # With no grace (rules recorded by a trueup before it, read as 0), or a fill later than
    # it: POSITION_CLOSED had to judge without it (the seeds' rule, and its cooldown).
    by_hand = [venue_order(""), closing_fill("Trade")]
    no_grace = rule_changes.record(T0 - 1, RuleConfig(close_cause_grace_ms=0), "test")
    flat = held(T0 + 2_000, "0", 10)
    assert closed_and_history(flat, *by_hand, rules=no_grace) == ("STOP_LOSS", "MANUAL")
    short = rule_changes.record(T0 - 1, RuleConfig(close_cause_grace_ms=500), "test")
    late = [flat, tick(T0 + 2_600), *by_hand]
    assert closed_and_history(*late, rules=short) == ("STOP_LOSS", "MANUAL")


def test_of_the_fills_a_catch_up_page_lists_the_newest_explains_the_close() -> None:
    """/v5/execution/list answers newest first: a take-profit of part of the position, then a
    close by hand of the rest, come listed the other way round."""
    take_profit, by_hand = (
        messages.execution_item(
            symbol="BTCUSDT",
            exec_id=exec_id,
            order_id=order_id,
            side="Sell",
            exec_price="60000",
            exec_qty=qty,
            exec_time=T0 + at,
            seq=seq,
            closed_size=qty,
            create_type=create_type,
            stop_order_type=stop_order_type,
            rest=True,
        )
        for exec_id, order_id, qty, at, seq, create_type, stop_order_type in (
            ("e-tp", "o-tp", "0.4", 1_500, 5, "CreateByTakeProfit", "TakeProfit"),
            ("e-hand", "o-hand", "0.6", 2_500, 8, "CreateByClosing", "UNKNOWN"),
        )
    )
    body = messages.rest_ok("linear", [by_hand, take_profit], time=T0 + 2_900)
    page = messages.capture_rest(
        T0 + 2_900, ACCOUNT, "/v5/execution/list", {"category": "linear"}, body
    )
    (closed,) = [e for e in emitted_for(page) if isinstance(e, PositionClosed)]
    assert closed.exit_reason == "MANUAL"


# --- a close no fill explains yet awaits its cause ----------------------------------------------
#
# A position poll can read the key flat before the stream brings the fill that closed it
# (Bybit orders its position and execution topics in no way between them): the close waits
# close_cause_grace_ms (3 s) for that fill before it is judged without it.

FLAT_AT = T0 + 3_000
GRACE = RuleConfig().close_cause_grace_ms


def told_after_the_flat(*records: dict[str, Any], rules: RuleConfig | None = None) -> list[Emitted]:
    """What p-1 (long 1 BTCUSDT, shown by the exchange) brings once the exchange shows its
    key flat at FLAT_AT, with no fill before it, then ``records``."""
    reconciler = Reconciler()
    before: list[dict[str, Any]] = []
    if rules is not None:
        before.append(rule_changes.record(T0 - 1, rules, "test"))
    before += [opened(T0, "p-1", "BTCUSDT", "1"), held(T0 + 1_000, "1", 2), held(FLAT_AT, "0", 10)]
    said = [e for r in before for e in reconciler.apply(accepted(r))]
    assert said == [], "nothing is said at the flat: no fill has said why yet"
    return [e for r in records for e in reconciler.apply(accepted(r))]


def liquidation_fill(at: int) -> dict[str, Any]:
    """The liquidation's fill, its stream frame arriving at ``at``."""
    fill = {
        "symbol": "BTCUSDT", "exec_id": "e-liq", "order_id": "o-liq", "order_link_id": "",
        "side": "Sell", "exec_price": "60000", "exec_qty": "1", "exec_type": "BustTrade",
        "exec_time": FLAT_AT - 100, "seq": 9,
    }  # fmt: skip
    return execution_frame(at, fill)


def test_the_liquidation_s_fill_after_the_flat_is_its_cause_and_starts_its_cooldown() -> None:
    liquidation_cools = RuleConfig(cooldown_ms_by_exit_reason={"LIQUIDATION": 3_600_000})
    told = told_after_the_flat(liquidation_fill(FLAT_AT + 400), rules=liquidation_cools)
    closed, cooldown = told
    assert isinstance(closed, PositionClosed) and isinstance(cooldown, CooldownStarted)
    assert (closed.position_id, closed.exit_reason) == ("p-1", "LIQUIDATION")
    # Said on the input that told why, the fill's; the cooldown runs from the close itself.
    assert closed.at == cooldown.at == FLAT_AT + 400
    assert cooldown.reason == "LIQUIDATION on p-1"
    assert cooldown.until == FLAT_AT + 3_600_000


def test_a_close_nothing_explains_is_a_stop_loss_at_the_first_input_past_the_grace() -> None:
    other_symbol = position_frame(
        FLAT_AT + GRACE, symbol="ETHUSDT", side="Buy", size="2", seq=3, updated_time=FLAT_AT
    )
    told = told_after_the_flat(tick(FLAT_AT + 1_000), tick(FLAT_AT + GRACE - 1), other_symbol)
    closed, cooldown = told
    assert isinstance(closed, PositionClosed) and isinstance(cooldown, CooldownStarted)
    # Any input of the account ends the grace: here another symbol's report.
    assert (closed.exit_reason, closed.at) == ("STOP_LOSS", FLAT_AT + GRACE)
    assert closed.cause == accepted(other_symbol).input_id
    assert cooldown.until == FLAT_AT + RuleConfig().cooldown_ms
    # Once: the ticks after it say nothing more.
    later = told_after_the_flat(tick(FLAT_AT + GRACE), tick(FLAT_AT + GRACE + 1_000))
    assert [(e.type, e.at) for e in later] == [
        ("POSITION_CLOSED", FLAT_AT + GRACE),
        ("COOLDOWN_STARTED", FLAT_AT + GRACE),
    ]


def the_bots_close(at: int) -> dict[str, Any]:
    return intent(at, kind="position_closed", position_id="p-1", exit_reason="TP2")


def test_the_bots_own_close_within_the_grace_is_not_reported_as_the_exchanges() -> None:
    told = told_after_the_flat(
        tick(FLAT_AT + 1_000), the_bots_close(FLAT_AT + 1_500), tick(FLAT_AT + GRACE + 1_000)
    )
    assert told == []


def test_an_operators_clean_within_the_grace_is_acknowledged_and_no_close_reported() -> None:
    clean = {
        "at": FLAT_AT + 1_000, "venue": "bybit", "account": ACCOUNT, "channel": "operator",
        "data": {"action": "clean_position", "position_id": "p-1",
                 "exit_reason": "STALE_CLEANUP", "operator": "alice"},
    }  # fmt: skip
    told = told_after_the_flat(clean, tick(FLAT_AT + GRACE + 1_000))
    assert [e.type for e in told] == ["POSITION_CLEANED"]


def test_the_key_held_again_on_its_side_within_the_grace_was_no_close() -> None:
    told = told_after_the_flat(held(FLAT_AT + 500, "1", 11), tick(FLAT_AT + GRACE + 1_000))
    assert told == []
    # Still the bot's position, confirmed: a later flat is a close, awaited as the first.
    again = told_after_the_flat(
        held(FLAT_AT + 500, "1", 11), held(FLAT_AT + 5_000, "0", 12), tick(FLAT_AT + 8_000)
    )
    closed, _ = again
    assert isinstance(closed, PositionClosed)
    assert (closed.exit_reason, closed.at) == ("STOP_LOSS", FLAT_AT + 8_000)


def test_with_no_grace_a_close_is_reported_at_once_judged_without_the_fill() -> None:
    no_grace = RuleConfig(close_cause_grace_ms=0)
    reconciler = Reconciler()
    records = [
        rule_changes.record(T0 - 1, no_grace, "test"),
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        held(FLAT_AT, "0", 10),
        liquidation_fill(FLAT_AT + 400),
    ]
    told = [[e for e in reconciler.apply(accepted(r))] for r in records]
    closed, cooldown = told[3]
    assert isinstance(closed, PositionClosed) and isinstance(cooldown, CooldownStarted)
    assert (closed.exit_reason, closed.at, cooldown.until) == (
        "STOP_LOSS",
        FLAT_AT,
        FLAT_AT + no_grace.cooldown_ms,
    )
    assert told[4] == []  # the fill came too late to be its word


def test_can_open_answers_no_while_a_close_awaits_its_cause_then_names_the_cooldown() -> None:
    reconciler = Reconciler()
    records = [
        position_snapshot(T0 - 500),
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        held(FLAT_AT, "0", 10),
        position_snapshot(FLAT_AT + 100),
    ]
    for r in records:
        reconciler.apply(accepted(r))
    book, detectors = reconciler.book("bybit", ACCOUNT), reconciler.detectors("bybit", ACCOUNT)
    verdict = can_open(book, detectors, "BTCUSDT", FLAT_AT + 200)
    assert not verdict.allowed
    assert verdict.reasons == [
        "the exchange closed p-1 at 2025-11-03T19:43:23.000Z and no fill has said why yet: "
        "a cooldown may follow"
    ]
    reconciler.apply(accepted(tick(FLAT_AT + GRACE)))
    verdict = can_open(book, detectors, "BTCUSDT", FLAT_AT + GRACE)
    assert not verdict.allowed
    assert verdict.reasons == ["cooldown on BTCUSDT until 2025-11-03T20:13:23.000Z"]


def test_a_snapshot_taken_while_a_close_awaits_its_cause_replays_what_an_unbroken_run_does() -> (
    None
):
    records = [
        opened(T0, "p-1", "BTCUSDT", "1"),
        held(T0 + 1_000, "1", 2),
        held(FLAT_AT, "0", 10),
        tick(FLAT_AT + 1_000),
        liquidation_fill(FLAT_AT + 1_500),
        tick(FLAT_AT + 5_000),
    ]
    inputs = [accepted(r) for r in records]
    straight = Reconciler()
    expected = [codec.encode_emitted(e) for i in inputs for e in straight.apply(i)]
    assert b"LIQUIDATION" in b"".join(expected)
    for cut in range(len(inputs) + 1):
        before = Reconciler()
        said = [codec.encode_emitted(e) for i in inputs[:cut] for e in before.apply(i)]
        restored = snapshots.load(snapshots.dump(Snapshot(cut, before)))
        assert restored is not None
        said += [
            codec.encode_emitted(e) for i in inputs[cut:] for e in restored.reconciler.apply(i)
        ]
        assert said == expected


def test_rules_an_older_trueup_recorded_read_with_no_grace_and_new_ones_with_theirs() -> None:
    recorded = accepted(rule_changes.record(T0, RuleConfig(), "rules.toml"))
    assert isinstance(recorded, RulesSet)
    stored = codec.encode(recorded)
    assert b'"close_cause_grace_ms":3000' in stored
    read = codec.decode(stored)
    assert isinstance(read, RulesSet) and read.rules.close_cause_grace_ms == GRACE
    # As a trueup before the setting stored them: without it.
    older = stored.replace(b'"close_cause_grace_ms":3000,', b"")
    read = codec.decode(older)
    assert isinstance(read, RulesSet) and read.rules.close_cause_grace_ms == 0
    assert read.rules == RuleConfig(close_cause_grace_ms=0)
    # A rules line of today that leaves it out takes the default.
    today = accepted({"at": T0, "channel": "rules", "data": {}})
    assert isinstance(today, RulesSet) and today.rules.close_cause_grace_ms == GRACE


def test_a_journal_an_older_trueup_began_never_reports_a_close_it_reported_at_once_again(
    store_url: str,
) -> None:
    """That trueup, which had no wait, reported p-1's close at the flat. Upgraded, trueup
    judges the inputs stored before any rules were recorded as it did: rebuilt by them, the
    close is not awaiting its cause, and the first input past the grace says nothing more.
    A journal begun by this trueup waits, by the defaults."""
    flat = [opened(T0, "p-1", "BTCUSDT", "1"), held(T0 + 1_000, "1", 2), held(FLAT_AT, "0", 10)]
    with Journal.open(store_url) as journal:
        assert journal.rules_in_force().close_cause_grace_ms == GRACE
        older = ReconciliationProjection(journal, RuleConfig(close_cause_grace_ms=0))
        journal.append([accepted(r) for r in flat])
        said = [e.type for e in older.catch_up()]
        assert said == ["POSITION_CLOSED", "COOLDOWN_STARTED"]
        # No snapshot saved: this trueup could not have read that one's.
    as_format(store_url, 6)

    with Journal.open(store_url) as journal:
        assert journal.rules_in_force() == RuleConfig(close_cause_grace_ms=0)
        report = TrueupService(journal).ingest([[orjson.dumps(tick(FLAT_AT + GRACE + 1))]])
        assert report.accepted == 1 and report.detected_here
        closes = [e for e in emitted_in(journal) if b"POSITION_CLOSED" in e]
    assert len(closes) == 1


def test_the_grace_is_a_duration_checked_when_the_rules_are_read() -> None:
    assert rule_config({"close_cause_grace_ms": 0}).close_cause_grace_ms == 0
    with pytest.raises(MalformedInput, match="close_cause_grace_ms"):
        rule_config({"close_cause_grace_ms": -1})
    with pytest.raises(MalformedInput, match="close_cause_grace_ms"):
        rule_config({"close_cause_grace_ms": 1.5})
