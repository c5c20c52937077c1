"""`trueup worker --nats` against a real NATS server: inputs published to the accounts'
subjects reach the journal in each account's order, through the same ingest path as
`trueup ingest`; what the projection emits reaches TRUEUP_EVENTS once, after it is
committed; a poison message is stored as a rejected input and acknowledged; a worker killed
-9 loses nothing and stores nothing twice; several workers share the partitions, and the
survivors take over a dead one's."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import cast

import nats
import orjson
import pytest
from nats.js import JetStreamContext

from tests.live_harness import wait_for
from tests.nats_inputs import (
    account_session,
    by_account,
    interleaved,
    journal_contents,
    one_process,
    publish,
    publish_raw,
)
from tests.nats_streams import stored
from tests.test_nats_can_open import FRESH_AT
from trueup.adapters.nats.consumers import AccountInputs, consumers_of
from trueup.adapters.nats.outbox import start_outbox
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.client.nats import can_open_over_nats
from trueup.domain.events import InputRejected
from trueup.projections.partitions import partition_of
from trueup.runners.nats_worker import NatsWorker

TRUEUP = [sys.executable, "-m", "trueup.runners.cli"]
# Accounts in four different partitions, one of them a name that is no subject token.
ACCOUNTS = ("desk.eu", "main", "alpha", "gamma")
assert len({partition_of("bybit", a) for a in ACCOUNTS}) == len(ACCOUNTS)


class Worker:
    """A `trueup worker --nats` process, its log in a file."""

    def __init__(self, store: str, url: str, subjects: Subjects, log: Path, *extra: str):
        self.log = log
        command = [*TRUEUP, "--store", store, "worker", "--nats", url]
        command += ["--nats-prefix", subjects.prefix, *extra]
        self.start = log.stat().st_size if log.exists() else 0
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        wait_for("the worker to start", lambda: " on NATS at " in self.said(), timeout=30)

    def said(self) -> str:
        """What this process logged (the log may be shared with earlier ones)."""
        return self.log.read_bytes()[self.start :].decode()

    def consuming(self) -> set[str]:
        """The subjects the worker says it consumes now."""
        now: set[str] = set()
        for line in self.said().splitlines():
            subject = line.rsplit(" ", 1)[-1]
            if " no longer consuming " in line:
                now.discard(subject)
            elif " consuming " in line:
                now.add(subject)
        return now

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        assert self.process.returncode == 0, self.said()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.kill()


def inputs_stored(store: str) -> int:
    return len(journal_contents(store)[0])


def events_published(url: str, subjects: Subjects) -> list[tuple[str, str, bytes]]:
    return [(m.subject, m.msg_id, m.data) for m in stored(url, subjects.events_stream)]


def wait_published(url: str, subjects: Subjects, count: int) -> None:
    wait_for(
        f"{count} emitted events published",
        lambda: len(events_published(url, subjects)) >= count,
        timeout=30,
    )


Published = set[tuple[str, bytes]]


def expected(
    tmp_path: Path, lines: list[bytes]
) -> tuple[dict[tuple[str, str], list[str]], Published]:
    """Each account's inputs and the emitted events one process makes of ``lines``."""
    inputs, emitted = one_process(str(tmp_path / "one-process.db"), lines)
    return by_account(inputs), {(e.event_id, codec.encode_emitted(e)) for e in emitted}


def test_published_inputs_reach_the_journal_in_order_and_emitted_events_the_subject_once(
    store_url: str, tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    lines = interleaved(*(account_session(a) for a in ACCOUNTS[:2]))
    publish(nats_url, nats_subjects, lines)
    workers.append(Worker(store_url, nats_url, nats_subjects, tmp_path / "worker.log"))
    wait_for("every input stored", lambda: inputs_stored(store_url) == len(lines), timeout=60)
    inputs_by_account, emitted = expected(tmp_path, lines)
    wait_published(nats_url, nats_subjects, len(emitted))
    workers[0].stop()

    stored_inputs, stored_emitted = journal_contents(store_url)
    assert by_account(stored_inputs) == inputs_by_account
    assert {(e.event_id, codec.encode_emitted(e)) for e in stored_emitted} == emitted
    published = events_published(nats_url, nats_subjects)
    assert sorted((msg_id, data) for _, msg_id, data in published) == sorted(emitted)
    for subject, _, data in published:
        event = codec.decode_emitted(data)
        assert subject == nats_subjects.events(event.venue, event.account, event.type)
    # Each account's events in the order they were emitted.
    for account in ACCOUNTS[:2]:
        mine = [e.event_id for e in stored_emitted if e.account == account]
        on_subject = [m for _, m, d in published if codec.decode_emitted(d).account == account]
        assert on_subject == mine


def test_a_poison_message_is_stored_as_rejected_acknowledged_and_never_delivered_again(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    store = str(tmp_path / "journal.db")
    publish(nats_url, nats_subjects, account_session("main")[:3])
    subject = nats_subjects.inputs("bybit", "main")
    publish_raw(nats_url, subject, b'{"at": 17, "venue": "bybit", oops', "poison-1")
    publish(nats_url, nats_subjects, account_session("main")[3:6])
    workers.append(Worker(store, nats_url, nats_subjects, tmp_path / "worker.log"))
    wait_for("every input stored", lambda: inputs_stored(store) == 7, timeout=30)
    workers[0].stop()

    inputs, _ = journal_contents(store)
    rejected = [e for e in inputs if isinstance(e, InputRejected)]
    assert len(rejected) == 1 and rejected[0].reason.startswith("not JSON")
    assert inputs.index(rejected[0]) == 3  # in its place in the account's order
    pending, floor = consumer_state(nats_url, nats_subjects, subject)
    assert pending == 0 and floor == 7

    # Started again, nothing comes twice: the consumer's floor is past the poison.
    workers.append(Worker(store, nats_url, nats_subjects, tmp_path / "again.log"))
    wait_for("the worker to consume", lambda: subject in workers[1].consuming(), timeout=30)
    workers[1].stop()
    assert inputs_stored(store) == 7
    assert "Traceback" not in workers[0].said() + workers[1].said()


def consumer_state(url: str, subjects: Subjects, subject: str) -> tuple[int, int]:
    """The consumer's messages delivered and not acknowledged, and its ack floor."""

    async def ask() -> tuple[int, int]:
        client = await nats.connect(url)
        try:
            (info,) = await consumers_of(client.jetstream(), subjects, subject)
            return info.num_ack_pending or 0, info.ack_floor.stream_seq if info.ack_floor else 0
        finally:
            await client.close()

    return asyncio.run(ask())


def at_least(store: str, count: int) -> bool:
    return inputs_stored(store) >= count


def test_a_worker_killed_mid_stream_loses_nothing_and_publishes_nothing_twice(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    store = str(tmp_path / "journal.db")
    lines = interleaved(*(account_session(a) for a in ACCOUNTS))
    publish(nats_url, nats_subjects, lines)
    log = tmp_path / "worker.log"
    # Small batches, so that each kill lands mid-stream.
    for kill_at in (1, len(lines) // 3, 2 * len(lines) // 3):
        workers.append(Worker(store, nats_url, nats_subjects, log, "--batch", "7"))
        wait_for(f"{kill_at} inputs", partial(at_least, store, kill_at), timeout=60)
        workers[-1].kill()
    workers.append(Worker(store, nats_url, nats_subjects, log))
    wait_for("every input stored", lambda: inputs_stored(store) == len(lines), timeout=60)
    inputs_by_account, emitted = expected(tmp_path, lines)
    wait_published(nats_url, nats_subjects, len(emitted))
    workers[-1].stop()

    stored_inputs, stored_emitted = journal_contents(store)
    assert by_account(stored_inputs) == inputs_by_account
    assert {(e.event_id, codec.encode_emitted(e)) for e in stored_emitted} == emitted
    published = events_published(nats_url, nats_subjects)
    assert sorted((msg_id, data) for _, msg_id, data in published) == sorted(emitted)


def test_workers_share_the_accounts_and_a_dead_ones_move_to_the_survivor(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    store = str(tmp_path / "journal.db")
    sessions = [account_session(a) for a in ACCOUNTS]
    publish(nats_url, nats_subjects, interleaved(*(s[:10] for s in sessions)))
    for n in range(2):
        workers.append(Worker(store, nats_url, nats_subjects, tmp_path / f"worker-{n}.log"))
    every = {nats_subjects.inputs("bybit", a) for a in ACCOUNTS}
    wait_for(
        "the accounts shared out, two each",
        lambda: (
            [len(w.consuming() & every) for w in workers] == [2, 2]
            and workers[0].consuming().isdisjoint(workers[1].consuming())
        ),
        timeout=60,
    )
    wait_for("the first inputs stored", lambda: inputs_stored(store) == 40, timeout=30)

    workers[0].kill()
    publish(nats_url, nats_subjects, interleaved(*(s[10:] for s in sessions)))
    total = sum(len(s) for s in sessions)
    wait_for("every input stored", lambda: inputs_stored(store) == total, timeout=60)
    assert workers[1].consuming() >= every
    workers[1].stop()
    inputs_by_account, _ = expected(tmp_path, interleaved(*sessions))
    assert by_account(journal_contents(store)[0]) == inputs_by_account


def test_events_committed_but_never_published_are_published_by_the_next_worker(
    tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    store = str(tmp_path / "journal.db")
    lines = account_session("main")
    with Journal.open(store, create=True) as journal:
        # A worker had started the partition's outbox; then its inputs were processed and
        # the events committed, and it died before publishing any of them.
        start_outbox(journal, partition_of("bybit", "main"))
        TrueupService(journal).ingest([lines])
    _, emitted = journal_contents(store)
    assert emitted

    workers.append(Worker(store, nats_url, nats_subjects, tmp_path / "worker.log"))
    wait_published(nats_url, nats_subjects, len(emitted))
    workers[0].stop()
    assert [m for _, m, _ in events_published(nats_url, nats_subjects)] == [
        e.event_id for e in emitted
    ]


def test_a_worker_answers_can_open_over_nats_as_the_cli_does_from_the_journal_it_writes(
    store_url: str, tmp_path: Path, nats_url: str, nats_subjects: Subjects, workers: list[Worker]
) -> None:
    lines = account_session("desk.eu")
    publish(nats_url, nats_subjects, lines)
    workers.append(Worker(store_url, nats_url, nats_subjects, tmp_path / "worker.log"))
    wait_for("every input stored", lambda: inputs_stored(store_url) == len(lines), timeout=60)
    at = str(FRESH_AT)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        asked = asyncio.run(
            can_open_over_nats(
                nats_url, "bybit", "desk.eu", symbol, at=FRESH_AT, prefix=nats_subjects.prefix
            )
        )
        command = [*TRUEUP, "--store", store_url, "can-open", "--venue", "bybit"]
        command += ["--account", "desk.eu", "--symbol", symbol, "--at", at, "--json"]
        told = subprocess.run(command, capture_output=True, text=True, check=False)
        verdict = orjson.loads(told.stdout)
        assert (asked["allowed"], asked["reasons"]) == (verdict["allowed"], verdict["reasons"])
        assert told.returncode == (0 if verdict["allowed"] else 1)
    workers[0].stop()


def test_a_worker_that_cannot_take_an_account_yet_says_so_and_tries_again_next_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A walkthrough's: two workers starting together on nats-server 2.9, one listing an
    account's consumers while the other deletes one, and nats-py failing on the entry the
    server left null (an AttributeError, not a NATS error): the worker died with a traceback."""

    async def listed_while_deleted(*_: object) -> AccountInputs:
        raise AttributeError("'NoneType' object has no attribute 'get'")

    monkeypatch.setattr(AccountInputs, "take", listed_while_deleted)
    subjects = Subjects("walkrace")
    subject = subjects.inputs("bybit", "main")
    with Journal.open(str(tmp_path / "journal.db")) as journal:
        worker = NatsWorker(journal, "nats://127.0.0.1:1", subjects)
        with caplog.at_level("WARNING", logger="trueup"):
            asyncio.run(worker._start_fetching(cast("JetStreamContext", None), subject))
    assert subject not in worker._fetchers  # left to the next round
    assert f"cannot consume {subject} yet" in caplog.text
