"""Reading one stream's stored states and their journal positions, and nothing else, as fast
as each database allows.

eventsourcing's ``select_events`` builds a StoredEvent (and a UUID) per row, and gives no
row's position in the journal; a replay needs only the state bytes, and an audit each
input's position (what rules were recorded before it), so these read those columns alone,
through the recorder's own connection and table, with parameterised SQL.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from trueup.adapters.store.row_queries import StreamRow, for_database, generic_rows, postgres_row

if TYPE_CHECKING:  # imported where used: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresAggregateRecorder

# (stream, after version, at most) -> its rows, ascending
StateReader = Callable[[UUID, int, int], list[StreamRow]]


def state_reader(recorder: ProcessRecorder) -> StateReader:
    return for_database(recorder, _sqlite, _postgres, _generic)


def _sqlite(recorder: SQLiteAggregateRecorder) -> StateReader:
    statement = (
        f"SELECT originator_version, rowid, state FROM {recorder.events_table_name} "  # noqa: S608 - the library's own table name
        "WHERE originator_id=? AND originator_version>? ORDER BY originator_version LIMIT ?"
    )

    def read(stream: UUID, after: int, limit: int) -> list[StreamRow]:
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, (stream.hex, after, limit))
            return [StreamRow(*row) for row in cursor.fetchall()]

    return read


def _postgres(recorder: "PostgresAggregateRecorder") -> StateReader:
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT originator_version, notification_id, state FROM {schema}.{table} "
        "WHERE originator_id = %s AND originator_version > %s "
        "ORDER BY originator_version LIMIT %s"
    ).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )

    def read(stream: UUID, after: int, limit: int) -> list[StreamRow]:
        with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
            cursor.execute(statement, (stream, after, limit), prepare=True)
            return [postgres_row(row) for row in cursor.fetchall()]

    return read


def _generic(recorder: ProcessRecorder) -> StateReader:
    def read(stream: UUID, after: int, limit: int) -> list[StreamRow]:
        page = recorder.select_events(stream, gt=after, limit=limit)
        return generic_rows(recorder, stream, [(s.originator_version, s.state) for s in page])

    return read
