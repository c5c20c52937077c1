"""What a store failure means: worth waiting out (busy, unreachable), or the store is unusable.

eventsourcing wraps the driver's exception (sqlite3, psycopg) in its own, keeping the
driver's as the cause: the verdict is read from the whole chain. psycopg's errors are looked
for only once psycopg is loaded: a SQLite store never loads it, and then none can be raised.
"""

import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from eventsourcing.persistence import ConnectionUnavailableError

# A server that answers but refuses us: waiting will not change its mind.
_REFUSALS = ("does not exist", "authentication failed", "pg_hba.conf", "permission denied")
# The store is there but is not a journal trueup can use, whatever we wait for.
_UNUSABLE = (
    "no such table",
    "no such column",
    "has no column named",
    "readonly database",
    "file is not a database",
)
# The store's file cannot take a write: its disk full, or the write refused by the system (a
# file-size limit, a failing disk). Waiting seldom cures it; a commit either went in whole
# before it or not at all.
_UNWRITABLE = ("database or disk is full", "disk I/O error")


@dataclass(frozen=True)
class Outage:
    """A failure that waiting may cure: the store is busy (locked) or cannot be reached."""

    state: Literal["busy", "unreachable"]
    reason: str


_ErrorTypes = tuple[type[BaseException], ...]


class _PostgresErrors(NamedTuple):
    """psycopg's errors by what they mean; none while psycopg is not loaded."""

    busy: _ErrorTypes = ()
    unreachable: _ErrorTypes = ()
    undefined: _ErrorTypes = ()  # a table or column missing
    refused_value: _ErrorTypes = ()  # a value its column cannot hold


def _postgres_errors() -> _PostgresErrors:
    if "psycopg" not in sys.modules:
        return _PostgresErrors()
    import psycopg.errors

    # A deadlock, or a serialization failure: the server rolled the whole transaction back
    # to let another go on, so the same transaction tried again goes through.
    rolled_back = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
    return _PostgresErrors(
        busy=(psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled, *rolled_back),
        unreachable=(psycopg.OperationalError, psycopg.InterfaceError),
        undefined=(psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn),
        refused_value=(psycopg.DataError,),
    )


def outage(error: BaseException) -> Outage | None:
    """The outage behind ``error``, or None if waiting would not help."""
    postgres = _postgres_errors()
    for link in _chain(error):
        if isinstance(link, sqlite3.OperationalError) and _is_locked(link):
            return Outage("busy", first_line(link))
        if isinstance(link, postgres.busy):
            return Outage("busy", first_line(link))
        if isinstance(link, postgres.unreachable):
            if refusal(link) is not None:
                return None
            return Outage("unreachable", server_message(link))
        if isinstance(link, ConnectionUnavailableError):
            return Outage("busy", first_line(link))
    return None


def refusal(error: BaseException) -> str | None:
    """The server's refusal (no such database or role, bad password), if that is what it is."""
    message = server_message(error)
    return message if any(phrase in message for phrase in _REFUSALS) else None


def unusable(error: BaseException) -> str | None:
    """Why the store is no journal trueup can use (tables altered, read-only, not a database)."""
    postgres = _postgres_errors()
    for link in _chain(error):
        if isinstance(link, postgres.undefined):
            return first_line(link)
        message = first_line(link)
        if isinstance(link, sqlite3.Error) and any(p in message for p in _UNUSABLE):
            return message
    return None


def unwritable(error: BaseException) -> str | None:
    """Why a SQLite journal's file could not take a write (disk full, an I/O error), if
    that is what ``error`` is."""
    for link in _chain(error):
        message = first_line(link)
        if isinstance(link, sqlite3.Error) and any(p in message for p in _UNWRITABLE):
            return message
    return None


def refused_value(error: BaseException) -> str | None:
    """Why the store refused a value it was given (a NUL in PostgreSQL's text, a number too
    large for its column), if that is what ``error`` is: no retry will store it."""
    refused: _ErrorTypes = (sqlite3.DataError, *_postgres_errors().refused_value)
    for link in _chain(error):
        if isinstance(link, refused):
            return first_line(link)
    return None


def server_message(error: BaseException) -> str:
    """The server's own words, without libpq's wrapping: 'database "x" does not exist'."""
    text = first_line(error).removeprefix("connection failed: ")
    _, fatal, said = text.partition("FATAL:")
    return said.strip() if fatal else text


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].strip()


def _is_locked(error: sqlite3.OperationalError) -> bool:
    message = str(error)
    return "locked" in message or "busy" in message


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
