"""The journal's tables: made if missing, and refused if they are not what trueup made.

eventsourcing creates tables with CREATE TABLE IF NOT EXISTS, which passes over a table of
the same name that another application made, or that someone altered; reading it would
then fail later, obscurely. Checking the columns first turns that into one clear message.
Nor are the journal's tables made beside another application's: a --store pointing at its
database by mistake would be written into, where a command that reads refuses it.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from trueup.adapters.store.journal_format import FORMAT_ROW, ensure_format
from trueup.adapters.store.location import TABLE_PREFIX

if TYPE_CHECKING:  # only named here: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresProcessRecorder
    from eventsourcing.sqlite import SQLiteProcessRecorder

# table -> the names of its columns (none when it does not exist)
ColumnReader = Callable[[str], set[str]]
# the names of every table in the store (in the schema trueup uses)
TableLister = Callable[[], set[str]]
# of tables that exist: the topic of an event stored in them (None: none), and the names
# of their tracking records (few: one per projection partition, and the format's records)
RecordSampler = Callable[[], tuple[str | None, set[str]]]

# The record eventsourcing keeps in a tracking table it made: no application's.
MIGRATION_RECORD = "__migration__"

EVENT_COLUMNS = frozenset({"originator_id", "originator_version", "topic", "state"})
TRACKING_COLUMNS = frozenset({"application_name", "notification_id"})


class NotAJournal(Exception):
    """A table the journal needs exists, but without the columns trueup gave it."""


class NoJournal(Exception):
    """The store holds no trueup journal, and the command was not to make one."""


def prepare(
    recorder: "SQLiteProcessRecorder | PostgresProcessRecorder",
    columns: ColumnReader,
    tables: TableLister,
    records: RecordSampler,
    expected: Mapping[str, frozenset[str]],
    *,
    create: bool = True,
) -> None:
    """Check the tables that exist, create those that do not, and record the journal format.
    Unless ``create``, a store without the journal's tables is NoJournal: a command that
    only reads never leaves an empty journal behind (an older journal is still upgraded).
    A store without them that holds other tables is NotAJournal: never made one; so is one
    whose tables of the same names another eventsourcing application keeps its events in."""
    found_columns = {table: columns(table) for table in expected}
    if not any(found_columns.values()):
        if not create:
            raise NoJournal("holds no trueup journal")
        others = _foreign(tables(), expected)
        if others:
            raise NotAJournal(
                f"holds no trueup journal but other tables ({others}): "
                "give trueup a store of its own (a new file, or an empty database)"
            )
    for table, wanted in expected.items():
        found = found_columns[table]
        if not found and not create:
            raise NoJournal("holds no trueup journal")
        missing = wanted - found
        if found and missing:
            names = ", ".join(sorted(missing))
            column = "column" if len(missing) == 1 else "columns"
            raise NotAJournal(
                f"not a trueup journal, or altered since: its table {table} has no {names} {column}"
            )
    if all(found_columns.values()):
        theirs = _another_applications(records)
        if theirs:
            raise NotAJournal(
                f"holds another application's {theirs}, not a trueup journal: "
                "give trueup a store of its own (a new file, or an empty database)"
            )
    # Not before: making them migrates a tracking table (eventsourcing renames an older one).
    recorder.create_table()
    ensure_format(recorder)


def _foreign(names: set[str], expected: Mapping[str, frozenset[str]]) -> str:
    """The tables no trueup made, named for a message ("" if none): a journal's other
    tables all begin with its prefix (views, snapshots), and may outlive its events."""
    prefix = f"{TABLE_PREFIX}_"
    others = sorted(n for n in names if n not in expected and not n.startswith(prefix))
    shown = ", ".join(others[:3])
    return shown + (f" and {len(others) - 3} more" if len(others) > 3 else "")


def _another_applications(records: RecordSampler) -> str:
    """What shows that the tables are another application's, in words ("" if nothing does):
    trueup records its journal's format on first opening it, and stores no topic but its own."""
    topic, tracked = records()
    if FORMAT_ROW in tracked:
        return ""
    if topic is not None:
        return "" if topic.startswith(f"{TABLE_PREFIX}.") else f"events (topic {topic!r})"
    others = sorted(n for n in tracked if n != MIGRATION_RECORD and not n.startswith("__trueup_"))
    return f"tracking records ({', '.join(others[:3])})" if others else ""
