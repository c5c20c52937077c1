"""Leases: the one process at a time that runs a projection over a journal.

A lease is held by a live process and nothing else: the kernel drops a file lock, and the
server an advisory lock, the moment its holder dies, kill -9 included, so a standby takes
over within one poll. ``held`` is asked before every write, so a lost lease is noticed
before the next write, not after it.
"""

import fcntl
import os
import zlib
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

if TYPE_CHECKING:  # psycopg is imported where a PostgreSQL lease uses it: SQLite never loads it
    import psycopg


class Lease(Protocol):
    name: str

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits. True if this process holds it."""

    def held(self) -> bool:
        """Whether this process still holds the lease."""

    def release(self) -> None:
        """Let the lease go, if held."""


class FileLease:
    """A SQLite journal's lease: an exclusive flock on a file beside the journal."""

    def __init__(self, journal_path: str, name: str) -> None:
        self.name = name
        # A name may hold any account's name: quoted, it is one file beside the journal.
        self.path = Path(f"{journal_path}.{quote(name, safe='.:-_')}.lease")
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return self.held()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        if self._fd is None:
            return False
        # The lock lives on the file it was taken on: one deleted or replaced is not ours.
        try:
            return os.fstat(self._fd).st_ino == self.path.stat().st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the flock


# A new autocommit connection to the journal's database.
Connect = Callable[[], "psycopg.Connection[tuple[object, ...]]"]

# The first key of every trueup advisory lock; the second is the lease name's CRC-32.
_ADVISORY_CLASS = 0x7472_7565  # "true"


class LeaseSession:
    """The one connection whose session holds a process's advisory locks, however many
    partitions it runs; made when first needed, and again after it is lost."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def connection(self) -> "psycopg.Connection[tuple[object, ...]] | None":
        """The session's connection; None while the server cannot be reached."""
        import psycopg

        if self._connection is None:
            try:
                self._connection = self._connect()
            except psycopg.OperationalError:
                return None
        return self._connection

    def current(self) -> "psycopg.Connection[tuple[object, ...]] | None":
        """The connection if one is open, without making one."""
        return self._connection

    def drop(self) -> None:
        """Close the session: every lock it held goes with it."""
        import psycopg

        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(psycopg.Error):
                connection.close()


class AdvisoryLease:
    """A PostgreSQL journal's lease: a session advisory lock, on the process's lease
    session (one connection for all its leases)."""

    def __init__(self, session: LeaseSession, name: str) -> None:
        self.name = name
        self._session = session
        self._key = (_ADVISORY_CLASS, _signed32(zlib.crc32(name.encode())))

    def acquire(self) -> bool:
        import psycopg

        # A standby keeps its connection between tries: asking again costs one round trip.
        connection = self._session.connection()
        if connection is None:
            return False  # the server is away: nobody can hold the lease through it now
        if self.held():
            return True
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", self._key).fetchone()
        except psycopg.Error:
            self._session.drop()
            return False
        return bool(row and row[0])

    def held(self) -> bool:
        import psycopg

        connection = self._session.current()
        if connection is None:
            return False
        try:
            row = connection.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = %s::oid AND objid = %s::oid",
                (self._key[0], self._key[1] & 0xFFFFFFFF),
            ).fetchone()
        except psycopg.Error:
            self._session.drop()
            return False  # the connection, and with it the lock, is gone
        return bool(row and row[0])

    def release(self) -> None:
        import psycopg

        connection = self._session.current()
        if connection is None:
            return
        try:
            # Unlocked at once, so that a standby asking next finds the lease free; a lock
            # taken twice is unlocked as often.
            while _unlocked(connection, self._key):
                pass
        except psycopg.Error:
            self._session.drop()


def _unlocked(connection: "psycopg.Connection[tuple[object, ...]]", key: tuple[int, int]) -> bool:
    row = connection.execute("SELECT pg_advisory_unlock(%s, %s)", key).fetchone()
    return bool(row and row[0])


def _signed32(value: int) -> int:
    """pg_try_advisory_lock(int, int) takes signed 32-bit keys."""
    return value - (1 << 32) if value >= (1 << 31) else value
