"""The rules are data: the configuration in force is an input of its own, so every detector,
every query and every replay uses the rules that were in force at each instant, whoever
asks and whatever file they pass."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import (
    T0,
    event,
    execution_frame,
    intent,
    line,
    opened,
    position_frame,
    position_snapshot,
)
from trueup.adapters import rule_changes
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import ConsistencyDrift, CooldownStarted, PositionClosed
from trueup.domain.events import InputEvent, RulesSet
from trueup.domain.reconciler import Reconciler, reconcile
from trueup.domain.rules.config import FIELDS, RuleConfig, rule_values
from trueup.projections.positions import position_rows
from trueup.runners.cli import main

HOUR = 3_600_000


def rules(at: int, **settings: Any) -> InputEvent:
    return event(rule_changes.record(at, RuleConfig(**settings), "rules.toml"))


def held_then_closed(symbol: str, at: int) -> list[InputEvent]:
    """A LIVE position the exchange showed, then closed by hand (a STOP_LOSS cooldown)."""
    pid = f"p-{symbol}"
    return [
        event(opened(at, pid, symbol, "1")),
        event(
            position_frame(
                at + 1_000, symbol=symbol, side="Buy", size="1", seq=at, updated_time=at + 1_000
            )
        ),
        event(
            position_frame(
                at + 2_000, symbol=symbol, side="", size="0", seq=at + 1, updated_time=at + 2_000
            )
        ),
        # No fill says why: reported on the tick past close_cause_grace_ms.
        event({"at": at + 5_000, "venue": "bybit", "account": "main", "channel": "clock"}),
    ]


def cooldowns(events: list[InputEvent]) -> dict[str, int]:
    return {e.symbol or "": e.until for e in reconcile(events) if isinstance(e, CooldownStarted)}


def test_a_rules_line_is_an_input_that_round_trips() -> None:
    recorded = rules(T0, cooldown_ms=HOUR, drift_threshold_pct=Decimal("2.5"))
    assert isinstance(recorded, RulesSet)
    assert recorded.rules == RuleConfig(cooldown_ms=HOUR, drift_threshold_pct=Decimal("2.5"))


def test_a_rules_line_out_of_its_domain_is_rejected_with_the_setting_named() -> None:
    bad = event({"at": T0, "channel": "rules", "data": {"cooldown_ms": -1}})
    assert bad.type == "InputRejected"
    assert "cooldown_ms must be from 0" in getattr(bad, "reason", "")


@pytest.mark.parametrize("text", ["1e-8", "2E1", "1_000", " 5 ", "-1", "5."])
def test_a_decimal_setting_as_text_is_digits_with_at_most_one_point(text: str) -> None:
    bad = event({"at": T0, "channel": "rules", "data": {"drift_threshold_pct": text}})
    assert bad.type == "InputRejected"
    assert 'as text, digits with at most one point ("0.35")' in getattr(bad, "reason", "")


def test_a_tiny_setting_is_written_as_its_schema_reads_it() -> None:
    """From a TOML float 0.00000001: "0.00000001", never "1E-8" (schemas/inputs/rules)."""
    written = rule_values(RuleConfig(drift_threshold_pct=Decimal("1E-8")))
    assert written["drift_threshold_pct"] == "0.00000001"
    assert rules(T0, drift_threshold_pct=Decimal("1E-8")).type == "RulesSet"


def test_each_input_is_judged_by_the_rules_in_force_when_it_came() -> None:
    live = event(intent(T0, kind="account_mode", mode="LIVE"))
    events = [
        live,
        *held_then_closed("BTCUSDT", T0 + 1_000),
        rules(T0 + 10_000, cooldown_ms=HOUR),
        *held_then_closed("ETHUSDT", T0 + 20_000),
    ]
    assert cooldowns(events) == {
        "BTCUSDT": T0 + 3_000 + RuleConfig().cooldown_ms,
        "ETHUSDT": T0 + 22_000 + HOUR,
    }


def test_rules_recorded_long_after_an_accounts_inputs_run_out_none_of_its_graces() -> None:
    """`ingest --rules` dates the rules by the wall clock: a capture of last year ingested in
    two pieces, the second with --rules, met them while a close awaited its fill, and the
    rejudge at today's date ran the grace out: a STOP_LOSS close and a cooldown, where the
    fill that came next says MANUAL (a walkthrough). Judged at the account's own time."""
    live = event(intent(T0, kind="account_mode", mode="LIVE"))
    held = held_then_closed("BTCUSDT", T0 + 1_000)[:3]  # flat at T0 + 3_000, no fill yet
    fill = {"symbol": "BTCUSDT", "exec_id": "e-close", "order_id": "o-close", "side": "Sell",
            "exec_price": "100", "exec_qty": "1", "exec_time": T0 + 2_990, "seq": T0 + 1,
            "closed_size": "1", "create_type": "CreateByClosing"}  # fmt: skip
    closing = event(execution_frame(T0 + 3_500, fill))
    years_later = rules(T0 + 400 * 24 * HOUR, cooldown_ms=HOUR)
    emitted = reconcile([live, *held, years_later, closing])
    closes = [e for e in emitted if isinstance(e, PositionClosed)]
    assert [(c.exit_reason, c.at) for c in closes] == [("MANUAL", T0 + 3_500)]
    assert not any(isinstance(e, CooldownStarted) for e in emitted)


def test_the_audit_of_a_capture_given_rules_long_after_closes_as_the_reconciler_did(
    journal: Journal,
) -> None:
    """The audit's own fold of the same: it named a STOP_LOSS close at the rules' line."""
    first = closed_btc(T0 + 1_000)[:4]  # flat at T0 + 3_000, no fill yet
    fill = {"symbol": "BTCUSDT", "exec_id": "e-close", "order_id": "o-close", "side": "Sell",
            "exec_price": "100", "exec_qty": "1", "exec_time": T0 + 2_990, "seq": 3,
            "closed_size": "1", "create_type": "CreateByClosing"}  # fmt: skip
    TrueupService(journal).ingest([[line(r) for r in first]])
    later = TrueupService(journal, clock=lambda: T0 + 400 * 24 * HOUR)
    later.put_rules_in_force(RuleConfig(cooldown_ms=HOUR), "rules.toml")
    later.ingest([[line(execution_frame(T0 + 3_500, fill))]])
    audit = TrueupService(journal).audit("bybit", "main", "BTCUSDT")
    closes = [getattr(c, "exit_reason", "") for e in audit.timeline for c in e.closed_by]
    assert closes == ["MANUAL"]


def capture(tmp_path: Path, *records: dict[str, Any]) -> str:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
    return str(path)


def closed_btc(at: int) -> list[dict[str, Any]]:
    claim = opened(at, "p-1", "BTCUSDT", "1")
    shown = position_frame(
        at + 1_000, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=at + 1_000
    )
    flat = position_frame(
        at + 2_000, symbol="BTCUSDT", side="", size="0", seq=2, updated_time=at + 2_000
    )
    # No fill says why: reported on the tick past close_cause_grace_ms.
    tick = {"at": at + 5_000, "venue": "bybit", "account": "main", "channel": "clock"}
    return [intent(at, kind="account_mode", mode="LIVE"), claim, shown, flat, tick]


def test_can_open_answers_by_the_journals_rules_whatever_rules_file_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_cooldown = tmp_path / "rules.toml"
    long_cooldown.write_text(f"cooldown_ms = {2 * HOUR}\n")
    store = str(tmp_path / "journal.db")
    # A capture of a minute ago: the rules the ingest records now were in force by the hour
    # asked about (a question about an instant is weighed by the rules recorded by then).
    start = int(time.time() * 1000) - 60_000
    assert (
        main(
            [
                "--store",
                store,
                "--rules",
                str(long_cooldown),
                "ingest",
                capture(tmp_path, *closed_btc(start)),
            ]
        )
        == 0
    )
    one_hour_later = str(start + 2_000 + HOUR)
    ask = [
        "can-open",
        "--venue",
        "bybit",
        "--account",
        "main",
        "--symbol",
        "BTCUSDT",
        "--at",
        one_hour_later,
    ]
    capsys.readouterr()

    assert main(["--store", store, *ask]) == 1  # no --rules: still the journal's two hours
    assert "cooldown on BTCUSDT" in capsys.readouterr().out


def test_a_question_about_an_instant_is_weighed_by_the_rules_in_force_then(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "journal.db")
    listed = position_snapshot(T0 + 3_000)  # every position listed: none
    assert main(["--store", store, "ingest", capture(tmp_path, *closed_btc(T0), listed)]) == 0
    then = T0 + 3_000 + HOUR  # past the cooldown; the exchange view an hour old by then
    ask = ("can-open", "--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT")
    capsys.readouterr()
    assert main(["--store", store, *ask, "--at", str(then)]) == 1
    assert "exchange view is" in capsys.readouterr().out
    # Much later, rules that would call an hour-old view fresh are put in force.
    later = capture(
        tmp_path, rule_changes.record(then + HOUR, RuleConfig(freshness_limit_ms=2 * HOUR), "x")
    )
    assert main(["--store", store, "ingest", later]) == 0
    capsys.readouterr()
    assert main(["--store", store, *ask, "--at", str(then)]) == 1
    assert "exchange view is" in capsys.readouterr().out
    assert main(["--store", store, *ask, "--at", str(then + HOUR)]) == 0


def test_an_audit_as_of_an_instant_weighs_risk_by_the_rules_in_force_then(
    tmp_path: Path,
) -> None:
    store = str(tmp_path / "journal.db")
    held = position_frame(
        T0 + 1_000, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0 + 1_000,
        mark_price="100", liq_price="95",
    )  # fmt: skip
    liquidation_only = RuleConfig(
        risk_weight_concentration=Decimal(0), risk_weight_leverage=Decimal(0)
    )
    later = rule_changes.record(T0 + HOUR, liquidation_only, "x")
    assert main(["--store", store, "ingest", capture(tmp_path, held)]) == 0
    with Journal.open(store) as journal:
        before = TrueupService(journal).audit("bybit", "main", "BTCUSDT", as_of=T0 + 2_000)
    assert main(["--store", store, "ingest", capture(tmp_path, later)]) == 0
    with Journal.open(store) as journal:
        service = TrueupService(journal)
        then = service.audit("bybit", "main", "BTCUSDT", as_of=T0 + 2_000)
        now = service.audit("bybit", "main", "BTCUSDT")
    key = then.keys[0]
    assert then.risk(key) == before.risk(key)
    assert now.risk(key) != before.risk(key)


def test_ingesting_with_the_rules_already_in_force_records_nothing_new(tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    file.write_text("cooldown_ms = 60000\n")
    store = str(tmp_path / "journal.db")
    for name in ("a", "b"):
        records = closed_btc(T0 if name == "a" else T0 + 10 * HOUR)
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
        assert main(["--store", store, "--rules", str(file), "ingest", str(path)]) == 0
    with Journal.open(store) as journal:
        changes = [e for _, e in journal.all_events() if isinstance(e, RulesSet)]
        assert [c.rules.cooldown_ms for c in changes] == [60_000]
        assert journal.rules_in_force() == RuleConfig(cooldown_ms=60_000)


def rule_changes_in(store: str) -> list[int]:
    with Journal.open(store) as journal:
        return [e.rules.cooldown_ms for _, e in journal.all_events() if isinstance(e, RulesSet)]


def wait_for(what: str, check: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class RulesWorker:
    """A `trueup worker --rules FILE` on a journal, and what it said on stderr once stopped."""

    file: Path
    store: str
    process: "subprocess.Popen[bytes]"
    err: bytes = b""


@contextmanager
def worker_with_rules(tmp_path: Path) -> Iterator[RulesWorker]:
    """A worker on a new journal whose rules file says cooldown_ms = 60000, once it has
    recorded them; stopped after, and to have exited 0."""
    file = tmp_path / "rules.toml"
    file.write_text("cooldown_ms = 60000\n")
    store = str(tmp_path / "journal.db")
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "--rules", str(file)]
    process = subprocess.Popen([*command, "worker", "--poll-ms", "20"], stderr=subprocess.PIPE)
    worker = RulesWorker(file, store, process)
    try:
        wait_for("the worker's rules", lambda: rule_changes_in(store) == [60_000])
        yield worker
    finally:
        process.terminate()
        _, worker.err = process.communicate(timeout=10)
    assert process.returncode == 0, worker.err.decode()


def test_a_worker_records_its_rules_file_and_every_change_of_it_without_a_restart(
    tmp_path: Path,
) -> None:
    with worker_with_rules(tmp_path) as worker:
        store = worker.store
        worker.file.write_text("cooldown_ms = 120000\n")
        wait_for("the changed rules", lambda: rule_changes_in(store) == [60_000, 120_000])
        worker.file.write_text("cooldown_ms = nan\n")  # a typo: reported, the rules stay
        os.kill(worker.process.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert worker.process.poll() is None, "a broken rules file stopped the worker"
        assert rule_changes_in(store) == [60_000, 120_000]
    assert b"the rules in force stay" in worker.err


def test_sighup_puts_the_workers_file_back_in_force_after_another_process_changed_them(
    tmp_path: Path,
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("cooldown_ms = 90000\n")
    with worker_with_rules(tmp_path) as worker:
        store = worker.store
        # Another process records its own: the worker's file is no longer in force.
        assert main(["--store", store, "--rules", str(other), "ingest", os.devnull]) == 0
        assert rule_changes_in(store) == [60_000, 90_000]
        os.kill(worker.process.pid, signal.SIGHUP)
        wait_for(
            "the file's rules again", lambda: rule_changes_in(store) == [60_000, 90_000, 60_000]
        )
        os.kill(worker.process.pid, signal.SIGHUP)  # in force already: nothing more recorded
        time.sleep(0.5)
        assert rule_changes_in(store) == [60_000, 90_000, 60_000]


def test_two_processes_putting_the_same_rules_in_force_at_once_record_them_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both read the rules in force before either recorded: one decision, stored once."""
    store = str(tmp_path / "journal.db")
    edited = RuleConfig(cooldown_ms=120_000)
    with Journal.open(store) as first, Journal.open(store) as second:
        TrueupService(first).put_rules_in_force(RuleConfig(cooldown_ms=60_000), "rules.toml")
        before = second.last_rules_set()
        assert TrueupService(first).put_rules_in_force(edited, "rules.toml") is True
        # The second read the journal just before the first's change went in.
        monkeypatch.setattr(second, "last_rules_set", lambda: before)
        assert TrueupService(second).put_rules_in_force(edited, "rules.toml") is False
    assert rule_changes_in(store) == [60_000, 120_000]


def test_a_worker_without_a_rules_file_lives_through_sighup(tmp_path: Path) -> None:
    store = str(tmp_path / "journal.db")
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store]
    worker = subprocess.Popen([*command, "worker", "--poll-ms", "20"], stderr=subprocess.PIPE)
    try:
        # Its leases are taken once its signal handlers are in place.
        wait_for("the worker's leases", lambda: Path(f"{store}.reconciler.00.lease").exists())
        os.kill(worker.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert worker.poll() is None, "SIGHUP killed a worker started without --rules"
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=10)
    assert worker.returncode == 0, err.decode()
    assert b"no --rules file to read again" in err


def test_the_rules_in_force_at_an_instant_are_the_last_recorded_by_then(journal: Journal) -> None:
    changes = [rules(T0 + i * HOUR, cooldown_ms=(i + 1) * 60_000) for i in range(60)]
    journal.append(changes)
    assert journal.rules_in_force() == RuleConfig(cooldown_ms=60 * 60_000)
    recorded = journal.rules_recorded()  # more than a page of them
    assert recorded.at(None) == RuleConfig(cooldown_ms=60 * 60_000)
    assert recorded.at(T0 + 59 * HOUR) == RuleConfig(cooldown_ms=60 * 60_000)
    # Between two changes: the earlier one.
    assert recorded.at(T0 + 3 * HOUR + 1) == RuleConfig(cooldown_ms=4 * 60_000)
    assert recorded.at(T0 - 1) == RuleConfig()  # none yet: the defaults
    assert journal.rules_changed_after(T0 + 58 * HOUR)
    assert not journal.rules_changed_after(T0 + 59 * HOUR)


def test_of_rules_recorded_out_of_their_instants_order_the_last_recorded_by_then_is_in_force(
    journal: Journal,
) -> None:
    """No input among them: each is in force from its instant, the one recorded last of
    those dated by then; one recorded later but dated earlier takes over from its instant."""
    at = [T0 + 2 * HOUR, T0, T0 + HOUR, T0 + 3 * HOUR, T0 + 3 * HOUR]
    journal.append([rules(when, cooldown_ms=(i + 1) * 60_000) for i, when in enumerate(at)])
    recorded = journal.rules_recorded()
    expected = {
        None: 5,
        T0 - 1: None,
        T0: 2,
        T0 + HOUR - 1: 2,
        T0 + HOUR: 3,
        T0 + 2 * HOUR: 3,  # the first, dated then, was recorded before the third
        T0 + 3 * HOUR: 5,
        T0 + 4 * HOUR: 5,
    }
    for instant, minutes in expected.items():
        in_force = RuleConfig() if minutes is None else RuleConfig(cooldown_ms=minutes * 60_000)
        assert recorded.at(instant) == in_force, instant


def test_an_input_is_folded_under_the_rules_stored_before_it_whatever_their_instants(
    journal: Journal,
) -> None:
    """As the reconciler applies each RulesSet at its place in the journal: an input is
    folded under the rules stored before it, even rules dated after it, and those are in
    force at its instant; rules stored after it are not in force for it."""
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "1", "seq": 1}
    journal.append([rules(T0 + 5 * HOUR, cooldown_ms=60_000)])
    journal.append([event(position_frame(T0 + 2 * HOUR, **held, updated_time=T0))])
    journal.append([rules(T0 + 4 * HOUR, cooldown_ms=120_000)])
    journal.append([event(position_frame(T0 + 3 * HOUR, **held, updated_time=T0))])
    first, second = (where for where, _ in journal.account_inputs("bybit", "main"))
    recorded = journal.rules_recorded()
    assert recorded.before(first) == RuleConfig(cooldown_ms=60_000)
    assert recorded.before(second) == RuleConfig(cooldown_ms=120_000)
    assert recorded.at(T0 + 2 * HOUR) == RuleConfig()  # by their instants alone: none yet
    assert recorded.at(T0 + 2 * HOUR, applied_to=first) == RuleConfig(cooldown_ms=60_000)
    assert recorded.at(T0 + 3 * HOUR, applied_to=first) == RuleConfig(cooldown_ms=60_000)
    assert recorded.at(T0 + 3 * HOUR, applied_to=second) == RuleConfig(cooldown_ms=120_000)


# --- a change of rules judges every key again ------------------------------------------------


def held_apart(exchange_size: str) -> list[InputEvent]:
    """A LIVE claim of 1 BTCUSDT at T0, the exchange holding ``exchange_size`` from T0 + 1 s."""
    held = position_frame(
        T0 + 1_000, symbol="BTCUSDT", side="Buy", size=exchange_size, seq=1, updated_time=T0 + 1_000
    )
    return [event(opened(T0, "p-1", "BTCUSDT", "1")), event(held)]


def drifts(events: list[InputEvent]) -> list[tuple[int, str, str]]:
    return [(e.at, e.cause, e.reason) for e in reconcile(events) if isinstance(e, ConsistencyDrift)]


def account_tick(at: int) -> InputEvent:
    return event({"at": at, "venue": "bybit", "account": "main", "channel": "clock"})


def test_a_lowered_drift_threshold_tells_a_drift_at_the_change_that_lowered_it() -> None:
    """5 % apart since T0 + 1 s: no drift under the default 10 %, one under 1 % at once, the
    sides having been as they are for longer than the grace by the account's own time."""
    stricter = rules(T0 + 10_000, drift_threshold_pct=Decimal(1))
    passed = [*held_apart("1.05"), account_tick(T0 + 10_000)]
    assert drifts(passed) == []
    assert drifts([*passed, stricter]) == [
        (T0 + 10_000, stricter.input_id, "local 1 vs exchange 1.05: 5.00% apart for 9000 ms")
    ]


def test_rules_dated_after_an_accounts_time_judge_it_at_its_time_not_theirs() -> None:
    """Rules are no clock: recorded at T0 + 10 s for an account whose inputs end at T0 + 1 s,
    they judge it as of T0 + 1 s, and the drift waits for its grace on the account's time."""
    stricter = rules(T0 + 10_000, drift_threshold_pct=Decimal(1))
    assert drifts([*held_apart("1.05"), stricter]) == []
    later = account_tick(T0 + 10_000)
    assert drifts([*held_apart("1.05"), stricter, later]) == [
        (T0 + 10_000, later.input_id, "local 1 vs exchange 1.05: 5.00% apart for 9000 ms")
    ]


def test_sides_a_lowered_threshold_finds_apart_within_the_grace_are_told_once_it_ends() -> None:
    stricter = rules(T0 + 2_000, drift_threshold_pct=Decimal(1))
    tick = event({"at": T0 + 4_000, "channel": "clock"})
    assert drifts([*held_apart("1.05"), stricter]) == []
    assert drifts([*held_apart("1.05"), stricter, tick]) == [
        (T0 + 4_000, tick.input_id, "local 1 vs exchange 1.05: 5.00% apart for 3000 ms")
    ]


def test_a_raised_threshold_resolves_a_drift_it_no_longer_breaks_without_an_event() -> None:
    """As when the sides come back together: the drift is over, nothing is told, and a
    lowered threshold afterwards finds it again as a drift of its own."""
    told = event({"at": T0 + 5_000, "channel": "clock"})  # 50 % apart: a drift, told
    laxer = rules(T0 + 6_000, drift_threshold_pct=Decimal(60))
    stricter = rules(T0 + 7 * 60_000, drift_threshold_pct=Decimal(10))
    passed = event({"at": T0 + 7 * 60_000, "channel": "clock"})
    events = [*held_apart("1.5"), told, laxer, passed, stricter]
    assert [(at, cause) for at, cause, _ in drifts(events)] == [
        (T0 + 5_000, told.input_id),
        (T0 + 7 * 60_000, stricter.input_id),
    ]
    reconciler = Reconciler()
    for each in events[:-1]:
        reconciler.apply(each)
    key = next(iter(reconciler.book("bybit", "main").positions))
    assert reconciler.detectors("bybit", "main").drift.unresolved(key) is None


def test_a_shortened_untracked_grace_tells_an_untracked_position_at_the_change() -> None:
    held = position_frame(
        T0, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0
    )  # nobody claims it
    shorter = rules(T0 + 1_000, untracked_grace_ms=500)
    told = reconcile([event(held), account_tick(T0 + 1_000), shorter])
    assert [(e.type, e.cause) for e in told] == [("UNTRACKED_POSITION", shorter.input_id)]


def test_after_a_change_of_rules_the_views_answer_what_a_replay_does(journal: Journal) -> None:
    """positions and can-open from the views, beside a replay of the journal, as a lowered
    threshold makes sides 5 % apart a drift and a raised one resolves it."""
    service = TrueupService(journal, clock=lambda: T0 + 20_000)
    fresh = position_snapshot(
        T0 + 1_000,
        {"symbol": "BTCUSDT", "side": "Buy", "size": "1.05", "seq": 1, "updated_time": T0 + 1_000},
    )
    live = intent(T0, kind="account_mode", mode="LIVE")
    service.ingest([[line(live), line(opened(T0, "p-1", "BTCUSDT", "1")), line(fresh)]])
    ask = ("bybit", "main", "BTCUSDT")

    def findings() -> list[str]:
        (row,) = service.positions(venue="bybit", account="main", symbol="BTCUSDT")
        assert [row] == [r for r in position_rows(replayed(journal)) if r["symbol"] == "BTCUSDT"]
        return [f for f in row["findings"] if "DRIFT" in f]

    assert findings() == []
    assert not any("drift" in r for r in service.can_open(*ask, at=T0 + 10_000).reasons)
    stricter = rule_changes.record(T0 + 10_000, RuleConfig(drift_threshold_pct=Decimal(1)), "r")
    tick = {"at": T0 + 10_000, "venue": "bybit", "account": "main", "channel": "clock"}
    service.ingest([[line(tick), line(stricter)]])
    assert findings() == ["DRIFT local 1 vs exchange 1.05"]
    assert any("unresolved drift" in r for r in service.can_open(*ask, at=T0 + 10_000).reasons)
    laxer = rule_changes.record(T0 + 11_000, RuleConfig(drift_threshold_pct=Decimal(6)), "r")
    service.ingest([[line(laxer)]])
    assert findings() == []
    assert not any("drift" in r for r in service.can_open(*ask, at=T0 + 11_000).reasons)


def replayed(journal: Journal) -> Reconciler:
    """Every input of the journal applied to a new reconciler: no snapshot, no views."""
    reconciler = Reconciler()
    events, _ = journal.inputs(0)
    for _, each in events:
        reconciler.apply(each)
    return reconciler


# --- the rules as docs/capture-format.md documents them ---------------------------------------

CAPTURE_FORMAT = Path(__file__).parent.parent / "docs" / "capture-format.md"


def documented_settings() -> dict[str, str]:
    """Each setting of the rules table in docs/capture-format.md, with its default column."""
    text = CAPTURE_FORMAT.read_text()
    table = text[text.index("| setting | type | default | domain |") :].split("\n\n")[0]
    rows = [row.split(" | ") for row in table.splitlines()[2:]]
    return {cells[0].strip("|` "): cells[2] for cells in rows}


def test_every_rule_setting_is_documented_with_its_default() -> None:
    documented = documented_settings()
    assert sorted(documented) == sorted(FIELDS)
    for name, value in rule_values(RuleConfig()).items():
        assert orjson.loads(documented[name].strip("`")) == value, name
