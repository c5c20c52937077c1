"""Reading the journal in order for a projection: a page of rows with the states of inputs
only, as fast as each database allows.

A projection follows every row (its position is the last row read), but decodes only the
inputs: markers, index rows and emitted events, well over half the rows, are skipped.
eventsourcing's ``select_notifications`` builds a Notification and a UUID per row and
fetches every state; these read the state of input rows alone, through the recorder's own
connection and table, with parameterised SQL.
"""

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

if TYPE_CHECKING:  # imported where used: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresAggregateRecorder

INPUT_TOPIC_PREFIX = "trueup.input."


class PageRow(NamedTuple):
    """A stored row: its position, stream and version, its topic, and its state if an input's."""

    position: int
    stream: UUID | str  # as the database gives it: SQLite's hex text, PostgreSQL's UUID
    version: int
    topic: str
    state: bytes | None


# (after, at most, up to or None) -> the rows after ``after``, in order
PageReader = Callable[[int, int, int | None], list[PageRow]]


def page_reader(recorder: ProcessRecorder) -> PageReader:
    if isinstance(recorder, SQLiteAggregateRecorder):
        return _sqlite(recorder)
    if "eventsourcing.postgres" in sys.modules:  # else no recorder can be a PostgreSQL one
        from eventsourcing.postgres import PostgresAggregateRecorder

        if isinstance(recorder, PostgresAggregateRecorder):
            return _postgres(recorder)
    return _generic(recorder)


def _sqlite(recorder: SQLiteAggregateRecorder) -> PageReader:
    select = (
        "SELECT rowid, originator_id, originator_version, topic, "  # noqa: S608 - the library's own table name
        f"CASE WHEN substr(topic, 1, {len(INPUT_TOPIC_PREFIX)}) = ? THEN state END AS state "
        f"FROM {recorder.events_table_name} "
    )
    open_ended = select + "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    bounded = select + "WHERE rowid > ? AND rowid <= ? ORDER BY rowid LIMIT ?"

    def read(after: int, limit: int, upto: int | None) -> list[PageRow]:
        with recorder.datastore.transaction(commit=False) as cursor:
            if upto is None:
                cursor.execute(open_ended, (INPUT_TOPIC_PREFIX, after, limit))
            else:
                cursor.execute(bounded, (INPUT_TOPIC_PREFIX, after, upto, limit))
            return [PageRow(*row) for row in cursor.fetchall()]

    return read


def _postgres(recorder: "PostgresAggregateRecorder") -> PageReader:
    from psycopg.sql import SQL, Identifier

    select = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, "
        "CASE WHEN left(topic, {length}) = %s THEN state END AS state FROM {schema}.{table} "
    ).format(
        length=len(INPUT_TOPIC_PREFIX),
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )
    open_ended = select + SQL("WHERE notification_id > %s ORDER BY notification_id LIMIT %s")
    bounded = select + SQL(
        "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
    )

    def read(after: int, limit: int, upto: int | None) -> list[PageRow]:
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            if upto is None:
                cursor.execute(open_ended, (INPUT_TOPIC_PREFIX, after, limit), prepare=True)
            else:
                cursor.execute(bounded, (INPUT_TOPIC_PREFIX, after, upto, limit), prepare=True)
            return [
                PageRow(
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                    row["topic"],
                    None if row["state"] is None else bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]

    return read


def _generic(recorder: ProcessRecorder) -> PageReader:
    def read(after: int, limit: int, upto: int | None) -> list[PageRow]:
        page = recorder.select_notifications(after, limit, stop=upto, inclusive_of_start=False)
        return [
            PageRow(
                n.id,
                n.originator_id,
                n.originator_version,
                n.topic,
                n.state if n.topic.startswith(INPUT_TOPIC_PREFIX) else None,
            )
            for n in page
        ]

    return read
