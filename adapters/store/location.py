"""Where the journal lives: a store URL (``--store`` or TRUEUP_STORE) as eventsourcing settings."""

import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg.conninfo

DEFAULT_SQLITE_PATH = "trueup.db"
TABLE_PREFIX = "trueup"  # PostgreSQL tables: trueup_events, trueup_tracking


class StoreError(Exception):
    """The store cannot be used as given; the message is safe to show (no password)."""


def redact(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def store_url(given: str | None) -> str:
    """The URL in force: the one given, else TRUEUP_STORE, else the default SQLite file."""
    return given or os.environ.get("TRUEUP_STORE") or DEFAULT_SQLITE_PATH


def settings(url: str) -> dict[str, str]:
    """eventsourcing's environment settings for this store URL."""
    if url.startswith(("postgresql://", "postgres://")) or _is_conninfo(url):
        return _postgres(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise StoreError(f"sqlite URL needs an absolute path (sqlite:///abs/path): {url}")
        return _sqlite(path)
    if "://" in url:
        raise StoreError(
            f"unsupported store URL {redact(url)!r}: give a SQLite path, "
            "sqlite:///abs/path or postgresql://user@host:port/db"
        )
    return _sqlite(url)


def _is_conninfo(text: str) -> bool:
    """A libpq keyword/value string ("host=... dbname=..."), as psycopg prints them."""
    return "dbname=" in text and "://" not in text


def _sqlite(path: str) -> dict[str, str]:
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise StoreError(f"cannot create the SQLite journal {path!r}: {parent} is not a directory")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(Path(path).expanduser()),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def _postgres(url: str) -> dict[str, str]:
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as error:
        raise StoreError(f"bad PostgreSQL URL {redact(url)!r}: {error}") from None
    if not parts.get("dbname"):
        raise StoreError(f"PostgreSQL URL {redact(url)!r} names no database")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts["dbname"]),
        "POSTGRES_HOST": str(parts.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(parts.get("port") or "5432"),
        "POSTGRES_USER": str(parts.get("user") or os.environ.get("USER", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password") or ""),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": "2",
    }
