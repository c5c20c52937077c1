"""The fault test (issue 11): two accounts' inputs published through the runner's spool and
publisher, two `trueup worker --nats` on a PostgreSQL journal, twenty kill -9s of any of
those three processes at random moments, and NATS and PostgreSQL each killed -9 and started
again once; then the journal and the events subject hold exactly what one process makes of
the inputs on NATS: none lost, none twice, each account's in order.

The faults are drawn from a seed, printed (and taken from TRUEUP_FAULT_SEED when set), so a
failing sequence can be tried again; the timing of the processes it meets is not replayed.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from tests.nats_inputs import (
    account_session,
    by_account,
    interleaved,
    journal_contents,
    one_process,
)
from tests.nats_replay import DONE, read_progress
from tests.nats_streams import Stored, stored
from trueup.adapters.capture import decode_line
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store import codec
from trueup.domain.emitted import Emitted
from trueup.projections.partitions import partition_of
from trueup_simulators.nats import NatsServer
from trueup_simulators.postgres import PostgresServer, fresh_database

TRUEUP = [sys.executable, "-m", "trueup.runners.cli"]
# Two accounts in different partitions, so that each worker has one to run.
ACCOUNTS = ("alpha", "desk.eu")
assert partition_of("bybit", ACCOUNTS[0]) != partition_of("bybit", ACCOUNTS[1])
# The recorded session played this many times over by each account: ~800 inputs.
ROUNDS = 5
PACE_MS = 80  # ~65 s of publishing, over which the faults fall
KILLS = 20
# Small batches, so that kills land mid-stream: between a fetch and its ack.
BATCH = "7"
SEED_ENV = "TRUEUP_FAULT_SEED"


def capture() -> list[bytes]:
    """Each account's session played ROUNDS times back to back, every round after the first
    shifted in time so that each of its lines is an input of its own; the accounts' lines
    taken in turn."""
    sessions = []
    for account in ACCOUNTS:
        session = [orjson.loads(line) for line in account_session(account)]
        span = max(r["at"] for r in session) - min(r["at"] for r in session) + 1_000
        rounds = [{**r, "at": r["at"] + n * span} for n in range(ROUNDS) for r in session]
        sessions.append([orjson.dumps(r) for r in rounds])
    return interleaved(*sessions)


class Supervised:
    """A process the test kills with -9 and starts again; its lives share one log file."""

    def __init__(self, name: str, command: list[str], log: Path, ready: str) -> None:
        self.name = name
        self.command = command
        self.log = log
        self.ready = ready
        self.process: subprocess.Popen[bytes] | None = None
        self.offset = 0
        self.kills = 0

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.command, stdout=sink, stderr=subprocess.STDOUT, env=dict(os.environ)
            )
        until(f"{self.name} to start", lambda: self.ready in self.said(), timeout=30, every=0.05)

    def said(self) -> str:
        """What this life logged."""
        return self.log.read_bytes()[self.offset :].decode(errors="replace")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)
        self.kills += 1

    def stop(self) -> str:
        """SIGTERM, and what this life logged, once it exited 0."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        assert self.process.returncode == 0, f"{self.name} exited {self.process.returncode}"
        return self.said()


def until(what: str, check: Callable[[], bool], *, timeout: float, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


def first_of_each(messages: list[Stored]) -> list[Stored]:
    """The messages as a consumer deduplicating by Nats-Msg-Id sees them: each id's first."""
    seen: set[str] = set()
    kept = []
    for message in messages:
        if message.msg_id not in seen:
            seen.add(message.msg_id)
            kept.append(message)
    return kept


def differences(
    found: dict[tuple[str, str], list[str]], wanted: dict[tuple[str, str], list[str]]
) -> str:
    """Where each account's ids part from those wanted: missing, twice, or out of order."""
    said = []
    for key in sorted(set(found) | set(wanted), key=str):
        have, want = found.get(key, []), wanted.get(key, [])
        if have == want:
            continue
        twice = sorted({i for i in have if have.count(i) > 1})
        missing = [i for i in want if i not in set(have)]
        extra = [i for i in have if i not in set(want)]
        first = next((n for n, (a, b) in enumerate(zip(have, want, strict=False)) if a != b), 0)
        said.append(
            f"{key}: {len(have)} found, {len(want)} wanted; missing {missing[:5]}, twice "
            f"{twice[:5]}, not wanted {extra[:5]}; first apart at {first}: "
            f"{have[max(0, first - 2) : first + 3]} vs {want[max(0, first - 2) : first + 3]}"
        )
    return "\n".join(said)


def emitted_by_account(events: list[Emitted]) -> dict[str, list[tuple[str, bytes]]]:
    """Each account's emitted events, (event id, stored form), in order."""
    found: dict[str, list[tuple[str, bytes]]] = {}
    for event in events:
        found.setdefault(event.account, []).append((event.event_id, codec.encode_emitted(event)))
    return found


@dataclass
class Cluster:
    """What the test runs: the servers, the journal, and the three processes it kills."""

    nats: NatsServer
    postgres: PostgresServer
    store: str
    subjects: Subjects
    processes: list[Supervised]
    seed: int

    @property
    def publisher(self) -> Supervised:
        return self.processes[0]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}:\n{p.log.read_text()[-3000:]}" for p in self.processes)

    def kill_everything(self) -> None:
        for process in self.processes:
            if process.alive():
                process.kill()


@pytest.fixture
def seed() -> int:
    chosen = int(os.environ.get(SEED_ENV) or random.randrange(1 << 32))
    print(f"fault seed {chosen} (set {SEED_ENV}={chosen} to draw the same faults)")
    return chosen


@pytest.fixture
def cluster(tmp_path: Path, seed: int) -> Iterator[Cluster]:
    """Private NATS and PostgreSQL (each to be killed), a fresh journal on it, and the
    publisher of the capture and two workers started."""
    (tmp_path / "capture.jsonl").write_bytes(b"\n".join(capture()) + b"\n")
    (tmp_path / "replay").mkdir()
    subjects = Subjects("faults")
    with ExitStack() as stack:
        nats = stack.enter_context(NatsServer())
        # Commits durable against a kill of the server's processes (the OS keeps what was
        # written; fsync stays off): with synchronous_commit off, a kill -9 loses the last
        # commits it acknowledged, as measured, and a stop -m immediate would as well.
        postgres = stack.enter_context(PostgresServer(durable_commits=True))
        store = stack.enter_context(fresh_database(postgres.url))
        replay = [sys.executable, "-m", "tests.nats_replay", str(tmp_path / "capture.jsonl")]
        replay += [str(tmp_path / "replay"), nats.url, subjects.prefix, str(PACE_MS)]
        worker = [*TRUEUP, "--store", store, "worker", "--nats", nats.url]
        worker += ["--nats-prefix", subjects.prefix, "--batch", BATCH]
        processes = [
            Supervised("the publisher", replay, tmp_path / "publisher.log", "replaying from"),
            Supervised("worker A", worker, tmp_path / "worker-a.log", " on NATS at "),
            Supervised("worker B", worker, tmp_path / "worker-b.log", " on NATS at "),
        ]
        running = Cluster(nats, postgres, store, subjects, processes, seed)
        stack.callback(running.kill_everything)
        for process in processes:
            process.start()
        yield running


def inflict_faults(cluster: Cluster) -> None:
    """Twenty kills of any of the three processes, each started again at once, and the two
    servers' kill and restart among them, at random moments."""
    rng = random.Random(cluster.seed)
    faults = ["kill"] * KILLS + ["nats", "postgres"]
    rng.shuffle(faults)
    for fault in faults:
        time.sleep(rng.uniform(0.5, 4.5))
        for process in cluster.processes:
            assert process.alive(), f"{process.name} died (seed {cluster.seed})\n{cluster.logs()}"
        if fault == "kill":
            victim = rng.choice(cluster.processes)
            victim.kill()
            victim.start()
        else:
            server = cluster.nats if fault == "nats" else cluster.postgres
            server.kill()
            time.sleep(rng.uniform(0.5, 3))
            server.start()


def stop_publishing(cluster: Cluster, progress: Path, lines: int) -> None:
    """Wait for every line to be spooled, then stop the publisher, its spool drained."""
    until("every line spooled", lambda: read_progress(progress) == lines, timeout=120)
    until("the publisher to say so", lambda: DONE in cluster.publisher.said(), timeout=10)
    assert "stopped: 0 bytes left in the spool" in cluster.publisher.stop(), cluster.logs()


def drain(cluster: Cluster, inputs: int, events: set[str]) -> None:
    """Wait for every input to be stored and every event published, then stop the workers."""

    def all_in() -> bool:
        stored_inputs, _ = journal_contents(cluster.store)
        published = {m.msg_id for m in stored(cluster.nats.url, cluster.subjects.events_stream)}
        return len(stored_inputs) >= inputs and published >= events

    until("every input stored and every event published", all_in, timeout=90)
    for worker in cluster.processes[1:]:
        worker.stop()


def test_kills_of_any_process_and_restarts_of_nats_and_postgres_lose_nothing_store_nothing_twice(
    tmp_path: Path, cluster: Cluster
) -> None:
    lines = capture()
    seed, subjects = cluster.seed, cluster.subjects
    started = time.monotonic()
    inflict_faults(cluster)
    faulted = time.monotonic() - started
    stop_publishing(cluster, tmp_path / "replay" / "replay.progress", len(lines))
    on_nats = stored(cluster.nats.url, subjects.inputs_stream)
    inputs = first_of_each(on_nats)
    expected_inputs, expected_emitted = one_process(
        str(tmp_path / "one-process.db"), [m.data for m in inputs]
    )
    drain(cluster, len(expected_inputs), {e.event_id for e in expected_emitted})
    print(
        f"{len(inputs)} inputs, {len(expected_emitted)} events; faults over {faulted:.0f} s; "
        + ", ".join(f"{p.name} killed {p.kills} times" for p in cluster.processes)
    )

    # Every line the publisher replayed is on TRUEUP_INPUTS once (the dedup window outlasts
    # the test), under its input id, each account's in the capture's order.
    assert len(on_nats) == len(inputs), f"inputs stored twice on NATS (seed {seed})"
    assert by_account(decode_line(m.data) for m in inputs) == by_account(
        decode_line(line) for line in lines
    ), f"seed {seed}"
    for message in inputs:
        event = decode_line(message.data)
        assert message.msg_id == event.input_id
        assert message.subject == subjects.inputs(event.venue, event.account)
    # The journal holds those inputs, once each, each account's in the stream's order ...
    journal_inputs, journal_emitted = journal_contents(cluster.store)
    assert by_account(journal_inputs) == by_account(expected_inputs), (
        f"seed {seed}\n{differences(by_account(journal_inputs), by_account(expected_inputs))}"
    )
    # ... and emitted what one process emits of them, each account's in the same order.
    assert emitted_by_account(journal_emitted) == emitted_by_account(expected_emitted), (
        f"seed {seed}"
    )
    # TRUEUP_EVENTS holds each of them once, in the order emitted.
    events = stored(cluster.nats.url, subjects.events_stream)
    assert len({m.msg_id for m in events}) == len(events), f"events stored twice (seed {seed})"
    published = [codec.decode_emitted(m.data) for m in events]
    assert emitted_by_account(published) == emitted_by_account(journal_emitted), f"seed {seed}"
    for message, emitted in zip(events, published, strict=True):
        assert message.msg_id == emitted.event_id
        assert message.subject == subjects.events(emitted.venue, emitted.account, emitted.type)
    assert {"POSITION_CLOSED", "UNTRACKED_POSITION"} <= {e.type for e in published}
    for process in cluster.processes:
        assert "Traceback" not in process.log.read_text(), cluster.logs()
