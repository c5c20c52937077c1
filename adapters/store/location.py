"""Where the journal lives: a store URL (``--store`` or TRUEUP_STORE) as eventsourcing settings."""

import math
import os
import re
from pathlib import Path

from trueup.adapters.store.redaction import redact, redact_echo

__all__ = ["StoreError", "redact", "settings", "shown", "store_url"]

DEFAULT_SQLITE_PATH = "trueup.db"
TABLE_PREFIX = "trueup"  # PostgreSQL tables: trueup_events, trueup_tracking
# How long a SQLite writer waits for another's lock before the journal's own retrying
# (with a warning) takes over.
SQLITE_LOCK_TIMEOUT_S = 10
# The same for a PostgreSQL writer waiting on a table lock (another client's LOCK TABLE, or
# a long transaction of another writer), which it would otherwise wait on for ever, silently.
POSTGRES_LOCK_TIMEOUT_S = 10
# How long to wait for a PostgreSQL connection, from the pool or when connecting afresh.
POSTGRES_CONNECT_TIMEOUT_S = 5
_CONNINFO_KEY = re.compile(r"(^|\s)(dbname|host|hostaddr|port|user|password|service)\s*=")


class StoreError(Exception):
    """The store cannot be used as given; the message is one line, safe to show (no password)."""


def store_url(given: str | None) -> str:
    """The URL in force: the one given, else TRUEUP_STORE, else the default SQLite file."""
    return given or os.environ.get("TRUEUP_STORE") or DEFAULT_SQLITE_PATH


def shown(url: str) -> str:
    """The store as messages name it: password masked, a libpq key=value string in quotes."""
    hidden = redact(url)
    return repr(hidden) if is_postgres(url) and "://" not in url else hidden


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://")) or _is_conninfo(url)


def settings(url: str) -> dict[str, str]:
    """eventsourcing's environment settings for this store URL."""
    if is_postgres(url):
        return _postgres(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise StoreError(
                f"sqlite URL needs an absolute path (sqlite:///abs/path): {redact(url)}"
            )
        return _sqlite(path)
    if "://" in url:
        raise StoreError(
            f"unsupported store URL {redact(url)!r}: give a SQLite path, "
            "sqlite:///abs/path or postgresql://user@host:port/db"
        )
    return _sqlite(url)


def _is_conninfo(text: str) -> bool:
    """A libpq keyword/value string ("host=... dbname=..."), as psycopg prints them."""
    return "://" not in text and _CONNINFO_KEY.search(text) is not None


def _sqlite(path: str) -> dict[str, str]:
    file = Path(path).expanduser()
    if file.is_dir():
        raise StoreError(f"cannot use {redact(path)} as the journal: it is a directory")
    parent = file.resolve().parent
    if not parent.is_dir():
        wrong = "is not a directory" if parent.exists() else "does not exist"
        raise StoreError(f"cannot create the SQLite journal {redact(path)!r}: {parent} {wrong}")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(file),
        "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
    }


def _postgres(url: str) -> dict[str, str]:
    import psycopg.conninfo  # here, not above: a SQLite store never loads psycopg

    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        reason = redact_echo(str(error).strip().splitlines()[0], url)
        raise StoreError(f"bad PostgreSQL URL {shown(url)}: {reason}") from None
    if not parts.get("dbname"):
        raise StoreError(f"PostgreSQL URL {shown(url)} names no database")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts["dbname"]),
        "POSTGRES_HOST": str(parts.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(parts.get("port") or "5432"),
        "POSTGRES_USER": str(parts.get("user") or os.environ.get("USER", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_S),
        "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
        "POSTGRES_POOL_SIZE": "2",
    }


def within(lock_timeout: str, give_up_after_s: float | None) -> str:
    """A setting's lock wait (whole seconds, as eventsourcing takes them), no longer than a
    command told to give up after ``give_up_after_s`` waits in all."""
    if give_up_after_s is None:
        return lock_timeout
    return str(min(int(lock_timeout), math.ceil(give_up_after_s)))
