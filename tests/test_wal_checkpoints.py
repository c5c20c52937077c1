"""A live writer's SQLite journal, and a bulk ingest's, is checkpointed by a thread of its
own: what it commits reaches the database file though no commit took the log anywhere near
the connections' ``wal_autocheckpoint`` (4,000 pages), so no commit paid for a checkpoint."""

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from tests.inputs import event
from tests.live_harness import wait_for
from tests.scenarios import busy_session
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.wal_checkpoints import BULK_EVERY_S, checkpoints_aside
from trueup.domain.rules.config import RuleConfig
from trueup.runners.live import LiveIngest

T0 = 1_762_199_000_000


def in_database_file(path: Path) -> int:
    """The last position the database file itself holds, its write-ahead log left aside."""
    try:
        with closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as connection:
            row = connection.execute("SELECT MAX(rowid) FROM stored_events").fetchone()
    except sqlite3.DatabaseError:  # caught mid-checkpoint: look again
        return -1
    return int(row[0] or 0)


def test_what_a_live_writer_commits_is_checkpointed_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal.open(str(path)) as journal:
        live = LiveIngest(journal, config=RuleConfig(), tick_ms=60_000)
        stop = threading.Event()
        writer = threading.Thread(target=live.run, args=(stop,), daemon=True)
        writer.start()
        try:
            for n in range(20):
                live.put({"at": T0 + n, "channel": "clock"})
            wait_for("the inputs stored", lambda: journal.last_position() >= 20)
            stored = journal.last_position()
            wait_for("them in the database file", lambda: in_database_file(path) == stored)
        finally:
            stop.set()
            writer.join(timeout=20)
    assert not writer.is_alive()


def test_what_a_bulk_ingest_appends_is_checkpointed_beside_it(tmp_path: Path) -> None:
    """``trueup ingest`` appends inside ``checkpoints_aside``: its batches reach the database
    file while it runs, though they leave the log far below the autocheckpoint."""
    path = tmp_path / "journal.db"
    url = f"sqlite://{path}"
    events = [event(r) for r in busy_session(300)]
    with Journal.open(url) as journal, checkpoints_aside(url, BULK_EVERY_S):
        journal.append(events)
        stored = journal.last_position()
        wait_for("them in the database file", lambda: in_database_file(path) == stored)


def test_without_them_a_small_log_stays_out_of_the_database_file(tmp_path: Path) -> None:
    # What the tests above see is the thread's doing: no commit here took the log so far.
    path = tmp_path / "journal.db"
    with Journal.open(f"sqlite://{path}") as journal:
        journal.append([event(r) for r in busy_session(300)])
        time.sleep(2 * BULK_EVERY_S)
        assert in_database_file(path) < journal.last_position()
