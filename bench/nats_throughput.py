"""Inputs per second from NATS to the journal: ``trueup worker --nats`` processes taking the
inputs of 8 accounts (each in a partition of its own) from JetStream into a fresh PostgreSQL
journal, beside ``trueup ingest`` of the same lines in one process.

The workload: the recorded Bybit session (samples/bybit-session.jsonl) as each account's
own (tests/nats_inputs.account_session), repeated with every copy's ``at`` moved on, so no
copy is an input already stored. All of it is published to a fresh prefix's streams before
the workers start (as a backlog they find on start); the time runs from the first worker
saying it is on NATS until the journal holds every input.
"""

import asyncio
import gc
import itertools
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import orjson

from bench import nats_wire
from bench.serving import run_child
from bench.stores import PostgresStore
from tests.nats_inputs import account_session, interleaved
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.projections.partitions import partition_of
from trueup.runners.gc_policy import relaxed_gc

VENUE = "bybit"
ACCOUNTS = 8
COPY_SHIFT_MS = 600_000  # each copy of the session 10 minutes after the one before
LOOK_EVERY_S = 0.01  # how often the journal is counted
RUN_TIMEOUT_S = 600.0
JSON = dict[str, Any]


def accounts(count: int = ACCOUNTS) -> tuple[str, ...]:
    """``count`` account names, each in an account partition of its own."""
    names: dict[int, str] = {}
    for number in itertools.count():
        name = f"nats-bench-{number}"
        names.setdefault(partition_of(VENUE, name), name)
        if len(names) == count:
            return tuple(sorted(names.values()))
    raise AssertionError("unreachable")


def workload(copies: int) -> list[bytes]:
    """Every account's session ``copies`` times over, the accounts interleaved line by line
    as runners publishing at once would be."""
    sessions = []
    for account in accounts():
        lines: list[bytes] = []
        for copy in range(copies):
            for raw in account_session(account, VENUE):
                record = orjson.loads(raw)
                record["at"] += copy * COPY_SHIFT_MS
                lines.append(orjson.dumps(record))
        sessions.append(lines)
    return interleaved(*sessions)


@dataclass(frozen=True)
class WorkersRun:
    """One timed run: its rate, and how long the workers took to share the accounts out."""

    seconds: float  # first worker ready -> the journal holds every input
    shared_s: float | None  # first ready -> each worker consuming its fair share (or None)


def workers_run(
    server: PostgresStore, nats_url: str, lines: list[bytes], workers: int
) -> WorkersRun:
    """``lines`` published to a fresh prefix, then ``workers`` processes started on a fresh
    journal; timed until the journal holds them all."""
    subjects = nats_wire.fresh_subjects()
    published = asyncio.run(_publish(nats_url, subjects, lines))
    if published != len(lines):
        raise RuntimeError(f"{len(lines) - published} of the workload's lines were duplicates")
    try:
        with (
            server.fresh() as url,
            tempfile.TemporaryDirectory(prefix="trueup-nats-bench-") as logs,
        ):
            Journal.open(url).close()  # its tables, so the count below can start at once
            running = [
                nats_wire.WorkerProcess(url, nats_url, subjects, Path(logs) / f"worker-{n}.log")
                for n in range(workers)
            ]
            try:
                return _timed(url, running, len(lines))
            finally:
                nats_wire.stop_all(running)
    finally:
        asyncio.run(_drop(nats_url, subjects))


def _timed(url: str, running: list[nats_wire.WorkerProcess], count: int) -> WorkersRun:
    share = -(-ACCOUNTS // len(running))
    ready: float | None = None
    shared: float | None = None
    with closing(nats_wire.InputCount(url)) as journal:
        deadline = time.perf_counter() + RUN_TIMEOUT_S
        while True:
            now = time.perf_counter()
            if ready is None and any(worker.ready() for worker in running):
                ready = now
            if ready is not None and shared is None and _fair(running, share):
                shared = now - ready
            if ready is not None and journal.update() >= count:
                if journal.count != count:
                    raise RuntimeError(f"the journal holds {journal.count:,} inputs, not {count:,}")
                return WorkersRun(now - ready, shared)
            if now > deadline:
                tails = "\n".join(worker.tail() for worker in running)
                raise RuntimeError(f"the workers did not store every input in time:\n{tails}")
            for worker in running:
                worker.ready()  # raises if it died
            time.sleep(LOOK_EVERY_S)


def _fair(running: list[nats_wire.WorkerProcess], share: int) -> bool:
    held = [worker.consuming() for worker in running]
    return sum(len(h) for h in held) == ACCOUNTS and all(len(h) <= share for h in held)


async def _publish(nats_url: str, subjects: Any, lines: list[bytes]) -> int:
    client = await nats.connect(nats_url)
    try:
        return await nats_wire.publish(client.jetstream(), subjects, lines)
    finally:
        await client.close()


async def _drop(nats_url: str, subjects: Any) -> None:
    client = await nats.connect(nats_url)
    try:
        await nats_wire.drop(client.jetstream(), subjects)
    finally:
        await client.close()


# --- the baseline: `trueup ingest` of the same lines, one process ----------------------------


def ingest_seconds(server: PostgresStore, copies: int) -> float:
    """`trueup ingest` of the workload into a fresh journal, in a fresh process: its seconds
    (the process's start-up left out, as the workers' is)."""
    with server.fresh() as url:
        result = run_child("bench.nats_throughput", "ingest", {"url": url, "copies": copies})
    return float(result["seconds"])


def work_ingest(url: str, copies: int) -> JSON:
    lines = workload(copies)
    with closing(Journal.open(url, create=True)) as journal:
        service = TrueupService(journal)
        gc.collect()
        with relaxed_gc():  # the collector as `trueup` runs it (runners/cli.py)
            begin = time.perf_counter()
            report = service.ingest([lines])
            seconds = time.perf_counter() - begin
    if report.accepted + report.rejected != len(lines) or report.duplicates:
        raise RuntimeError(f"ingest took {report} of {len(lines):,} lines")
    return {"seconds": seconds, "inputs": len(lines)}


CHILD_WORK: dict[str, Callable[..., JSON]] = {"ingest": work_ingest}

if __name__ == "__main__":
    import sys

    from bench.serving import child_main

    child_main(CHILD_WORK, sys.argv[1:])
