"""eventsourcing's SQLite process recorder, with the persisted views written in the
transaction that records a projection's tracking position (view_table.py), the audit
index's owner rows in the one that appends their inputs (owner_table.py), rows inserted in
one statement per batch, and connections tuned for a journal's appends."""

import sqlite3
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, StoredEvent
from eventsourcing.sqlite import (
    SQLITE3_DEFAULT_LOCK_TIMEOUT,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
    SQLiteProcessRecorder,
)
from eventsourcing.utils import Environment

from trueup.adapters.store import owner_table, sqlite_lock_waits, view_table

# Set on every connection. In WAL mode, NORMAL syncs the log at checkpoints, not at every
# commit: a committed batch is in the log before the commit returns, so a process killed at
# any point loses nothing; only a power cut may take back the last commits (never half of
# one). FULL spent a disk flush per batch and per projection step, half the time of a batch.
# A checkpoint every 4,000 pages of log (16 MB), not the default 1,000: a batch's audit index
# rows land on the same few hundred pages as the last batches' did (one stream per account
# and symbol), and a checkpoint copies each page once however many commits changed it
# (measured: ingest into a 1,000,000-input journal 5,300 -> 8,500 inputs/s with the
# detectors off, 9,600 -> 10,800 into an empty one).
PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA wal_autocheckpoint=4000",
)
# The page size of a journal made new (an older one keeps its own: a file's page size is
# fixed when it is first written). A batch appends thousands of rows of about 700 bytes to
# the end of the events table and its primary key; each page costs SQLite its own handling
# (allocating, linking, a log frame), and 16 KB pages are a quarter as many. Measured, 30,000
# lines appended with the detectors off, medians of 3 alternating, each journal vacuumed
# to its page size: into the bench's 1M journal 1.25 s with 4 KB pages, 0.95 s with 16 KB
# (its inserts 0.56 s, 0.31 s), into an empty one 0.97 s, 0.91 s; a worker catching up on
# them 0.94 s, 0.87 s.
PAGE_SIZE = 16384
# The cache of a connection that appends inputs: it holds the hot top of the events table's
# indexes (a 1,000,000-input journal's primary key alone is ~100 MB; the default cache is
# 2 MB), so that a batch does not read the same interior pages again and again. Only such a
# connection is given it, at its first append: one that only reads (a query, a replay, a
# worker rebuilding from the first input) gains nothing from it, and would fill it with
# pages it reads once (64 MB of a cold rebuild's peak).
APPENDER_CACHE = "PRAGMA cache_size=-65536"


class TunedSQLiteConnectionPool(SQLiteConnectionPool):
    """eventsourcing's pool, each new connection waiting for locks in fine steps
    (sqlite_lock_waits.py) and given PRAGMAS."""

    def _create_connection(self) -> SQLiteConnection:
        # As the library's own, but for the connection's class, its lock waits and its cache
        # of prepared statements: the library asks for ``cached_statements=True``, a cache of
        # one, so that a query asked again (can-open's three, a step's writes) was prepared
        # anew each time. 128 (sqlite3's default), measured: service.can_open p50 0.27 ->
        # 0.17 ms, a worker's 30,000 inputs on the 1M journal 0.94 -> 0.86 s.
        try:
            connection = sqlite_lock_waits.connect(
                self.db_name,
                float(self.lock_timeout or SQLITE3_DEFAULT_LOCK_TIMEOUT),
                uri=True,
                check_same_thread=False,
                isolation_level=None,  # autocommit: each transaction is begun explicitly
                cached_statements=128,
            )
        except (sqlite3.Error, TypeError) as error:
            raise InterfaceError(error) from error
        if not self.is_sqlite_memory_mode and not self.is_journal_mode_wal:
            # Before the switch to WAL, the first write of a new file: then no more.
            connection.execute(f"PRAGMA page_size={PAGE_SIZE}")
            mode = connection.execute("PRAGMA journal_mode;").fetchone()[0]
            if mode.lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL;")
                self.journal_mode_was_changed_to_wal = True
            self.is_journal_mode_wal = True
        connection.row_factory = sqlite3.Row
        for pragma in PRAGMAS:
            connection.execute(pragma)
        return SQLiteConnection(sqlite_conn=connection, max_age=self.max_age)


class TunedSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, its datastore drawing connections from the tuned pool."""

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        old = self.datastore.pool
        old.close()  # it has made no connection yet
        self.datastore.pool = TunedSQLiteConnectionPool(
            db_name=old.db_name,
            lock_timeout=old.lock_timeout,
            pool_size=old.pool_size,
            max_overflow=old.max_overflow,
            pool_timeout=old.pool_timeout,
            max_age=old.max_age,
            pre_ping=old.pre_ping,
        )


class ViewsSQLiteRecorder(SQLiteProcessRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            *view_table.SQLITE.create,
            owner_table.SQLITE.create,
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if kwargs.get("appending_inputs"):
            c.execute(APPENDER_CACHE)  # the same size again changes nothing: no need to ask
        # The library inserts row by row, to read each row's position; one executemany, then
        # the last position, says the same (below) at a fraction of the cost.
        ids = self._insert_rows(c, stored_events)
        owner_table.write(c, owner_table.SQLITE, kwargs.get("owners", ()))
        tracking = kwargs.get("tracking")
        if tracking is not None:
            self._insert_tracking(c, tracking)
        # A partitioned projection records every partition's position at once.
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        for views in kwargs.get("views", ()):
            view_table.write(c, view_table.SQLITE, views)
        return ids

    def _insert_rows(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert the rows; their positions, in order. The table has no AUTOINCREMENT, so
        SQLite gives each new row the largest rowid plus one, and this transaction holds
        the write lock from the first insert: the rows take the positions up to the last."""
        if not stored_events:
            return []
        # Each state handed over as a bytearray: the same blob, but the sqlite3 module binds
        # a bytes only after asking the adapter registry for it and failing (an AttributeError
        # made and dropped for every row), where it binds a bytearray at once; the copy
        # costs a fraction of that.
        c.executemany(
            self.insert_events_statement,
            [
                (
                    s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                    s.originator_version,
                    s.topic,
                    bytearray(s.state),
                )
                for s in stored_events
            ],
        )
        last = int(self._max_notification_id(c))
        return list(range(last - len(stored_events) + 1, last + 1))
