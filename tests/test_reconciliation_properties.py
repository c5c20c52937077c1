"""Invariants of the rules, over any capture hypothesis can think of."""

from collections import Counter
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import (
    T0,
    accepted,
    event,
    intent,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages
from trueup.adapters.store import codec
from trueup.domain.emitted import (
    ConsistencyDrift,
    Emitted,
    PnlMismatch,
    PositionClosed,
    StalePosition,
    UntrackedPosition,
)
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler, reconcile
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.drift import differs

SYMBOLS = ("BTCUSDT", "ETHUSDT")
sizes = st.sampled_from(["0", "0.1", "0.3", "0.5", "1"])


@st.composite
def captures(draw: st.DrawFn) -> list[InputEvent]:
    """An account trading LIVE: local claims, exchange frames and snapshots, time passing."""
    events = [accepted(intent(T0, kind="account_mode", mode="LIVE"))]
    at, seq = T0 + 1_000, 1
    for step in range(draw(st.integers(1, 25))):
        at += draw(st.integers(0, 4_000))
        seq += 1
        symbol = draw(st.sampled_from(SYMBOLS))
        kind = draw(st.sampled_from(["open", "frame", "frame", "snapshot", "clock", "close"]))
        if kind == "open":
            events.append(
                accepted(
                    intent(
                        at,
                        kind="position_opened",
                        position_id=f"p-{step}",
                        category="linear",
                        symbol=symbol,
                        position_idx=0,
                        side="Buy",
                        qty=draw(sizes.filter(lambda s: s != "0")),
                        mode=draw(st.sampled_from(["LIVE", "LIVE", "LIVE", "PAPER"])),
                    )
                )
            )
        elif kind == "close":
            events.append(
                accepted(
                    intent(
                        at, kind="position_closed", position_id=f"p-{draw(st.integers(0, step))}"
                    )
                )
            )
        elif kind == "frame":
            size = draw(sizes)
            events.append(
                accepted(
                    position_frame(
                        at,
                        symbol=symbol,
                        side="" if size == "0" else "Buy",
                        size=size,
                        seq=seq,
                        updated_time=at,
                    )
                )
            )
        elif kind == "snapshot":
            size = draw(sizes.filter(lambda s: s != "0"))
            listed = [
                {"symbol": symbol, "side": "Buy", "size": size, "seq": seq, "updated_time": at}
            ]
            events.append(accepted(position_snapshot(at, *draw(st.sampled_from([[], listed])))))
        else:
            events.append(accepted({"at": at, "channel": "clock"}))
    return events


@st.composite
def failures(draw: st.DrawFn, at: int) -> InputEvent:
    """An input that says nothing about positions: an error, a limit, a partial page, garbage."""
    kind = draw(st.sampled_from(["error", "limit", "http", "page", "malformed"]))
    params = {"category": "linear", "settleCoin": "USDT"}
    if kind == "error":
        body = messages.rest_error(draw(st.sampled_from([10001, 10002, 10016])), "error", time=at)
        return event(messages.capture_rest(at, "main", "/v5/position/list", params, body))
    if kind == "limit":
        body = messages.rest_error(10006, "Too many visits!", time=at)
        return event(messages.capture_rest(at, "main", "/v5/position/list", params, body))
    if kind == "http":
        record = messages.capture_rest(at, "main", "/v5/position/list", params, {})
        record["status"] = draw(st.sampled_from([429, 403, 500, 502]))
        return event(record)
    if kind == "page":
        return event(position_snapshot(at, next_cursor=f"cursor-{at}"))
    return event(
        position_frame(
            at,
            symbol=draw(st.sampled_from(SYMBOLS)),
            side="Buy",
            size="abc",
            seq=1,
            updated_time=at,
        )
    )


def closes(emitted: list[Emitted]) -> set[tuple[str, int]]:
    return {(e.position_id, e.at) for e in emitted if isinstance(e, PositionClosed)}


@settings(max_examples=150)
@given(captures(), st.data())
def test_inserting_errors_into_any_capture_never_adds_a_position_closed(
    capture: list[InputEvent], data: st.DataObject
) -> None:
    with_errors = list(capture)
    for _ in range(data.draw(st.integers(1, 8))):
        where = data.draw(st.integers(1, len(with_errors)))
        at = with_errors[where - 1].at
        with_errors.insert(where, data.draw(failures(at)))
    assert closes(reconcile(with_errors)) <= closes(reconcile(capture))


@given(captures())
def test_replaying_a_capture_emits_the_same_events_byte_for_byte(capture: list[InputEvent]) -> None:
    first = [codec.encode_emitted(e) for e in reconcile(capture)]
    again = [codec.encode_emitted(e) for e in reconcile(capture)]
    assert first == again
    ids = [e.event_id for e in reconcile(capture)]
    assert len(ids) == len(set(ids))


def mismatch(trueup_pnl: str) -> PnlMismatch:
    return PnlMismatch(
        venue="bybit",
        account="main",
        at=1,
        cause="c",
        reason="r",
        figure="execPnl",
        trade_id="t-1",
        trueup_pnl=Decimal(trueup_pnl),
        venue_pnl=Decimal("1"),
        tolerance=Decimal("0.1"),
    )


def test_an_event_id_is_the_same_however_often_asked_and_differs_with_any_spelling() -> None:
    one, same_value = mismatch("1.0"), mismatch("1.00")
    assert one == same_value  # equal decimals, as Python compares them: yet not one event
    first = one.event_id
    assert one.event_id == first
    assert same_value.event_id != first
    assert mismatch("1.0").event_id == first


@given(captures())
def test_each_local_position_is_reported_closed_at_most_once(capture: list[InputEvent]) -> None:
    closed = [e.position_id for e in reconcile(capture) if isinstance(e, PositionClosed)]
    assert len(closed) == len(set(closed))


@given(captures())
def test_a_close_awaiting_its_cause_is_reported_no_earlier_than_at_once_and_never_more(
    capture: list[InputEvent],
) -> None:
    """A close no fill explains waits close_cause_grace_ms: with the grace, a position is
    reported closed only if it is with none, and never before."""
    at_once = {
        e.position_id: e.at
        for e in reconcile(capture, RuleConfig(close_cause_grace_ms=0))
        if isinstance(e, PositionClosed)
    }
    waited = {e.position_id: e.at for e in reconcile(capture) if isinstance(e, PositionClosed)}
    assert waited.keys() <= at_once.keys()
    assert all(at >= at_once[pid] for pid, at in waited.items())


@given(captures())
def test_drift_is_reported_only_after_grace_and_at_most_once_per_window(
    capture: list[InputEvent],
) -> None:
    config = RuleConfig()
    reported: dict[str, int] = {}
    # An oracle kept apart from the rule: since when has each symbol's drift held?
    local: dict[str, Decimal] = {}
    held: dict[str, Decimal] = {}
    since: dict[str, int] = {}
    reconciler = Reconciler(config)
    for e in capture:
        emitted = reconciler.apply(e)
        book = reconciler.book("bybit", "main")
        for symbol in SYMBOLS:
            key = book.key("linear", symbol, 0)
            if key in book.positions:
                local[symbol] = book.positions[key].local_qty
                held[symbol] = book.positions[key].exchange_qty
            if differs(
                local.get(symbol, Decimal(0)),
                held.get(symbol, Decimal(0)),
                config.drift_threshold_pct,
            ):
                since.setdefault(symbol, e.at)
            else:
                since.pop(symbol, None)
        for drift in (d for d in emitted if isinstance(d, ConsistencyDrift)):
            assert drift.symbol is not None
            assert drift.at - since[drift.symbol] >= config.drift_grace_ms
            last = reported.get(drift.symbol)
            assert last is None or drift.at - last >= config.drift_window_ms
            reported[drift.symbol] = drift.at


@given(captures())
def test_untracked_is_reported_only_for_a_position_held_past_grace_with_no_live_claim(
    capture: list[InputEvent],
) -> None:
    config = RuleConfig()
    reconciler = Reconciler(config)
    unclaimed_since: dict[str, int] = {}
    for e in capture:
        emitted = reconciler.apply(e)
        book = reconciler.book("bybit", "main")
        for symbol in SYMBOLS:
            position = book.positions.get(book.key("linear", symbol, 0))
            held = position is not None and position.exchange_qty != 0
            claimed = position is not None and any(p.mode == "LIVE" for p in position.open_local())
            if held and not claimed:
                unclaimed_since.setdefault(symbol, e.at)
            else:
                unclaimed_since.pop(symbol, None)
        for found in (x for x in emitted if isinstance(x, UntrackedPosition)):
            assert found.symbol is not None and found.exchange_qty != 0
            assert found.at - unclaimed_since[found.symbol] >= config.untracked_grace_ms


@given(captures())
def test_a_position_the_exchange_showed_is_never_stale_for_never_being_there(
    capture: list[InputEvent],
) -> None:
    reconciler = Reconciler()
    shown: set[str] = set()
    for e in capture:
        emitted = reconciler.apply(e)
        book = reconciler.book("bybit", "main")
        for position in book.positions.values():
            if position.exchange_qty > 0:
                shown.update(p.position_id for p in position.open_local() if p.mode == "LIVE")
        for stale in (x for x in emitted if isinstance(x, StalePosition)):
            if stale.reason == "NEVER_ON_EXCHANGE":
                assert stale.position_id not in shown
            else:
                assert stale.mode != "LIVE" and book.mode == "LIVE"


@st.composite
def entry_lifecycles(draw: st.DrawFn) -> list[InputEvent]:
    """An entry and its TP1, with their exchange reports repeated and shuffled."""
    placed = [
        accepted(
            intent(
                T0 + 1_000,
                kind="position_opened",
                position_id="p-1",
                category="linear",
                symbol="BTCUSDT",
                position_idx=0,
                side="Buy",
                qty="1",
                mode="LIVE",
            )
        ),
        accepted(
            intent(
                T0 + 1_000,
                kind="order_placed",
                position_id="p-1",
                order_link_id="p-1-entry",
                category="linear",
                symbol="BTCUSDT",
                purpose="ENTRY",
                side="Buy",
                qty="1",
            )
        ),
        accepted(
            intent(
                T0 + 1_000,
                kind="order_placed",
                position_id="p-1",
                order_link_id="p-1-tp1",
                category="linear",
                symbol="BTCUSDT",
                purpose="TP1",
                side="Sell",
                qty="0.5",
            )
        ),
    ]
    reports = [
        accepted(
            order_frame(
                T0 + 1_000 + i,
                symbol="BTCUSDT",
                order_id=oid,
                order_link_id=link,
                side=side,
                qty=qty,
                status=status,
                cum_exec_qty=cum,
                updated_time=T0 + 1_000 + i,
            )
        )
        for i, (oid, link, side, qty, status, cum) in enumerate(
            [
                ("o-1", "p-1-entry", "Buy", "1", "New", "0"),
                ("o-1", "p-1-entry", "Buy", "1", "PartiallyFilled", "0.5"),
                ("o-1", "p-1-entry", "Buy", "1", "Filled", "1"),
                ("o-2", "p-1-tp1", "Sell", "0.5", "New", "0"),
                ("o-2", "p-1-tp1", "Sell", "0.5", "Filled", "0.5"),
            ]
        )
    ]
    repeated = reports + draw(st.lists(st.sampled_from(reports), max_size=8))
    return placed + draw(st.permutations(repeated))


@given(entry_lifecycles())
def test_execution_reports_come_once_per_order_whatever_the_exchange_repeats(
    capture: list[InputEvent],
) -> None:
    emitted = reconcile(capture)
    counts = Counter(e.type for e in emitted)
    assert counts["ENTRY_FILLED"] == 1
    assert counts["TP_FILLED"] == 1
    assert counts["ENTRY_SUBMITTED"] == 1
    assert counts["ORDER_TIMEOUT"] == 0  # filled within a few ms of being placed


# --- Aster: its errors are never facts either ---------------------------------------------

ASTER_RISK = "/fapi/v2/positionRisk"


@st.composite
def aster_captures(draw: st.DrawFn) -> list[InputEvent]:
    """An Aster account trading LIVE: local claims, position updates, snapshots, time."""
    events = [accepted(aster.capture_intent(T0, "main", {"kind": "account_mode", "mode": "LIVE"}))]
    at = T0 + 1_000
    for step in range(draw(st.integers(1, 20))):
        at += draw(st.integers(1, 4_000))
        symbol = draw(st.sampled_from(SYMBOLS))
        size = draw(sizes)
        kind = draw(st.sampled_from(["open", "update", "update", "snapshot", "clock"]))
        if kind == "open":
            opened = {
                "kind": "position_opened",
                "position_id": f"p-{step}",
                "category": "perp",
                "symbol": symbol,
                "position_idx": 0,
                "side": "Buy",
                "qty": draw(sizes.filter(lambda s: s != "0")),
                "mode": "LIVE",
            }
            events.append(accepted(aster.capture_intent(at, "main", opened)))
        elif kind == "update":
            leg = aster.account_position(symbol=symbol, amount=size, entry_price="100.0")
            update = aster.account_update(
                event_time=at, transaction_time=at - 1, reason="ORDER", balances=[], positions=[leg]
            )
            events.append(accepted(aster.capture_ws(at, "main", update)))
        elif kind == "snapshot":
            legs = [
                aster.position_risk(symbol=s, position_amt=size, update_time=at - 1)
                for s in (symbol,)
            ]
            listed = draw(st.sampled_from([[], legs]))
            events.append(accepted(aster.capture_rest(at, "main", ASTER_RISK, {}, listed)))
        else:
            events.append(
                accepted({"at": at, "venue": "aster", "account": "main", "channel": "clock"})
            )
    return events


@st.composite
def aster_failures(draw: st.DrawFn, at: int) -> InputEvent:
    """An Aster input that says nothing about positions: an error reply, a limit, a ban, no
    reply, a reply not of its form, a margin call."""
    kind = draw(st.sampled_from(["code", "limit", "http", "malformed", "margin_call"]))
    if kind == "code":
        body = aster.error(draw(st.sampled_from([-1121, -1022, -2015, -4225])), "error")
        return event(aster.capture_rest(at, "main", ASTER_RISK, {}, body))
    if kind == "limit":
        body = aster.error(-1003, "Too many requests queued.")
        return event(aster.capture_rest(at, "main", ASTER_RISK, {}, body, status=429))
    if kind == "http":
        status = draw(st.sampled_from([0, 403, 418, 429, 500, 503]))
        return event(aster.capture_rest(at, "main", ASTER_RISK, {}, None, status=status))
    if kind == "malformed":
        entry = aster.position_risk(symbol="BTCUSDT", position_amt="abc", update_time=at)
        return event(aster.capture_rest(at, "main", ASTER_RISK, {}, [entry]))
    call = {"s": draw(st.sampled_from(SYMBOLS)), "ps": "BOTH", "pa": "0", "mp": "1.0"}
    return event(aster.capture_ws(at, "main", aster.margin_call(event_time=at, positions=[call])))


@settings(max_examples=100)
@given(aster_captures(), st.data())
def test_inserting_aster_errors_into_any_capture_never_adds_a_position_closed(
    capture: list[InputEvent], data: st.DataObject
) -> None:
    with_errors = list(capture)
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(1, len(with_errors)))
        with_errors.insert(where, data.draw(aster_failures(with_errors[where - 1].at)))
    assert closes(reconcile(with_errors)) <= closes(reconcile(capture))
