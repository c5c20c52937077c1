"""NATS figures (issue 11): ``trueup worker --nats`` on 127.0.0.1, with a real NATS server
(TRUEUP_TEST_NATS_URL, else a private nats-server) and PostgreSQL (TRUEUP_TEST_POSTGRES_URL,
else an embedded server), a fresh database and a fresh subject prefix for every run.

- inputs/s from NATS to the journal with 1, 2 and 4 workers over 8 accounts (one partition
  each), beside ``trueup ingest`` of the same lines in one process, and each worker count's
  ratio to one worker (bench/nats_throughput.py);
- a closing position frame published -> its POSITION_CLOSED received from the events
  subject, one worker, and can-open asked over request/reply (bench/nats_latency.py).
"""

import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench import nats_latency, nats_throughput
from bench.report import Figure, Target, table
from bench.stores import PostgresStore, postgres
from bench.timing import Stats
from trueup_simulators.nats import nats_server

Progress = Callable[[str], None]
WORKERS = (1, 2, 4)
WARM_UP = 10
CAN_OPEN_TARGET_P99_MS = 10.0  # the HTTP API's target for a cached query


@dataclass(frozen=True)
class Sizes:
    copies: int = 25  # of the session per account: 8 x 25 x 79 = 15,800 inputs
    repeats: int = 3
    samples: int = 200


QUICK = Sizes(copies=5, repeats=2, samples=20)


@dataclass
class Throughput:
    """Every run's rate per worker count, the baseline's, and how long sharing out took."""

    inputs: int
    rates: dict[int, list[float]]
    shared_s: dict[int, list[float]]
    baseline: list[float]


def throughput(
    server: PostgresStore, nats_url: str, sizes: Sizes, progress: Progress
) -> Throughput:
    lines = nats_throughput.workload(sizes.copies)
    measured = Throughput(len(lines), {k: [] for k in WORKERS}, {k: [] for k in WORKERS}, [])
    for repeat in range(sizes.repeats):
        # Worker counts in turn within each repeat, so a slow spell of the machine weighs
        # on all of them alike.
        for workers in WORKERS:
            progress(
                f"nats: {len(lines):,} inputs -> journal, {workers} worker(s), "
                f"run {repeat + 1}/{sizes.repeats}"
            )
            run = nats_throughput.workers_run(server, nats_url, lines, workers)
            measured.rates[workers].append(len(lines) / run.seconds)
            if run.shared_s is not None:
                measured.shared_s[workers].append(run.shared_s)
        progress(f"nats: baseline, trueup ingest of the same lines, run {repeat + 1}")
        measured.baseline.append(len(lines) / nats_throughput.ingest_seconds(server, sizes.copies))
    return measured


def throughput_figures(measured: Throughput) -> list[Figure]:
    baseline = Stats(tuple(measured.baseline))
    rates = {k: Stats(tuple(v)) for k, v in measured.rates.items()}
    figures = [
        Figure(
            f"NATS -> journal, {k} worker{'s' if k > 1 else ''}, 8 accounts, "
            f"{measured.inputs:,} inputs (base: trueup ingest)",
            "inputs/s",
            rates[k],
            baseline,
        )
        for k in WORKERS
    ]
    figures += [
        Figure(
            f"  scaling: {k} workers / 1 worker (base: 1 worker)", "inputs/s", rates[k], rates[1]
        )
        for k in WORKERS[1:]
    ]
    return figures


def latency_figures(ms: list[float]) -> list[Figure]:
    what = f"closing frame published -> POSITION_CLOSED received, 1 worker ({len(ms)})"
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
    return [
        Figure(f"{what}: p50", "ms", Stats((statistics.median(ms),))),
        Figure(
            f"{what}: p99",
            "ms",
            Stats((p99,)),
            target=Target(nats_latency.TARGET_P99_MS, at_least=False),
        ),
        Figure(f"{what}: max", "ms", Stats((max(ms),))),
    ]


def can_open_figures(ms: list[float]) -> list[Figure]:
    what = f"can-open request/reply over NATS, 1 worker ({len(ms)})"
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
    return [
        Figure(f"{what}: p50", "ms", Stats((statistics.median(ms),))),
        Figure(
            f"{what}: p99",
            "ms",
            Stats((p99,)),
            target=Target(CAN_OPEN_TARGET_P99_MS, at_least=False),
        ),
    ]


def failed(what: str, unit: str, error: Exception) -> Figure:
    return Figure(what, unit, Stats(()), failure=f"FAILED: {type(error).__name__}: {error}"[:200])


@contextmanager
def _servers(server: PostgresStore | None) -> Iterator[tuple[PostgresStore | None, str]]:
    if server is not None:
        with nats_server() as nats_url:
            yield server, nats_url
        return
    notes: list[str] = []
    with postgres(notes) as own, nats_server() as nats_url:
        yield own, nats_url


def measure(progress: Progress, sizes: Sizes, server: PostgresStore | None = None) -> str:
    """Every NATS figure; the report as text. ``server``: a PostgreSQL server already up."""
    load_before = os.getloadavg()
    figures: list[Figure] = []
    notes: list[str] = []
    with _servers(server) as (store, nats_url):
        if store is None:
            return "NATS (issue 11): skipped, no PostgreSQL server"
        try:
            measured = throughput(store, nats_url, sizes, progress)
            figures += throughput_figures(measured)
            notes.append(_shared_text(measured))
        except Exception as error:  # a failure is a row; the rest still runs
            figures.append(failed("NATS -> journal", "inputs/s", error))
        progress(f"nats: closing frame -> POSITION_CLOSED, {WARM_UP} + {sizes.samples} samples")
        try:
            ms, asked = nats_latency.through_worker(store, nats_url, sizes.samples, WARM_UP)
            figures += latency_figures(ms) + can_open_figures(asked)
        except Exception as error:
            figures.append(failed("closing frame -> POSITION_CLOSED", "ms", error))
    return "\n\n".join(
        [
            f"NATS (issue 11): trueup worker --nats processes, NATS and PostgreSQL on 127.0.0.1, "
            f"a fresh database and subject prefix per run; throughput the median [min-max] of "
            f"{sizes.repeats} runs; load average {load_before[1]:.1f} before, "
            f"{os.getloadavg()[1]:.1f} after (5 min, {os.cpu_count()} cores shared by the "
            "workers, NATS, PostgreSQL and others' work: the scaling ratio matters more than "
            "the absolute figures)",
            table(figures),
            "\n".join(
                [
                    *notes,
                    f"NATS -> journal: the session (samples/bybit-session.jsonl) as each of 8 "
                    f"accounts' own, {sizes.copies} copies each ('at' moved on per copy), all "
                    "published (Nats-Msg-Id = input id) before the workers start; timed from "
                    "the first worker's 'on NATS' line until the journal holds every input. "
                    "Base: trueup ingest of the same lines into a fresh journal, one process "
                    "(TrueupService.ingest, detectors on, start-up left out)",
                    "closing frame -> POSITION_CLOSED: bench/latency.py's stop-outs published "
                    "to the account's inputs subject; each trigger a random part of the "
                    "worker's fetch wait after it acknowledged the setup; from before the "
                    "publish (its ack included) until the close arrives on a core "
                    f"subscription; {WARM_UP} warm-up samples left out",
                    "can-open request/reply: the worker's responder (a faststream queue-group "
                    "subscriber, its own journal connection) asked over core NATS for each "
                    f"sample's symbol {nats_latency.CAN_OPEN_ROUNDS} times, one request at a "
                    "time, after the latency samples; target: the HTTP API's 10 ms for a "
                    "cached query",
                ]
            ),
        ]
    )


def _shared_text(measured: Throughput) -> str:
    """How long the workers took to share the 8 accounts out fairly: work done before that
    is one worker's, so it weighs on the figures of several."""
    parts = [
        f"{k} worker{'s' if k > 1 else ''} "
        + (f"{statistics.median(v):.1f} s" if v else "not before every input was stored")
        + (
            f" ({len(v)} of {len(measured.rates[k])} runs)"
            if v and len(v) < len(measured.rates[k])
            else ""
        )
        for k, v in measured.shared_s.items()
    ]
    return (
        "from the first worker ready until each consumed its fair share of the accounts "
        "(median): " + ", ".join(parts)
    )
