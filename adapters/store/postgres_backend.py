"""A journal on PostgreSQL: opened with one direct connection first, for the server's own
word on what is wrong, and its tables made under an advisory lock, so openers may race.

After an outage the pool is replaced, not nursed: psycopg's pool backs off its reconnects
without limit, and would stay away for as long again as the server was down.
"""

import logging
import random
import threading
import time
from contextlib import suppress
from functools import partial

import psycopg
from eventsourcing.persistence import PersistenceError, ProcessRecorder
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder
from eventsourcing.utils import get_topic
from psycopg import sql

from trueup.adapters.store.backend import Backend, Factory, build
from trueup.adapters.store.failures import outage, refusal, server_message
from trueup.adapters.store.lease import AdvisoryLease, Lease, LeaseSession
from trueup.adapters.store.location import (
    POSTGRES_CONNECT_TIMEOUT_S,
    StoreError,
    shown,
    within,
)
from trueup.adapters.store.postgres_recorder import SingleAttemptPostgresRecorder
from trueup.adapters.store.redaction import redact
from trueup.adapters.store.snapshot_table import PostgresSnapshots, SnapshotTable
from trueup.adapters.store.tables import (
    EVENT_COLUMNS,
    TRACKING_COLUMNS,
    NoJournal,
    NotAJournal,
    prepare,
)
from trueup.adapters.store.view_table import SQLViews, ViewTable

# pg_advisory_lock key serialising the creation of a database's journal tables
# (eventsourcing's CREATE ... IF NOT EXISTS statements are not safe to run concurrently).
TABLES_LOCK = 0x7472_7565_7570  # "trueup"
# Tries at making the tables while the server rolls them back to break a deadlock: their
# CREATE INDEX IF NOT EXISTS locks each table, as a writer's transaction does in its order.
PREPARE_ATTEMPTS = 5
PREPARE_PAUSE_S = 0.2  # at most, before the first try again; twice that before the next
log = logging.getLogger("trueup.store")
_COLUMNS = sql.SQL(
    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
)
# Every schema's tables and views but the server's own: a database with another application's
# in any schema is not an empty one.
_TABLES = sql.SQL(
    "SELECT table_schema, table_name FROM information_schema.tables "
    "WHERE table_schema <> 'information_schema' AND table_schema !~ '^pg_'"
)


class PostgresBackend(Backend):
    """A journal's PostgreSQL store, connected afresh after each outage."""

    # Each transaction of inputs holds the events table's lock (eventsourcing's, so that
    # notification ids come in commit order) until it commits: kept small, so that the
    # other writers of a shared journal wait on it briefly. (One input larger than this is
    # a transaction of its own: postgres_recorder.py inserts without pipeline mode, which
    # hung on one of 12 MB.)
    transaction_bytes = 256 * 1024

    def __init__(
        self, url: str, settings: dict[str, str], factory: Factory, recorder: ProcessRecorder
    ) -> None:
        super().__init__(factory, recorder)
        self.url = url
        self.settings = settings
        self._lock = threading.Lock()
        self._lease_sessions: list[LeaseSession] = []

    def snapshot_table(self) -> SnapshotTable:
        assert isinstance(self.recorder, PostgresProcessRecorder)
        return PostgresSnapshots(self.recorder)

    def views(self) -> ViewTable:
        assert isinstance(self.recorder, SingleAttemptPostgresRecorder)
        return SQLViews(self.recorder.datastore, self.recorder.view_statements)

    def leases(self, names: list[str]) -> dict[str, Lease]:
        # One connection for the holder's locks, not one each: a process running every
        # partition holds sixteen.
        session = LeaseSession(partial(_connect, self.settings))
        self._lease_sessions.append(session)
        return {name: AdvisoryLease(session, name) for name in names}

    @classmethod
    def open(
        cls,
        url: str,
        settings: dict[str, str],
        create: bool = True,
        give_up_after_s: float | None = None,
    ) -> "PostgresBackend":
        """The store at ``url``, its tables made if need be (unless not ``create``: then it
        must hold a journal already); StoreError if it cannot be. A write waits on a table
        lock no longer than ``give_up_after_s``, if given, before it is retried."""
        settings = {
            **settings,
            "PROCESS_RECORDER_TOPIC": get_topic(SingleAttemptPostgresRecorder),
            "POSTGRES_LOCK_TIMEOUT": within(settings["POSTGRES_LOCK_TIMEOUT"], give_up_after_s),
        }
        attempt, pause = 1, PREPARE_PAUSE_S
        while True:
            try:
                factory, recorder = _prepared(settings, create)
            except (psycopg.Error, PersistenceError, NotAJournal, NoJournal) as error:
                said = _said(error, settings)
                busy = outage(error)
                if busy is None or busy.state != "busy" or attempt == PREPARE_ATTEMPTS:
                    raise StoreError(f"cannot open the journal at {shown(url)}: {said}") from None
                log.warning("journal busy (%s) while opening it, trying again", said)
                time.sleep(random.uniform(pause / 2, pause))
                attempt, pause = attempt + 1, pause * 2
            else:
                return cls(url, settings, factory, recorder)

    def close(self) -> None:
        for session in self._lease_sessions:
            session.drop()
        super().close()

    def reconnect(self, generation: int) -> None:
        """A new pool and recorder, once the server answers again; StoreError if it refuses."""
        with self._lock:
            if generation != self.generation:
                return  # another thread reconnected since that operation began
            try:
                _connect(self.settings).close()
            except psycopg.OperationalError as error:
                if refusal(error) is not None:
                    raise StoreError(
                        f"journal at {shown(self.url)}: {_said(error, self.settings)}"
                    ) from None
                raise
            factory, recorder = _built(self.settings)
            old = self.factory
            self.factory, self.recorder = factory, recorder
            self.generation += 1
        with suppress(Exception):
            old.close()


def secrets(settings: dict[str, str]) -> tuple[str, ...]:
    """The password, to mask wherever an error might echo it."""
    password = settings.get("POSTGRES_PASSWORD", "")
    return (password,) if password else ()


def _connect(settings: dict[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    """One direct connection, as the pool would make it: its failure carries the server's
    own message ('database "x" does not exist') where the pool only times out."""
    return psycopg.connect(
        dbname=settings["POSTGRES_DBNAME"],
        host=settings["POSTGRES_HOST"],
        port=settings["POSTGRES_PORT"],
        user=settings["POSTGRES_USER"],
        password=settings["POSTGRES_PASSWORD"],
        connect_timeout=POSTGRES_CONNECT_TIMEOUT_S,
        autocommit=True,
    )


def _built(settings: dict[str, str]) -> tuple[Factory, ProcessRecorder]:
    """``build``, its pool's every statement, reads too, waiting on a lock no longer than
    POSTGRES_LOCK_TIMEOUT: the library bounds only its inserts' waits, and a read behind
    another client's ACCESS EXCLUSIVE lock waited for ever without a word. Now it is
    retried with a warning, and given up on as any busy store is."""
    waited_ms = int(settings["POSTGRES_LOCK_TIMEOUT"]) * 1000

    def bound_lock_waits(factory: Factory) -> None:
        # Before the pool's first connection: every one it makes takes the option.
        assert isinstance(factory, PostgresFactory)
        pool = factory.datastore.pool
        assert isinstance(pool.kwargs, dict)  # the library's connection arguments
        pool.kwargs = {**pool.kwargs, "options": f"-c lock_timeout={waited_ms}"}

    return build(settings, bound_lock_waits)


def _prepared(settings: dict[str, str], create: bool) -> tuple[Factory, ProcessRecorder]:
    """A recorder on the journal's tables, made first if need be, under the tables' lock."""
    with _connect(settings) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (TABLES_LOCK,))
        factory, recorder = _built(settings)
        try:
            _prepare(recorder, connection, create)
        except BaseException:
            factory.close()
            raise
    return factory, recorder


def _prepare(
    recorder: ProcessRecorder, connection: psycopg.Connection[tuple[object, ...]], create: bool
) -> None:
    assert isinstance(recorder, PostgresProcessRecorder)
    schema = recorder.datastore.schema

    def columns(table: str) -> set[str]:
        rows = connection.execute(_COLUMNS, (schema, table)).fetchall()
        return {str(row[0]) for row in rows}

    def tables() -> set[str]:
        """Those of trueup's schema by name, any other's named with its schema."""
        listed = connection.execute(_TABLES).fetchall()
        return {str(name) if found == schema else f"{found}.{name}" for found, name in listed}

    def records() -> tuple[str | None, set[str]]:
        events, tracking = (
            sql.Identifier(schema, name)
            for name in (recorder.events_table_name, recorder.tracking_table_name)
        )
        first = sql.SQL("SELECT topic FROM {} LIMIT 1").format(events)
        topic = connection.execute(first).fetchone()
        names = sql.SQL("SELECT application_name FROM {}").format(tracking)
        tracked = {str(row[0]) for row in connection.execute(names).fetchall()}
        return (None if topic is None else str(topic[0])), tracked

    expected = {
        recorder.events_table_name: EVENT_COLUMNS | {"notification_id"},
        recorder.tracking_table_name: TRACKING_COLUMNS,
    }
    prepare(recorder, columns, tables, records, expected, create=create)


def _said(error: BaseException, settings: dict[str, str]) -> str:
    return redact(server_message(error), secrets(settings))
