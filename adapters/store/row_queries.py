"""Reading chosen rows in one query: some versions of one stream (with their journal
positions), every row of many streams, or the last version of many streams.

eventsourcing reads one stream's range at a time; the audit index needs a few hundred
scattered versions of an account stream at once, and an append needs the owner rows of
every intent in its batch and the heads of the streams it writes to. These read them
through the recorder's own connection and table, with parameterised SQL (SQLite gets a
placeholder per value, in a few fixed list sizes so its statement cache keeps them).
"""

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.persistence import ProcessRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

from trueup.adapters.store.account_clock import END_BYTES, START_BYTES

if TYPE_CHECKING:  # imported where used: a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresAggregateRecorder
    from psycopg.sql import Composed


class StreamRow(NamedTuple):
    """A row of a stream: its version there, its position in the journal, its state."""

    version: int
    position: int
    state: bytes


# (stream, versions) -> those rows, in no particular order
VersionReader = Callable[[UUID, Sequence[int]], list[StreamRow]]
# (streams) -> [(stream, state)] for every row of each, in no particular order
StreamsReader = Callable[[Sequence[UUID]], list[tuple[UUID, bytes]]]


class Head(NamedTuple):
    """A stream's last row: its version, and the ends of its state (account_clock.py's
    START_BYTES and END_BYTES of it), all an appender needs of it."""

    version: int
    start: bytes
    end: bytes


# (streams) -> {stream: its last row}, for those that have rows
HeadsReader = Callable[[Sequence[UUID]], dict[UUID, Head]]

LIST_SIZES = (1, 8, 64, 512)  # the longest list one query takes; more go in several
T = TypeVar("T")


def batches(values: Sequence[T]) -> list[list[T]]:
    """``values`` in lists no longer than one query takes."""
    longest = LIST_SIZES[-1]
    return [list(values[i : i + longest]) for i in range(0, len(values), longest)]


def for_database(
    recorder: ProcessRecorder,
    sqlite: Callable[[SQLiteAggregateRecorder], T],
    postgres: Callable[["PostgresAggregateRecorder"], T],
    generic: Callable[[ProcessRecorder], T],
) -> T:
    """What ``sqlite``, ``postgres`` or (any other store) ``generic`` makes of the recorder."""
    if isinstance(recorder, SQLiteAggregateRecorder):
        return sqlite(recorder)
    found = postgres_recorder(recorder)
    if found is not None:
        return postgres(found)
    return generic(recorder)


def version_reader(recorder: ProcessRecorder) -> VersionReader:
    return for_database(recorder, _sqlite_versions, _postgres_versions, _generic_versions)


def streams_reader(recorder: ProcessRecorder) -> StreamsReader:
    return for_database(recorder, _sqlite_streams, _postgres_streams, _generic_streams)


def heads_reader(recorder: ProcessRecorder) -> HeadsReader:
    return for_database(recorder, _sqlite_heads, _postgres_heads, _generic_heads)


def postgres_recorder(recorder: ProcessRecorder) -> "PostgresAggregateRecorder | None":
    if "eventsourcing.postgres" in sys.modules:  # else no recorder can be a PostgreSQL one
        from eventsourcing.postgres import PostgresAggregateRecorder

        if isinstance(recorder, PostgresAggregateRecorder):
            return recorder
    return None


def _padded(values: list[T]) -> list[T]:
    """``values`` repeated at the end up to the next list size (IN ignores repeats)."""
    size = next(s for s in LIST_SIZES if s >= len(values))
    return values + [values[-1]] * (size - len(values))


# (values for the list, the parameters ahead of it) -> the rows found, as the driver gives them
ListReader = Callable[[Sequence[Any], Sequence[Any]], list[Any]]


def sqlite_list_reader(
    recorder: SQLiteAggregateRecorder, statement: Callable[[int], str]
) -> ListReader:
    """A reader of the rows ``statement(size)`` finds with a list of ``size`` placeholders:
    the values asked for in lists of LIST_SIZES, after the parameters ahead of the list."""
    statements = {size: statement(size) for size in LIST_SIZES}

    def read(values: Sequence[Any], before: Sequence[Any] = ()) -> list[Any]:
        found: list[Any] = []
        with recorder.datastore.transaction(commit=False) as cursor:
            for batch in batches(values):
                listed = _padded(batch)
                cursor.execute(statements[len(listed)], [*before, *listed])
                found += cursor.fetchall()
        return found

    return read


def sqlite_placeholders(size: int) -> str:
    return ",".join("?" * size)


def _sqlite_versions(recorder: SQLiteAggregateRecorder) -> VersionReader:
    rows = sqlite_list_reader(
        recorder,
        lambda size: (
            f"SELECT originator_version, rowid, state FROM {recorder.events_table_name} "  # noqa: S608 - the library's own table name, and placeholders
            f"WHERE originator_id=? AND originator_version IN ({sqlite_placeholders(size)})"
        ),
    )

    def read(stream: UUID, versions: Sequence[int]) -> list[StreamRow]:
        return [StreamRow(*row) for row in rows(versions, [stream.hex])]

    return read


def _sqlite_streams(recorder: SQLiteAggregateRecorder) -> StreamsReader:
    rows = sqlite_list_reader(
        recorder,
        lambda size: (
            f"SELECT originator_id, state FROM {recorder.events_table_name} "  # noqa: S608 - the library's own table name, and placeholders
            f"WHERE originator_id IN ({sqlite_placeholders(size)})"
        ),
    )

    def read(streams: Sequence[UUID]) -> list[tuple[UUID, bytes]]:
        return [(UUID(row[0]), row[1]) for row in rows([s.hex for s in streams], ())]

    return read


def _sqlite_heads(recorder: SQLiteAggregateRecorder) -> HeadsReader:
    # A MAX per stream, in a correlated subquery: SQLite finds each at the end of the primary
    # key, where "WHERE originator_id IN (...) GROUP BY" would read every row of each stream.
    table = recorder.events_table_name
    rows = sqlite_list_reader(
        recorder,
        lambda size: (
            f"WITH wanted(stream) AS (VALUES {','.join(['(?)'] * size)}) "  # noqa: S608 - the library's own table name, and placeholders
            f"SELECT stream, originator_version, substr(state, 1, {START_BYTES}), "
            f"substr(state, -{END_BYTES}) FROM wanted JOIN {table} "
            "ON originator_id = stream AND originator_version = "
            f"(SELECT MAX(originator_version) FROM {table} WHERE originator_id = stream)"
        ),
    )

    def read(streams: Sequence[UUID]) -> dict[UUID, Head]:
        by_hex = {s.hex: s for s in streams}
        return {
            by_hex[stream]: Head(version, start, end)
            for stream, version, start, end in rows(list(by_hex), ())
        }

    return read


def _postgres_statement(recorder: "PostgresAggregateRecorder", text: str) -> "Composed":
    """``text`` with ``{schema}.{table}`` naming the recorder's table of events."""
    from psycopg.sql import SQL, Identifier

    return SQL(text).format(
        schema=Identifier(recorder.datastore.schema),
        table=Identifier(recorder.events_table_name),
    )


def postgres_list_rows(
    recorder: "PostgresAggregateRecorder",
    statement: "Composed | str",
    values: Sequence[Any],
    *before: object,
) -> Iterator[dict[str, Any]]:
    """The rows ``statement`` finds for ``values``, asked a batch at a time (after ``before``,
    the parameters that precede the batch)."""
    with recorder.datastore.get_connection() as connection, connection.cursor() as cursor:
        for batch in batches(values):
            cursor.execute(statement, (*before, batch), prepare=True)
            yield from cursor.fetchall()


def _postgres_versions(recorder: "PostgresAggregateRecorder") -> VersionReader:
    statement = _postgres_statement(
        recorder,
        "SELECT originator_version, notification_id, state FROM {schema}.{table} "
        "WHERE originator_id = %s AND originator_version = ANY(%s)",
    )

    def read(stream: UUID, versions: Sequence[int]) -> list[StreamRow]:
        return [
            postgres_row(row) for row in postgres_list_rows(recorder, statement, versions, stream)
        ]

    return read


def _postgres_streams(recorder: "PostgresAggregateRecorder") -> StreamsReader:
    statement = _postgres_statement(
        recorder, "SELECT originator_id, state FROM {schema}.{table} WHERE originator_id = ANY(%s)"
    )

    def read(streams: Sequence[UUID]) -> list[tuple[UUID, bytes]]:
        return [
            (_uuid(row["originator_id"]), bytes(row["state"]))
            for row in postgres_list_rows(recorder, statement, streams)
        ]

    return read


def _postgres_heads(recorder: "PostgresAggregateRecorder") -> HeadsReader:
    # A max per stream, in a subquery: found at the end of the primary key's index, where a
    # GROUP BY would read every row of each stream.
    statement = _postgres_statement(
        recorder,
        "SELECT stream, head.originator_version AS version, "  # noqa: S608 - constants, placeholders
        f"substring(head.state FROM 1 FOR {START_BYTES}) AS first_bytes, "
        "substring(head.state FROM "
        f"greatest(length(head.state) - {END_BYTES - 1}, 1)) AS last_bytes "
        "FROM unnest(%s::uuid[]) AS wanted(stream) CROSS JOIN LATERAL "
        "(SELECT originator_version, state FROM {schema}.{table} WHERE originator_id = stream "
        "ORDER BY originator_version DESC LIMIT 1) AS head",
    )

    def read(streams: Sequence[UUID]) -> dict[UUID, Head]:
        return {
            _uuid(row["stream"]): Head(
                row["version"], bytes(row["first_bytes"]), bytes(row["last_bytes"])
            )
            for row in postgres_list_rows(recorder, statement, streams)
        }

    return read


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _generic_versions(recorder: ProcessRecorder) -> VersionReader:
    def read(stream: UUID, versions: Sequence[int]) -> list[StreamRow]:
        found: list[tuple[int, bytes]] = []
        for version in versions:
            rows = recorder.select_events(stream, gt=version - 1, lte=version)
            found += [(row.originator_version, row.state) for row in rows]
        return generic_rows(recorder, stream, found)

    return read


def _generic_streams(recorder: ProcessRecorder) -> StreamsReader:
    def read(streams: Sequence[UUID]) -> list[tuple[UUID, bytes]]:
        return [(s, row.state) for s in streams for row in recorder.select_events(s)]

    return read


def _generic_heads(recorder: ProcessRecorder) -> HeadsReader:
    def read(streams: Sequence[UUID]) -> dict[UUID, Head]:
        found: dict[UUID, Head] = {}
        for stream in streams:
            last = recorder.select_events(stream, desc=True, limit=1)
            if last:
                state = last[0].state
                found[stream] = Head(
                    last[0].originator_version, state[:START_BYTES], state[-END_BYTES:]
                )
        return found

    return read


def postgres_row(row: Mapping[str, Any]) -> StreamRow:
    """A stream's row as PostgreSQL's dict rows give it."""
    return StreamRow(row["originator_version"], row["notification_id"], bytes(row["state"]))


def generic_rows(
    recorder: ProcessRecorder, stream: UUID, rows: Sequence[tuple[int, bytes]]
) -> list[StreamRow]:
    """``rows`` (version, state) of ``stream`` with their positions, found by reading the
    whole journal: no store trueup opens is read this way (SQLite and PostgreSQL are above)."""
    wanted = {version for version, _ in rows}
    positions: dict[int, int] = {}
    after = 0
    while wanted - positions.keys():
        page = recorder.select_notifications(after, 1000, inclusive_of_start=False)
        if not page:
            break
        for n in page:
            if n.originator_version in wanted and n.originator_id in (stream, stream.hex):
                positions[n.originator_version] = n.id
        after = page[-1].id
    return [StreamRow(v, positions[v], state) for v, state in rows if v in positions]
