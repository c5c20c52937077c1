"""The journal's store when things go wrong: racing openers, a busy or vanished database, wrong
names, passwords, files that are no journal, and journals a newer trueup wrote.

Whatever goes wrong is either waited out or a StoreError of one line with no password in it,
never a traceback. Tests taking ``store_url`` or ``journal`` run on SQLite and PostgreSQL.
"""

import logging
import multiprocessing
import multiprocessing.queues
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, ProcessRecorder, StoredEvent, Tracking

from tests.filesystem import read_only
from tests.inputs import T0, intent, line
from tests.live_harness import wait_for
from tests.test_journal import MAIN, START, VENUE, in_global_order, page_by_page, positions, stored
from trueup.adapters.capture import decode_line
from trueup.adapters.store import location
from trueup.adapters.store.journal import Appended, Journal
from trueup.adapters.store.journal_format import FORMAT_ROW, JOURNAL_FORMAT
from trueup.adapters.store.location import StoreError
from trueup.adapters.store.redaction import redact
from trueup.adapters.store.sqlite_backend import explain
from trueup.adapters.store.view_table import ViewWrites
from trueup.application.ingest import Ingestor
from trueup.domain.keys import account_stream_id
from trueup.projections.partitions import tracked_position, tracker
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.runners.cli import main
from trueup_simulators.postgres import PostgresServer, fresh_database

RACERS = 8
SECRET = "s3cr3t-Pw"
# Longer than the 5 s the pool waits for a connection: the outage the journal must outlive.
OUTAGE_S = 6.0


def one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text, text
    assert "Traceback" not in text
    return text


def is_sqlite(store_url: str) -> bool:
    return store_url.startswith("sqlite://")


# --- racing start-up -----------------------------------------------------------------------------


# What a racer did: (its number, what its own append stored or the error it met, what its
# append of the inputs every racer appends stored).
Report = tuple[int, Appended | str, Appended | None]
Reports: TypeAlias = "queue.Queue[Report] | multiprocessing.queues.Queue[Report]"


def open_and_append(url: str, racer: int, start: threading.Barrier, reports: Reports) -> None:
    """One racer: open the journal the moment the others do, then append its own inputs and
    the inputs every racer appends."""
    start.wait(60)
    try:
        with Journal.open(url) as journal:
            own = journal.append(positions(5, first=START + 1000 * racer, account=f"racer-{racer}"))
            shared = journal.append(positions(5))
        reports.put((racer, own, shared))
    except BaseException as error:
        reports.put((racer, f"{type(error).__name__}: {error}", None))


def race(url: str, *, processes: bool) -> list[Report]:
    """RACERS openers of one journal started together, as processes or as threads."""
    reports: Reports
    racers: list[multiprocessing.process.BaseProcess | threading.Thread]
    if processes:
        context = multiprocessing.get_context("spawn")
        start: threading.Barrier = context.Barrier(RACERS)
        reports = context.Queue()
        racers = [
            context.Process(target=open_and_append, args=(url, i, start, reports))
            for i in range(RACERS)
        ]
    else:
        start, reports = threading.Barrier(RACERS), queue.Queue()
        racers = [
            threading.Thread(target=open_and_append, args=(url, i, start, reports))
            for i in range(RACERS)
        ]
    for racer in racers:
        racer.start()
    received = [reports.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(60)
    return sorted(received)


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_openers_racing_to_create_a_new_journal_all_succeed_and_store_each_input_once(
    store_url: str, processes: bool
) -> None:
    reports = race(store_url, processes=processes)

    assert [own for _, own, _ in reports] == [Appended(stored=5, duplicates=0)] * RACERS
    shared = [appended for _, _, appended in reports if appended is not None]
    assert sum(appended.stored for appended in shared) == 5
    with Journal.open(store_url) as journal:
        assert stored(journal) == positions(5)
        for racer in range(RACERS):
            expected = positions(5, first=START + 1000 * racer, account=f"racer-{racer}")
            assert stored(journal, f"racer-{racer}") == expected
        assert len(in_global_order(journal)) == 5 * RACERS + 5


def test_openers_racing_on_an_existing_journal_all_succeed(store_url: str) -> None:
    with Journal.open(store_url) as journal:
        journal.append(positions(5))

    reports = race(store_url, processes=False)

    assert [shared for _, _, shared in reports] == [Appended(stored=0, duplicates=5)] * RACERS


def test_an_opener_of_a_made_journal_waits_on_no_writer(postgres_server_url: str) -> None:
    """Opening a journal whose tables all exist takes no lock on them: it neither queues
    behind a writer's transaction nor makes the writers after it queue behind it."""
    with fresh_database(postgres_server_url) as url:
        Journal.open(url).close()
        with psycopg.connect(url) as writer, ThreadPoolExecutor(1) as pool:
            writer.execute("LOCK TABLE trueup_history IN ROW EXCLUSIVE MODE")  # as its views
            writer.execute("LOCK TABLE trueup_events IN EXCLUSIVE MODE")  # as its append
            try:
                opening = pool.submit(Journal.open, url)
                opening.result(timeout=30).close()
            finally:
                writer.rollback()


def test_a_journal_opened_again_checks_for_every_table_and_index_it_made(
    postgres_server_url: str,
) -> None:
    """What the recorder looks for before it skips its DDL is what its DDL makes: a table or
    index added to the DDL and not to that list would never be made in an older journal."""
    listed = (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') AND c.relname NOT LIKE '%_pkey'"
    )
    with fresh_database(postgres_server_url) as url:
        with Journal.open(url) as journal:
            expected = set(journal.recorder.made_relations())  # type: ignore[attr-defined]
        with psycopg.connect(url) as server:
            made = {str(row[0]) for row in server.execute(listed)}
    assert made == expected


def test_an_opener_that_deadlocks_with_a_writer_tries_again_and_opens(
    postgres_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer's transaction writes the views (trueup_history) before it locks the events
    table to append; an opener making a missing index (CREATE INDEX IF NOT EXISTS) locks the
    events table, then trueup_history. Caught between, PostgreSQL breaks the deadlock by
    rolling the opener back: it tries again once the writer is through, and opens."""
    caplog.set_level(logging.WARNING, logger="trueup.store")
    with fresh_database(postgres_server_url) as url:
        Journal.open(url).close()
        execute(url, "DROP INDEX trueup_history_closed")
        with psycopg.connect(url) as writer:
            writer.execute("LOCK TABLE trueup_history IN ROW EXCLUSIVE MODE")  # as its INSERT
            with ThreadPoolExecutor(1) as pool:
                opening = pool.submit(Journal.open, url)
                wait_for("the opener to wait", lambda: waits_on(writer, "trueup_history"))
                # Half of deadlock_timeout (1 s) later, so that the opener, waiting longer,
                # is the one whose check finds the cycle and is rolled back.
                time.sleep(0.5)
                writer.execute("LOCK TABLE trueup_events IN EXCLUSIVE MODE")  # as its append
                writer.rollback()
                opening.result(timeout=60).close()
    said = [r.getMessage() for r in caplog.records if r.name == "trueup.store"]
    assert said == ["journal busy (deadlock detected) while opening it, trying again"]


def test_a_writer_that_deadlocks_is_rolled_back_and_tries_again(
    postgres_server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An append writes the owner rows of a position it opens before it locks the events
    table; caught against a session locking them the other way round, it is the one
    PostgreSQL rolls back, and the Journal appends it again once the way is clear: waited
    out as a busy journal, not reconnected to as an unreachable one."""
    caplog.set_level(logging.WARNING, logger="trueup.store")
    opened = decode_line(line(intent(T0, kind="position_opened", position_id="p-1",
        category="linear", symbol="BTCUSDT", position_idx=0, side="Buy", qty="0.3",
        mode="LIVE")))  # fmt: skip
    with (
        fresh_database(postgres_server_url) as url,
        Journal.open(url) as journal,
        psycopg.connect(url) as other,
        ThreadPoolExecutor(1) as pool,
    ):
        other.execute("LOCK TABLE trueup_events IN SHARE MODE")
        appending = pool.submit(journal.append, [opened])
        wait_for("the append to wait", lambda: waits_on(other, "trueup_events"))
        time.sleep(0.5)  # the append waits longer: it is the one rolled back
        other.execute("LOCK TABLE trueup_owners IN SHARE MODE")
        other.rollback()
        assert appending.result(timeout=60) == Appended(stored=1, duplicates=0)
    said = [r.getMessage() for r in caplog.records if r.name == "trueup.store"]
    assert said and said[0].startswith("journal busy (deadlock detected), retrying in ")


def test_a_value_the_store_cannot_hold_is_one_line_and_stores_nothing_of_its_write(
    postgres_server_url: str,
) -> None:
    """What the reads let through must never reach the store unheld (a NUL in a name, a
    leg beyond 32 bits): should one, it is a StoreError of one line, not a traceback."""
    writes = ViewWrites("reconciler.00", 0, "views")
    writes.symbols.append((0, "bybit", "ma\x00in", "BTCUSDT", b"{}"))
    with fresh_database(postgres_server_url) as url, Journal.open(url) as journal:
        with pytest.raises(StoreError) as raised:
            journal.record([], {"reconciler.00": 1}, [writes])
        assert journal.tracked_position("reconciler.00") == 0
    assert one_line(raised.value).endswith(
        "refused a value it cannot hold, and stored nothing of that write: "
        "PostgreSQL text fields cannot contain NUL (0x00) bytes"
    )


def waits_on(connection: psycopg.Connection[Any], table: str) -> bool:
    """Whether another session waits for a lock on ``table``."""
    query = (
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass "
        "AND pid <> pg_backend_pid()"
    )
    with connection.cursor() as cursor:
        row = cursor.execute(query, (table,)).fetchone()
    return bool(row and row[0])


# --- a busy SQLite file ---------------------------------------------------------------------------


@contextmanager
def write_lock_held(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the journal's write lock until it commits."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield holder
    finally:
        holder.close()


def test_a_writer_waits_out_a_lock_held_longer_than_the_lock_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(location, "SQLITE_LOCK_TIMEOUT_S", 1)
    path = tmp_path / "journal.db"
    caplog.set_level(logging.WARNING, logger="trueup.store")
    with Journal.open(str(path)) as journal, write_lock_held(path) as holder:
        threading.Timer(2.5, holder.commit).start()  # held 2.5 s: past the 1 s lock timeout

        appended = journal.append(positions(3))

        assert appended == Appended(stored=3, duplicates=0)
        assert stored(journal) == positions(3)
    waits = [r.getMessage() for r in caplog.records if r.name == "trueup.store"]
    assert waits
    assert all(w.startswith("journal busy (database is locked), retrying in ") for w in waits)


def test_a_writer_told_to_give_up_on_a_busy_store_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(location, "SQLITE_LOCK_TIMEOUT_S", 1)
    path = tmp_path / "journal.db"
    with (
        Journal.open(str(path), give_up_after_s=0.5) as journal,
        write_lock_held(path),
        pytest.raises(StoreError) as raised,
    ):
        journal.append(positions(3))

    assert "busy for" in one_line(raised.value)
    assert "giving up: database is locked" in str(raised.value)


def test_a_writer_told_to_give_up_after_s_seconds_waits_no_longer_on_another_programs_lock(
    tmp_path: Path,
) -> None:
    """SQLite's own wait for the lock (10 s) is bounded by S, and counted in the time given
    up after: not 10 s, then S more."""
    path = tmp_path / "journal.db"
    with (
        Journal.open(str(path), give_up_after_s=1.0) as journal,
        write_lock_held(path),
        pytest.raises(StoreError) as raised,
    ):
        began = time.monotonic()
        journal.append(positions(3))
    waited = time.monotonic() - began

    said = one_line(raised.value)
    busy_for = float(said.split(" busy for ")[1].split(" s,")[0])
    assert busy_for >= 1.0
    assert waited - busy_for < 0.5  # the message says how long it waited
    assert waited < 5.0  # one second, give or take a try's wait and a retry's pause


@contextmanager
def table_lock_held(url: str, mode: str = "EXCLUSIVE") -> Iterator[psycopg.Connection[Any]]:
    """Another client holding a lock on the journal's events table until it commits: by
    default one that lets readers read and no writer write; ACCESS EXCLUSIVE lets neither."""
    with psycopg.connect(url) as holder:
        holder.execute(f"LOCK TABLE {events_table(url)} IN {mode} MODE".encode())
        yield holder


def test_a_postgresql_writer_waits_out_another_clients_table_lock_and_says_so(
    postgres_server_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(location, "POSTGRES_LOCK_TIMEOUT_S", 1)
    with fresh_database(postgres_server_url) as url, Journal.open(url) as journal:
        with table_lock_held(url) as holder:
            threading.Timer(2.5, holder.commit).start()  # past the 1 s lock timeout

            assert journal.append(positions(3)) == Appended(stored=3, duplicates=0)

        assert stored(journal) == positions(3)
    waits = [r.getMessage() for r in caplog.records if r.name == "trueup.store"]
    assert waits and all(w.startswith("journal busy (") for w in waits)


def test_a_postgresql_writer_told_to_give_up_waits_no_longer_on_a_table_lock(
    postgres_server_url: str,
) -> None:
    with (
        fresh_database(postgres_server_url) as url,
        Journal.open(url, give_up_after_s=1.0) as journal,
        table_lock_held(url),
        pytest.raises(StoreError) as raised,
    ):
        began = time.monotonic()
        journal.append(positions(3))
    waited = time.monotonic() - began

    assert " busy for " in one_line(raised.value)
    assert waited < 5.0  # not for ever: one second, give or take a retry's pause


def test_a_postgresql_reader_waits_out_another_clients_access_exclusive_lock_and_says_so(
    postgres_server_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(location, "POSTGRES_LOCK_TIMEOUT_S", 1)
    with fresh_database(postgres_server_url) as url, Journal.open(url) as journal:
        journal.append(positions(3))
        with table_lock_held(url, "ACCESS EXCLUSIVE") as holder:
            threading.Timer(2.5, holder.commit).start()  # past the 1 s lock timeout

            assert stored(journal) == positions(3)

    waits = [r.getMessage() for r in caplog.records if r.name == "trueup.store"]
    assert waits and all(w.startswith("journal busy (") for w in waits)


def test_a_postgresql_reader_told_to_give_up_waits_no_longer_on_a_table_lock(
    postgres_server_url: str,
) -> None:
    with fresh_database(postgres_server_url) as url:
        with Journal.open(url) as journal:
            journal.append(positions(3))
        with (
            Journal.open(url, give_up_after_s=1.0) as journal,
            table_lock_held(url, "ACCESS EXCLUSIVE"),
            pytest.raises(StoreError) as raised,
        ):
            began = time.monotonic()
            stored(journal)
        waited = time.monotonic() - began

    assert " busy for " in one_line(raised.value)
    assert waited < 5.0  # not for ever: one second, give or take a retry's pause


# --- a PostgreSQL server that goes away and comes back -------------------------------------------


@pytest.fixture(scope="module")
def restartable_postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server on a port of its own, which a test may stop and start
    (from the main thread: the server's life is tied to the thread that started it)."""
    with PostgresServer() as server:
        yield server


@contextmanager
def outage(server: PostgresServer, seconds: float) -> Iterator[None]:
    """The server stopped on entering; leaving waits out the rest of ``seconds`` and starts it
    again, from this (the main) thread, to which the server's life is tied."""
    server.stop()
    back_at = time.monotonic() + seconds
    try:
        yield
    finally:
        time.sleep(max(0.0, back_at - time.monotonic()))
        server.start()


def unreachable_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = [r for r in caplog.records if r.name == "trueup.store"]
    assert all(r.levelno == logging.WARNING for r in records)
    return [r.getMessage() for r in records]


def test_an_ingest_outlives_a_postgres_outage_longer_than_the_connect_timeout(
    restartable_postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trueup.store")
    events = positions(400)
    halfway, server_down = threading.Event(), threading.Event()
    with (
        fresh_database(restartable_postgres.url) as url,
        Journal.open(url) as journal,
        ThreadPoolExecutor(1) as writer,
    ):
        projection = ReconciliationProjection(journal)
        batches = 0

        def after_flush(appended: Appended | None) -> None:
            nonlocal batches
            projection.catch_up(appended)
            batches += 1
            if batches == 10:  # the server stops here, between two batches, mid-ingest
                halfway.set()
                server_down.wait(30)

        ingestor = Ingestor(journal, batch_size=20, after_flush=after_flush)

        def ingest() -> None:
            for event in events:
                ingestor.add(event)
            ingestor.flush()

        ingested = writer.submit(ingest)
        assert halfway.wait(30)
        with outage(restartable_postgres, OUTAGE_S):
            server_down.set()
        ingested.result(timeout=60)

        assert (ingestor.count.accepted, ingestor.count.duplicates) == (400, 0)
        assert stored(journal) == events
        assert in_global_order(journal) == events
        assert projection.position == journal.last_position()
        assert tracked_position(journal) == journal.last_position()
    warnings = unreachable_warnings(caplog)
    assert warnings
    assert all(w.startswith("journal unreachable (") for w in warnings)
    assert any("Connection refused" in w for w in warnings)


def test_a_projection_reads_and_records_through_an_outage(
    restartable_postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trueup.store")
    with fresh_database(restartable_postgres.url) as url, Journal.open(url) as journal:
        journal.append(positions(50))
        projection = ReconciliationProjection(journal)

        with ThreadPoolExecutor(1) as worker:
            with outage(restartable_postgres, OUTAGE_S):
                # Reads and tracking writes, all through the outage.
                caught_up = worker.submit(lambda: projection.catch_up(page=10))
            caught_up.result(timeout=60)

        assert projection.position == journal.last_position()
        projection.catch_up()  # idle: records how far it got past its own last events
        assert tracked_position(journal) == journal.last_position()
    assert unreachable_warnings(caplog)


def test_a_journal_told_when_to_give_up_raises_one_line_after_that_long(
    restartable_postgres: PostgresServer,
) -> None:
    password_url = restartable_postgres.url.replace("postgres@", f"postgres:{SECRET}@")
    with fresh_database(password_url) as url, Journal.open(url, give_up_after_s=1.0) as journal:
        journal.append(positions(2))
        restartable_postgres.stop()
        started = time.monotonic()
        try:
            with pytest.raises(StoreError) as raised:
                journal.append(positions(2, first=START + 100))
            waited = time.monotonic() - started
        finally:
            restartable_postgres.start()

    message = one_line(raised.value)
    assert 1.0 <= waited < 5.0
    assert "unreachable for" in message
    assert "giving up: connection to server at" in message
    assert SECRET not in message


class LostReply:
    """A recorder whose first insert is stored but whose reply never comes, as when the
    connection drops just after the commit. Everything else goes to the real recorder."""

    def __init__(self, recorder: ProcessRecorder) -> None:
        self.recorder = recorder
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.recorder, name)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        result = self.recorder.insert_events(stored_events, **kwargs)
        if not self.lost:
            self.lost += 1
            dropped = psycopg.OperationalError("server closed the connection unexpectedly")
            raise OperationalError(str(dropped)) from dropped
        return result


def test_an_append_whose_reply_was_lost_stores_each_input_once_when_retried(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = positions(5)
    monkeypatch.setattr(journal, "recorder", LostReply(journal.recorder))

    appended = journal.append(events)

    assert appended.stored + appended.duplicates == 5
    assert stored(journal) == events
    assert in_global_order(journal) == events


def test_tracking_whose_reply_was_lost_is_recorded_once_when_retried(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.append(positions(3))
    end = journal.last_position()
    monkeypatch.setattr(journal, "recorder", LostReply(journal.recorder))

    journal.record([], {tracker(0): end})

    assert journal.tracked_position(tracker(0)) == end


# --- connection errors in the server's own words ------------------------------------------------


def with_user(server_url: str, user: str, database: str = "postgres") -> str:
    parts = urlsplit(server_url)
    return f"postgresql://{user}@{parts.hostname}:{parts.port}/{database}"


def test_a_database_that_does_not_exist_is_named(postgres_server_url: str) -> None:
    missing = f"trueup_missing_{uuid4().hex[:8]}"

    with pytest.raises(StoreError) as raised:
        Journal.open(with_user(postgres_server_url, "postgres", missing))

    assert one_line(raised.value).endswith(f'database "{missing}" does not exist')


def test_a_role_that_does_not_exist_is_named_and_its_password_hidden(
    postgres_server_url: str,
) -> None:
    with pytest.raises(StoreError) as raised:
        Journal.open(with_user(postgres_server_url, f"nobody:{SECRET}"))

    message = one_line(raised.value)
    assert message.endswith('role "nobody" does not exist')
    assert "nobody:***@" in message
    assert SECRET not in message


def test_the_cli_names_a_missing_database_in_one_line(
    postgres_server_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["--store", with_user(postgres_server_url, "postgres", "nowhere"), "events"])

    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("trueup: cannot open the journal at postgresql://postgres@")
    assert err.endswith('database "nowhere" does not exist\n')
    assert err.count("\n") == 1


def test_a_server_unreachable_when_a_command_starts_is_one_line_and_exit_2_at_once(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A wrong address is likelier than an outage; waiting is for a journal already open.
    started = time.monotonic()
    code = main(["--store", "postgresql://trader@127.0.0.1:1/trueup", "ingest", "/dev/null"])

    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "trueup: cannot open the journal at postgresql://trader@127.0.0.1:1/trueup: connection "
        'to server at "127.0.0.1", port 1 failed: Connection refused\n'
    )
    assert time.monotonic() - started < location.POSTGRES_CONNECT_TIMEOUT_S


# --- passwords never shown ----------------------------------------------------------------------

PASSWORD_FORMS = {
    "url": f"postgresql://trader:{SECRET}@127.0.0.1:1/trueup",
    "url with an @ in the password": f"postgresql://trader:{SECRET}@x@127.0.0.1:1/trueup",
    "query string": f"postgresql://trader@127.0.0.1:1/trueup?password={SECRET}",
    "query string among others": (
        f"postgresql://trader@127.0.0.1:1/trueup?sslmode=disable&password={SECRET}&port=1"
    ),
    "key=value": f"host=127.0.0.1 port=1 dbname=trueup user=trader password={SECRET}",
    "quoted key=value": f"host=127.0.0.1 port=1 password='{SECRET} x' dbname=trueup",
    "url that does not parse": f"postgresql://trader:{SECRET} x@[127.0.0.1:1/trueup",
    "key=value that does not parse": f"host=127.0.0.1 dbname=trueup password={SECRET} x",
}


@pytest.mark.parametrize("given", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_redact_masks_the_password_in_every_form(given: str) -> None:
    assert SECRET not in redact(given)
    assert "***" in redact(given)


@pytest.mark.parametrize("given", PASSWORD_FORMS.values(), ids=PASSWORD_FORMS.keys())
def test_a_store_that_fails_to_open_never_shows_its_password(given: str) -> None:
    with pytest.raises(StoreError) as raised:
        Journal.open(given)

    message = one_line(raised.value)
    assert SECRET not in message
    assert SECRET[:5] not in message


def test_redact_masks_a_known_password_wherever_a_message_echoes_it() -> None:
    said = f"FATAL: something quoted the connection string: {SECRET}"

    assert redact(said, [SECRET]) == "FATAL: something quoted the connection string: ***"


def test_redact_leaves_text_without_a_password_alone() -> None:
    for text in ("postgresql://trader@db:5432/trueup", "/var/lib/trueup.db", "host=db dbname=x"):
        assert redact(text) == text


# --- SQLite files that cannot be a journal -------------------------------------------------------


def test_a_new_journal_in_a_read_only_directory_is_refused_naming_both(tmp_path: Path) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    path = directory / "journal.db"

    with read_only(directory), pytest.raises(StoreError) as raised:
        Journal.open(str(path))

    assert one_line(raised.value).startswith(
        f"cannot create the journal at {path}: {directory} is not writable ("
    )


def test_a_file_that_is_not_a_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the droids you are looking for\n" * 100)

    with pytest.raises(StoreError) as raised:
        Journal.open(str(path))

    assert one_line(raised.value) == (
        f"cannot open the journal at {path}: not a SQLite database (file is not a database)"
    )


def test_a_directory_given_as_the_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as raised:
        Journal.open(str(tmp_path))

    assert one_line(raised.value) == f"cannot use {tmp_path} as the journal: it is a directory"


def test_a_journal_in_a_folder_that_does_not_exist_is_refused_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "journal.db"

    with pytest.raises(StoreError) as raised:
        Journal.open(str(path))

    assert one_line(raised.value) == (
        f"cannot create the SQLite journal {str(path)!r}: {path.parent} does not exist"
    )
    assert not path.parent.exists()


def test_a_journal_under_a_file_is_refused_saying_the_file_is_no_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    path = tmp_path / "notes.txt" / "journal.db"

    with pytest.raises(StoreError) as raised:
        Journal.open(str(path))

    assert one_line(raised.value) == (
        f"cannot create the SQLite journal {str(path)!r}: {path.parent} is not a directory"
    )


def test_writing_to_a_read_only_journal_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    Journal.open(str(path)).close()

    with read_only(path), Journal.open(str(path)) as journal, pytest.raises(StoreError) as raised:
        journal.append(positions(1))

    assert one_line(raised.value) == (
        f"the journal at {path} is read-only: attempt to write a readonly database"
    )


# What SQLite says, as root (whom only an immutable folder stops) and as another user.
CANNOT_MAKE_ITS_FILES = ["unable to open database file", "attempt to write a readonly database"]


@pytest.mark.parametrize("said", CANNOT_MAKE_ITS_FILES, ids=["as root", "as a user"])
def test_a_journal_in_a_read_only_directory_is_refused_naming_the_directory_not_the_file(
    tmp_path: Path, said: str
) -> None:
    """SQLite makes its -wal and -shm files beside the journal to read it too: a walkthrough
    was told its writable file was read-only."""
    directory = tmp_path / "locked"
    directory.mkdir()
    path = directory / "journal.db"
    Journal.open(str(path)).close()  # closed last: its -wal and -shm removed

    with read_only(directory), pytest.raises(StoreError) as raised:
        Journal.open(str(path), create=False)
    with read_only(directory):
        told = explain(str(path), sqlite3.OperationalError(said))

    refused = f"cannot open the journal at {path}: {directory} is not writable ("
    assert one_line(raised.value).startswith(refused) and told.startswith(refused)


# --- stores that are not (or no longer) trueup journals ------------------------------------------


def execute(store_url: str, statement: str) -> None:
    """Run SQL on the store behind trueup's back."""
    if is_sqlite(store_url):
        with sqlite3.connect(store_url.removeprefix("sqlite://")) as connection:
            connection.execute(statement)
        return
    with psycopg.connect(store_url, autocommit=True) as connection:
        connection.execute(statement.encode())


def events_table(store_url: str) -> str:
    return "stored_events" if is_sqlite(store_url) else "trueup_events"


def tracking_table(store_url: str) -> str:
    return "tracking" if is_sqlite(store_url) else "trueup_tracking"


def test_a_journal_table_with_a_renamed_column_is_refused(store_url: str) -> None:
    with Journal.open(store_url) as journal:
        journal.append(positions(2))
    table = events_table(store_url)
    execute(store_url, f"ALTER TABLE {table} RENAME COLUMN state TO payload")

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url)

    assert one_line(raised.value).endswith(
        f"not a trueup journal, or altered since: its table {table} has no state column"
    )


def test_another_applications_table_of_the_same_name_is_refused(store_url: str) -> None:
    table = events_table(store_url)
    execute(store_url, f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url)

    assert "not a trueup journal" in one_line(raised.value)
    assert f"its table {table} has no " in str(raised.value)


def another_event_sourced_application(store_url: str, *, with_events: bool) -> None:
    """Tables of the names trueup's journal has, made by another eventsourcing application
    (its default names, in SQLite), holding its tracking record and, or not, its event."""
    events, tracking = events_table(store_url), tracking_table(store_url)
    state, notification = (
        ("BLOB", "") if is_sqlite(store_url) else ("BYTEA", ", notification_id BIGSERIAL")
    )
    execute(
        store_url,
        f"CREATE TABLE {events} (originator_id TEXT, originator_version INTEGER, topic TEXT, "
        f"state {state}{notification}, PRIMARY KEY (originator_id, originator_version))",
    )
    execute(
        store_url,
        f"CREATE TABLE {tracking} (application_name TEXT PRIMARY KEY, notification_id BIGINT)",
    )
    execute(store_url, f"INSERT INTO {tracking} VALUES ('orders', 1)")  # noqa: S608
    if with_events:
        execute(store_url, f"INSERT INTO {events} VALUES ('abc', 1, 'shop:Created', 'x')")  # noqa: S608


@pytest.mark.parametrize("with_events", [True, False], ids=["events", "tracking alone"])
@pytest.mark.parametrize("create", [True, False], ids=["writing", "reading"])
def test_another_event_sourced_applications_tables_of_the_same_names_are_refused_untouched(
    store_url: str, with_events: bool, create: bool
) -> None:
    """Its tables have the journal's columns: a walkthrough's `trueup events` renamed its
    tracking table, added trueup's, and ended in a traceback; `ingest` wrote into it."""
    another_event_sourced_application(store_url, with_events=with_events)
    before = tables_in(store_url)

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url, create=create)

    theirs = "events (topic 'shop:Created')" if with_events else "tracking records (orders)"
    assert one_line(raised.value).endswith(
        f": holds another application's {theirs}, not a trueup journal: "
        "give trueup a store of its own (a new file, or an empty database)"
    )
    assert tables_in(store_url) == before


def tables_in(store_url: str) -> set[str]:
    """The names of the store's tables (in the schema trueup uses)."""
    if is_sqlite(store_url):
        with sqlite3.connect(store_url.removeprefix("sqlite://")) as connection:
            listed = "SELECT name FROM sqlite_master WHERE type = 'table'"
            return {str(row[0]) for row in connection.execute(listed)}
    with psycopg.connect(store_url) as server:
        listed = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        return {str(row[0]) for row in server.execute(listed)}


def test_a_store_holding_another_applications_tables_is_never_made_a_journal(
    store_url: str,
) -> None:
    execute(store_url, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url)

    assert one_line(raised.value).endswith(
        ": holds no trueup journal but other tables (customers): "
        "give trueup a store of its own (a new file, or an empty database)"
    )
    assert tables_in(store_url) == {"customers"}


def test_a_postgresql_database_with_another_applications_schema_is_never_made_a_journal(
    postgres_server_url: str,
) -> None:
    with fresh_database(postgres_server_url) as url:
        execute(url, "CREATE SCHEMA shop")
        execute(url, "CREATE TABLE shop.customers (id INTEGER PRIMARY KEY)")

        with pytest.raises(StoreError) as raised:
            Journal.open(url)

        assert "holds no trueup journal but other tables (shop.customers)" in one_line(raised.value)
        assert tables_in(url) == set()  # none made in trueup's own schema either


def test_a_sqlite_file_holding_another_applications_view_is_never_made_a_journal(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite://{tmp_path / 'app.db'}"
    execute(store_url, "CREATE VIEW answer AS SELECT 42 AS value")

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url)

    assert "holds no trueup journal but other tables (answer)" in one_line(raised.value)
    assert tables_in(store_url) == set()


def test_a_reader_waits_for_the_journal_another_trueup_is_making(tmp_path: Path) -> None:
    """The maker's file is there a moment before its tables: a command that only reads,
    started then, opens the journal once made rather than say it holds none."""
    path = tmp_path / "journal.db"
    sqlite3.connect(path).close()  # the file made, its tables not yet
    maker = threading.Timer(0.2, lambda: Journal.open(str(path)).close())
    maker.start()
    try:
        with Journal.open(str(path), create=False) as journal:
            assert journal.last_position() == 0
    finally:
        maker.join()


def test_a_sqlite_file_refused_as_a_journal_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    execute(f"sqlite://{path}", "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = path.read_bytes()

    with pytest.raises(StoreError):
        Journal.open(str(path))

    assert path.read_bytes() == before  # not even turned to WAL mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db"]


def test_an_empty_sqlite_file_is_made_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    path.touch()

    with Journal.open(str(path)) as journal:
        journal.append(positions(1))
        assert journal.recorder.max_tracking_id(FORMAT_ROW) == JOURNAL_FORMAT


def test_a_journal_whose_own_other_tables_outlived_its_events_is_made_again(
    store_url: str,
) -> None:
    Journal.open(store_url).close()
    execute(store_url, f"DROP TABLE {events_table(store_url)}")
    execute(store_url, f"DROP TABLE {tracking_table(store_url)}")

    with Journal.open(store_url) as journal:
        assert journal.recorder.max_tracking_id(FORMAT_ROW) == JOURNAL_FORMAT


# --- journals a newer trueup wrote ---------------------------------------------------------------


def test_a_new_journal_records_its_format_without_taking_a_position(journal: Journal) -> None:
    assert journal.recorder.max_tracking_id(FORMAT_ROW) == JOURNAL_FORMAT
    assert journal.last_position() == 0


def test_a_journal_of_a_newer_format_is_refused_with_advice_to_upgrade(store_url: str) -> None:
    with Journal.open(store_url) as journal:
        journal.recorder.insert_tracking(Tracking(FORMAT_ROW, JOURNAL_FORMAT + 1))

    with pytest.raises(StoreError) as raised:
        Journal.open(store_url)

    assert one_line(raised.value) == (
        f"journal written by a newer trueup (journal format {JOURNAL_FORMAT + 1}; "
        f"this trueup reads up to {JOURNAL_FORMAT}): upgrade trueup"
    )


def future_input(version: int) -> StoredEvent:
    """An input of a type only a newer trueup knows, in the main account's stream."""
    state = b'{"type":"FutureThing","symbols":null,"venue":"bybit","account":"main","at":1}'
    stream = account_stream_id(VENUE, MAIN)
    return StoredEvent(stream, version, "trueup.input.FutureThing", state)


def test_inputs_of_a_type_this_trueup_does_not_know_are_skipped_and_counted_once(
    journal: Journal,
) -> None:
    before, after = positions(2), positions(2, first=START + 100)
    journal.append(before)
    journal.recorder.insert_events([future_input(3)])
    appended = journal.append(after)

    assert appended == Appended(stored=2, duplicates=0)
    assert stored(journal) == before + after
    assert in_global_order(journal) == before + after
    assert [event for _, event in page_by_page(journal)] == before + after
    assert journal.unknown_inputs == 1


def test_emitted_events_this_trueup_cannot_read_are_skipped_and_counted(journal: Journal) -> None:
    inputs = positions(2)
    journal.append(inputs)
    unknown = b'{"type":"FUTURE_ALERT","event_id":"x"}'
    missing_fields = b'{"type":"RATE_LIMIT","event_id":"y"}'
    journal.recorder.insert_events(
        [
            StoredEvent(uuid4(), 1, "trueup.emitted.FUTURE_ALERT", unknown),
            StoredEvent(uuid4(), 1, "trueup.emitted.RATE_LIMIT", missing_fields),
        ]
    )

    assert [event for _, event in journal.all_events()] == inputs
    assert [event for _, event in journal.all_events()] == inputs
    assert journal.unknown_emitted == 2
    assert journal.unknown_inputs == 0


def test_an_input_whose_fields_no_longer_decode_is_a_store_error_naming_where(
    journal: Journal,
) -> None:
    journal.append(positions(1))
    stream = account_stream_id(VENUE, MAIN)
    broken = b'{"type":"PositionsReported","symbols":null}'
    journal.recorder.insert_events(
        [StoredEvent(stream, 2, "trueup.input.PositionsReported", broken)]
    )
    position = journal.last_position()

    with pytest.raises(StoreError) as globally:
        journal.inputs()
    with pytest.raises(StoreError) as by_account:
        stored(journal)

    assert f"cannot read the input at journal position {position} (PositionsReported: " in (
        one_line(globally.value)
    )
    assert one_line(globally.value).endswith(
        "it was probably written by a newer trueup; upgrade trueup"
    )
    assert "cannot read the input 2 of account bybit/main" in one_line(by_account.value)


def test_can_open_says_no_while_inputs_of_a_newer_trueup_go_unread(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal.open(store_url) as journal:
        journal.append(positions(1))
        journal.recorder.insert_events([future_input(2)])
    args = ["can-open", "--venue", VENUE, "--account", MAIN, "--symbol", "SOLUSDT"]

    code = main(["--store", store_url, *args])

    out, err = capsys.readouterr()
    assert code == 1
    assert "cannot read (written by a newer trueup?): upgrade trueup" in out
    assert err.startswith("trueup: warning: skipped 1 input(s)")
