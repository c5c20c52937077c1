"""A SQLite journal trueup makes has 16 KB pages; one an older trueup made keeps its own, and
is read and appended to as before."""

import sqlite3
from pathlib import Path

from tests.inputs import T0
from tests.test_journal import order, position
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.sqlite_recorder import PAGE_SIZE


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_journal_has_pages_of_16_kb(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal.open(str(path)) as journal:
        journal.append([position(T0 + 1_000), order(T0 + 2_000)])
    assert page_size(path) == PAGE_SIZE == 16384


def test_a_journal_of_4_kb_pages_keeps_them_and_its_inputs(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    with Journal.open(str(path)) as journal:
        journal.append([position(T0 + 1_000)])
    with sqlite3.connect(path, isolation_level=None) as older:  # as an older trueup left it
        older.execute("PRAGMA journal_mode=DELETE")
        older.execute("PRAGMA page_size=4096")
        older.execute("VACUUM")
        older.execute("PRAGMA journal_mode=WAL")
    assert page_size(path) == 4096
    with Journal.open(str(path)) as journal:
        journal.append([order(T0 + 2_000)])
        stored, _ = journal.inputs(0)
    assert page_size(path) == 4096
    assert [type(event).__name__ for _, event in stored] == ["PositionsReported", "OrdersReported"]
