"""Reading the journal in order for a projection: a page of rows, of which only the inputs
are fetched, as fast as each database allows; and the keys of a span's inputs, read from
the markers beside them (a key is what the input's id and receive time give: journal.py).

A projection follows every row (its position is the last row read) but reads only the
inputs: markers, index rows and emitted events, well over half the rows, are passed over
in the database. eventsourcing's ``select_notifications`` builds a Notification and a UUID
for every row; these read the inputs alone, through the recorder's own connection and
table, with parameterised SQL.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from trueup.adapters.store.row_queries import for_database

if TYPE_CHECKING:  # imported where used: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresAggregateRecorder

INPUT_TOPIC_PREFIX = "trueup.input."
_NO_END = 2**63 - 1  # the largest position either database holds: no upper bound


class PageRow(NamedTuple):
    """A stored input: its position, stream and version, its topic and its state."""

    position: int
    stream: UUID | str  # as the database gives it: SQLite's hex text, PostgreSQL's UUID
    version: int
    topic: str
    state: bytes


class Page(NamedTuple):
    """The inputs among the rows after a position, and the last row read (``after`` if none)."""

    inputs: list[PageRow]
    last: int


# (after, at most this many rows, up to or None) -> the page of the rows after ``after``
PageReader = Callable[[int, int, int | None], Page]


def page_reader(recorder: ProcessRecorder) -> PageReader:
    return for_database(recorder, _sqlite, _postgres, _generic)


def _sqlite(recorder: SQLiteAggregateRecorder) -> PageReader:
    table = recorder.events_table_name
    # Where the page ends, then its inputs: one read transaction, so both see the same rows.
    ends = (
        f"SELECT max(rowid) FROM (SELECT rowid FROM {table} "  # noqa: S608 - the library's own table name
        "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?)"
    )
    inputs = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "  # noqa: S608 - the library's own table name
        f"WHERE rowid > ? AND rowid <= ? AND substr(topic, 1, {len(INPUT_TOPIC_PREFIX)}) = ? "
        "ORDER BY rowid"
    )

    def read(after: int, limit: int, upto: int | None) -> Page:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(ends, (after, _NO_END if upto is None else upto, limit))
            last = cursor.fetchone()[0]
            if last is None:
                return Page([], after)
            cursor.execute(inputs, (after, last, INPUT_TOPIC_PREFIX))
            # _make, not PageRow(*row): the tuple is taken as it is, a page of rows each
            # read once by a worker.
            return Page(list(map(PageRow._make, cursor.fetchall())), last)

    return read


def _postgres(recorder: "PostgresAggregateRecorder") -> PageReader:
    from psycopg.sql import SQL, Identifier

    table = {
        "schema": Identifier(recorder.datastore.schema),
        "table": Identifier(recorder.events_table_name),
    }
    ends = SQL(
        "SELECT max(notification_id) AS last FROM (SELECT notification_id FROM {schema}.{table} "
        "WHERE notification_id > %s AND notification_id <= %s "
        "ORDER BY notification_id LIMIT %s) AS page"
    ).format(**table)
    inputs = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {schema}.{table} WHERE notification_id > %s AND notification_id <= %s "
        "AND left(topic, {length}) = %s ORDER BY notification_id"
    ).format(length=len(INPUT_TOPIC_PREFIX), **table)

    def read(after: int, limit: int, upto: int | None) -> Page:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(ends, (after, _NO_END if upto is None else upto, limit), prepare=True)
            found = cursor.fetchone()
            last = None if found is None else found["last"]
            if last is None:
                return Page([], after)
            cursor.execute(inputs, (after, last, INPUT_TOPIC_PREFIX), prepare=True)
            rows = [
                PageRow(
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]
            return Page(rows, last)

    return read


def _generic(recorder: ProcessRecorder) -> PageReader:
    def read(after: int, limit: int, upto: int | None) -> Page:
        page = recorder.select_notifications(after, limit, stop=upto, inclusive_of_start=False)
        rows = [
            PageRow(n.id, n.originator_id, n.originator_version, n.topic, n.state)
            for n in page
            if n.topic.startswith(INPUT_TOPIC_PREFIX)
        ]
        return Page(rows, page[-1].id if page else after)

    return read


# (after, at most this many markers, up to) -> the keys (32 hex digits) of the inputs whose
# markers those are, and the position of the last of them (``after`` if none)
KeyReader = Callable[[int, int, int], tuple[list[str], int]]


def key_reader(recorder: ProcessRecorder, marker_topic: str) -> KeyReader:
    def sqlite(recorder: SQLiteAggregateRecorder) -> KeyReader:
        return _sqlite_keys(recorder, marker_topic)

    def postgres(recorder: "PostgresAggregateRecorder") -> KeyReader:
        return _postgres_keys(recorder, marker_topic)

    def generic(recorder: ProcessRecorder) -> KeyReader:
        return _generic_keys(recorder, marker_topic)

    return for_database(recorder, sqlite, postgres, generic)


def _hex(key: UUID | str) -> str:
    # SQLite holds the keys as text (trueup writes them as UUID.hex); PostgreSQL as UUIDs.
    return key.hex if isinstance(key, UUID) else key.replace("-", "").lower()


def _sqlite_keys(recorder: SQLiteAggregateRecorder, marker_topic: str) -> KeyReader:
    query = (
        f"SELECT rowid, originator_id FROM {recorder.events_table_name} "  # noqa: S608 - the library's own table name
        "WHERE rowid > ? AND rowid <= ? AND topic = ? ORDER BY rowid LIMIT ?"
    )

    def read(after: int, limit: int, upto: int) -> tuple[list[str], int]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (after, upto, marker_topic, limit))
            rows = cursor.fetchall()
        return [_hex(row[1]) for row in rows], (rows[-1][0] if rows else after)

    return read


def _postgres_keys(recorder: "PostgresAggregateRecorder", marker_topic: str) -> KeyReader:
    from psycopg.sql import SQL, Identifier

    query = SQL(
        "SELECT notification_id, originator_id FROM {schema}.{table} "
        "WHERE notification_id > %s AND notification_id <= %s AND topic = %s "
        "ORDER BY notification_id LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )

    def read(after: int, limit: int, upto: int) -> tuple[list[str], int]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(query, (after, upto, marker_topic, limit), prepare=True)
            rows = cursor.fetchall()
        keys = [_hex(row["originator_id"]) for row in rows]
        return keys, (rows[-1]["notification_id"] if rows else after)

    return read


def _generic_keys(recorder: ProcessRecorder, marker_topic: str) -> KeyReader:
    def read(after: int, limit: int, upto: int) -> tuple[list[str], int]:
        page = recorder.select_notifications(
            after, limit, stop=upto, topics=[marker_topic], inclusive_of_start=False
        )
        return [_hex(n.originator_id) for n in page], (page[-1].id if page else after)

    return read
