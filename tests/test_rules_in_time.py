"""The rules in force at an instant are those the projection applied to the inputs dated by
then: a rules change is in force at T if it is dated at or before T, or if it was recorded
before an input dated at or before T. A capture of last week ingested today with --rules was
judged, every input of it, under those rules, though the ingest dates them today; audit
--as-of and can-open --at an instant inside it must say what the projection said then."""

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.http_server import TOKEN, running_server
from tests.inputs import (
    T0,
    accepted,
    execution_frame,
    intent,
    line,
    opened,
    position_frame,
    position_snapshot,
    tick,
)
from trueup.adapters import rule_changes
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.instants import iso
from trueup.domain.reconciler import reconcile
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.in_force import Recorded, RulesInForce
from trueup.projections.audit import audit
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

JSON = dict[str, Any]
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
BTC = ("--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT")
# A cooldown of 5 min, not 30; a warning 25 % from liquidation, not 10 %; a view fresh for
# an hour, not 15 s.
QUICK_AND_WARY = (
    "cooldown_ms = 300000\nrisk_warning_liquidation_distance = 0.25\nfreshness_limit_ms = 3600000\n"
)


def now() -> int:
    return int(time.time() * 1000)


def held_near_liquidation_then_stopped(
    at: int, account: str = "main", position_id: str = "p-1", seq: int = 1
) -> list[JSON]:
    """A LIVE position on 1 BTCUSDT; the exchange holds it 20 % from liquidation (past 0.25,
    not past the default 0.1), then shows it flat at ``at`` + 2 s (a STOP_LOSS cooldown,
    reported on the tick 3 s later); then a complete snapshot every 5 min for an hour,
    listing nothing."""
    records = [
        intent(at, kind="account_mode", mode="LIVE"),
        opened(at, position_id, "BTCUSDT", "1"),
        position_frame(
            at + 1_000, symbol="BTCUSDT", side="Buy", size="1", seq=seq, updated_time=at + 1_000,
            mark_price="100", liq_price="80",
        ),
        position_frame(
            at + 2_000, symbol="BTCUSDT", side="", size="0", seq=seq + 1, updated_time=at + 2_000
        ),
        position_snapshot(at + 3_000),
        # No fill says why: reported on the tick past close_cause_grace_ms.
        {"at": at + 5_000, "venue": "bybit", "channel": "clock"},
        *(position_snapshot(at + 3_000 + i * 5 * MINUTE) for i in range(1, 13)),
    ]  # fmt: skip
    return [r | {"account": account} for r in records]


def capture(tmp_path: Path, name: str, records: list[JSON]) -> str:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"".join(line(r) + b"\n" for r in records))
    return str(path)


def rules_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


def ingest(store: str, path: str, rules: str | None = None) -> None:
    assert main(["--store", store, *(["--rules", rules] if rules else []), "ingest", path]) == 0


def printed(capsys: pytest.CaptureFixture[str], store: str, *args: str) -> list[JSON]:
    """What ``trueup --store STORE ARGS... --json`` prints, a yes or a no alike."""
    capsys.readouterr()
    assert main(["--store", store, *args, "--json"]) in (0, 1)
    return [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]


def emitted(capsys: pytest.CaptureFixture[str], store: str, type_: str) -> list[JSON]:
    return printed(capsys, store, "events", "--emitted", "--type", type_)


def reasons(
    capsys: pytest.CaptureFixture[str], store: str, at: int, account: str = "main"
) -> list[str]:
    asked = ("--venue", "bybit", "--account", account, "--symbol", "BTCUSDT", "--at", str(at))
    (verdict,) = printed(capsys, store, "can-open", *asked)
    return list(verdict["reasons"])


def audited_risk(capsys: pytest.CaptureFixture[str], store: str, as_of: int) -> JSON:
    (document,) = printed(capsys, store, "audit", *BTC, "--as-of", str(as_of))
    return dict(document["risk"])


def cooling(until: int) -> list[str]:
    return [f"cooldown on BTCUSDT until {iso(until)}"]


def test_an_old_capture_ingested_with_rules_is_audited_and_asked_about_as_it_was_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The projection warned of the position 20 % from liquidation and cooled BTCUSDT down
    for 5 min, under the file's rules: the audit as of the warning weighs the position as
    near liquidation, and can-open inside the capture says the cooldown ends when the
    emitted COOLDOWN_STARTED says, not 30 min after the close."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    records = held_near_liquidation_then_stopped(week_ago)
    ingest(store, capture(tmp_path, "old", records), rules_file(tmp_path, "r", QUICK_AND_WARY))

    (warning,) = emitted(capsys, store, "RISK_WARNING")
    (cooldown,) = emitted(capsys, store, "COOLDOWN_STARTED")
    assert (warning["at"], warning["trigger"]) == (week_ago + 1_000, "LIQUIDATION_DISTANCE")
    until = cooldown["until"]
    assert until == week_ago + 2_000 + 5 * MINUTE
    assert until < records[-1]["at"]  # inside the capture

    assert audited_risk(capsys, store, warning["at"])["near_liquidation"] is True
    assert reasons(capsys, store, until - 1) == cooling(until)
    assert reasons(capsys, store, until) == []
    with Journal.open(store) as journal:  # the full read an account an older trueup began gets
        inputs = journal.account_inputs("bybit", "main", "BTCUSDT")
        rules = journal.rules_recorded()
        folded = audit("bybit", "main", inputs, symbol="BTCUSDT", as_of=warning["at"], rules=rules)
    (key,) = folded.keys
    risk = folded.risk(key)
    assert risk is not None and risk.near_liquidation


def test_over_http_an_old_capture_ingested_with_rules_is_answered_as_it_was_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """/v1/can-open?at= and /v1/audit?as_of= inside the capture, as the CLI answers."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    records = held_near_liquidation_then_stopped(week_ago)
    ingest(store, capture(tmp_path, "old", records), rules_file(tmp_path, "r", QUICK_AND_WARY))
    (warning,) = emitted(capsys, store, "RISK_WARNING")
    (cooldown,) = emitted(capsys, store, "COOLDOWN_STARTED")
    until = cooldown["until"]
    where = {"venue": "bybit", "account": "main", "symbol": "BTCUSDT"}
    with (
        Journal.open(store, create=False) as journal,
        running_server(journal, ApiSettings(token=TOKEN), now) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        cooled = client.get("/v1/can-open", params=where | {"at": until - 1}).json()
        free = client.get("/v1/can-open", params=where | {"at": until}).json()
        then = client.get("/v1/audit", params=where | {"as_of": warning["at"]}).json()
    assert (cooled["reasons"], free["reasons"]) == (cooling(until), [])
    assert then["risk"]["near_liquidation"] is True


def test_asked_after_every_input_of_the_capture_the_rules_it_was_judged_under_are_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half an hour after the capture's last snapshot, a day before the ingest: fresh by
    the file's hour, and the audit weighs by the file's rules too."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    records = held_near_liquidation_then_stopped(week_ago)[:3]  # held, near liquidation
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "1", "seq": 2, "updated_time": week_ago}
    listed = held | {"mark_price": "100", "liq_price": "80"}
    records.append(position_snapshot(week_ago + 2_000, listed))  # the last input
    ingest(store, capture(tmp_path, "old", records), rules_file(tmp_path, "r", QUICK_AND_WARY))
    later = week_ago + 2_000 + 30 * MINUTE

    # Not "the exchange view is 30 min old" as well, as under the defaults' 15 s.
    assert reasons(capsys, store, later) == ["the exchange holds LONG 1 BTCUSDT (idx 0, seq 2)"]
    assert audited_risk(capsys, store, later)["near_liquidation"] is True


def test_rules_recorded_after_the_capture_and_dated_after_it_do_not_reach_back_into_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As `trueup run --rules` or a worker records a change today (back to the defaults): no
    input of last week's capture was judged under it, so no answer about last week is; an
    answer about today, after today's snapshot, is."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    records = held_near_liquidation_then_stopped(week_ago)
    ingest(store, capture(tmp_path, "old", records), rules_file(tmp_path, "r", QUICK_AND_WARY))
    (warning,) = emitted(capsys, store, "RISK_WARNING")
    (cooldown,) = emitted(capsys, store, "COOLDOWN_STARTED")
    with Journal.open(store) as journal:
        assert TrueupService(journal).put_rules_in_force(RuleConfig(), "later.toml")
    today = now()
    ingest(store, capture(tmp_path, "today", [position_snapshot(today)]))

    assert audited_risk(capsys, store, warning["at"])["near_liquidation"] is True
    # The view of 5 min before: fresh by the capture's hour, not by today's 15 s.
    assert reasons(capsys, store, cooldown["until"] - 1) == cooling(cooldown["until"])
    assert reasons(capsys, store, cooldown["until"]) == []
    (stale,) = reasons(capsys, store, today + 30_000)
    assert stale.startswith("the exchange view is 30 s old")


def test_two_captures_ingested_with_different_rules_are_each_answered_under_their_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture of a week ago with a 5 min cooldown, then one of three days ago with a
    20 min one: each close cooled the symbol down as its own rules said, and can-open inside
    each capture says so, the later rules recorded before neither's inputs."""
    store = str(tmp_path / "journal.db")
    week_ago, days_ago = now() - 7 * DAY, now() - 3 * DAY
    first = held_near_liquidation_then_stopped(week_ago)
    second = held_near_liquidation_then_stopped(days_ago, position_id="p-2", seq=10)
    slower = QUICK_AND_WARY.replace("cooldown_ms = 300000", "cooldown_ms = 1200000")
    ingest(store, capture(tmp_path, "a", first), rules_file(tmp_path, "a", QUICK_AND_WARY))
    ingest(store, capture(tmp_path, "b", second), rules_file(tmp_path, "b", slower))

    cooldowns = [e["until"] for e in emitted(capsys, store, "COOLDOWN_STARTED")]
    assert cooldowns == [week_ago + 2_000 + 5 * MINUTE, days_ago + 2_000 + 20 * MINUTE]
    for until in cooldowns:
        assert reasons(capsys, store, until - 1) == cooling(until)
        assert reasons(capsys, store, until) == []


def test_rules_recorded_for_another_accounts_capture_are_not_in_force_for_this_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two accounts' captures of the same hour, ingested one after the other, each with its
    rules file: the projection judged every input of main under the first file's hour of
    freshness (the second's RulesSet judged main's keys again, but dated today), every
    input of other under the second's 15 s. A minute after a snapshot, main's view is
    fresh and other's is not."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    strict = QUICK_AND_WARY.replace("freshness_limit_ms = 3600000", "freshness_limit_ms = 15000")
    main_records = held_near_liquidation_then_stopped(week_ago)
    other_records = held_near_liquidation_then_stopped(week_ago, account="other")
    ingest(store, capture(tmp_path, "a", main_records), rules_file(tmp_path, "a", QUICK_AND_WARY))
    ingest(store, capture(tmp_path, "b", other_records), rules_file(tmp_path, "b", strict))
    minute_after_a_snapshot = week_ago + 3_000 + 5 * MINUTE + MINUTE

    assert reasons(capsys, store, minute_after_a_snapshot) == []
    (stale,) = reasons(capsys, store, minute_after_a_snapshot, account="other")
    assert stale.startswith("the exchange view is 60 s old")


def test_in_a_live_journal_rules_dated_in_order_are_in_force_from_their_instant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As `trueup run` records them: a change to 5 s of freshness at T0 + 10 s, between
    inputs dated before and after it. Asked a moment before it, the view of T0 + 1 s is fresh
    by the 15 s then in force, though inputs recorded after the change exist (dated after
    it, so not yet as of then); asked at it, stale."""
    store = str(tmp_path / "journal.db")
    records = [
        intent(T0, kind="account_mode", mode="LIVE"),
        position_snapshot(T0 + 1_000),
        rule_changes.record(T0 + 10_000, RuleConfig(freshness_limit_ms=5_000), "rules.toml"),
        intent(T0 + 20_000, kind="account_mode", mode="LIVE"),
    ]
    ingest(store, capture(tmp_path, "live", records))

    assert reasons(capsys, store, T0 + 9_999) == []
    (stale,) = reasons(capsys, store, T0 + 10_000)
    assert stale.startswith("the exchange view is 9 s old")


def test_asked_after_the_capture_before_a_later_change_the_capture_rules_are_in_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A minute after the capture's last snapshot, days before a change recorded after every
    input of it: no input dated by then came after the change, so it is not in force, though
    the projection's state saved since holds it."""
    store = str(tmp_path / "journal.db")
    week_ago = now() - 7 * DAY
    records = held_near_liquidation_then_stopped(week_ago)
    ingest(store, capture(tmp_path, "old", records), rules_file(tmp_path, "r", QUICK_AND_WARY))
    with Journal.open(store) as journal:
        assert TrueupService(journal).put_rules_in_force(RuleConfig(), "later.toml")
        projection = ReconciliationProjection(journal)
        projection.catch_up()
        projection.checkpoint()  # as a clean stop does: the state saved holds the change

    assert reasons(capsys, store, records[-1]["at"] + MINUTE) == []  # not stale by 15 s


def test_rules_are_in_force_at_an_instant_if_dated_by_then_or_applied_to_an_input_by_then() -> None:
    """An ingest today of last week's capture: its rules recorded at journal position 10,
    dated today, its inputs at 11 to 20, dated last week; a run's change at 30, tomorrow."""
    today = T0 + 7 * DAY
    ingested = Recorded(10, today, RuleConfig(cooldown_ms=MINUTE))
    later = Recorded(30, today + DAY, RuleConfig(cooldown_ms=HOUR))
    recorded = RulesInForce([later, ingested])
    assert recorded.at(T0 + HOUR) == RuleConfig()  # by their instants alone: none yet
    assert recorded.at(T0 + HOUR, applied_to=11) == ingested.rules
    assert recorded.at(T0 + HOUR, applied_to=10) == RuleConfig()  # not applied to itself
    assert recorded.at(today + DAY - 1, applied_to=20) == ingested.rules
    assert recorded.at(today + DAY, applied_to=20) == later.rules
    assert recorded.at(None) == later.rules
    assert recorded.dated_after(T0 + HOUR, upto=10)
    assert not recorded.dated_after(today, upto=29)


def test_rules_dated_after_an_instant_recorded_before_it_run_no_timer_past_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A close by hand: a push shows p-1 flat at T0 + 1 s, its fill (of T0 + 0.9 s)
    comes at T0 + 1.5 s, within close_cause_grace_ms. Rules dated a minute later are
    recorded before that fill: in force at T0 + 2 s, but the replay as of then does not
    end the close's grace at their instant and cool BTCUSDT down for a stop-loss."""
    t0 = now() - DAY
    flat = position_frame(
        t0 + 1_000, symbol="BTCUSDT", side="", size="0", seq=3, updated_time=t0 + 1_000
    )
    records = [
        intent(t0, kind="account_mode", mode="LIVE"),
        position_snapshot(t0 + 50),
        opened(t0 + 100, "p-1", "BTCUSDT", "1"),
        position_frame(
            t0 + 200, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=t0 + 200
        ),
        flat,
        rule_changes.record(t0 + MINUTE, RuleConfig(pnl_tolerance=Decimal("0.02")), "later"),
        {"at": t0 + 1_200, "channel": "clock"},
        execution_frame(
            t0 + 1_500,
            dict(
                symbol="BTCUSDT", exec_id="e-2", order_id="o-2", side="Sell", exec_qty="1",
                exec_price="99000", closed_size="1", exec_time=t0 + 900, seq=2,
            ),
        ),
    ]  # fmt: skip
    whole, before = str(tmp_path / "whole.db"), str(tmp_path / "before.db")
    ingest(whole, capture(tmp_path, "whole", records))
    ingest(before, capture(tmp_path, "before", [r for r in records if r["at"] <= t0 + 2_000]))

    assert reasons(capsys, before, t0 + 2_000) == []
    assert reasons(capsys, whole, t0 + 2_000) == []


def test_a_second_change_of_rules_runs_out_no_grace_the_first_did_not() -> None:
    """A close awaits its cause (flat at T0 + 10 s, grace 3 s); the account's time stays there.
    Two changes dated today: the second, shortening the grace to 1 s, still judges the
    account as of its own time, not as of the first change's date, and closes nothing."""
    t0 = T0
    records: list[JSON] = [
        intent(t0, kind="account_mode", mode="LIVE"),
        opened(t0 + 100, "p-1", "BTCUSDT", "1"),
        position_frame(t0 + 200, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=t0),
        position_frame(
            t0 + 10_000, symbol="BTCUSDT", side="", size="0", seq=2, updated_time=t0 + 10_000
        ),
    ]
    today = now()
    first = RuleConfig(drift_threshold_pct=Decimal("4"))
    second = RuleConfig(drift_threshold_pct=Decimal("4"), close_cause_grace_ms=1_000)
    changes = [
        rule_changes.record(today, first, "a.toml"),
        rule_changes.record(today + 1_000, second, "b.toml"),
    ]
    emitted = reconcile([accepted(r) for r in [*records, *changes]])
    assert [e.type for e in emitted] == []
    # Once the account's own time passes the shortened grace, the close is told.
    later = reconcile([accepted(r) for r in [*records, *changes, tick(t0 + 11_000)]])
    assert [e.type for e in later] == ["POSITION_CLOSED", "COOLDOWN_STARTED"]
