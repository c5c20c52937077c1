"""The journal's tables: made if missing, and refused if they are not what trueup made.

eventsourcing creates tables with CREATE TABLE IF NOT EXISTS, which passes over a table of
the same name that another application made, or that someone altered; reading it would
then fail later, obscurely. Checking the columns first turns that into one clear message.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from trueup.adapters.store.journal_format import ensure_format

if TYPE_CHECKING:  # only named here: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresProcessRecorder
    from eventsourcing.sqlite import SQLiteProcessRecorder

# table -> the names of its columns (none when it does not exist)
ColumnReader = Callable[[str], set[str]]

EVENT_COLUMNS = frozenset({"originator_id", "originator_version", "topic", "state"})
TRACKING_COLUMNS = frozenset({"application_name", "notification_id"})


class NotAJournal(Exception):
    """A table the journal needs exists, but without the columns trueup gave it."""


class NoJournal(Exception):
    """The store holds no trueup journal, and the command was not to make one."""


def prepare(
    recorder: "SQLiteProcessRecorder | PostgresProcessRecorder",
    columns: ColumnReader,
    expected: Mapping[str, frozenset[str]],
    create: bool = True,
) -> None:
    """Check the tables that exist, create those that do not, and record the journal format.
    Unless ``create``, a store without the journal's tables is NoJournal: a command that
    only reads never leaves an empty journal behind (an older journal is still upgraded)."""
    for table, wanted in expected.items():
        found = columns(table)
        if not found and not create:
            raise NoJournal("holds no trueup journal")
        missing = wanted - found
        if found and missing:
            names = ", ".join(sorted(missing))
            column = "column" if len(missing) == 1 else "columns"
            raise NotAJournal(
                f"not a trueup journal, or altered since: its table {table} has no {names} {column}"
            )
    recorder.create_table()
    ensure_format(recorder)
