"""Account partitions: each account's inputs are processed by one of sixteen partitions, each
with its own position, snapshot, views and lease, so different processes can run different
partitions and together emit exactly what one process would."""

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psycopg

from tests.inputs import T0, line
from tests.scenarios import busy_session
from tests.stored_events import by_account, emitted_in
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec, snapshots
from trueup.adapters.store.journal import Appended, Journal
from trueup.adapters.store.snapshots import Snapshot
from trueup.application.ingest import Ingestor
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import (
    ALL,
    LEGACY_TRACKER,
    PARTITIONS,
    partition_of,
    tracked_position,
    tracker,
)
from trueup.projections.reconciliation import ReconciliationProjection

ACCOUNTS = [f"bot-{i}" for i in range(12)]


def session(accounts: list[str], inputs: int = 120) -> list[bytes]:
    """Busy sessions of several accounts, interleaved as they would arrive."""
    per_account = [
        [line({**record, "account": account}) for record in busy_session(inputs, seed=i)]
        for i, account in enumerate(accounts)
    ]
    return [record for batch in zip(*per_account, strict=False) for record in batch]


def single_process(lines: list[bytes]) -> list[bytes]:
    reconciler = Reconciler()
    return [codec.encode_emitted(e) for raw in lines for e in reconciler.apply(decode_line(raw))]


def each(*projections: LeasedProjection) -> Callable[[Appended | None], None]:
    """Catch each up after a batch, as processes sharing the journal would."""

    def catch_up(appended: Appended | None) -> None:
        for projection in projections:
            projection.catch_up(appended)

    return catch_up


def test_an_account_has_the_same_partition_in_every_process_and_accounts_spread() -> None:
    script = "from trueup.projections.partitions import partition_of as p; print(p('bybit', 'x'))"
    elsewhere = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert int(elsewhere.stdout) == partition_of("bybit", "x")
    spread = {partition_of("bybit", f"account-{i}") for i in range(100)}
    assert len(spread) == PARTITIONS


def test_two_processes_running_half_the_partitions_each_emit_what_one_would(
    journal: Journal,
) -> None:
    lines = session(ACCOUNTS)
    assert len({partition_of("bybit", a) for a in ACCOUNTS}) > 4
    low = LeasedProjection(journal, range(PARTITIONS // 2))
    high = LeasedProjection(journal, range(PARTITIONS // 2, PARTITIONS))
    ingestor = Ingestor(
        journal,
        batch_size=97,
        after_flush=lambda appended: (low.catch_up(appended), high.catch_up(appended)),
    )
    ingestor.ingest(lines)
    assert low.held == tuple(range(PARTITIONS // 2))
    assert high.held == tuple(range(PARTITIONS // 2, PARTITIONS))
    stored = emitted_in(journal)
    expected = single_process(lines)
    assert by_account(stored) == by_account(expected)
    assert sorted(stored) == sorted(expected)
    low.catch_up()  # past what the other wrote last
    high.catch_up()
    assert tracked_position(journal) == journal.last_position()
    low.release()
    high.release()


def test_a_process_takes_over_only_the_partitions_nobody_holds(journal: Journal) -> None:
    lines = session(ACCOUNTS)
    first = LeasedProjection(journal, range(4))
    second = LeasedProjection(journal)
    Ingestor(
        journal, after_flush=lambda appended: (first.catch_up(appended), second.catch_up(appended))
    ).ingest(lines)
    assert first.held == (0, 1, 2, 3)
    assert second.held == tuple(range(4, PARTITIONS))
    first.release()
    second.catch_up()
    assert second.held == ALL
    assert sorted(emitted_in(journal)) == sorted(single_process(lines))
    second.release()


def test_partitions_take_over_an_older_journal_where_its_single_projection_stopped(
    journal: Journal,
) -> None:
    lines = session(ACCOUNTS[:6])
    cut = len(lines) // 2
    # As trueup of journal format 2 left it: one tracker, one whole-state snapshot.
    older = Reconciler()
    events: list[InputEvent] = [decode_line(raw) for raw in lines[:cut]]
    journal.append(events)
    emitted = [e for event in events for e in older.apply(event)]
    position = journal.last_position()
    journal.record(emitted, {LEGACY_TRACKER: position})
    journal.save_snapshot(LEGACY_TRACKER, position, snapshots.dump(Snapshot(position, older)))

    projection = ReconciliationProjection(journal)
    assert projection.position == position
    assert projection.rebuilt_from == position  # from its snapshot, not from the start
    Ingestor(journal, after_flush=projection.catch_up).ingest(lines[cut:])
    stored = emitted_in(journal)
    assert sorted(stored) == sorted(single_process(lines))  # none lost, none twice


def test_one_connection_holds_every_partition_of_a_process_on_postgresql(
    journal: Journal, store_url: str
) -> None:
    projection = LeasedProjection(journal)
    Ingestor(journal, after_flush=projection.catch_up).ingest(session(ACCOUNTS[:2], 20))
    assert projection.held == ALL
    if store_url.startswith("postgres"):
        with psycopg.connect(store_url, autocommit=True) as admin:
            row: Any = admin.execute(
                "SELECT count(DISTINCT pid), count(*) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted"
            ).fetchone()
        assert tuple(row) == (1, PARTITIONS)
    projection.release()
    for n in ALL:
        assert journal.tracked_position(tracker(n)) == journal.last_position()


def test_a_restart_loads_only_the_partitions_that_have_work(journal: Journal) -> None:
    lines = session(ACCOUNTS)
    first = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=first.catch_up).ingest(lines)
    first.checkpoint()  # as a clean stop does

    again = ReconciliationProjection(journal)  # a restart
    assert all(p.reconciler is None for p in again.partitions.values())
    tick = {"at": T0 + 10_000_000, "venue": "bybit", "account": ACCOUNTS[0], "channel": "clock"}
    Ingestor(journal, after_flush=again.catch_up).ingest([line(tick)])
    awake = {n for n, p in again.partitions.items() if p.reconciler is not None}
    assert awake == {partition_of("bybit", ACCOUNTS[0])}
    again.catch_up()  # idle: the positions of the sleeping ones are recorded all the same
    assert tracked_position(journal) == journal.last_position()
