"""The reconciliation rules, one behaviour at a time, from real Bybit frames and intents."""

from decimal import Decimal
from typing import TypeVar

import pytest

from tests.inputs import (
    T0,
    event,
    execution_frame,
    intent,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.adapters.bybit import messages
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
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import reconcile
from trueup.domain.rules.config import RuleConfig

E = TypeVar("E", bound=Emitted)


def live(at: int = T0 + 1_000) -> InputEvent:
    return event(intent(at, kind="account_mode", mode="LIVE"))


def opened(
    at: int,
    *,
    pid: str = "p-1",
    qty: str = "0.3",
    side: str = "Buy",
    mode: str = "LIVE",
    symbol: str = "BTCUSDT",
) -> InputEvent:
    return event(
        intent(
            at,
            kind="position_opened",
            position_id=pid,
            category="linear",
            symbol=symbol,
            position_idx=0,
            side=side,
            qty=qty,
            mode=mode,
        )
    )


def exchange(
    at: int, size: str, seq: int, side: str = "Buy", symbol: str = "BTCUSDT"
) -> InputEvent:
    side = "" if size == "0" else side
    return event(position_frame(at, symbol=symbol, side=side, size=size, seq=seq, updated_time=at))


def clock(at: int) -> InputEvent:
    return event({"at": at, "channel": "clock"})


def placed(at: int, link: str, purpose: str, side: str = "Sell", qty: str = "0.15") -> InputEvent:
    return event(
        intent(
            at,
            kind="order_placed",
            position_id="p-1",
            order_link_id=link,
            category="linear",
            symbol="BTCUSDT",
            purpose=purpose,
            side=side,
            qty=qty,
        )
    )


def order(
    at: int,
    oid: str,
    link: str,
    status: str,
    *,
    qty: str = "0.15",
    cum: str = "0",
    side: str = "Sell",
    **extra: object,
) -> InputEvent:
    return event(
        order_frame(
            at,
            symbol="BTCUSDT",
            order_id=oid,
            order_link_id=link,
            side=side,
            qty=qty,
            status=status,
            cum_exec_qty=cum,
            updated_time=at,
            **extra,
        )
    )


def types(emitted: list[Emitted]) -> list[str]:
    return [e.type for e in emitted]


def of_type(emitted: list[Emitted], kind: type[E]) -> list[E]:
    return [e for e in emitted if isinstance(e, kind)]


# --- manual close -------------------------------------------------------------------------


def test_a_position_closed_on_the_exchange_before_tp1_is_a_stop_loss_with_cooldown() -> None:
    # No fill says why: the close awaits one for close_cause_grace_ms (3 s), then the tick
    # past it reports it with the seeds' rule; the cooldown runs from the close itself.
    flat = exchange(T0 + 9_000, "0", 2)
    emitted = reconcile(
        [live(), opened(T0 + 1_000), exchange(T0 + 2_000, "0.3", 1), flat, clock(T0 + 12_000)]
    )
    (closed,) = of_type(emitted, PositionClosed)
    assert closed.exit_reason == "STOP_LOSS"
    assert (closed.at, closed.position_id) == (T0 + 12_000, "p-1")
    (cooldown,) = of_type(emitted, CooldownStarted)
    assert cooldown.until == T0 + 9_000 + 30 * 60_000


def test_a_close_after_tp1_filled_is_exchange_closed_without_cooldown() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        exchange(T0 + 2_000, "0.3", 1),
        placed(T0 + 2_100, "p-1-tp1", "TP1"),
        order(T0 + 2_200, "o-tp1", "p-1-tp1", "Filled", cum="0.15"),
        exchange(T0 + 2_300, "0.15", 2),
        exchange(T0 + 9_000, "0", 3),
        clock(T0 + 12_000),  # no fill came to say why
    ]
    emitted = reconcile(events)
    (closed,) = of_type(emitted, PositionClosed)
    assert closed.exit_reason == "EXCHANGE_CLOSED"
    assert of_type(emitted, CooldownStarted) == []


def test_a_complete_snapshot_omitting_the_key_is_a_close() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        exchange(T0 + 2_000, "0.3", 1),
        event(position_snapshot(T0 + 9_000)),
        clock(T0 + 12_000),
    ]
    assert types(of_type(reconcile(events), PositionClosed)) == ["POSITION_CLOSED"]


def test_the_cooldown_can_be_turned_off() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        exchange(T0 + 2_000, "0.3", 1),
        exchange(T0 + 9_000, "0", 2),
        clock(T0 + 12_000),
    ]
    emitted = reconcile(events, RuleConfig(cooldown_enabled=False))
    assert "POSITION_CLOSED" in types(emitted)
    assert "COOLDOWN_STARTED" not in types(emitted)


def test_a_close_is_reported_once_however_often_the_exchange_repeats_flat() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        exchange(T0 + 2_000, "0.3", 1),
        exchange(T0 + 9_000, "0", 2),
        exchange(T0 + 9_500, "0", 2),
        event(position_snapshot(T0 + 10_000)),
        clock(T0 + 12_000),
        exchange(T0 + 12_500, "0", 2),
        clock(T0 + 20_000),
    ]
    assert len(of_type(reconcile(events), PositionClosed)) == 1


def test_a_position_the_exchange_never_showed_is_not_closed_but_stale() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        event(position_snapshot(T0 + 2_000)),
        event(position_snapshot(T0 + 6_000)),
    ]
    emitted = reconcile(events)
    assert "POSITION_CLOSED" not in types(emitted)
    (stale,) = of_type(emitted, StalePosition)
    assert stale.reason == "NEVER_ON_EXCHANGE"


def bybit_fill(exec_id: str, side: str, at: int, closing: bool = False) -> dict[str, object]:
    """One execution of 0.3 BTCUSDT at 100: a close from the position panel if ``closing``."""
    return {
        "symbol": "BTCUSDT", "exec_id": exec_id, "order_id": f"o-{exec_id}", "side": side,
        "exec_price": "100", "exec_qty": "0.3", "exec_time": at, "seq": at,
        "create_type": "CreateByClosing" if closing else "CreateByUser",
        "closed_size": "0.3" if closing else "0",
    }  # fmt: skip


def test_a_position_opened_and_closed_while_nobody_listened_is_closed_not_stale() -> None:
    """The stream was down: the position's opening and closing fills come in a catch-up, and
    no report of the position ever showed it held. The fills show the exchange did."""
    opening, closing = (
        bybit_fill("e-1", "Buy", T0 + 2_000),
        bybit_fill("e-2", "Sell", T0 + 5_000, True),
    )
    events = [
        live(),
        opened(T0 + 1_000),
        event(execution_frame(T0 + 8_000, opening, closing)),
        event(position_snapshot(T0 + 9_000)),
        clock(T0 + 20_000),
    ]
    emitted = reconcile(events)
    (closed,) = of_type(emitted, PositionClosed)
    assert (closed.position_id, closed.exit_reason) == ("p-1", "MANUAL")
    assert of_type(emitted, StalePosition) == []


def test_an_opening_fill_then_a_flat_report_older_than_it_closes_nothing() -> None:
    """The entry's fill comes first, then a snapshot taken before it, showing the key flat:
    that is no close of the position the fill opened (it is held)."""
    events = [
        live(),
        opened(T0 + 1_000),
        event(execution_frame(T0 + 2_000, bybit_fill("e-1", "Buy", T0 + 1_900))),
        event(position_snapshot(T0 + 2_100)),
        clock(T0 + 20_000),
    ]
    assert of_type(reconcile(events), PositionClosed) == []


def test_fills_on_the_other_side_do_not_show_the_position_held() -> None:
    """A sell fill on the symbol says nothing of the long the bot claims: stale still."""
    events = [
        live(),
        opened(T0 + 1_000),
        event(execution_frame(T0 + 1_500, bybit_fill("e-1", "Sell", T0 + 1_200))),
        event(position_snapshot(T0 + 2_000)),
        event(position_snapshot(T0 + 6_000)),
    ]
    emitted = reconcile(events)
    assert of_type(emitted, PositionClosed) == []
    (stale,) = of_type(emitted, StalePosition)
    assert stale.reason == "NEVER_ON_EXCHANGE"


# --- drift --------------------------------------------------------------------------------


def test_drift_is_reported_only_after_the_grace_period() -> None:
    events = [
        live(),
        opened(T0 + 1_000, qty="1"),
        exchange(T0 + 2_000, "0.5", 1),
        clock(T0 + 4_000),
    ]
    assert "CONSISTENCY_DRIFT" not in types(reconcile(events))
    (drift,) = of_type(reconcile([*events, clock(T0 + 5_000)]), ConsistencyDrift)
    assert drift.local_qty == Decimal(1)
    assert drift.exchange_qty == Decimal("0.5")
    assert drift.drift_pct == Decimal("50.00")


def test_a_fill_in_flight_is_no_alarm() -> None:
    events = [
        live(),
        opened(T0 + 1_000, qty="1"),
        exchange(T0 + 2_000, "0.5", 1),
        exchange(T0 + 3_500, "1", 2),
        clock(T0 + 60_000),
    ]
    assert "CONSISTENCY_DRIFT" not in types(reconcile(events))


def test_drift_within_the_threshold_is_tolerated() -> None:
    events = [
        live(),
        opened(T0 + 1_000, qty="1"),
        exchange(T0 + 2_000, "0.95", 1),
        clock(T0 + 60_000),
    ]
    assert "CONSISTENCY_DRIFT" not in types(reconcile(events))


def test_opposite_sides_are_drift_whatever_the_size() -> None:
    events = [
        live(),
        opened(T0 + 1_000, qty="1"),
        exchange(T0 + 2_000, "1", 1, side="Sell"),
        clock(T0 + 6_000),
    ]
    (drift,) = of_type(reconcile(events), ConsistencyDrift)
    assert drift.exchange_qty == Decimal(-1)


def test_drift_is_reported_at_most_once_per_window() -> None:
    events = [live(), opened(T0 + 1_000, qty="1"), exchange(T0 + 2_000, "0.5", 1)]
    ticks = [clock(T0 + t) for t in range(6_000, 400_000, 10_000)]
    emitted = of_type(reconcile(events + ticks), ConsistencyDrift)
    assert [e.at for e in emitted] == [T0 + 6_000, T0 + 306_000]


# --- untracked ----------------------------------------------------------------------------


def test_an_exchange_position_with_no_local_one_is_untracked_after_grace() -> None:
    events = [live(), exchange(T0 + 2_000, "0.3", 1), clock(T0 + 4_000)]
    assert "UNTRACKED_POSITION" not in types(reconcile(events))
    (found,) = of_type(
        reconcile([*events, clock(T0 + 5_000), clock(T0 + 9_000)]), UntrackedPosition
    )
    assert found.exchange_qty == Decimal("0.3")


def test_a_paper_position_does_not_track_an_exchange_position() -> None:
    events = [
        live(),
        opened(T0 + 1_000, mode="PAPER"),
        exchange(T0 + 2_000, "0.3", 1),
        clock(T0 + 6_000),
    ]
    assert "UNTRACKED_POSITION" in types(reconcile(events))


# --- stale --------------------------------------------------------------------------------


def test_a_paper_position_left_open_when_the_account_trades_live_is_stale() -> None:
    emitted = reconcile([opened(T0 + 1_000, pid="p-paper", mode="PAPER"), live(T0 + 2_000)])
    (stale,) = of_type(emitted, StalePosition)
    assert (stale.position_id, stale.reason) == ("p-paper", "PAPER_LEFTOVER")


def test_paper_positions_are_not_stale_while_the_account_trades_paper() -> None:
    emitted = reconcile(
        [event(intent(T0 + 1, kind="account_mode", mode="PAPER")), opened(T0 + 1_000, mode="PAPER")]
    )
    assert emitted == []


# --- errors are never facts ---------------------------------------------------------------


def test_a_rate_limit_is_reported_and_changes_no_position() -> None:
    body = messages.rest_error(10006, "Too many visits!", time=T0 + 9_000)
    limited = event(
        messages.capture_rest(
            T0 + 9_000,
            "main",
            "/v5/position/list",
            {"category": "linear", "settleCoin": "USDT"},
            body,
        )
    )
    events = [live(), opened(T0 + 1_000), exchange(T0 + 2_000, "0.3", 1), limited]
    emitted = reconcile(events)
    assert types(emitted) == ["RATE_LIMIT"]


def test_http_429_and_403_are_rate_limits() -> None:
    for status in (429, 403):
        record = messages.capture_rest(
            T0 + 9_000, "main", "/v5/position/list", {"category": "linear"}, {}
        )
        record["status"] = status
        assert types(reconcile([event(record)])) == ["RATE_LIMIT"]


def test_an_unfinished_pagination_is_a_failed_sync_not_a_flat_book() -> None:
    eth = {"symbol": "ETHUSDT", "side": "Sell", "size": "1", "seq": 4, "updated_time": T0 + 2_500}
    events = [
        live(),
        opened(T0 + 1_000),
        exchange(T0 + 2_000, "0.3", 1),
        event(position_snapshot(T0 + 3_000, eth, next_cursor="c2")),
        clock(T0 + 20_000),
    ]
    emitted = reconcile(events)
    assert "POSITION_CLOSED" not in types(emitted)
    assert "POSITION_SYNC_FAILED" in types(emitted)


def test_a_malformed_frame_is_a_failed_sync() -> None:
    bad = event(
        position_frame(
            T0 + 9_000, symbol="BTCUSDT", side="Buy", size="abc", seq=2, updated_time=T0 + 9_000
        )
    )
    assert types(reconcile([bad])) == ["POSITION_SYNC_FAILED"]


# --- orders -------------------------------------------------------------------------------


def test_entry_execution_reports_come_once_each() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-entry", "ENTRY", side="Buy", qty="0.3"),
        order(T0 + 1_100, "o-1", "p-1-entry", "New", qty="0.3", side="Buy"),
        order(T0 + 1_200, "o-1", "p-1-entry", "Filled", qty="0.3", cum="0.3", side="Buy"),
        order(
            T0 + 1_200,
            "o-1",
            "p-1-entry",
            "Filled",
            qty="0.3",
            cum="0.3",
            side="Buy",
            cancel_type="CancelByUser",
            reject_reason="EC_OrigClOrdIDDoesNotExist",
        ),
    ]
    assert types(reconcile(events)) == ["ENTRY_SUBMITTED", "ENTRY_FILLED"]


def test_an_entry_not_filled_in_time_times_out() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-entry", "ENTRY", side="Buy"),
        order(T0 + 1_100, "o-1", "p-1-entry", "New", side="Buy"),
        clock(T0 + 20_999),
        clock(T0 + 21_000),
    ]
    emitted = reconcile(events)
    (timeout,) = of_type(emitted, OrderTimeout)
    assert timeout.at == T0 + 21_000


@pytest.mark.parametrize(("filled", "told"), [("0.15", None), ("0.05", "filled 0.05 of 0.15")])
def test_an_entry_known_from_its_fills_alone_times_out_only_if_they_fall_short(
    filled: str, told: str | None
) -> None:
    """No order report came, only the entry's execution: filled whole, it is no timeout."""
    fill = bybit_fill("e-1", "Buy", T0 + 1_100) | {
        "exec_qty": filled,
        "order_id": "o-1",
        "order_link_id": "p-1-entry",
    }
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-entry", "ENTRY", side="Buy"),
        event(execution_frame(T0 + 1_200, fill)),
        clock(T0 + 21_000),
    ]
    timeouts = of_type(reconcile(events), OrderTimeout)
    if told is None:
        assert timeouts == []
    else:
        (timeout,) = timeouts
        assert timeout.reason.endswith(f"{told}, and no report of the order")


def test_a_stalled_partial_fill_is_reported_once_per_stall() -> None:
    fill = event(
        execution_frame(
            T0 + 1_200,
            {
                "symbol": "BTCUSDT",
                "exec_id": "e-1",
                "order_id": "o-2",
                "order_link_id": "p-1-tp1",
                "side": "Sell",
                "exec_price": "66000",
                "exec_qty": "0.05",
                "exec_time": T0 + 1_200,
                "seq": 3,
            },
        )
    )
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-tp1", "TP1"),
        order(T0 + 1_200, "o-2", "p-1-tp1", "PartiallyFilled", cum="0.05"),
        fill,
        clock(T0 + 10_000),
        clock(T0 + 21_200),
        clock(T0 + 30_000),
    ]
    (partial,) = of_type(reconcile(events), OrderPartialFill)
    assert partial.filled_qty == Decimal("0.05")


def test_a_rejected_order_is_reported() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-entry", "ENTRY", side="Buy"),
        order(
            T0 + 1_100,
            "o-1",
            "p-1-entry",
            "Rejected",
            side="Buy",
            reject_reason="EC_InsufficientBalance",
        ),
    ]
    emitted = reconcile(events)
    (rejected,) = of_type(emitted, OrderRejected)
    assert types(emitted) == ["ORDER_REJECTED"]
    assert rejected.reason == "EC_InsufficientBalance"


def test_stop_loss_orders_report_each_change_of_trigger() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-sl", "SL"),
        order(T0 + 1_100, "o-3", "p-1-sl", "Untriggered", trigger_price="60000"),
        order(T0 + 1_200, "o-3", "p-1-sl", "Untriggered", trigger_price="60000"),
        order(T0 + 1_300, "o-3", "p-1-sl", "Untriggered", trigger_price="62000"),
    ]
    emitted = of_type(reconcile(events), SlUpdate)
    assert [e.trigger_price for e in emitted] == [Decimal(60000), Decimal(62000)]


def test_emitted_events_carry_the_contract_fields() -> None:
    emitted = reconcile(
        [live(), opened(T0 + 1_000), exchange(T0 + 2_000, "0.3", 1), exchange(T0 + 9_000, "0", 2)]
    )
    for e in emitted:
        assert (e.venue, e.account, e.symbol, e.category, e.position_idx) == (
            "bybit",
            "main",
            "BTCUSDT",
            "linear",
            0,
        )
        assert e.cause and e.at == T0 + 9_000


def test_an_order_for_a_symbol_with_no_position_yet_is_taken_in_stride() -> None:
    hand_order = order(T0 + 1_000, "o-9", "", "Filled", cum="1500", qty="1500", side="Buy")
    assert reconcile([live(), hand_order]) == []


def test_a_resting_limit_entry_is_not_a_stale_position() -> None:
    events = [
        live(),
        opened(T0 + 1_000),
        placed(T0 + 1_000, "p-1-entry", "ENTRY", side="Buy", qty="0.3"),
        order(T0 + 1_100, "o-1", "p-1-entry", "New", qty="0.3", side="Buy", order_type="Limit"),
        event(position_snapshot(T0 + 2_000)),
        event(position_snapshot(T0 + 9_000)),
    ]
    assert "STALE_POSITION" not in types(reconcile(events, RuleConfig(order_timeout_ms=60_000)))


def test_a_tick_for_one_account_runs_only_that_accounts_timers() -> None:
    def untracked_on(account: str) -> InputEvent:
        frame = position_frame(
            T0 + 1_000, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0 + 1_000
        )
        return event({**frame, "account": account})

    tick = event({"at": T0 + 10_000, "channel": "clock", "venue": "bybit", "account": "alice"})
    emitted = reconcile([untracked_on("alice"), untracked_on("bob"), tick])
    assert [(e.type, e.account) for e in emitted] == [("UNTRACKED_POSITION", "alice")]
    everyone = event({"at": T0 + 10_000, "channel": "clock"})
    emitted = reconcile([untracked_on("alice"), untracked_on("bob"), everyone])
    assert sorted(e.account for e in emitted) == ["alice", "bob"]
