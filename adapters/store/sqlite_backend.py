"""A journal in a SQLite file: tables made safely while other processes race to make them,
and a file that cannot serve as a journal named with the reason."""

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from eventsourcing.persistence import IntegrityError, PersistenceError, ProcessRecorder
from eventsourcing.sqlite import SQLiteProcessRecorder
from eventsourcing.utils import get_topic

from trueup.adapters.store.backend import Backend, Factory, build
from trueup.adapters.store.failures import first_line, outage
from trueup.adapters.store.lease import FileLease, Lease
from trueup.adapters.store.location import StoreError, within
from trueup.adapters.store.retrying import Retrying
from trueup.adapters.store.snapshot_table import SnapshotTable, SQLiteSnapshots
from trueup.adapters.store.sqlite_recorder import TunedSQLiteFactory, ViewsSQLiteRecorder
from trueup.adapters.store.tables import (
    EVENT_COLUMNS,
    TRACKING_COLUMNS,
    NoJournal,
    NotAJournal,
    prepare,
)
from trueup.adapters.store.view_table import SQLITE, SQLViews, ViewTable

TRACKING_TABLE = "tracking"  # eventsourcing's name for it in SQLite
# Openers that lose the race to record eventsourcing's migration row try again, at most:
RACES = 10
# How long a command that only reads looks again at a file that holds no journal (yet): the
# trueup that made the file makes its tables within milliseconds.
BEING_MADE_S = 1.0
BEING_MADE_POLL_S = 0.02


class SQLiteBackend(Backend):
    """A journal's SQLite file; its leases are file locks beside it."""

    ids_as_text = True  # eventsourcing's SQLite recorders store UUID.hex, and take text

    def __init__(self, path: str, factory: Factory, recorder: ProcessRecorder) -> None:
        super().__init__(factory, recorder)
        self.path = path

    def leases(self, names: list[str]) -> dict[str, Lease]:
        return {name: FileLease(self.path, name) for name in names}

    def end_reader(self) -> Callable[[], int | None]:
        assert isinstance(self.recorder, SQLiteProcessRecorder)
        return LocalEnd(self.path, self.recorder.events_table_name)

    def snapshot_table(self) -> SnapshotTable:
        assert isinstance(self.recorder, SQLiteProcessRecorder)
        return SQLiteSnapshots(self.recorder)

    def views(self) -> ViewTable:
        assert isinstance(self.recorder, SQLiteProcessRecorder)
        return SQLViews(self.recorder.datastore, SQLITE)


class LocalEnd:
    """The journal's end, read on a connection of its own: in WAL mode a reader neither waits
    for the writer nor is waited for, and the last position is an index's last entry."""

    def __init__(self, path: str, table: str) -> None:
        # Never waits for a lock: a busy file answers None, and the caller asks the journal.
        self._connection = sqlite3.connect(
            path, timeout=0, check_same_thread=False, isolation_level=None
        )
        self._query = f"SELECT MAX(rowid) FROM {table}"  # noqa: S608 (the recorder's own name)

    def __call__(self) -> int | None:
        try:
            row = self._connection.execute(self._query).fetchone()
        except sqlite3.Error:
            return None
        return int(row[0] or 0)


def open_sqlite(
    settings: dict[str, str], give_up_after_s: float | None, create: bool = True
) -> Backend:
    """The journal file, its tables made if need be (unless not ``create``: then it must be
    a journal already), waiting while others hold it locked."""
    path = settings["SQLITE_DBNAME"]
    if not create and not Path(path).exists():
        raise StoreError(f"no journal at {path}: nothing was ever stored there")
    settings = {
        **settings,
        "PERSISTENCE_MODULE": get_topic(TunedSQLiteFactory),
        "PROCESS_RECORDER_TOPIC": get_topic(ViewsSQLiteRecorder),
    }
    settings["SQLITE_LOCK_TIMEOUT"] = within(settings["SQLITE_LOCK_TIMEOUT"], give_up_after_s)

    began = time.monotonic()

    def attempt() -> Backend:
        while True:
            try:
                return SQLiteBackend(path, *_create(settings, create))
            except NoJournal as error:
                # Another trueup may be making it: the file is there before its tables.
                if time.monotonic() - began < BEING_MADE_S:
                    time.sleep(BEING_MADE_POLL_S)
                    continue
                raise StoreError(explain(path, error)) from None
            except (sqlite3.Error, PersistenceError, NotAJournal) as error:
                if outage(error) is not None:
                    raise  # locked by another process: Retrying waits and tries again
                raise StoreError(explain(path, error)) from None

    return Retrying(None, path, give_up_after_s)(attempt)


def _create(settings: dict[str, str], create: bool) -> tuple[Factory, ProcessRecorder]:
    for _ in range(RACES):
        factory, recorder = build(settings)
        try:
            _prepare(recorder, settings, create)
        except IntegrityError as error:
            factory.close()
            if "__migration__" not in str(error):
                raise
            continue  # another process made the tables between our look and our write
        except BaseException:
            factory.close()
            raise
        return factory, recorder
    raise StoreError(f"could not create the journal tables in {settings['SQLITE_DBNAME']}")


def _prepare(recorder: ProcessRecorder, settings: dict[str, str], create: bool) -> None:
    assert isinstance(recorder, SQLiteProcessRecorder)
    # Looked at on a plain connection: the recorder's first one turns the file to WAL mode,
    # and a file refused is left as it was.
    looking = sqlite3.connect(
        settings["SQLITE_DBNAME"],
        timeout=float(settings["SQLITE_LOCK_TIMEOUT"]),
        isolation_level=None,
    )

    def columns(table: str) -> set[str]:
        rows = looking.execute("SELECT name FROM pragma_table_info(?)", (table,))
        return {str(row[0]) for row in rows}

    def tables() -> set[str]:
        rows = looking.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%'"
        )
        return {str(row[0]) for row in rows}

    def records() -> tuple[str | None, set[str]]:
        events = recorder.events_table_name
        topic = looking.execute(f"SELECT topic FROM {events} LIMIT 1").fetchone()  # noqa: S608
        tracked = looking.execute(f"SELECT application_name FROM {TRACKING_TABLE}")  # noqa: S608
        return (None if topic is None else str(topic[0])), {str(row[0]) for row in tracked}

    with closing(looking):
        prepare(
            recorder,
            columns,
            tables,
            records,
            {recorder.events_table_name: EVENT_COLUMNS, TRACKING_TABLE: TRACKING_COLUMNS},
            create=create,
        )


def explain(path: str, error: BaseException) -> str:
    """One line naming the file and what is wrong with it."""
    message = first_line(error)
    if isinstance(error, NotAJournal | NoJournal):
        return f"cannot open the journal at {path}: {message}"
    if "file is not a database" in message:
        return f"cannot open the journal at {path}: not a SQLite database ({message})"
    if "readonly database" in message or "unable to open database file" in message:
        directory = Path(path).resolve().parent
        # A file that may be written, in a folder that may not: SQLite makes its -wal and
        # -shm files there to read the journal too.
        writable = not Path(path).exists() or os.access(path, os.W_OK)
        problem = _unwritable(directory) if writable else None
        if problem is not None:
            verb = "open" if Path(path).exists() else "create"
            return f"cannot {verb} the journal at {path}: {directory} is not writable ({problem})"
    if "readonly database" in message:
        return f"cannot write the journal at {path}: the file is read-only ({message})"
    return f"cannot open the journal at {path}: {message}"


def _unwritable(directory: Path) -> str | None:
    """Why no file can be made in ``directory`` (SQLite makes its -wal and -shm there)."""
    import tempfile  # here: only a journal that cannot be opened asks, and every command paid

    try:
        with tempfile.TemporaryFile(dir=directory):
            return None
    except OSError as error:
        return error.strerror or str(error)
