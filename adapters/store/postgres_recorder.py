"""eventsourcing's PostgreSQL process recorder, each call made once (the Journal does the
retrying), with the persisted views written in the transaction that records a projection's
tracking position (view_table.py), and the audit index's owner rows in the one that
appends their inputs (owner_table.py). Events go in as arrays of their columns
(column_arrays.py), not as the library's array of a composite type. A journal whose tables
all exist is opened without its DDL (``create_table``).

The library retries every call ten times, each waiting up to the pool's connect timeout:
a dead server would hold an operation for most of a minute before anyone heard of it. The
Journal retries instead, with backoff, a warning per attempt, and a fresh pool each time.
"""

from collections.abc import Sequence
from inspect import unwrap
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed

from trueup.adapters.store import owner_table, view_table
from trueup.adapters.store.column_arrays import columns_of, insert_from_columns, quoted


class SingleAttemptPostgresRecorder(PostgresProcessRecorder):
    """The library's recorder with its retry decorators taken off, and the views."""

    select_events = unwrap(PostgresAggregateRecorder.select_events)
    select_notifications = unwrap(PostgresApplicationRecorder.select_notifications)
    max_notification_id = unwrap(PostgresApplicationRecorder.max_notification_id)
    insert_tracking = unwrap(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = unwrap(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = unwrap(PostgresTrackingRecorder.has_tracking_id)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.view_statements = view_table.postgres_statements(self.datastore.schema)
        self.owner_statements = owner_table.postgres_statements(self.datastore.schema)
        self.sql_create_statements.extend(
            Composed([SQL(statement)])  # built from constants and quoted names
            for statement in (*self.view_statements.create, self.owner_statements.create)
        )
        self.insert_columns_statement = SQL(
            insert_from_columns(  # quoted names, and types the library checked
                f"{quoted(self.datastore.schema)}.{quoted(self.events_table_name)}",
                (
                    ("originator_id", self.datastore.originator_id_type),
                    ("originator_version", "bigint"),
                    ("topic", "text"),
                    ("state", "bytea"),
                ),
                " RETURNING notification_id",
            )
        )

    def create_table(self) -> None:
        """Make the journal's tables where any is missing. Where all exist, make nothing:
        CREATE INDEX IF NOT EXISTS locks its table before it looks, so every open would
        queue behind the writers of the moment, and the writers that come after behind it."""
        if self._all_made():
            self.datastore.register_type_adapters()
        else:
            super().create_table()

    def made_relations(self) -> tuple[str, ...]:
        """The tables and indexes ``create_table`` makes, beside the primary keys."""
        return (
            self.events_table_name,
            self.notification_id_index_name,
            self.tracking_table_name,
            *view_table.TABLES,
            view_table.HISTORY_CLOSED_INDEX,
            owner_table.TABLE,
        )

    def _all_made(self) -> bool:
        # The library's insert function is left out: trueup never enables the library's
        # database functions, so nothing calls it.
        relations = self.made_relations()
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                _MADE,
                {
                    "schema": self.datastore.schema,
                    "relations": list(relations),
                    "count": len(relations),
                    "type": self.stored_event_type_name,
                },
            )
            row = cursor.fetchone()
        return bool(row and row["made"])

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """As the library's, in one transaction, without psycopg's pipeline mode: with it, a
        transaction of one input of 12 MB or more waited for ever, server and client each
        on the other, holding the table's lock every other writer then waits on (psycopg
        issue 685). The few statements go one after another instead."""
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.cursor() as curs:
                self._insert_events(curs, stored_events, **kwargs)
            if not stored_events:
                return None
            with conn.cursor() as curs:
                self._insert_stored_events(curs, stored_events, **kwargs)
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """As the library's application recorder inserts them (the table locked for writes,
        its listeners notified, one statement), but the rows sent as arrays of their columns:
        their notification ids come back in the rows' order, as the library reads them."""
        self._lock_table(curs)
        self._notify_channel(curs)
        rows = [(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
        curs.execute(self.insert_columns_statement, columns_of(rows))

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        owner_table.write(curs, self.owner_statements, kwargs.get("owners", ()))
        # A partitioned projection records every partition's position at once.
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(curs, tracking)
        for views in kwargs.get("views", ()):
            view_table.write(curs, self.view_statements, views)


# Whether the schema holds every relation named and the library's composite type.
_MADE = (
    "SELECT (SELECT count(*) FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = %(schema)s AND c.relname = ANY(%(relations)s)) = %(count)s "
    "AND EXISTS (SELECT 1 FROM pg_catalog.pg_type t "
    "JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
    "WHERE n.nspname = %(schema)s AND t.typname = %(type)s) AS made"
)
