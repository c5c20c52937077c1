"""Many processes on one journal: two workers, two ingests and an operator command at once,
some of them killed with -9, emit exactly what one process emits over the same journal:
none lost, none twice, none crashed."""

import time
from pathlib import Path

from tests.processes import finished, one_process, trueup, worker
from tests.scenarios import busy_capture
from tests.stored_events import by_account, emitted_in, inputs_in
from trueup.adapters.store.journal import Journal
from trueup.domain.events import InputEvent
from trueup.projections.partitions import tracked_position

INPUTS = 2_500


def wait_until_tracked(journal: Journal, fraction: float, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while tracked_position(journal) < fraction * journal.last_position():
        assert time.monotonic() < deadline, "no projection made progress"
        time.sleep(0.02)


def test_workers_ingests_and_an_operator_at_once_emit_what_one_process_would(
    store_url: str, tmp_path: Path
) -> None:
    alice, bob, carol = (
        busy_capture(tmp_path / f"{name}.jsonl", name, INPUTS, seed)
        for name, seed in (("alice", 3), ("bob", 4), ("carol", 5))
    )
    with Journal.open(store_url) as journal:
        first, second = worker(store_url), worker(store_url)
        ingest_alice = trueup(store_url, "ingest", str(alice))
        ingest_bob = trueup(store_url, "ingest", str(bob))
        wait_until_tracked(journal, 0.2)
        first.kill()  # one worker, perhaps the holder, dies mid-way
        ingest_bob.kill()  # and so does an ingest, mid-file
        operator = trueup(store_url, "fix-stale", "--force", "--yes", "--operator", "carol")
        finished(operator)
        finished(ingest_alice)
        finished(trueup(store_url, "ingest", str(bob)))  # the rest of bob's file, once
        third = worker(store_url)
        wait_until_tracked(journal, 0.5)
        second.kill()
        # Inputs only the last worker standing can process: the takeover must happen.
        finished(trueup(store_url, "ingest", "--no-projections", str(carol)))
        deadline = time.monotonic() + 60
        while tracked_position(journal) < journal.last_position():
            assert time.monotonic() < deadline, "the surviving worker never caught up"
            time.sleep(0.05)
        third.terminate()
        errors = finished(third)
        stored = emitted_in(journal)
        inputs = inputs_in(journal)
    for process in (first, second, ingest_bob):
        _, err = process.communicate()
        assert process.returncode in (-9, 0)  # an ingest may have finished before its kill
        assert b"Traceback" not in err, err.decode()
    assert (first.returncode, second.returncode) == (-9, -9)
    assert "following the journal" in errors
    assert len(inputs) == 3 * INPUTS + count_operator_lines(inputs)
    # Partitions run by different processes interleave differently; each account's events,
    # and so every event, are exactly one process's.
    reference = one_process(inputs, tmp_path)
    assert by_account(stored) == by_account(reference)
    assert sorted(stored) == sorted(reference)
    assert len(stored) > 1_000


def count_operator_lines(inputs: list[InputEvent]) -> int:
    return sum(event.type == "LocalPositionCleaned" for event in inputs)
