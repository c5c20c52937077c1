"""A SQLite journal's connections wait for another's write lock in steps of a millisecond or
two, give up after their timeout with SQLite's own error, and lose no row by waiting."""

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from trueup.adapters.store import sqlite_lock_waits
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.sqlite_lock_waits import (
    COARSE_WAIT_S,
    FINE_FOR_S,
    FINE_WAIT_S,
    FIRST_WAIT_S,
    WaitingConnection,
    waiting,
)


class Clock:
    """time.monotonic and time.sleep as ``waiting`` sees them: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    seen = SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep)
    monkeypatch.setattr(sqlite_lock_waits, "time", seen)
    return clock


def busy(code: int = sqlite3.SQLITE_BUSY) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    return error


def locked_for(tries: int, code: int = sqlite3.SQLITE_BUSY) -> Callable[[], list[int]]:
    """A call that finds the database locked ``tries`` times, then answers: its count."""
    calls = [0]

    def call() -> list[int]:
        calls[0] += 1
        if calls[0] <= tries:
            raise busy(code)
        return calls

    return call


def test_a_young_wait_looks_again_within_a_few_milliseconds(clock: Clock) -> None:
    assert waiting(locked_for(6), 10.0) == [7]
    assert clock.pauses == [FIRST_WAIT_S * 2**n for n in range(3)] + [FINE_WAIT_S] * 3
    assert max(clock.pauses) <= 0.002


def test_a_lock_held_long_is_looked_at_less_often(clock: Clock) -> None:
    waiting(locked_for(200), 10.0)
    late = [p for p in clock.pauses if p == COARSE_WAIT_S]
    assert late and clock.pauses[-1] == COARSE_WAIT_S
    fine = clock.pauses[: len(clock.pauses) - len(late)]
    assert sum(fine) == pytest.approx(FINE_FOR_S, abs=FINE_WAIT_S)


def test_a_wait_gives_up_after_the_timeout_with_sqlites_own_error(clock: Clock) -> None:
    with pytest.raises(sqlite3.OperationalError, match="database is locked") as raised:
        waiting(locked_for(10**6), 1.5)
    assert raised.value.sqlite_errorcode == sqlite3.SQLITE_BUSY
    assert 1.5 <= sum(clock.pauses) < 1.5 + COARSE_WAIT_S


@pytest.mark.parametrize("code", [sqlite3.SQLITE_BUSY_SNAPSHOT, sqlite3.SQLITE_LOCKED])
def test_what_no_wait_mends_is_raised_at_once(clock: Clock, code: int) -> None:
    with pytest.raises(sqlite3.OperationalError):
        waiting(locked_for(1, code), 10.0)
    assert clock.pauses == []


def test_a_recovering_log_is_waited_out(clock: Clock) -> None:
    assert waiting(locked_for(2, sqlite3.SQLITE_BUSY_RECOVERY), 10.0) == [3]


def holding_the_write_lock(path: Path, release: threading.Event) -> threading.Thread:
    """Another connection holds the write lock until ``release`` is set."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        taken.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    return thread


def table_of_rows(path: Path, lock_timeout_s: float) -> WaitingConnection:
    """A file with a table of rows, and a connection of ours to it."""
    waiter = sqlite_lock_waits.connect(str(path), lock_timeout_s, isolation_level=None)
    waiter.execute("PRAGMA journal_mode=WAL")
    waiter.execute("CREATE TABLE rows (n INTEGER)")
    return waiter


def test_rows_drawn_from_an_iterator_are_all_stored_after_a_wait(tmp_path: Path) -> None:
    path = tmp_path / "rows.db"
    waiter = table_of_rows(path, 10.0)
    release = threading.Event()
    holder = holding_the_write_lock(path, release)
    threading.Timer(0.05, release.set).start()
    waiter.executemany("INSERT INTO rows VALUES (?)", ((n,) for n in range(100)))
    holder.join()
    assert waiter.execute("SELECT count(*), sum(n) FROM rows").fetchone() == (100, 4950)


def test_a_lock_held_past_the_timeout_is_the_error_sqlite_gives(tmp_path: Path) -> None:
    path = tmp_path / "held.db"
    waiter = table_of_rows(path, 0.05)
    release = threading.Event()
    holder = holding_the_write_lock(path, release)
    try:
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            waiter.execute("INSERT INTO rows VALUES (1)")
    finally:
        release.set()
        holder.join()
    waiter.execute("INSERT INTO rows VALUES (1)")  # once let go, taken at once


def test_a_journal_on_sqlite_waits_in_these_steps(tmp_path: Path) -> None:
    with Journal.open(str(tmp_path / "journal.db")) as journal:
        datastore = journal.recorder.datastore  # type: ignore[attr-defined]
        with datastore.get_connection(commit=False) as connection:
            assert isinstance(connection._sqlite_conn, WaitingConnection)
            assert connection._sqlite_conn.lock_timeout_s == 10.0
