"""An ingest stores each batch while it decodes the next: what is stored, and what the
detectors are told, is what storing the batches one after another gives, and a batch the
store refuses fails the ingest as it would have."""

import threading
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pytest

from tests.inputs import line
from tests.scenarios import busy_session
from tests.stored_events import emitted_in, inputs_in
from trueup.adapters.store.journal import Appended, Journal
from trueup.adapters.store.location import StoreError
from trueup.application.ingest import Ingestor
from trueup.domain.events import InputEvent
from trueup.projections.reconciliation import ReconciliationProjection

BATCH = 400
LINES = [line(record) for record in busy_session(5 * BATCH + BATCH // 2, seed=31)]


def one_after_another(url: str) -> Journal:
    """The lines stored a batch at a time, each told to the detectors before the next."""
    journal = Journal.open(url)
    projection = ReconciliationProjection(journal)
    ingestor = Ingestor(journal, batch_size=BATCH, after_flush=projection.catch_up)
    for raw in LINES:
        ingestor.add_line(raw)  # add(), as a live run does: nothing is stored aside
    ingestor.flush()
    return journal


def test_batches_stored_aside_are_told_in_order_each_once_stored_and_nothing_else_storing(
    store_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(store_url)
    storing = threading.Event()
    threads: set[str] = set()
    append = journal.append

    def watched(events: Sequence[InputEvent], *args: Any, **kwargs: Any) -> Appended:
        threads.add(threading.current_thread().name)
        storing.set()
        try:
            return append(events, *args, **kwargs)
        finally:
            storing.clear()

    monkeypatch.setattr(journal, "append", watched)
    projection = ReconciliationProjection(journal)
    told: list[Appended | None] = []

    def detect(appended: Appended | None) -> None:
        assert not storing.is_set()  # the next batch goes only once this one is judged
        told.append(appended)
        projection.catch_up(appended)

    count = Ingestor(journal, batch_size=BATCH, after_flush=detect).ingest(LINES)
    assert count.accepted + count.rejected == len(LINES)
    spans = [a.span for a in told if a is not None and a.span is not None]
    assert len(told) == len(spans) == 6  # 5 whole batches and the rest, each told once
    assert spans == sorted(spans) and all(a[1] < b[0] for a, b in pairwise(spans))
    assert any(name.startswith("trueup-store") for name in threads)

    with one_after_another(f"sqlite://{tmp_path}/reference.db") as reference:
        assert inputs_in(journal) == inputs_in(reference)
        assert emitted_in(journal) == emitted_in(reference)
    journal.close()


def test_a_batch_the_store_refuses_aside_fails_the_ingest_and_a_rerun_stores_the_rest(
    store_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Journal.open(store_url) as journal:
        append = journal.append
        calls = 0

        def refusing_the_third(events: Sequence[InputEvent], *args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 3:
                raise StoreError("the store gave up")
            return append(events, *args, **kwargs)

        monkeypatch.setattr(journal, "append", refusing_the_third)
        with pytest.raises(StoreError, match="gave up"):
            Ingestor(journal, batch_size=BATCH).ingest(LINES)
        assert len(inputs_in(journal)) == 2 * BATCH  # the two batches before it, whole
        monkeypatch.setattr(journal, "append", append)
        projection = ReconciliationProjection(journal)
        again = Ingestor(journal, batch_size=BATCH, after_flush=projection.catch_up)
        assert again.ingest(LINES).duplicates == 2 * BATCH
        with one_after_another(f"sqlite://{tmp_path}/reference.db") as reference:
            assert inputs_in(journal) == inputs_in(reference)
            assert emitted_in(journal) == emitted_in(reference)
