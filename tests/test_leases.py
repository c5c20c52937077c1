"""One process at a time runs the projections over a journal: the lease holder. Another
stands by, and takes over within a poll once the holder is gone, kill -9 included."""

import subprocess
import sys
import time

import psycopg
import pytest

from tests.inputs import line
from tests.scenarios import busy_session
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import FileLease, Lease
from trueup.application.ingest import Ingestor
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import partition_of, tracker
from trueup.projections.reconciliation import LeaseLost, ReconciliationProjection

MAIN = partition_of("bybit", "main")
TRACKER = tracker(MAIN)

HOLD = """
import sys, time
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import FileLease, Lease
journal = Journal.open(sys.argv[1])
lease = journal.lease(sys.argv[2])
print("held" if lease.acquire() else "refused", flush=True)
time.sleep(60)
"""


def holder(store_url: str) -> subprocess.Popen[str]:
    """Another process that takes the lease and keeps it until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, store_url, TRACKER], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_lease_is_refused_while_another_process_holds_it(
    journal: Journal, store_url: str
) -> None:
    other = holder(store_url)
    try:
        lease = journal.lease(TRACKER)
        assert not lease.acquire()
        assert not lease.held()
    finally:
        other.kill()
        other.wait()


def test_a_standby_takes_over_within_a_second_of_the_holder_being_killed(
    journal: Journal, store_url: str
) -> None:
    other = holder(store_url)
    lease = journal.lease(TRACKER)
    assert not lease.acquire()
    other.kill()  # SIGKILL: the holder cleans nothing up
    other.wait()
    deadline = time.monotonic() + 1.0
    while not lease.acquire():
        assert time.monotonic() < deadline, "the lease was not freed by the holder's death"
        time.sleep(0.02)
    assert lease.held()
    lease.release()


def test_a_released_lease_can_be_taken_by_the_next(journal: Journal) -> None:
    first, second = journal.lease(TRACKER), journal.lease(TRACKER)
    assert first.acquire() and first.held()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


def test_leases_of_different_names_do_not_exclude_each_other(journal: Journal) -> None:
    one, other = journal.lease("reconciler"), journal.lease("another-projection")
    assert one.acquire() and other.acquire()
    one.release()
    other.release()


def test_a_lease_may_be_named_for_any_account(journal: Journal) -> None:
    # An account's name is the operator's: slashes, spaces and all.
    names = ("executor.bybit.desk/eu", "executor.bybit.desk eu", "executor.bybit.desk%2Feu")
    leases = [journal.lease(name) for name in names]
    assert all(lease.acquire() for lease in leases)  # three names, three leases
    assert not journal.lease(names[0]).acquire()
    for lease in leases:
        lease.release()


def test_a_projection_notices_a_lost_lease_before_its_next_write(
    journal: Journal, store_url: str
) -> None:
    lines = [line(record) for record in busy_session(400)]
    lease = journal.lease(TRACKER)
    assert lease.acquire()
    projection = ReconciliationProjection(journal, partitions=[MAIN], leases={MAIN: lease})
    Ingestor(journal).ingest(lines[:200])
    projection.catch_up()
    recorded = journal.tracked_position(TRACKER)
    lose(lease, store_url)
    Ingestor(journal).ingest(lines[200:])
    with pytest.raises(LeaseLost):
        projection.catch_up()
    assert journal.tracked_position(TRACKER) == recorded


def lose(lease: Lease, store_url: str) -> None:
    """Take the lease away as the world would: its file deleted, its session ended."""
    if isinstance(lease, FileLease):
        lease.path.unlink()
        return
    with psycopg.connect(store_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
        )


def test_a_second_leased_projection_stands_by_and_emits_nothing(journal: Journal) -> None:
    lines = [line(record) for record in busy_session(300)]
    running = LeasedProjection(journal)
    standby = LeasedProjection(journal)
    Ingestor(journal).ingest(lines)
    assert running.catch_up()
    assert standby.catch_up() == []
    assert running.holding and not standby.holding
    running.release()
    assert standby.catch_up() == []  # nothing new: the last holder recorded it all
    assert standby.holding
    standby.release()
