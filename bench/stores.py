"""Fresh, empty stores for each measurement, so one run never grows the next one's tables."""

import itertools
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory
from eventsourcing.utils import Environment

from trueup.adapters.store.location import settings
from trueup_simulators.postgres import fresh_database, postgres_server

BASELINE_PREFIX = "bench_baseline"  # its table: bench_baseline_events


class Store(Protocol):
    """A kind of journal store that can hand out empty ones."""

    @property
    def name(self) -> str: ...

    def fresh(self) -> AbstractContextManager[str]:
        """The URL of an empty store, removed afterwards."""
        ...


@dataclass
class SQLiteStore:
    """SQLite files in one scratch directory, a new file for every measurement."""

    directory: Path
    name: str = "SQLite"
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    @contextmanager
    def fresh(self) -> Iterator[str]:
        path = self.directory / f"journal-{next(self._numbers)}.db"
        try:
            yield str(path)
        finally:
            for leftover in self.directory.glob(path.name + "*"):
                leftover.unlink()


@dataclass
class PostgresStore:
    """A new database on one PostgreSQL server for every measurement, dropped afterwards."""

    server_url: str
    name: str = "PostgreSQL"

    @contextmanager
    def fresh(self) -> Iterator[str]:
        with fresh_database(self.server_url, prefix="trueup_bench") as url:
            _require_postgres(url)
            yield url


@contextmanager
def scratch_sqlite() -> Iterator[SQLiteStore]:
    with tempfile.TemporaryDirectory(prefix="trueup-bench-") as directory:
        yield SQLiteStore(Path(directory))


@contextmanager
def postgres(skipped: list[str]) -> Iterator[PostgresStore | None]:
    """The server named by TRUEUP_TEST_POSTGRES_URL, else a private embedded one; None (and
    the reason in ``skipped``) when neither can be had, so the rest still runs."""
    with ExitStack() as stack:
        store: PostgresStore | None = None
        try:
            server_url = stack.enter_context(postgres_server())
            check_connection(server_url)
            store = PostgresStore(server_url)
        except Exception as error:  # no server only skips its figures, the rest still runs
            skipped.append(f"PostgreSQL skipped, no server: {type(error).__name__}: {error}")
        yield store


def check_connection(server_url: str) -> None:
    with psycopg.connect(server_url, connect_timeout=5) as connection:
        connection.execute("SELECT 1")


def _require_postgres(url: str) -> None:
    """Refuse to measure SQLite by mistake under the PostgreSQL label."""
    module = settings(url)["PERSISTENCE_MODULE"]
    if module != "eventsourcing.postgres":
        raise RuntimeError(f"{url!r} does not open a PostgreSQL store but {module}")


# --- the baseline's recorder -----------------------------------------------------------------


@contextmanager
def baseline_recorder(url: str) -> Iterator[ApplicationRecorder]:
    """eventsourcing's own application recorder on the same kind of store as the journal."""
    environment = Environment(name=BASELINE_PREFIX, env=settings(url))
    factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(environment)
    try:
        yield factory.application_recorder()
    finally:
        factory.close()
