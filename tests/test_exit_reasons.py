"""Exit reasons: a position the exchange closed is reported with the cause its last fill
shows (liquidation, ADL, delivery, the venue's or the bot's TP and SL, a close by hand),
the seeds' rule where nothing shows it; and only losses cool the symbol down, each for as
long as the rules say for its reason.

Bybit's fills name their cause in execType and createType (and a stop order's
stopOrderType); its order reports too, so either may tell it first."""

from typing import Any

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
)
from trueup.adapters import rule_changes
from trueup.adapters.bybit import messages
from trueup.domain.emitted import CooldownStarted, Emitted, PositionClosed
from trueup.domain.errors import MalformedInput
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig, rule_config, rule_values


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
    after = [held(T0 + 3_000, "0", 10)]
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
    ]
    told = [e for r in records for e in reconciler.apply(accepted(r))]
    (closed,) = [e for e in told if isinstance(e, PositionClosed)]
    assert closed.exit_reason == "STOP_LOSS"


def opening_fill() -> dict[str, Any]:
    fill = {
        "symbol": "BTCUSDT", "exec_id": "e-open", "order_id": "o-open", "order_link_id": "",
        "side": "Buy", "exec_price": "59000", "exec_qty": "1", "exec_type": "Trade",
        "exec_time": T0 + 900, "seq": 1,
    }  # fmt: skip
    return execution_frame(T0 + 900, fill)


def closed_and_history(*records: dict[str, Any]) -> tuple[str, str]:
    """POSITION_CLOSED's exit reason and the history's, for a long of 1 opened by a fill."""
    reconciler = Reconciler()
    before = [opened(T0, "p-1", "BTCUSDT", "1"), opening_fill(), held(T0 + 1_000, "1", 2)]
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


def test_a_closing_fill_seen_only_after_the_flat_is_the_history_s_word_not_position_closed_s() -> (
    None
):
    # As after a stream gap (samples/aster-session.jsonl, lines 19-20): the snapshot shows the
    # key flat before the catch-up brings the fill of the close by hand. POSITION_CLOSED had
    # to judge without it (the seeds' rule, and its cooldown); the history reads the fill.
    by_hand = [venue_order(""), closing_fill("Trade")]
    assert closed_and_history(held(T0 + 2_000, "0", 10), *by_hand) == ("STOP_LOSS", "MANUAL")


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
