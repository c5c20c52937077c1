"""Where the audit index's owner rows are kept (audit_index.py): a table beside
eventsourcing's, written in the transaction that appends the inputs they index.

Keyed by the owner's id itself, then its kind and account, not by a hash of them: ids are
most often minted in order (a bot's counter or clock, and an order's id its position's with
a suffix), so a batch's rows land together near the end of the key, where hashed keys sent
each to a page of its own in the events table's primary key (journal format 6; on a journal
of 1,000,000 inputs they were most of what an ingest wrote beyond what it writes into an
empty one). Parameterised SQL only; the table's name is a constant, which is all the
f-strings below put in.
"""
# ruff: noqa: S608

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from trueup.adapters.store.column_arrays import insert_from_columns, quoted, write_rows
from trueup.adapters.store.row_queries import (
    for_database,
    postgres_list_rows,
    sqlite_list_reader,
    sqlite_placeholders,
)

if TYPE_CHECKING:  # a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresAggregateRecorder

TABLE = "trueup_owners"

# (key, version of the input that wrote it in its account stream, what it names)
OwnerRow = tuple[bytes, int, bytes]
# (keys) -> [(key, value)] for every row of each, oldest first per key
OwnerReader = Callable[[Sequence[bytes]], list[tuple[bytes, bytes]]]


@dataclass(frozen=True)
class Statements:
    """The table's SQL in one dialect."""

    table: str  # its name, qualified if need be
    create: str
    insert: str
    # On PostgreSQL: the rows as arrays of their columns, one statement (column_arrays.py).
    insert_columns: str | None = None


def _statements(
    table: str, blob: str, bigint: str, placeholder: str, options: str = ""
) -> Statements:
    p = placeholder
    return Statements(
        table=table,
        create=f"CREATE TABLE IF NOT EXISTS {table} (key {blob} NOT NULL, "
        f"version {bigint} NOT NULL, value {blob} NOT NULL, PRIMARY KEY (key, version)){options}",
        insert=f"INSERT INTO {table} (key, version, value) VALUES ({p}, {p}, {p})",
    )


# The rows in the key's own tree: with a rowid, each insert went to the table and to its key's
# index, two trees, and each read from the index to the table.
SQLITE = _statements(TABLE, "BLOB", "INTEGER", "?", " WITHOUT ROWID")


def postgres_statements(schema: str) -> Statements:
    table = f"{quoted(schema)}.{quoted(TABLE)}"
    columns = (("key", "bytea"), ("version", "bigint"), ("value", "bytea"))
    return replace(
        _statements(table, "BYTEA", "BIGINT", "%s"),
        insert_columns=insert_from_columns(table, columns),
    )


def write(cursor: Any, statements: Statements, rows: Sequence[OwnerRow]) -> None:
    """Insert ``rows`` through ``cursor``, inside the caller's transaction."""
    write_rows(cursor, statements.insert, statements.insert_columns, rows)


def owner_reader(recorder: ProcessRecorder) -> OwnerReader:
    return for_database(recorder, _sqlite_owners, _postgres_owners, _no_owners)


def _sqlite_owners(recorder: SQLiteAggregateRecorder) -> OwnerReader:
    rows = sqlite_list_reader(
        recorder,
        lambda size: (
            f"SELECT key, value FROM {SQLITE.table} "
            f"WHERE key IN ({sqlite_placeholders(size)}) ORDER BY key, version"
        ),
    )

    def read(keys: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
        return [(bytes(key), bytes(value)) for key, value in rows(keys, ())]

    return read


def _postgres_owners(recorder: "PostgresAggregateRecorder") -> OwnerReader:
    table = postgres_statements(recorder.datastore.schema).table
    select = f"SELECT key, value FROM {table} WHERE key = ANY(%s) ORDER BY key, version"

    def read(keys: Sequence[bytes]) -> list[tuple[bytes, bytes]]:
        found = postgres_list_rows(recorder, select, keys)
        return [(bytes(row["key"]), bytes(row["value"])) for row in found]

    return read


def _no_owners(recorder: ProcessRecorder) -> OwnerReader:
    raise TypeError(f"no owner table on a {type(recorder).__name__}")
