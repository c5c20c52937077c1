"""Snapshots of the reconciler: a restart or a query starts from the last one and replays
only what came after, and gets exactly what a replay from the first input gets."""

import os
import pickle
import shutil
import sqlite3
import time
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import T0, line
from tests.scenarios import SYMBOLS, busy_session
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec, snapshot_format, snapshot_table, snapshots
from trueup.adapters.store import journal as journal_module
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.snapshot_format import SNAPSHOT_FORMAT, source_digest
from trueup.adapters.store.snapshots import Snapshot
from trueup.application.ingest import Ingestor
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, OrderPlaced
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.vocabulary import OrderSide
from trueup.projections import reconciliation
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import ALL, partition_of, tracker
from trueup.projections.positions import position_rows
from trueup.projections.reconciliation import ReconciliationProjection, replay
from trueup.runners import detector_process

SESSION = [decode_line(line(record)) for record in busy_session(3_000, seed=21)]


def answers(reconciler: Reconciler) -> list[object]:
    """What a bot or an operator would be told: every position row, every can-open."""
    told: list[object] = list(position_rows(reconciler))
    for venue, account in sorted(reconciler.books):
        book, detectors = reconciler.book(venue, account), reconciler.detectors(venue, account)
        for symbol in SYMBOLS:
            verdict = can_open(book, detectors, symbol, SESSION[-1].at)
            told.append((symbol, verdict.allowed, verdict.reasons, verdict.notes))
        # The PnL ledger: every key's figures, and what its history will be told.
        told.append(sorted((repr(k), repr(v)) for k, v in book.pnl.keys.items()))
        told.append(repr(book.pnl.closed))
    return told


def run(reconciler: Reconciler, events: list[InputEvent]) -> list[bytes]:
    return [codec.encode_emitted(e) for event in events for e in reconciler.apply(event)]


@settings(max_examples=12, deadline=None)
@given(st.integers(0, len(SESSION)))
def test_state_from_a_snapshot_at_any_input_equals_state_from_scratch(cut: int) -> None:
    straight = Reconciler()
    expected = run(straight, SESSION)
    before = Reconciler()
    emitted = run(before, SESSION[:cut])
    restored = snapshots.load(snapshots.dump(Snapshot(cut, before)))
    assert restored is not None and restored.position == cut
    emitted += run(restored.reconciler, SESSION[cut:])
    assert emitted == expected
    assert answers(restored.reconciler) == answers(straight)


def test_a_snapshot_another_trueup_wrote_is_ignored_not_misread() -> None:
    reconciler = Reconciler()
    run(reconciler, SESSION[:100])
    state = snapshots.dump(Snapshot(100, reconciler))
    older = state.replace(SNAPSHOT_FORMAT.encode(), b"0123456789abcdef", 1)
    assert snapshots.load(older) is None
    assert snapshots.load(state[: len(state) // 2]) is None  # cut short


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_a_snapshot_that_would_run_code_is_refused() -> None:
    assert snapshots.load(snapshots.framed(pickle.dumps((1, _Exploit())))) is None


@dataclass(slots=True)
class _Outsider:
    """A dataclass with slots, as the domain's are, but of no domain module."""


def _rebuilt_through_restore(cls: type) -> bytes:
    """A snapshot whose state is ``cls`` rebuilt by snapshots.restore from no values."""
    return snapshots.framed(pickle.dumps((1, _Restored(cls))))


class _Restored:
    def __init__(self, cls: type) -> None:
        self.cls = cls

    def __reduce__(self) -> tuple[object, tuple[type, tuple[()]]]:
        return (snapshots.restore, (self.cls, ()))


def test_restore_builds_only_domain_classes_with_slots() -> None:
    reconciler = Reconciler()
    run(reconciler, SESSION[:100])
    assert snapshots.load(snapshots.dump(Snapshot(100, reconciler))) is not None  # met them
    assert snapshots.load(_rebuilt_through_restore(_Outsider)) is None
    assert snapshots.load(_rebuilt_through_restore(Reconciler)) is None  # no slots
    assert snapshots.load(_rebuilt_through_restore(OrderPlaced)) is None  # none of its fields


def test_keys_come_back_as_their_own_type() -> None:
    reconciler = Reconciler()
    run(reconciler, SESSION[:300])
    restored = snapshots.load(snapshots.dump(Snapshot(300, reconciler)))
    assert restored is not None
    assert any(b.positions for b in reconciler.books.values())
    assert any(b.orders for b in reconciler.books.values())
    for account, book in reconciler.books.items():
        again = restored.reconciler.books[account]
        assert list(again.positions) == list(book.positions)
        assert {type(k) for k in again.positions} <= {PositionKey}
        assert {type(k) for k in again.orders} <= {OrderKey}


def test_equal_keys_come_back_as_one_object() -> None:
    """A book makes an equal order key again for every report; a snapshot saves it once."""
    reconciler = Reconciler()
    run(reconciler, SESSION)
    restored = snapshots.load(snapshots.dump(Snapshot(len(SESSION), reconciler)))
    assert restored is not None
    for account, book in restored.reconciler.books.items():
        orders = restored.reconciler.detectors_by_account[account].orders
        keys = [*book.orders, *book.order_keys_by_client_id.values(), *orders.reports]
        assert len(set(keys)) < len(keys)  # the same orders, named in several places
        assert len({id(key) for key in keys}) == len(set(keys))


def _placed(number: int, qty: str) -> OrderPlaced:
    return OrderPlaced(
        input_id=f"in-{number}", at=T0 + number, venue="bybit", account="main", raw="",
        position_id="p-1", client_order_id=f"c-{number}", category="linear", symbol="BTCUSDT",
        purpose="ENTRY", side=OrderSide.BUY, qty=Decimal(qty), price=None,
    )  # fmt: skip


def test_equal_amounts_of_another_text_come_back_apart() -> None:
    """0.10 and 0.1 are equal, and -0 and 0, yet not the same amount: a snapshot saves an
    amount once for every other of its exact text, never for one merely equal."""
    texts = ["0.10", "0.1", "-0", "0", "0.10", "-0"]
    reconciler = Reconciler()
    for number, text in enumerate(texts):
        reconciler.apply(_placed(number, text))
    restored = snapshots.load(snapshots.dump(Snapshot(len(texts), reconciler)))
    assert restored is not None
    placed = restored.reconciler.book("bybit", "main").placed
    amounts = [placed[f"c-{number}"].qty for number in range(len(texts))]
    assert [str(amount) for amount in amounts] == texts
    assert amounts[0] is amounts[4] and amounts[2] is amounts[5]  # saved once


def test_ids_decoded_apart_are_one_str() -> None:
    """An order's id, held by its key, reports, fills and intent, is one str however many
    times it is decoded: a snapshot then saves it once."""
    decoded = [codec.decode(codec.encode(_placed(1, "0.1"))) for _ in range(2)]
    first, again = (event for event in decoded if isinstance(event, OrderPlaced))
    assert first.client_order_id is again.client_order_id
    assert first.position_id is again.position_id


def emitted_in(journal: Journal) -> list[bytes]:
    return [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]


def test_a_restart_starts_from_the_snapshot_and_emits_what_an_unbroken_run_does(
    journal: Journal, tmp_path: object
) -> None:
    lines = [line(record) for record in busy_session(3_000, seed=22)]
    with Journal.open(f"sqlite://{tmp_path}/reference.db") as reference:
        projection = ReconciliationProjection(reference)
        Ingestor(reference, after_flush=projection.catch_up).ingest(lines)
        expected = emitted_in(reference)

    first = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=first.catch_up).ingest(lines[:2_000])
    first.checkpoint()  # as a clean stop does
    again = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=again.catch_up).ingest(lines[2_000:])
    assert again.rebuilt_from == first.position > 0  # from the snapshot, not the start
    assert emitted_in(journal) == expected


def test_queries_read_the_snapshot_and_the_inputs_after_it(journal: Journal) -> None:
    lines = [line(record) for record in busy_session(2_000, seed=23)]
    projection = ReconciliationProjection(journal)
    ingestor = Ingestor(journal, after_flush=projection.catch_up)
    ingestor.ingest(lines[:1_200])
    projection.checkpoint()
    Ingestor(journal).ingest(lines[1_200:])  # not yet projected: the tail a query replays
    from_scratch = Reconciler()
    for _, event in journal.all_events():
        if not isinstance(event, Emitted):
            from_scratch.apply(event)
    assert answers(replay(journal)) == answers(from_scratch)
    stored = journal.load_snapshot(tracker(partition_of("bybit", "main")))
    assert stored is not None and stored[0] == projection.position


def test_a_clean_stop_saves_only_the_state_a_restart_would_find_dear_to_replay(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving costs in proportion to the state, replaying in proportion to the inputs since
    the last save: a state never saved is saved; a short run after a save of a state that
    is large beside it leaves its inputs to be read again."""
    lines = [line(record) for record in busy_session(3_000, seed=24)]
    bybit_main = tracker(partition_of("bybit", "main"))
    long_run = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=long_run.catch_up).ingest(lines[:2_500])
    long_run.stop()
    saved = journal.load_snapshot(bybit_main)
    assert saved is not None and saved[0] == long_run.position  # never saved: saved

    # The state as dear to save as 2,000 inputs are to read again.
    monkeypatch.setattr(reconciliation, "SNAPSHOT_BYTES_PER_INPUT", len(saved[1]) // 2_000 + 1)
    short_run = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=short_run.catch_up).ingest(lines[2_500:])
    short_run.stop()
    again = journal.load_snapshot(bybit_main)
    assert again is not None and again[0] == saved[0]  # cheaper to read 500 inputs again
    assert journal.tracked_position(bybit_main) == journal.last_position()  # all recorded


def test_a_stopping_holder_lets_its_leases_go_before_it_saves_its_snapshots(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever takes the partitions over (the next ingest, a standby worker) need not wait
    while the state is saved: what it saves is recorded already, and replaces no later one."""
    lines = [line(record) for record in busy_session(1_000, seed=26)]
    holder = LeasedProjection(journal)
    Ingestor(journal, after_flush=holder.catch_up).ingest(lines)
    held = set(holder.held)
    saving: list[tuple[str, int, bool]] = []
    save = journal.save_snapshot

    def watched(tracker: str, position: int, state: bytes, *, unless_later: bool = False) -> None:
        other = LeasedProjection(journal)
        assert other.take(held) == sorted(held)  # free while it is saved
        assert journal.tracked_position(tracker) == position  # recorded before let go
        other.release()
        saving.append((tracker, position, unless_later))
        save(tracker, position, state, unless_later=unless_later)

    monkeypatch.setattr(journal, "save_snapshot", watched)
    holder.release()
    assert saving and all(unless_later for _, _, unless_later in saving)
    bybit_main = tracker(partition_of("bybit", "main"))
    assert bybit_main in [name for name, _, _ in saving]


def test_a_stopping_holder_that_finds_the_store_busy_leaves_its_snapshots_unsaved(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Once its leases are let go, a snapshot is a saving for the next start, not a duty:
    a busy store is waited on briefly, then the stop ends (an ingest's worker must not
    outlive its ingest for long), and the next start replays from the last one kept."""
    monkeypatch.setattr(journal_module, "OPTIONAL_WAIT_S", 0.3)

    def busy(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    with Journal.open(store_url) as journal:
        holder = LeasedProjection(journal)
        lines = [line(record) for record in busy_session(500, seed=27)]
        Ingestor(journal, after_flush=holder.catch_up).ingest(lines)
        for table in (snapshot_table.SQLiteSnapshots, snapshot_table.PostgresSnapshots):
            monkeypatch.setattr(table, "save", busy)
        began = time.monotonic()
        holder.release()
        assert time.monotonic() - began < 5
        assert detector_process.leases_free(journal)
        assert journal.tracked_position(tracker(partition_of("bybit", "main"))) > 0
        assert journal.load_snapshot(tracker(partition_of("bybit", "main"))) is None
    assert "snapshots not saved at the stop" in caplog.text


def test_dear_to_replay_counts_inputs_not_the_journal_positions_markers_and_events_take(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each input also takes a position for its marker, and what it makes the detectors
    emit takes more: a restart skips those undecoded, so they do not make a save dear."""
    lines = [line(record) for record in busy_session(2_000, seed=25)]
    bybit_main = tracker(partition_of("bybit", "main"))
    first = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=first.catch_up).ingest(lines[:500])
    first.stop()
    saved = journal.load_snapshot(bybit_main)
    assert saved is not None
    # The states (the ticks of the session woke every partition) as dear to save as 1,000
    # inputs are to read again.
    monkeypatch.setattr(
        reconciliation, "SNAPSHOT_BYTES_PER_INPUT", states_bytes(journal) // 1_000 + 1
    )

    second = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=second.catch_up).ingest(lines[500:1_200])
    second.stop()
    assert journal.last_position() - saved[0] > 1_400  # 700 inputs, their markers, emitted
    assert journal.load_snapshot(bybit_main) == saved  # but 700 inputs are cheap to read again

    # Restarted: the 700 read again count towards the next save, with the 400 after them.
    third = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=third.catch_up).ingest(lines[1_200:1_600])
    third.stop()
    again = journal.load_snapshot(bybit_main)
    assert again is not None and again[0] == third.position


def states_bytes(journal: Journal) -> int:
    """What every partition's last saved state takes, stored."""
    kept = (journal.load_snapshot(tracker(n)) for n in ALL)
    return sum(len(state) for _, state in filter(None, kept))


def test_a_clean_stop_weighs_the_read_a_restart_shares_against_saving_every_state_it_spares(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart reads the inputs after its oldest state once for all the partitions it
    wakes: saving one state of many spares it nothing, so the stop saves them all or none,
    by what all of them cost to save."""
    lines = [line(record) for record in busy_session(2_000, seed=28)]
    first = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=first.catch_up).ingest(lines[:500])
    first.stop()  # every state saved: none had been
    kept = {n: journal.load_snapshot(tracker(n)) for n in ALL}
    largest = max(len(state) for _, state in filter(None, kept.values()))
    total = states_bytes(journal)
    assert total - largest >= 700  # the others' states weigh something too
    # 700 inputs dearer to read again than any one state is to save, cheaper than all.
    monkeypatch.setattr(reconciliation, "SNAPSHOT_BYTES_PER_INPUT", total // 700 - 1)
    assert largest <= 700 * reconciliation.SNAPSHOT_BYTES_PER_INPUT

    second = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=second.catch_up).ingest(lines[500:1_200])
    second.stop()
    assert {n: journal.load_snapshot(tracker(n)) for n in ALL} == kept

    third = ReconciliationProjection(journal)  # 700 to read again, and 300 more
    Ingestor(journal, after_flush=third.catch_up).ingest(lines[1_200:1_500])
    third.stop()
    positions = {n: found[0] for n in ALL if (found := journal.load_snapshot(tracker(n)))}
    assert set(positions.values()) == {third.position}


def test_a_restart_wakes_the_partitions_a_batch_has_work_for_in_one_read_of_the_journal(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each wake replays the journal from its snapshot on: partitions woken one by one as
    their inputs come would read it once each."""
    accounts = ("main", "other", "side")  # three partitions
    assert len({partition_of("bybit", a) for a in accounts}) == 3

    def session(seed: int) -> list[bytes]:
        records = [r for r in busy_session(300, seed=seed) if r.get("account")]
        return [line(r | {"account": a}) for r in records for a in accounts]

    first = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=first.catch_up).ingest(session(28))
    first.stop()  # too few inputs to be worth saving: a restart replays them
    replays: list[list[int]] = []
    replay = reconciliation._apply

    def counted(journal: Journal, starts: Any, upto: Any, as_of: Any) -> None:
        replays.append(sorted(starts))
        replay(journal, starts, upto, as_of)

    monkeypatch.setattr(reconciliation, "_apply", counted)
    second = ReconciliationProjection(journal)
    Ingestor(journal, after_flush=second.catch_up).ingest(session(29))
    assert replays == [sorted(partition_of("bybit", a) for a in accounts)]


def test_the_snapshot_format_follows_the_domain_code_not_where_it_is_installed(
    tmp_path: Path,
) -> None:
    """Two checkouts of the same code read each other's snapshots; a change to the domain
    is another format."""
    domain = Path(resources.files("trueup.domain"))  # type: ignore[arg-type]
    here = shutil.copytree(domain, tmp_path / "one" / "domain")
    there = shutil.copytree(domain, tmp_path / "elsewhere" / "too" / "domain")
    assert source_digest(here) == source_digest(there) == SNAPSHOT_FORMAT
    (there / "book.py").write_text((there / "book.py").read_text() + "\n# changed\n")
    assert source_digest(there) != SNAPSHOT_FORMAT


def test_inputs_read_as_they_were_not_are_another_snapshot_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A state folded from inputs upcast.py now reads otherwise is not what a rebuild folds:
    the same domain code, reading its inputs anew, takes no snapshot of before."""
    domain = resources.files("trueup.domain")
    monkeypatch.setattr(snapshot_format, "INPUTS_READ_AS", snapshot_format.INPUTS_READ_AS + 1)
    assert source_digest(domain) != SNAPSHOT_FORMAT
