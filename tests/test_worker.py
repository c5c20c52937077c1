"""A separate worker process: killed with -9 at any moment, it loses nothing and repeats nothing."""

import random
import subprocess
import sys
import time

from tests.inputs import line
from tests.scenarios import busy_session
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import Ingestor
from trueup.domain.emitted import Emitted
from trueup.projections.partitions import tracked_position
from trueup.projections.reconciliation import ReconciliationProjection

INPUTS = 6_000
KILLS = 6


def emitted_in(journal: Journal) -> list[bytes]:
    return [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]


def start_worker(store_url: str) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "trueup.runners.cli",
        "--store",
        store_url,
        "worker",
        "--poll-ms",
        "10",
        "--batch",
        "150",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for_progress(journal: Journal, fraction: float) -> None:
    """Until the worker has recorded about ``fraction`` of what is left (or 20 s passed)."""
    start, end = tracked_position(journal), journal.last_position()
    target = start + fraction * (end - start)
    deadline = time.monotonic() + 20
    while tracked_position(journal) < target and time.monotonic() < deadline:
        time.sleep(0.002)


def test_a_worker_killed_repeatedly_emits_exactly_what_an_uninterrupted_run_does(
    store_url: str, tmp_path: object
) -> None:
    lines = [line(record) for record in busy_session(INPUTS)]
    with Journal.open(f"sqlite://{tmp_path}/reference.db") as reference:
        projection = ReconciliationProjection(reference)
        Ingestor(reference, after_flush=projection.catch_up).ingest(lines)
        expected = emitted_in(reference)
    assert len(expected) > 1_000

    rng = random.Random(11)
    interrupted = 0
    with Journal.open(store_url) as journal:
        ingestor = Ingestor(journal, batch_size=200)
        ingestor.ingest(lines[: INPUTS // 2])
        for kill in range(KILLS):
            if kill == KILLS // 2:
                ingestor.ingest(lines[INPUTS // 2 :])  # new inputs while workers come and go
            worker = start_worker(store_url)
            if kill % 2:
                time.sleep(rng.uniform(0.05, 0.6))  # perhaps still starting up
            else:
                wait_for_progress(journal, rng.uniform(0.1, 0.9))
            worker.kill()  # SIGKILL: no cleanup, no last flush
            _, stderr = worker.communicate()
            assert worker.returncode == -9, stderr.decode()
            interrupted += 0 < tracked_position(journal) < journal.last_position()
        assert interrupted, "no kill landed while the worker was mid-way"
        last = start_worker(store_url)
        try:
            assert last.stderr is not None
            assert b"following the journal" in last.stderr.readline()
            deadline = time.monotonic() + 120
            while tracked_position(journal) < journal.last_position():
                assert time.monotonic() < deadline, "the worker never caught up"
                time.sleep(0.1)
            last.terminate()
            assert last.wait(10) == 0
        finally:
            last.kill()
        assert emitted_in(journal) == expected
