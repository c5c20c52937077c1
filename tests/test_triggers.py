"""Triggers: configured by commands recorded as inputs, fired at most once per arming exactly
when their condition first holds on a position of their direction, requested at once or on
a confirm, and kept (water marks too) across a snapshot and restart."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.http_server import SAMPLE_END
from tests.triggers import T0, accepted, add, command, of, position, price, run, tick
from trueup.adapters.capture import decode_line
from trueup.adapters.store import snapshots
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.snapshots import Snapshot
from trueup.application.service import TrueupService
from trueup.domain.emitted import Cause, OrderRequested, TriggerFired
from trueup.domain.events import InputRejected, TriggerCommanded
from trueup.domain.reconciler import Reconciler
from trueup.domain.triggers.lifecycle import TERMINAL, Stage, may_advance
from trueup.projections.reconciliation import replay
from trueup.projections.triggers import trigger_rows
from trueup.projections.view_reader import ViewReader
from trueup.runners.cli import main
from trueup.runners.output import describe_emitted

D = Decimal
LONG, SHORT = ("Buy", "Sell")


def fired(emitted: list[Any]) -> list[TriggerFired]:
    return of(emitted, "TRIGGER_FIRED")  # type: ignore[return-value]


# --- each kind, long and short: at its threshold and not before ----------------------------

# (kind and its fields, direction, position side, prices that must not fire, the one that must)
PRICE_CASES = [
    ({"kind": "price", "level": "110"}, "long", LONG, ["105", "109.99"], "110"),
    ({"kind": "price", "level": "90"}, "short", SHORT, ["95", "90.01"], "90"),
    ({"kind": "stop_loss", "level": "95"}, "long", LONG, ["100", "95.01"], "95"),
    ({"kind": "stop_loss", "level": "105"}, "short", SHORT, ["100", "104.99"], "105"),
    ({"kind": "trailing", "distance": "5"}, "long", LONG, ["100", "110", "105.01"], "105"),
    (
        {"kind": "trailing", "distance": "10", "unit": "percent"},
        "short",
        SHORT,
        ["100", "90", "98.99"],
        "99",
    ),
]


@pytest.mark.parametrize(("spec", "direction", "side", "before", "at"), PRICE_CASES)
def test_a_price_kind_fires_exactly_at_its_threshold_and_not_before(
    spec: dict[str, str], direction: str, side: str, before: list[str], at: str
) -> None:
    reconciler = Reconciler()
    run([position(T0, side, 2), add(T0 + 1, direction=direction, **spec)], reconciler)
    for n, p in enumerate(before):
        assert fired(run([price(T0 + 10 + n, p)], reconciler)) == []
    (event,) = fired(run([price(T0 + 100, at)], reconciler))
    assert (event.price, event.exchange_size, event.quantity) == (D(at), D(2), D("1.0"))
    assert event.kind == spec["kind"] and event.direction == direction.upper()
    if spec["kind"] == "trailing":
        water = event.high_water if direction == "long" else event.low_water
        assert water == D(before[1]) and event.level == D(at)


@pytest.mark.parametrize(("direction", "side"), [("long", LONG), ("short", SHORT)])
def test_a_profit_trigger_fires_when_the_unrealised_pnl_reaches_its_threshold(
    direction: str, side: str
) -> None:
    reconciler = Reconciler()
    run([add(T0, direction=direction, kind="profit", level="10")], reconciler)
    below = position(T0 + 1, side, 1, unrealisedPnl="9.99", markPrice="109.99")
    assert fired(run([below], reconciler)) == []
    (event,) = fired(run([position(T0 + 2, side, 1, unrealisedPnl="10")], reconciler))
    assert event.unrealised_pnl == D(10) and event.threshold == D(10)


@pytest.mark.parametrize("side", [SHORT, ""])
def test_a_long_trigger_on_a_short_or_flat_position_never_fires(side: str) -> None:
    size = 1 if side else 0
    emitted = run(
        [position(T0, side, size), add(T0 + 1, level="110"), price(T0 + 2, 200), tick(T0 + 3)]
    )
    assert fired(emitted) == []


def test_the_quantity_is_the_ratio_of_the_exchange_size_at_firing_not_at_adding() -> None:
    emitted = run(
        [
            position(T0, LONG, 2),
            add(T0 + 1, ratio="0.25"),
            position(T0 + 2, LONG, 8),
            price(T0 + 3, 110),
        ]
    )
    (event,) = fired(emitted)
    assert (event.exchange_size, event.quantity) == (D(8), D(2))


# --- once per arming; confirm once; auto-execute ------------------------------------------


def test_a_trigger_fires_once_per_arming_and_again_once_re_armed() -> None:
    reconciler = Reconciler()
    first = run([position(T0, LONG, 1), add(T0 + 1), price(T0 + 2, 111)], reconciler)
    again = run([price(T0 + 3, 90), price(T0 + 4, 120), tick(T0 + 5)], reconciler)
    assert len(fired(first)) == 1 and fired(again) == []
    # A fired trigger waiting on its confirm is not re-armed, and is told so, not that it
    # is armed (a walkthrough): disable cancels the wait.
    (refused,) = of(run([command(T0 + 6, "enable")], reconciler), "TRIGGER_REFUSED")
    assert refused.reason == (  # type: ignore[attr-defined]
        "trigger t1 has fired and is waiting confirm: enable it after"
    )
    cancelled = run([command(T0 + 7, "disable")], reconciler)
    assert [e.type for e in cancelled] == ["TRIGGER_CANCELLED"]
    rearmed = run([command(T0 + 8, "enable"), price(T0 + 9, 121)], reconciler)
    (event,) = fired(rearmed)
    assert event.arming == 2


def test_without_auto_execute_a_fired_trigger_waits_for_one_confirm() -> None:
    reconciler = Reconciler()
    emitted = run([position(T0, LONG, 3), add(T0 + 1), price(T0 + 2, 110)], reconciler)
    (event,) = fired(emitted)
    assert of(emitted, "ORDER_REQUESTED") == []
    (requested,) = run([command(T0 + 3, "confirm")], reconciler)
    assert isinstance(requested, OrderRequested)
    assert requested.decision_id == event.event_id
    assert (requested.quantity, requested.order_side, requested.reduce_only) == (
        D("1.5"),
        "SELL",
        True,
    )
    assert requested.requested_by == "alice"
    (refused,) = run([command(T0 + 4, "confirm")], reconciler)
    assert refused.type == "TRIGGER_REFUSED" and "already requested" in refused.reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("action", "idx", "side", "now"),
    [("lock", 1, "", "flat"), ("reduce", 0, "", "flat"), ("reduce", 0, SHORT, "SHORT")],
    ids=["a lock's hedge leg closed", "closed", "turned short"],
)
def test_a_firing_waiting_on_its_confirm_ends_when_its_position_closes_or_turns(
    action: str, idx: int, side: str, now: str
) -> None:
    reconciler = Reconciler()
    fired_on = [position(T0, LONG, 3, idx=idx), add(T0 + 1, action=action), price(T0 + 2, 110)]
    assert [e.type for e in run(fired_on, reconciler)] == ["TRIGGER_FIRED"]
    emitted = run([position(T0 + 3, side, 2 if side else 0, idx=idx)], reconciler)
    (cancelled,) = of(emitted, "TRIGGER_CANCELLED")
    assert cancelled.reason == (  # type: ignore[attr-defined]
        f"the position it was to {action} is {now} now before confirmation"
    )
    (refused,) = run([command(T0 + 4, "confirm")], reconciler)
    assert refused.type == "TRIGGER_REFUSED" and "already cancelled" in refused.reason  # type: ignore[attr-defined]


def test_a_confirm_sends_nothing_once_the_position_holds_less_than_was_decided() -> None:
    reconciler = Reconciler()
    run([position(T0, LONG, 3), add(T0 + 1, ratio="1"), price(T0 + 2, 110)], reconciler)
    run([position(T0 + 3, LONG, 1)], reconciler)  # reduced by hand meanwhile
    (failed,) = run([command(T0 + 4, "confirm")], reconciler)
    assert failed.type == "TRIGGER_FAILED"
    assert failed.reason == (  # type: ignore[attr-defined]
        "the position holds 1 now, less than the 3 its firings' orders would reduce: not sent"
    )
    assert of(run([tick(T0 + 5)], reconciler), "ORDER_REQUESTED") == []


def test_confirm_of_an_unknown_or_unfired_trigger_is_refused_with_a_reason() -> None:
    reconciler = Reconciler()
    (unknown,) = run([command(T0, "confirm", "nope")], reconciler)
    assert "no trigger nope" in unknown.reason  # type: ignore[attr-defined]
    (unfired,) = run([add(T0 + 1), command(T0 + 2, "confirm")], reconciler)
    assert "has not fired" in unfired.reason  # type: ignore[attr-defined]


def test_with_auto_execute_the_order_is_requested_at_once() -> None:
    emitted = run([position(T0, LONG, 1), add(T0 + 1, auto_execute=True), price(T0 + 2, 110)])
    assert [e.type for e in emitted] == ["TRIGGER_FIRED", "ORDER_REQUESTED"]
    assert emitted[1].decision_id == emitted[0].event_id  # type: ignore[attr-defined]


def test_events_for_people_say_which_trigger_fired_and_the_order_it_decided() -> None:
    emitted = run([position(T0, LONG, 1), add(T0 + 1, auto_execute=True), price(T0 + 2, 110)])
    assert [describe_emitted(e) for e in emitted] == [
        "trigger_id=t1 action=reduce order_side=SELL quantity=0.5 level=110 price=110",
        "trigger_id=t1 order_side=SELL quantity=0.5 price=110 requested_by=auto",
    ]


def test_a_lock_on_a_hedge_account_opens_the_opposite_leg() -> None:
    emitted = run(
        [
            position(T0, SHORT, 4, idx=2),
            add(T0 + 1, direction="short", level="90", action="lock"),
            price(T0 + 2, 90),
        ]
    )
    (event,) = fired(emitted)
    assert (event.order_position_idx, event.order_side, event.reduce_only) == (1, "BUY", False)


def test_a_lock_on_a_one_way_account_fails_at_firing() -> None:
    emitted = run([position(T0, LONG, 1), add(T0 + 1, action="lock"), price(T0 + 2, 110)])
    assert [e.type for e in emitted] == ["TRIGGER_FIRED", "TRIGGER_FAILED"]
    assert "one-way" in emitted[1].reason  # type: ignore[attr-defined]


# --- expiry ---------------------------------------------------------------------------------


def test_a_trigger_expires_by_input_time_and_never_fires_after() -> None:
    reconciler = Reconciler()
    run([position(T0, LONG, 1), add(T0 + 1, expires_at=T0 + 1_000)], reconciler)
    assert of(run([tick(T0 + 999)], reconciler), "TRIGGER_EXPIRED") == []
    (expired,) = run([tick(T0 + 1_000)], reconciler)
    assert expired.type == "TRIGGER_EXPIRED"
    assert fired(run([price(T0 + 1_001, 200)], reconciler)) == []
    (refused,) = run([command(T0 + 1_002, "confirm")], reconciler)
    assert "expired" in refused.reason  # type: ignore[attr-defined]


def test_a_fired_trigger_that_expires_unconfirmed_is_cancelled() -> None:
    reconciler = Reconciler()
    run([position(T0, LONG, 1), add(T0 + 1, expires_at=T0 + 10), price(T0 + 2, 110)], reconciler)
    emitted = run([price(T0 + 10, 111)], reconciler)
    assert [e.type for e in emitted] == ["TRIGGER_CANCELLED", "TRIGGER_EXPIRED"]


# --- invalid commands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ratio": "1.5"}, "ratio 1.5 is not in (0, 1]: a lock or reduce of more than the"),
        ({"ratio": "0"}, "ratio 0 is not in (0, 1]: a lock or reduce of nothing"),
        ({"ratio": "-0.5"}, "is not in (0, 1]"),
        ({"kind": "moon"}, "data.kind: 'moon' is not one of"),
        ({"level": None}, "data.level"),
        ({"kind": "trailing"}, "data.distance: missing"),
        ({"kind": "trailing", "distance": "0"}, "positive distance"),
        ({"kind": "trailing", "distance": "100", "unit": "percent"}, "not below 100%"),
        ({"direction": "sideways"}, "data.direction"),
        ({"action": "flip"}, "data.action"),
        ({"level": "-3"}, "positive price"),
        # A level and a distance are alternatives: the kind says which it reads.
        (
            {"kind": "trailing", "distance": "2", "level": "3"},
            "a trailing trigger takes a distance (and its unit), not level",
        ),
        ({"distance": "2"}, "a price trigger takes a level, not distance"),
        ({"kind": "stop_loss", "level": "95", "unit": "percent"}, "takes a level, not unit"),
        # Expired as it is put in force: it could never fire.
        ({"expires_at": T0}, "data.expires_at: 2025-11-03T19:43:20.000Z is not after the"),
        ({"expires_at": T0 - 60_000}, "it would expire before it could fire"),
    ],
)
def test_an_invalid_trigger_command_is_rejected_with_its_reason(
    fields: dict[str, Any], reason: str
) -> None:
    record = add(T0, **fields)
    record["data"] = {k: v for k, v in record["data"].items() if v is not None}
    event = decode_line(orjson.dumps(record))
    assert isinstance(event, InputRejected)
    assert reason in event.reason and event.channel == "trigger"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"command": "explode", "trigger_id": "t1", "operator": "a"}, "data.command"),
        ({"command": "confirm", "operator": "a"}, "data.trigger_id: missing"),
        ({"command": "confirm", "trigger_id": "t1"}, "data.operator: missing"),
    ],
)
def test_a_malformed_trigger_command_is_rejected(data: dict[str, Any], reason: str) -> None:
    record = {"at": T0, "venue": "bybit", "account": "main", "channel": "trigger", "data": data}
    event = decode_line(orjson.dumps(record))
    assert isinstance(event, InputRejected) and reason in event.reason


def test_an_add_without_an_id_is_known_by_its_input_id() -> None:
    record = add(T0)
    del record["data"]["trigger_id"]
    event = accepted(record)
    assert event.trigger_id == event.input_id  # type: ignore[attr-defined]


def test_a_change_keeps_symbol_and_direction_and_re_arms() -> None:
    reconciler = Reconciler()
    run([position(T0, LONG, 1), add(T0 + 1, level="200")], reconciler)
    (refused,) = run([command(T0 + 2, "change", **_spec(direction="short"))], reconciler)
    assert "keeps the symbol and direction" in refused.reason  # type: ignore[attr-defined]
    emitted = run([command(T0 + 3, "change", **_spec(level="120")), price(T0 + 4, 120)], reconciler)
    (event,) = fired(emitted)
    assert event.arming == 2 and event.level == D(120)


def _spec(**fields: str) -> dict[str, str]:
    spec = {"symbol": "BTCUSDT", "direction": "long", "kind": "price", "level": "110"}
    return {**spec, "ratio": "1", "action": "reduce", **fields}


def test_a_command_after_the_expiry_passed_finds_the_trigger_expired_and_revives_nothing() -> None:
    """No input had expired it yet: a change with a new expiry armed it again (a walkthrough),
    where every command on an expired trigger is refused."""
    reconciler = Reconciler()
    run([position(T0, LONG, 2), add(T0 + 1, expires_at=T0 + 10)], reconciler)
    change = command(T0 + 20, "change", **_spec(level="170", expires_at=str(T0 + 10_000)))
    emitted = run([change], reconciler)
    (refused,) = of(emitted, "TRIGGER_REFUSED")
    assert getattr(refused, "reason", "") == "trigger t1 is expired"
    assert len(of(emitted, "TRIGGER_EXPIRED")) == 1
    assert not fired(run([price(T0 + 30, 200)], reconciler))


# --- the lifecycle of a firing --------------------------------------------------------------


def test_each_transition_happens_once_and_terminal_stages_are_final() -> None:
    for stage in TERMINAL:
        assert not any(may_advance(stage, to) for to in Stage)
    assert may_advance(Stage.WAITING_CONFIRM, Stage.REQUESTED)
    assert not may_advance(Stage.REQUESTED, Stage.REQUESTED)
    assert not may_advance(Stage.REQUESTED, Stage.WAITING_CONFIRM)
    reconciler = Reconciler()
    emitted = run(
        [position(T0, LONG, 1), add(T0 + 1, auto_execute=True), price(T0 + 2, 110)], reconciler
    )
    decision = emitted[0].event_id
    triggers = reconciler.detectors("bybit", "main").triggers
    cause = Cause("executor-1", T0 + 3)
    assert triggers.advance("t1", "other-decision", Stage.EXECUTED, "filled", cause=cause) == []
    (executed,) = triggers.advance("t1", decision, Stage.EXECUTED, "filled", cause=cause)
    assert executed.type == "TRIGGER_EXECUTED"
    assert triggers.advance("t1", decision, Stage.EXECUTED, "filled", cause=cause) == []
    assert triggers.advance("t1", decision, Stage.FAILED, "late", cause=cause) == []


# --- across a restart -----------------------------------------------------------------------


def test_a_trailing_water_mark_survives_a_snapshot_and_restart() -> None:
    head = [position(T0, LONG, 1), add(T0 + 1, kind="trailing", distance="5", level=None)]
    head[1]["data"].pop("level")
    path = [price(T0 + 2 + n, p) for n, p in enumerate(["100", "130", "126", "125.01"])]
    tail = [price(T0 + 10, "125")]
    straight = Reconciler()
    expected = run(head + path + tail, straight)
    before = Reconciler()
    emitted = run(head + path, before)
    water = before.detectors("bybit", "main").triggers.triggers["t1"].water
    assert water == D(130)
    restored = snapshots.load(snapshots.dump(Snapshot(len(head + path), before)))
    assert restored is not None
    emitted += run(tail, restored.reconciler)
    assert emitted == expected
    (event,) = fired(emitted)
    assert event.high_water == D(130) and event.price == D(125)


# --- the property: at most once, exactly when the plain condition first holds ---------------


def reference_fires(kind: str, long: bool, level: Decimal, prices: list[Decimal]) -> int | None:
    """Where a trigger on a long (or short) position fires along ``prices``, written plainly."""
    best: Decimal | None = None
    for n, p in enumerate(prices):
        if kind == "price" and (p >= level if long else p <= level):
            return n
        if kind == "stop_loss" and (p <= level if long else p >= level):
            return n
        if kind == "trailing":
            best = p if best is None else (max(best, p) if long else min(best, p))
            if (p <= best - level) if long else (p >= best + level):
                return n
    return None


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["price", "stop_loss", "trailing"]),
    long=st.booleans(),
    level=st.integers(1, 40),
    prices=st.lists(st.integers(1, 60), min_size=1, max_size=25),
)
def test_for_any_price_path_a_trigger_fires_at_most_once_when_its_condition_first_holds(
    kind: str, long: bool, level: int, prices: list[int]
) -> None:
    spec: dict[str, Any] = {"kind": kind, "direction": "long" if long else "short"}
    spec |= {"distance": str(level), "level": None} if kind == "trailing" else {"level": level}
    head = [position(T0, LONG if long else SHORT, 1), add(T0 + 1, **spec)]
    head[1]["data"] = {k: v for k, v in head[1]["data"].items() if v is not None}
    reconciler = Reconciler()
    run(head, reconciler)
    firings = [n for n, p in enumerate(prices) if fired(run([price(T0 + 10 + n, p)], reconciler))]
    expected = reference_fires(kind, long, D(level), [D(p) for p in prices])
    assert firings == ([] if expected is None else [expected])


# --- the command line, on SQLite and PostgreSQL ---------------------------------------------


def _cli(store_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--store", store_url, *args])
    return code, capsys.readouterr().out


def _hold_a_long(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "held.jsonl"
    capture.write_bytes(orjson.dumps(position(T0, LONG, 2)) + b"\n")
    assert _cli(store_url, capsys, "ingest", str(capture))[0] == 0


def test_trigger_add_list_and_confirm_on_the_command_line(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hold_a_long(store_url, tmp_path, capsys)
    account = ["--venue", "bybit", "--account", "main"]
    spec = ["--symbol", "BTCUSDT", "--direction", "long", "--kind", "trailing"]
    spec += ["--distance", "5", "--ratio", "0.5", "--action", "reduce", "--operator", "alice"]
    code, out = _cli(store_url, capsys, "trigger", "add", *account, *spec, "--at", str(T0 + 1))
    trigger_id = out.strip()
    assert code == 0 and trigger_id
    prices = tmp_path / "prices.jsonl"
    path = [price(T0 + 2, 100), price(T0 + 3, 120), price(T0 + 4, 115)]
    prices.write_bytes(b"\n".join(orjson.dumps(r) for r in path) + b"\n")
    assert _cli(store_url, capsys, "ingest", str(prices))[0] == 0
    code, out = _cli(store_url, capsys, "trigger", "list", "--json")
    (row,) = [orjson.loads(line) for line in out.splitlines()]
    assert (row["trigger_id"], row["state"]) == (trigger_id, "waiting confirm")
    assert row["high_water"] == "120"
    assert row["quantity"] == "1.0"
    confirm = ["trigger", "confirm", trigger_id, "--operator", "bob", "--at", str(T0 + 5)]
    assert _cli(store_url, capsys, *confirm) == (0, trigger_id + "\n")
    again = ["trigger", "confirm", trigger_id, "--at", str(T0 + 6)]
    assert _cli(store_url, capsys, *again) == (1, "")  # refused: no id, as if in force
    code, out = _cli(store_url, capsys, "trigger", "list")
    assert "requested" in out and trigger_id in out
    code, out = _cli(store_url, capsys, "events", "--json")
    kinds = [orjson.loads(line).get("type") for line in out.splitlines()]
    assert kinds.count("TRIGGER_FIRED") == 1 and kinds.count("ORDER_REQUESTED") == 1
    # The list is read from the views, and says what a replay of the journal says.
    with Journal.open(store_url) as journal:
        assert ViewReader(journal).answer_for(("bybit", "main"))
        listed = TrueupService(journal).triggers(venue="bybit", account="main")
        assert listed == trigger_rows(replay(journal), "bybit", "main")


def test_a_confirm_whose_order_is_not_sent_says_why_and_exits_1(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recorded, but the position was cut by hand since the firing: a walkthrough's
    operator saw the id and exit 0, as if the stop-loss had gone out."""
    _hold_a_long(store_url, tmp_path, capsys)
    account = ["--venue", "bybit", "--account", "main"]
    spec = ["--symbol", "BTCUSDT", "--direction", "long", "--kind", "trailing"]
    spec += ["--distance", "5", "--ratio", "1", "--action", "reduce"]
    _, out = _cli(store_url, capsys, "trigger", "add", *account, *spec, "--at", str(T0 + 1))
    trigger_id = out.strip()
    later = tmp_path / "later.jsonl"
    path = [price(T0 + 2, 100), price(T0 + 3, 120), price(T0 + 4, 115), position(T0 + 5, LONG, 1)]
    later.write_bytes(b"\n".join(orjson.dumps(r) for r in path) + b"\n")
    assert _cli(store_url, capsys, "ingest", str(later))[0] == 0

    code = main(["--store", store_url, "trigger", "confirm", trigger_id, "--at", str(T0 + 6)])
    out, err = capsys.readouterr()

    assert (code, out) == (1, "")
    assert err == (
        "trueup: failed: the position holds 1 now, less than the 2 its firings' orders would "
        "reduce: not sent\n"
    )


def _listed(store_url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    _, out = _cli(store_url, capsys, "trigger", "list", "--json")
    (row,) = [orjson.loads(line) for line in out.splitlines()]
    return dict(row)


def test_a_change_on_the_command_line_keeps_what_it_does_not_name(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _hold_a_long(store_url, tmp_path, capsys)
    instants = iter(range(T0 + 1, T0 + 100))

    def trigger(*args: str) -> tuple[int, str]:
        account = ["--venue", "bybit", "--account", "main", "--at", str(next(instants))]
        return _cli(store_url, capsys, "trigger", *args, *account)

    spec = ["--symbol", "BTCUSDT", "--direction", "long", "--kind", "stop_loss", "--level", "90"]
    spec += ["--ratio", "0.5", "--action", "reduce", "--auto-execute"]
    assert trigger("add", "--id", "sl", *spec, "--expires", str(T0 + 9_000_000)) == (0, "sl\n")
    before = _listed(store_url, capsys)

    # The stop alone moved: the ratio, the action, auto-execute and the expiry stay.
    assert trigger("change", "sl", "--level", "95") == (0, "sl\n")
    after = _listed(store_url, capsys)
    assert after == before | {"level": "95", "arming": 2}  # armed again, as a change is
    assert after["auto_execute"] is True and after["expires_at"] == T0 + 9_000_000

    # Each named thing changes alone; a change to trailing takes a distance, not the level.
    assert trigger("change", "sl", "--no-auto-execute")[0] == 0
    assert trigger("change", "sl", "--no-expires")[0] == 0
    assert (
        trigger("change", "sl", "--kind", "trailing", "--distance", "2", "--unit", "percent")[0]
        == 0
    )
    assert _listed(store_url, capsys) == before | {
        "kind": "trailing", "level": None, "distance": "2", "unit": "percent",
        "auto_execute": False, "expires_at": None, "arming": 5,
    }  # fmt: skip

    # The input recorded holds the whole configuration it put in force.
    with Journal.open(store_url) as journal:
        commands = [e for _, e in journal.inputs()[0] if isinstance(e, TriggerCommanded)]
    assert commands[-1].spec is not None
    assert (commands[-1].spec.ratio, commands[-1].spec.action.value) == (D("0.5"), "reduce")


def test_a_change_keeps_a_level_of_a_low_priced_coin_in_plain_notation(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kept as Python writes such a decimal, 1E-7, the change's line was refused: trueup
    reads plain decimals alone (a walkthrough)."""
    _hold_a_long(store_url, tmp_path, capsys)
    where = ["--venue", "bybit", "--account", "main"]
    spec = ["--symbol", "BTCUSDT", "--direction", "long", "--kind", "stop_loss"]
    spec += ["--level", "0.0000001", "--ratio", "0.5", "--action", "reduce"]
    assert _cli(store_url, capsys, "trigger", "add", "--id", "tiny", *where, *spec)[0] == 0
    assert _cli(store_url, capsys, "trigger", "change", "tiny", *where, "--ratio", "0.3") == (
        0,
        "tiny\n",
    )
    listed = _listed(store_url, capsys)
    assert (listed["level"], listed["ratio"]) == ("0.0000001", "0.3")


def test_a_change_after_the_expiry_passed_is_refused_for_the_trigger_not_for_a_field(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The expiry kept from the configuration in force made the line malformed: "expires_at
    ... is not after the command", of a field the operator never gave (a walkthrough)."""
    _hold_a_long(store_url, tmp_path, capsys)
    where = ["--venue", "bybit", "--account", "main"]
    spec = ["--symbol", "BTCUSDT", "--direction", "long", "--kind", "price", "--level", "150"]
    spec += ["--ratio", "0.5", "--action", "reduce", "--expires", str(T0 + 5)]
    add_ = ["trigger", "add", "--id", "t2", *where, *spec, "--at", str(T0 + 1)]
    assert _cli(store_url, capsys, *add_)[0] == 0
    change = ["trigger", "change", "t2", *where, "--level", "170", "--at", str(T0 + 10)]
    assert main(["--store", store_url, *change]) == 1
    assert capsys.readouterr().err == "trueup: refused: trigger t2 is expired\n"


def test_a_change_of_a_trigger_the_account_does_not_have_is_refused_unrecorded(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _cli(sampled, capsys, "events", "--json")[1]
    change = ["trigger", "change", "t-none", "--venue", "bybit", "--account", "main"]
    code = main(["--store", sampled, *change, "--level", "3"])
    out, err = capsys.readouterr()

    assert (code, out) == (1, "")
    assert err == "trueup: refused: no trigger t-none on bybit/main\n"
    assert _cli(sampled, capsys, "events", "--json")[1] == before


def test_an_invalid_trigger_on_the_command_line_is_refused_with_its_reason(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["trigger", "add", "--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]
    args += ["--direction", "long", "--kind", "price", "--level", "110", "--ratio", "1.5"]
    assert main(["--store", sampled, *args, "--action", "reduce"]) == 1
    out, err = capsys.readouterr()
    assert "ratio 1.5 is not in (0, 1]" in err
    assert out == ""


def test_a_refused_command_on_a_trigger_prints_only_why_on_stderr(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    confirm = ["trigger", "confirm", "t-none", "--venue", "bybit", "--account", "main"]
    code = main(["--store", sampled, *confirm])
    out, err = capsys.readouterr()

    assert (code, out) == (1, "")
    assert err == "trueup: refused: no trigger t-none on bybit/main\n"


@pytest.mark.parametrize("action", ["change", "enable", "disable", "remove", "confirm"])
def test_a_command_on_a_trigger_no_account_holds_is_refused_as_unknown(
    sampled: str, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    before = _cli(sampled, capsys, "events", "--json")[1]
    code = main(["--store", sampled, "trigger", action, "t-none"])
    out, err = capsys.readouterr()

    assert (code, out, err) == (1, "", "trueup: refused: no trigger t-none\n")
    assert _cli(sampled, capsys, "events", "--json")[1] == before


# What the walkthrough added: each read back by `trigger list` as armed, none able to fire.
NEVER_FIRES = {
    "an account never seen": (
        {"--account": "nobody"},
        "trueup has never seen bybit/nobody: the journal holds nothing from its exchange "
        "or its bot",
    ),
    "a symbol in the wrong case": (
        {"--symbol": "xrpusdt"},
        "bybit's symbols are upper case: XRPUSDT?",
    ),
    "ccxt's name for a symbol": (
        {"--symbol": "XRP/USDT:USDT"},
        "XRP/USDT:USDT is ccxt's name; bybit calls it XRPUSDT",
    ),
    "a level and a distance": (
        {"--distance": "2"},
        "line.data: a price trigger takes a level, not distance",
    ),
    "a trailing distance and a level": (
        {"--kind": "trailing", "--distance": "2"},
        "line.data: a trailing trigger takes a distance (and its unit), not level",
    ),
    "an expiry already past": (
        {"--expires": "2025-11-03T19:48:00Z"},
        "line.data.expires_at: 2025-11-03T19:48:00.000Z is not after the command "
        "(2025-11-03T19:48:55.000Z): it would expire before it could fire",
    ),
}


@pytest.mark.parametrize(("change", "reason"), NEVER_FIRES.values(), ids=NEVER_FIRES)
def test_a_trigger_that_could_never_fire_is_refused_and_prints_no_id(
    change: dict[str, str], reason: str, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = {
        "--venue": "bybit", "--account": "main", "--symbol": "XRPUSDT", "--direction": "long",
        "--kind": "price", "--level": "3", "--ratio": "0.5", "--action": "reduce",
        "--at": str(SAMPLE_END),
    }  # fmt: skip
    add_ = ["trigger", "add", *(word for pair in (flags | change).items() for word in pair)]
    code = main(["--store", sampled, *add_])
    out, err = capsys.readouterr()

    assert (code, out) == (1, "")
    assert err == f"trueup: refused: {reason}\n"
    assert _cli(sampled, capsys, "trigger", "list") == (0, "no triggers\n")


@pytest.mark.parametrize(
    ("symbol", "reason"),
    [
        ("xrpusdt", "bybit's symbols are upper case: XRPUSDT?"),
        # A Cyrillic X for the Latin one: a symbol that only looks like the one held.
        ("\N{CYRILLIC CAPITAL LETTER HA}RPUSDT",
         "'\N{CYRILLIC CAPITAL LETTER HA}RPUSDT' has characters bybit's symbols do not "
         "(\N{CYRILLIC CAPITAL LETTER HA} CYRILLIC CAPITAL LETTER HA): XRPUSDT?"),
    ],
)  # fmt: skip
def test_a_misspelt_symbol_is_refused_for_the_reason_can_open_gives(
    sampled: str, capsys: pytest.CaptureFixture[str], symbol: str, reason: str
) -> None:
    where = ["--venue", "bybit", "--account", "main", "--symbol", symbol]
    assert main(["--store", sampled, "can-open", *where, "--json"]) == 1
    said = orjson.loads(capsys.readouterr().out)["reasons"][0]
    spec = ["--direction", "long", "--kind", "price", "--level", "3", "--ratio", "0.5"]
    assert main(["--store", sampled, "trigger", "add", *where, *spec, "--action", "lock"]) == 1

    assert capsys.readouterr().err == f"trueup: refused: {said}\n"
    assert said == reason
    assert _cli(sampled, capsys, "trigger", "list") == (0, "no triggers\n")


@pytest.mark.parametrize("action", ["add", "confirm"])
def test_a_command_on_an_account_trueup_never_saw_is_not_recorded(
    action: str, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = ["--id", "nob"] if action == "add" else ["nob"]
    spec = ["--symbol", "XRPUSDT", "--direction", "long", "--kind", "price", "--level", "3"]
    spec = [*spec, "--ratio", "0.5", "--action", "reduce"] if action == "add" else []
    before = _cli(sampled, capsys, "events", "--json")[1]
    command_ = ["trigger", action, *ids, "--venue", "bybit", "--account", "nobody", *spec]
    code, out = _cli(sampled, capsys, *command_, "--json")

    assert code == 1
    assert orjson.loads(out) == {
        "trigger_id": "nob", "input_id": "", "accepted": False, "emitted": [], "failed": [],
        "refused": [NEVER_FIRES["an account never seen"][1]],
    }  # fmt: skip
    assert _cli(sampled, capsys, "events", "--json")[1] == before
    summary = orjson.loads(_cli(sampled, capsys, "summary", "--json")[1])
    assert [(a["venue"], a["account"]) for a in summary["accounts"]] == [("bybit", "main")]


def test_a_position_report_s_mark_moves_the_water_mark_too() -> None:
    reconciler = Reconciler()
    spec = {"kind": "trailing", "distance": "5"}
    run([position(T0, LONG, 1), add(T0 + 1, **spec)], reconciler)
    run([position(T0 + 2, LONG, 1, markPrice="140"), price(T0 + 3, 136)], reconciler)
    assert reconciler.detectors("bybit", "main").triggers.triggers["t1"].water == D(140)
    (event,) = fired(run([price(T0 + 4, 135)], reconciler))
    assert event.high_water == D(140)


def test_what_the_triggers_emit_matches_the_emitted_schemas() -> None:
    from tests.test_schemas import assert_valid
    from trueup.adapters.store import codec

    emitted = run(
        [
            position(T0, LONG, 1),
            add(T0 + 1, expires_at=T0 + 100),
            add(T0 + 2, "t2", action="lock", auto_execute=True),
            price(T0 + 3, 110),
            command(T0 + 4, "confirm"),
            command(T0 + 5, "confirm", "nope"),
            add(T0 + 6, "t3", kind="stop_loss", level="50"),
            command(T0 + 7, "disable", "t3"),
            command(T0 + 8, "remove", "t3"),
            add(T0 + 9, "t4", kind="profit", level="1", expires_at=T0 + 50),
            tick(T0 + 100),
        ]
    )
    kinds = {e.type for e in emitted}
    assert kinds >= {"TRIGGER_FIRED", "ORDER_REQUESTED", "TRIGGER_FAILED", "TRIGGER_REFUSED"}
    assert "TRIGGER_EXPIRED" in kinds
    for event in emitted:
        stored = codec.as_json(event)
        assert_valid(f"emitted/{stored['type']}.schema.json", stored)


def test_over_http_a_trigger_line_goes_in_through_inputs_and_the_triggers_read_back(
    tmp_path: Path,
) -> None:
    import httpx

    from tests.http_server import AUTH, TOKEN, running_server
    from trueup.adapters.store.journal import Journal
    from trueup.runners.http_api import ApiSettings

    store = f"sqlite://{tmp_path / 'journal.db'}"
    with (
        Journal.open(store) as journal,
        running_server(journal, ApiSettings(token=TOKEN), lambda: T0 + 10) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        body = b"\n".join(orjson.dumps(r) for r in [position(T0, LONG, 2), add(T0 + 1)])
        assert client.post("/v1/inputs", content=body).status_code == 401
        reply = client.post("/v1/inputs", content=body, headers=AUTH)
        assert reply.status_code == 200 and reply.json()["accepted"] == 2
        (row,) = client.get("/v1/triggers", params={"venue": "bybit"}).json()["triggers"]
        assert (row["trigger_id"], row["state"], row["level"]) == ("t1", "armed", "110")
