"""The detectors: each owns what it remembers, answers queries about it, forgets what the book
lets go; the reconciler calls their phases in one documented order."""

from collections.abc import Iterable
from decimal import Decimal

from tests.inputs import T0, accepted, intent, opened, position_frame, position_snapshot
from trueup.adapters import rule_changes
from trueup.adapters.store import snapshots
from trueup.adapters.store.snapshots import Snapshot
from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted
from trueup.domain.events import ClockTicked, ExecutionsReported, InputEvent, PositionsReported
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.account import AccountDetectors
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes, LetGo, Phases
from trueup.domain.rules.findings import open_findings

BTC = PositionKey("bybit", "main", "linear", "BTCUSDT", 0)
ETH = PositionKey("bybit", "main", "linear", "ETHUSDT", 0)


def frame(at: int, size: str, seq: int, symbol: str = "BTCUSDT") -> InputEvent:
    side = "" if size == "0" else "Buy"
    return accepted(
        position_frame(at, symbol=symbol, side=side, size=size, seq=seq, updated_time=at)
    )


def clock(at: int) -> InputEvent:
    return accepted({"at": at, "channel": "clock"})


# Every detector of an account, by its name there.
DETECTORS = (
    *("drift", "entries", "manual_close", "orders", "pnl"),
    *("risk", "stale", "sync", "triggers", "untracked"),
)


class Recorder(Detector):
    """Writes down every phase it is called in, and waits on the keys it is given."""

    __slots__ = ("calls", "name", "waits")

    def __init__(self, name: str, calls: list[tuple[str, ...]], waits: Iterable[PositionKey] = ()):
        self.name, self.calls, self.waits = name, calls, list(waits)

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        self.calls.append((self.name, "note"))

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        self.calls.append((self.name, "on_input", str(config.drift_threshold_pct)))
        return []

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        self.calls.append((self.name, "on_key", key.symbol))
        return []

    def waiting(self) -> Iterable[PositionKey]:
        return self.waits

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        self.calls.append((self.name, "on_time"))
        return []

    def forget(self, let_go: LetGo) -> None:
        self.calls.append((self.name, "forget", *let_go.locals))


def recording(reconciler: Reconciler) -> list[tuple[str, ...]]:
    """The account's detectors replaced by recorders a and b (timed: b then a)."""
    calls: list[tuple[str, ...]] = []
    a, b = Recorder("a", calls, waits=[BTC, ETH]), Recorder("b", calls)
    detectors = reconciler.detectors("bybit", "main")
    # Set where the reconciler reads them, not patched on the class: compiled (setup.py), the
    # reconciler would not look the class's properties up.
    detectors._in_order, detectors._timed = (a, b), (b, a)
    detectors._phases = Phases.of((a, b), (b, a))
    return calls


def test_an_input_is_noted_by_all_then_judged_then_its_keys_then_the_timers_run() -> None:
    reconciler = Reconciler()
    calls = recording(reconciler)
    reconciler.book("bybit", "main").forgotten.locals.add("p-gone", T0)
    reconciler.apply(frame(T0 + 1_000, "1", 2))
    assert calls == [
        ("a", "note"),
        ("b", "note"),
        ("a", "on_input", "10"),
        ("b", "on_input", "10"),
        ("a", "on_key", "BTCUSDT"),
        ("b", "on_key", "BTCUSDT"),
        # a waits on BTCUSDT too, but it was just judged: only ETHUSDT is judged again.
        ("a", "on_key", "ETHUSDT"),
        ("b", "on_key", "ETHUSDT"),
        ("a", "forget", "p-gone"),
        ("b", "forget", "p-gone"),
        ("b", "on_time"),
        ("a", "on_time"),
    ]


def test_a_tick_runs_only_the_timers_and_what_the_book_let_go_is_forgotten_once() -> None:
    reconciler = Reconciler()
    calls = recording(reconciler)
    reconciler.apply(frame(T0 + 1_000, "1", 2))
    calls.clear()
    reconciler.apply(clock(T0 + 2_000))
    assert calls == [
        ("a", "on_key", "BTCUSDT"),
        ("b", "on_key", "BTCUSDT"),
        ("a", "on_key", "ETHUSDT"),
        ("b", "on_key", "ETHUSDT"),
        ("b", "on_time"),
        ("a", "on_time"),
    ]


def test_every_call_passes_the_rules_in_force_then() -> None:
    reconciler = Reconciler()
    calls = recording(reconciler)
    reconciler.apply(frame(T0 + 1_000, "1", 2))
    rules = RuleConfig(drift_threshold_pct=Decimal(25))
    reconciler.apply(accepted(rule_changes.record(T0 + 1_500, rules, "rules.toml")))
    reconciler.apply(frame(T0 + 2_000, "2", 3))
    thresholds = [call[2] for call in calls if call[1] == "on_input"]
    assert thresholds == ["10", "10", "25", "25"]


def test_the_account_order_is_the_documented_one() -> None:
    detectors = AccountDetectors()
    names = {id(getattr(detectors, name)): name for name in DETECTORS}
    assert [names[id(d)] for d in detectors.in_order] == [
        "sync",
        "orders",
        "manual_close",
        "stale",
        "drift",
        "untracked",
        "pnl",
        "risk",
        "triggers",
        "entries",
    ]
    assert [names[id(d)] for d in detectors.timed] == [
        "stale",
        "sync",
        "orders",
        "triggers",
        "entries",
        "pnl",  # a fill's disagreeing figure, told once it has settled
    ]


class PositionsOnly(Recorder):
    """Notes executions alone, and judges position reports alone."""

    __slots__ = ()

    def noted(self) -> EventTypes:
        return (ExecutionsReported,)

    def judged(self) -> EventTypes:
        return (PositionsReported,)


def test_a_detector_notes_and_judges_only_the_types_of_input_it_declares() -> None:
    calls: list[tuple[str, ...]] = []
    a, b = Recorder("a", calls), PositionsOnly("b", calls)
    phases = Phases.of((a, b), ())
    assert phases.noting_for(PositionsReported) == (a,)
    assert phases.judging_for(PositionsReported) == (a, b)
    assert phases.noting_for(ExecutionsReported) == (a, b)
    assert phases.judging_for(ClockTicked) == (a,)


def test_each_phase_calls_only_the_detectors_that_take_part_in_it_in_the_account_order() -> None:
    detectors = AccountDetectors()
    names = {id(getattr(detectors, name)): name for name in DETECTORS}
    phases = detectors.phases
    assert [names[id(d)] for d in phases.noting] == ["manual_close", "stale", "triggers"]
    assert [names[id(d)] for d in phases.judging] == [
        "sync",
        "orders",
        "manual_close",
        "stale",
        "pnl",
        "risk",
        "triggers",
        "entries",
    ]
    assert [names[id(d)] for d in phases.keyed] == ["manual_close", "drift", "untracked", "risk"]
    assert [names[id(d)] for d in phases.waiting] == ["manual_close", "drift", "untracked"]
    assert phases.timed == detectors.timed


def test_each_detector_forgets_only_what_the_book_let_go() -> None:
    detectors = AccountDetectors()
    gone, kept = OrderKey("linear", "BTCUSDT", "o-gone"), OrderKey("linear", "BTCUSDT", "o-kept")
    orders = detectors.orders
    for order_key in (gone, kept):
        orders.reports[order_key] = ("submitted",)
        orders.sl_seen[order_key] = ("New",)
        orders.partial_since[order_key] = ("0.1", T0)
    orders.entry_deadlines.update({"l-gone": T0, "l-kept": T0})
    closes, stale = detectors.manual_close, detectors.stale
    closes.confirmed.update({"p-gone", "p-kept"})
    closes.closed_reported.update({"p-gone", "p-kept"})
    closes.cooldowns["BTCUSDT"] = T0
    closes.awaiting.update({"p-gone": (BTC, T0), "p-kept": (BTC, T0)})
    stale.reported.update({"p-gone", "p-kept"})
    stale.unseen_since.update({"p-gone": T0, "p-kept": T0})
    for detector in detectors.in_order:
        detector.forget(LetGo([gone], ["l-gone"], ["p-gone"]))
    assert set(orders.reports) == set(orders.sl_seen) == set(orders.partial_since) == {kept}
    assert set(orders.entry_deadlines) == {"l-kept"}
    assert closes.confirmed == closes.closed_reported == stale.reported == {"p-kept"}
    assert set(closes.awaiting) == {"p-kept"}
    assert set(stale.unseen_since) == {"p-kept"}
    # A cooldown is kept per symbol, never forgotten (domain/retention.py).
    assert closes.cooldown_until("BTCUSDT") == T0


def test_drift_is_unresolved_once_reported_and_until_the_sides_agree() -> None:
    reconciler = Reconciler()
    drift = reconciler.detectors("bybit", "main").drift
    reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))
    reconciler.apply(frame(T0 + 1_000, "2", 2))
    assert drift.unresolved(BTC) is None  # differing, within the grace period: not yet told
    reconciler.apply(clock(T0 + 5_000))
    assert drift.unresolved(BTC) == T0 + 1_000
    reconciler.apply(frame(T0 + 6_000, "1", 3))
    assert drift.unresolved(BTC) is None


def drift_finding(reconciler: Reconciler) -> list[str]:
    book, detectors = reconciler.book("bybit", "main"), reconciler.detectors("bybit", "main")
    return [f for f in open_findings(book, detectors, reconciler.config, BTC) if "DRIFT" in f]


def test_a_drift_is_pending_until_told_and_names_when_it_will_be() -> None:
    """Pending for drift_grace_ms; once told and resolved, a new drift within drift_window_ms
    is pending until the window ends, the instant it can next be told."""
    reconciler = Reconciler()
    reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))
    reconciler.apply(frame(T0 + 1_000, "2", 2))
    assert drift_finding(reconciler) == [
        "DRIFT_PENDING local 1 vs exchange 2: DRIFT at 2025-11-03T19:43:24.000Z unless resolved"
    ]
    reconciler.apply(clock(T0 + 4_000))
    assert drift_finding(reconciler) == ["DRIFT local 1 vs exchange 2"]
    reconciler.apply(frame(T0 + 5_000, "1", 3))
    assert drift_finding(reconciler) == []
    reconciler.apply(frame(T0 + 6_000, "3", 4))
    assert drift_finding(reconciler) == [
        "DRIFT_PENDING local 1 vs exchange 3: DRIFT at 2025-11-03T19:48:24.000Z unless resolved"
    ]


def test_sides_a_lower_threshold_makes_differ_are_pending_from_when_they_came_to_be_so() -> None:
    """Judged at the change of rules: the grace runs from the frame that set the sides apart."""
    reconciler = Reconciler()
    reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))
    reconciler.apply(frame(T0 + 1_000, "1.05", 2))  # 5 % apart: within the default 10 %
    stricter = RuleConfig(drift_threshold_pct=Decimal(1))
    reconciler.apply(accepted(rule_changes.record(T0 + 2_000, stricter, "rules.toml")))
    assert drift_finding(reconciler) == [
        "DRIFT_PENDING local 1 vs exchange 1.05: DRIFT at 2025-11-03T19:43:24.000Z unless resolved"
    ]
    assert reconciler.detectors("bybit", "main").drift.unresolved(BTC) is None


def test_manual_close_knows_what_the_exchange_showed_holds_what_it_closed_and_the_cooldown() -> (
    None
):
    reconciler = Reconciler()
    closes = reconciler.detectors("bybit", "main").manual_close
    book = reconciler.book("bybit", "main")
    reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))
    assert not closes.is_confirmed("p-1")
    reconciler.apply(frame(T0 + 1_000, "1", 2))
    assert closes.is_confirmed("p-1")
    reconciler.apply(frame(T0 + 2_000, "0", 3))
    # No fill says why yet: the close awaits its cause, the position open meanwhile.
    assert closes.awaited_since("p-1") == T0 + 2_000
    local = book.local_position("p-1")
    assert local is not None and local.status == "OPEN"
    assert closes.cooldown_until("BTCUSDT") is None
    reconciler.apply(clock(T0 + 5_000))  # the grace over
    assert closes.awaited_since("p-1") is None
    local = book.local_position("p-1")
    assert local is not None and (local.status, local.exit_reason) == ("CLOSED", "STOP_LOSS")
    # From the close, not from its report.
    assert closes.cooldown_until("BTCUSDT") == T0 + 2_000 + RuleConfig().cooldown_ms
    assert closes.cooldown_until("ETHUSDT") is None


def test_a_position_reported_closed_stays_closed_and_the_next_one_on_its_key_is_untracked() -> None:
    reconciler = Reconciler()
    told = [e.type for e in reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))]
    told += [e.type for e in reconciler.apply(frame(T0 + 1_000, "1", 2))]
    told += [e.type for e in reconciler.apply(frame(T0 + 2_000, "0", 3))]
    told += [e.type for e in reconciler.apply(clock(T0 + 5_000))]  # no fill came to say why
    assert "POSITION_CLOSED" in told
    # Someone opens on the key again, by hand, before the bot has said anything: a position
    # the bot does not track, not a drift from the one trueup reported closed.
    later = [e.type for e in reconciler.apply(frame(T0 + 6_000, "2", 4))]
    later += [e.type for e in reconciler.apply(clock(T0 + 13_000))]
    assert "UNTRACKED_POSITION" in later
    assert "CONSISTENCY_DRIFT" not in later
    # The bot's own close, after: nothing changes, nothing more is said.
    closed = intent(T0 + 14_000, kind="position_closed", position_id="p-1", exit_reason="SL")
    assert reconciler.apply(accepted(closed)) == []


def test_stale_says_why_a_local_record_is_stale() -> None:
    reconciler = Reconciler()
    reconciler.apply(accepted(intent(T0, kind="account_mode", mode="LIVE")))
    reconciler.apply(accepted(opened(T0, "p-paper", "ETHUSDT", "1", mode="PAPER")))
    reconciler.apply(accepted(opened(T0, "p-live", "BTCUSDT", "1")))
    reconciler.apply(accepted(position_snapshot(T0 + 1_000)))
    book, stale = reconciler.book("bybit", "main"), reconciler.detectors("bybit", "main").stale

    def why(position_id: str) -> str | None:
        local = book.local_position(position_id)
        assert local is not None
        return stale.why(book, local)

    assert (why("p-paper"), why("p-live")) == ("PAPER_LEFTOVER", None)
    reconciler.apply(clock(T0 + 5_000))
    assert why("p-live") == "NEVER_ON_EXCHANGE"


def test_a_snapshot_keeps_stale_asking_the_accounts_own_manual_close_detector() -> None:
    reconciler = Reconciler()
    reconciler.apply(accepted(opened(T0, "p-1", "BTCUSDT", "1")))
    reconciler.apply(frame(T0 + 1_000, "1", 2))
    restored = snapshots.load(snapshots.dump(Snapshot(2, reconciler)))
    assert restored is not None
    detectors = restored.reconciler.detectors("bybit", "main")
    assert detectors.stale.closes is detectors.manual_close
    assert detectors.manual_close.is_confirmed("p-1")


def test_an_untracked_position_once_told_is_not_judged_again_on_every_input() -> None:
    """Told once, it waits on no timer: an input of another symbol touches that symbol alone
    (and so rewrites that symbol's view alone), however many untracked keys the account has."""
    reconciler = Reconciler()
    reconciler.apply(frame(T0, "1", 1))
    told = [e.type for e in reconciler.apply(clock(T0 + 10_000))]
    assert told == ["UNTRACKED_POSITION"]
    assert list(reconciler.detectors("bybit", "main").untracked.waiting()) == []
    reconciler.touched.take()
    reconciler.apply(frame(T0 + 11_000, "2", 1, symbol="ETHUSDT"))
    assert reconciler.touched.take().symbols == {("bybit", "main"): {"ETHUSDT"}}
    # A change of its own is still judged: flat, it is no longer waited on or told.
    assert reconciler.apply(frame(T0 + 12_000, "0", 2)) == []
    assert BTC not in reconciler.detectors("bybit", "main").untracked.since
