"""Ingest throughput: capture lines through the real path, beside eventsourcing's bare append.

trueup: raw capture lines -> ``Ingestor(journal).ingest(lines)``: decode and validate each
line, mint its id, then append in batches, two rows per input (the event and its
idempotency marker).
Baseline: ``application_recorder().insert_events`` of as many bare events, one stream,
batches of the Ingestor's size, on a fresh store of the same kind.
"""

from eventsourcing.persistence import StoredEvent

from bench.report import Figure, Target
from bench.stores import Store, baseline_recorder
from bench.timing import Stopwatch, rates, repeat
from bench.workload import bare_events, capture_lines
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import BATCH, Ingestor

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def ingest_figure(store: Store, count: int, target: float, times: int) -> Figure:
    lines = list(capture_lines(count, SYMBOLS))
    trueup = rates(count, repeat(lambda: time_ingest(store, lines), times))
    events = bare_events(count)
    baseline = rates(count, repeat(lambda: time_bare_append(store, events), times))
    return Figure(
        what=f"ingest {store.name}, {count:,} capture lines",
        unit="inputs/s",
        trueup=trueup,
        baseline=baseline,
        target=Target(target, at_least=True),
    )


def time_ingest(store: Store, lines: list[bytes]) -> float:
    watch = Stopwatch()
    with store.fresh() as url, Journal.open(url) as journal:
        with watch.running():
            count = Ingestor(journal).ingest(lines)
        if count.accepted != len(lines):
            raise RuntimeError(f"the workload was not all accepted: {count}")
    return watch.seconds


def time_bare_append(store: Store, events: list[StoredEvent]) -> float:
    watch = Stopwatch()
    with store.fresh() as url, baseline_recorder(url) as recorder, watch.running():
        for start in range(0, len(events), BATCH):
            recorder.insert_events(events[start : start + BATCH])
    return watch.seconds
