"""Fixtures every store-backed test shares: one journal URL per store, each test's own.

Tests that take ``store_url`` or ``journal`` run once on SQLite and once on PostgreSQL, so
both stores are held to the same behaviour. PostgreSQL is never optional: without
TRUEUP_TEST_POSTGRES_URL a private server is started (see trueup_simulators.postgres). Nor
is NATS: without TRUEUP_TEST_NATS_URL a private nats-server is (trueup_simulators.nats).
"""

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, settings

from tests import compiled_domain
from tests.http_server import SAMPLE
from tests.nats_streams import delete_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.journal import Journal
from trueup.runners.cli import main
from trueup_simulators.nats import nats_server
from trueup_simulators.postgres import fresh_database, postgres_server

SAMPLE_START = 1_762_199_100_000  # the sample's first instant

STORES = ("sqlite", "postgresql")

# The properties judge what the code does, never how fast: on a loaded machine a slow draw
# or example is not a failure (the speed figures are `make bench`'s).
settings.register_profile("trueup", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("trueup")


def pytest_configure(config: pytest.Config) -> None:
    edited = compiled_domain.stale()
    if edited:
        pytest.exit(
            f"{edited[0]} changed since the domain was compiled beside it, which Python would "
            "run instead: `make compiled` builds it again (`make test` does)",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A command run in process (main([...])) points the root logger at the stderr of its
    test; after the test that stream is closed, and a thread still logging would write its
    "--- Logging error ---" into whichever test runs then."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """One PostgreSQL server for the whole run, started only if a test needs it."""
    with postgres_server() as url:
        yield url


@pytest.fixture(params=STORES, ids=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty journal: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'journal.db'}"
        return
    server_url: str = request.getfixturevalue("postgres_server_url")
    with fresh_database(server_url) as url:
        yield url


@pytest.fixture
def journal(store_url: str) -> Iterator[Journal]:
    """The journal at ``store_url``, open for the test and closed after it."""
    with Journal.open(store_url) as opened:
        yield opened


@pytest.fixture
def sampled(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A journal holding the recorded Bybit session, ingested by `trueup ingest`, under
    rules that report a close no fill explains at once (close_cause_grace_ms 0): what the
    tests over it post closes keys with no clock ticking after (the grace is
    tests/test_exit_reasons.py's)."""
    capture = tmp_path_factory.mktemp("sampled") / "session.jsonl"
    rules = {"at": SAMPLE_START, "channel": "rules", "source": "tests",
             "data": {"close_cause_grace_ms": 0}}  # fmt: skip
    capture.write_bytes(orjson.dumps(rules) + b"\n" + SAMPLE.read_bytes())
    assert main(["--store", store_url, "ingest", str(capture)]) == 0
    return store_url


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """One NATS server with JetStream for the whole run, started only if a test needs it."""
    with nats_server() as url:
        yield url


@pytest.fixture
def nats_subjects(nats_url: str) -> Iterator[Subjects]:
    """Subjects and streams of the test's own (a fresh prefix), so that tests sharing a
    server, or several runs sharing one, never see each other's messages; deleted after."""
    subjects = Subjects(f"t{uuid.uuid4().hex[:12]}")
    yield subjects
    delete_streams(nats_url, subjects)
