"""An operator's decision acts once: two fix-stales at the same moment on one journal close
each stale record once between them, and each says what it did itself and what the other
had done first; of two identical trigger commands judged at once, one is recorded."""

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.cli_output import json_lines
from tests.inputs import ACCOUNT, T0, event, intent, line
from tests.triggers import add, position, price
from trueup.adapters.store.journal import Appended, Decided, Decision, Journal
from trueup.application.answers import Cleanup, StaleRecord, TriggerCommandReport
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, TriggerCommanded
from trueup.domain.instants import iso
from trueup.domain.keys import decision_key
from trueup.runners.cli import main

STALE = 16
PAPER = {"category": "linear", "position_idx": 0, "side": "Buy", "mode": "PAPER"}
CLOSED = re.compile(
    r"closed (\d+) local record\(s\) with MANUAL_CLEANUP by (\w+)"
    r"(?:; (\d+) already closed by (\w+))?$"
)


@pytest.fixture
def leftovers(store_url: str, tmp_path: Path) -> str:
    """A journal of one LIVE account holding STALE paper leftovers, each a stale record."""
    records = [intent(T0 + 1_000, kind="account_mode", mode="LIVE")] + [
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id=f"p-{n}",
            symbol=f"COIN{n}USDT",
            qty="1",
            **PAPER,
        )
        for n in range(STALE)
    ]
    capture = tmp_path / "leftovers.jsonl"
    capture.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
    assert main(["--store", store_url, "ingest", str(capture)]) == 0
    return store_url


@contextmanager
def writes_held(store_url: str) -> Iterator[None]:
    """Every write to the journal waits until the block ends, while reads go on: on SQLite
    another connection holds the write lock; on PostgreSQL another transaction holds the
    events table in ROW SHARE mode, which only the EXCLUSIVE lock every insert of
    eventsourcing's takes first waits on (not a read, nor opening the journal)."""
    if store_url.startswith("sqlite://"):
        holder = sqlite3.connect(store_url.removeprefix("sqlite://"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.close()
        return
    with psycopg.connect(store_url) as connection:
        connection.execute("LOCK TABLE trueup_events IN ROW SHARE MODE")
        yield
        connection.rollback()


def fix_stale(store_url: str, operator: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store_url]
    command += ["fix-stale", "--force", "--yes", "--operator", operator]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as it is printed
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    # One stuck before it lists anything would hold the test's reads forever: killed, its
    # listing ends short and the test fails.
    watchdog = threading.Timer(120, process.kill)
    watchdog.daemon = True
    watchdog.start()
    return process


def listed(process: subprocess.Popen[str]) -> list[str]:
    """The stale records the command lists, read as it prints them: it has decided what to
    close by then, and goes on to record it."""
    assert process.stdout is not None
    found = [process.stdout.readline() for _ in range(STALE)]
    assert all("PAPER_LEFTOVER" in record for record in found), found
    return found


def closed_line(process: subprocess.Popen[str]) -> tuple[int, str, int, str | None]:
    """What the command said it did: closed N by whom, and M already closed by whom."""
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err, err
    found = CLOSED.fullmatch(out.strip().splitlines()[-1])
    assert found is not None, out
    closed, by, already, other = found.groups()
    return int(closed), by, int(already or 0), other


def test_two_fix_stales_deciding_at_once_close_each_record_once_and_say_who_did(
    leftovers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with writes_held(leftovers):
        alice, bob = fix_stale(leftovers, "alice"), fix_stale(leftovers, "bob")
        # Both have read the same sixteen stale records, and neither has recorded a close.
        assert listed(alice) == listed(bob)

    reports = {report[1]: report for report in (closed_line(alice), closed_line(bob))}

    cleans = json_lines(capsys, leftovers, "events", "--type", "LocalPositionCleaned", "--json")
    cleaned = json_lines(capsys, leftovers, "events", "--type", "POSITION_CLEANED", "--json")
    assert len(cleans) == STALE
    assert len({c["position_id"] for c in cleans}) == STALE
    assert sorted(c["position_id"] for c in cleaned) == sorted(c["position_id"] for c in cleans)
    by = Counter(c["operator"] for c in cleaned)
    # Each said how many it closed itself, which the journal bears out, and who had closed
    # the rest of what it chose; together they closed each record once.
    for operator, (closed, _, already, other) in reports.items():
        assert closed == by[operator]
        assert closed + already == STALE
        assert other is None if already == 0 else other != operator
    assert sum(closed for closed, *_ in reports.values()) == STALE
    assert main(["--store", leftovers, "fix-stale", "--dry-run"]) == 0
    assert capsys.readouterr().out == "no stale local positions\n"


def test_a_fix_stale_whose_records_another_closes_while_it_asks_records_nothing(
    leftovers: str,
) -> None:
    with Journal.open(leftovers) as journal:
        service = TrueupService(journal)
        meanwhile = []

        def bob_closes_them_first(chosen: list[StaleRecord]) -> bool:
            meanwhile.append(service.clean_stale(Cleanup.ALL, "bob"))
            return True

        report = service.clean_stale(Cleanup.ALL, "alice", confirm=bob_closes_them_first)

        (first,) = meanwhile
        assert len(first.closed) == STALE
        assert report.closed == []
        assert {(r.position_id, d.by) for r, d in report.already} == {
            (f"p-{n}", "bob") for n in range(STALE)
        }
        cleans = list(journal.inputs_of_type("LocalPositionCleaned"))
        assert len(cleans) == STALE
        assert {e.operator for _, e in cleans} == {"bob"}  # type: ignore[attr-defined]


def test_the_same_close_from_another_process_in_the_same_millisecond_is_not_its_own(
    leftovers: str,
) -> None:
    """The very same line (one operator, one instant) is one input: the journal keeps it
    once, and tells the second appender it was another's, not its own earlier try."""
    with Journal.open(leftovers) as journal, Journal.open(leftovers) as other:
        record = TrueupService(journal).stale_records()[0]
        opening = str(record.opened_at)
        key = decision_key("bybit", ACCOUNT, "clean_position", record.position_id, opening)
        decision = Decision(key, "alice")
        close = event(
            {
                "at": T0 + 5_000,
                "venue": "bybit",
                "account": ACCOUNT,
                "channel": "operator",
                "data": {
                    "action": "clean_position",
                    "position_id": record.position_id,
                    "exit_reason": "MANUAL_CLEANUP",
                    "operator": "alice",
                },
            }
        )
        first = journal.append([close], {close.input_id: decision})
        second = other.append([close], {close.input_id: decision})

        assert (first.stored, first.taken) == (1, ())
        assert (second.stored, second.duplicates) == (0, 0)
        assert second.taken == ((close, Decided(close.input_id, close.at, "alice")),)


def test_two_confirms_judged_at_once_request_the_order_once_and_the_second_is_told(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fired = [position(T0, "Buy", 2), add(T0 + 1, level="110"), price(T0 + 2, 110)]
    capture = tmp_path / "fired.jsonl"
    capture.write_bytes(b"\n".join(line(r) for r in fired) + b"\n")
    assert main(["--store", store_url, "ingest", str(capture)]) == 0
    confirm = {"command": "confirm", "trigger_id": "t1"}
    with Journal.open(store_url) as journal, Journal.open(store_url) as elsewhere:
        bob: list[TriggerCommandReport] = []
        appending = journal.append

        def bob_confirms_first(
            events: list[InputEvent], decisions: dict[str, Decision] | None = None
        ) -> Appended:
            # Alice's confirm is judged (the trigger waits on one); bob's goes in now.
            bob.append(
                TrueupService(elsewhere).command_trigger(
                    "bybit", "main", {**confirm, "operator": "bob"}, at=T0 + 5
                )
            )
            return appending(events, decisions)

        monkeypatch.setattr(journal, "append", bob_confirms_first)
        alice = TrueupService(journal).command_trigger(
            "bybit", "main", {**confirm, "operator": "alice"}, at=T0 + 5
        )

        (first,) = bob
        assert (first.trigger_id, first.refused) == ("t1", [])
        assert alice.refused == [f"confirm of trigger t1 already recorded by bob at {iso(T0 + 5)}"]
        assert alice.input_id == ""  # not recorded
        stored = [event for _, event in journal.all_events()]
        confirms = [
            e for e in stored if isinstance(e, TriggerCommanded) and e.command.value == "confirm"
        ]
        assert [c.operator for c in confirms] == ["bob"]
        said = Counter(e.type for e in stored if isinstance(e, Emitted))
        assert (said["ORDER_REQUESTED"], said["TRIGGER_REFUSED"]) == (1, 0)


def test_a_claimed_decision_is_held_by_its_first_claimant_and_an_input_after_it_is_not_stored(
    store_url: str,
) -> None:
    """The executor claims an order just before sending it, with no input of its own; an
    operator withdrawing the order claims the same key with an input. Whoever comes first
    holds it: a claim after is told who, an input after is not stored."""
    with Journal.open(store_url) as journal, Journal.open(store_url) as other:
        key = decision_key("bybit", ACCOUNT, "send", "d-1")
        assert journal.claim(key, by="executor.bybit.main", at=T0 + 1) is None
        assert journal.claim(key, by="executor.bybit.main", at=T0 + 2) == Decided(
            "", T0 + 1, "executor.bybit.main"
        )  # an executor that died after claiming is told the claim is its own kind's
        withdraw = position(T0 + 3, "Buy", 1)  # any input carrying the same decision
        appended = other.append(
            [event(withdraw)], {event(withdraw).input_id: Decision(key, "alice")}
        )
        assert (appended.stored, appended.taken[0][1]) == (
            0,
            Decided("", T0 + 1, "executor.bybit.main"),
        )
        assert other.claim(decision_key("bybit", ACCOUNT, "send", "d-2"), by="alice", at=T0) is None
