"""How a SQLite journal's connections are tuned: only the one that appends inputs takes the
large page cache that keeps ingest fast; a connection that reads, replays or runs the
projection keeps SQLite's small default, so a worker rebuilding from the first input does not
fill 64 MB with pages it reads once."""

from pathlib import Path

from eventsourcing.sqlite import SQLiteProcessRecorder

from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.sqlite_recorder import APPENDER_CACHE
from trueup.projections.partitions import tracked_position
from trueup.projections.reconciliation import ReconciliationProjection

SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
SQLITE_DEFAULT_KIB = 2000  # PRAGMA cache_size answers -2000: 2,000 KiB
APPENDER_KIB = int(APPENDER_CACHE.rpartition("-")[2])


def cache_kib(journal: Journal) -> int:
    """The page cache of the connection the journal works through, in KiB."""
    assert isinstance(journal.recorder, SQLiteProcessRecorder)
    with journal.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA cache_size")
        return -int(cursor.fetchone()[0])


def sample_journal(tmp_path: Path) -> str:
    path = str(tmp_path / "journal.db")
    with Journal.open(path) as writer:
        writer.append([decode_line(line) for line in SAMPLE.read_bytes().splitlines()])
    return path


def test_the_connection_that_appends_inputs_takes_the_large_cache(tmp_path: Path) -> None:
    with Journal.open(str(tmp_path / "journal.db")) as journal:
        assert cache_kib(journal) == SQLITE_DEFAULT_KIB
        journal.append([decode_line(SAMPLE.read_bytes().splitlines()[0])])
        assert cache_kib(journal) == APPENDER_KIB


def test_reading_and_replaying_keep_the_small_default(tmp_path: Path) -> None:
    with Journal.open(sample_journal(tmp_path)) as journal:
        position, read = 0, 0
        while True:
            events, last = journal.inputs(position)
            read += len(events)
            if last == position:
                break
            position = last
        assert read > 0
        assert cache_kib(journal) == SQLITE_DEFAULT_KIB


def test_running_the_projection_keeps_the_small_default(tmp_path: Path) -> None:
    """A worker reads every input and writes what the rules emitted, its views and its
    position: none of it is an append of inputs."""
    with Journal.open(sample_journal(tmp_path)) as journal:
        projection = ReconciliationProjection(journal)
        projection.catch_up()
        projection.checkpoint()
        assert tracked_position(journal) == journal.last_position()
        assert cache_kib(journal) == SQLITE_DEFAULT_KIB
