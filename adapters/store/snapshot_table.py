"""Where snapshots are kept: one row per projection, replaced by each new snapshot.

A table of its own, beside eventsourcing's, so old snapshots do not pile up in the log and
reading the latest costs one lookup. Made on first use; parameterised SQL only.
"""

from typing import TYPE_CHECKING, Protocol

from eventsourcing.sqlite import SQLiteProcessRecorder

if TYPE_CHECKING:  # a SQLite store never loads psycopg
    from eventsourcing.postgres import PostgresProcessRecorder

TABLE = "trueup_snapshots"


class SnapshotTable(Protocol):
    def save(
        self, tracker: str, position: int, state: bytes, *, unless_later: bool = False
    ) -> None:
        """Replace ``tracker``'s snapshot with one taken at journal ``position``; with
        ``unless_later``, not one taken later (by whoever holds its lease now)."""

    def load(self, tracker: str) -> tuple[int, bytes] | None:
        """``tracker``'s snapshot and its position, if it has one."""

    def trackers(self, prefix: str) -> list[str]:
        """The trackers with a snapshot whose names start with ``prefix``, sorted."""


class SQLiteSnapshots:
    def __init__(self, recorder: SQLiteProcessRecorder) -> None:
        self._datastore = recorder.datastore
        self._made = False

    def _make(self) -> None:
        if not self._made:
            with self._datastore.transaction(commit=True) as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(tracker TEXT PRIMARY KEY, position INTEGER NOT NULL, state BLOB NOT NULL)"
                )
            self._made = True

    def save(
        self, tracker: str, position: int, state: bytes, *, unless_later: bool = False
    ) -> None:
        self._make()
        kept = f" WHERE {TABLE}.position <= excluded.position" if unless_later else ""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (tracker, position, state) VALUES (?, ?, ?) "  # noqa: S608 - a constant table name
                "ON CONFLICT (tracker) DO UPDATE SET position = excluded.position, "
                f"state = excluded.state{kept}",
                (tracker, position, state),
            )

    def load(self, tracker: str) -> tuple[int, bytes] | None:
        self._make()
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT position, state FROM {TABLE} WHERE tracker = ?",  # noqa: S608 - a constant table name
                (tracker,),
            )
            row = cursor.fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def trackers(self, prefix: str) -> list[str]:
        self._make()
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT tracker FROM {TABLE} WHERE substr(tracker, 1, ?) = ? ORDER BY tracker",  # noqa: S608 - a constant table name
                (len(prefix), prefix),
            )
            return [str(row[0]) for row in cursor.fetchall()]


class PostgresSnapshots:
    def __init__(self, recorder: "PostgresProcessRecorder") -> None:
        from psycopg.sql import SQL, Identifier

        self._datastore = recorder.datastore
        table = SQL("{}.{}").format(Identifier(recorder.datastore.schema), Identifier(TABLE))
        self._create = SQL(
            "CREATE TABLE IF NOT EXISTS {} "
            "(tracker TEXT PRIMARY KEY, position BIGINT NOT NULL, state BYTEA NOT NULL)"
        ).format(table)
        self._upsert = SQL(
            "INSERT INTO {} (tracker, position, state) VALUES (%s, %s, %s) "
            "ON CONFLICT (tracker) DO UPDATE SET position = EXCLUDED.position, "
            "state = EXCLUDED.state"
        ).format(table)
        self._upsert_unless_later = SQL("{} WHERE {}.position <= EXCLUDED.position").format(
            self._upsert, table
        )
        self._select = SQL("SELECT position, state FROM {} WHERE tracker = %s").format(table)
        self._names = SQL(
            "SELECT tracker FROM {} WHERE left(tracker, %s) = %s ORDER BY tracker"
        ).format(table)
        self._made = False

    def _make(self) -> None:
        if self._made:
            return
        from eventsourcing.persistence import IntegrityError, ProgrammingError
        from psycopg import errors

        try:
            with self._datastore.transaction(commit=True) as cursor:
                cursor.execute(self._create)
        except (IntegrityError, ProgrammingError) as error:
            # eventsourcing wraps psycopg's error; its cause says whether another process
            # made the table between our look and our write (two workers taking over at once).
            made = errors.UniqueViolation | errors.DuplicateTable | errors.DuplicateObject
            if not isinstance(error.__cause__, made):
                raise
        self._made = True

    def save(
        self, tracker: str, position: int, state: bytes, *, unless_later: bool = False
    ) -> None:
        self._make()
        upsert = self._upsert_unless_later if unless_later else self._upsert
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(upsert, (tracker, position, state))

    def load(self, tracker: str) -> tuple[int, bytes] | None:
        self._make()
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._select, (tracker,))
            row = cursor.fetchone()
        return None if row is None else (int(row["position"]), bytes(row["state"]))

    def trackers(self, prefix: str) -> list[str]:
        self._make()
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(self._names, (len(prefix), prefix))
            return [str(row["tracker"]) for row in cursor.fetchall()]
