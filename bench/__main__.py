"""``make bench``: trueup's throughput, replay rate and memory, each beside a baseline.

Figures, not pass/fail tests: every timed figure is the median of a few runs (min and max
beside it) on a fresh store, measured against eventsourcing doing the bare minimum on the
same kind of store in the same run. Progress goes to stderr, the report to stdout.
"""

import argparse
import os
import platform
import sys
from dataclasses import dataclass, replace
from functools import partial
from importlib import metadata
from pathlib import Path

from bench import (
    breakdown,
    http,
    isolated,
    latency,
    live_latency,
    memory,
    nats,
    portfolio,
    replay,
    serving,
    throughput,
    trigger_latency,
)
from bench.report import Figure, table
from bench.stores import PostgresStore, SQLiteStore, postgres, scratch_sqlite
from bench.workload import capture_lines, holding_lines
from trueup.adapters.store.location import redact
from trueup.adapters.store.postgres_backend import PostgresBackend
from trueup.application.ingest import BATCH

INGEST_SQLITE_TARGET = 10_000.0  # inputs/s
INGEST_POSTGRES_TARGET = 5_000.0  # inputs/s
FOLD_TARGET = 100_000.0  # events/s
AUDIT_TARGET = 2.0  # seconds for a 100,000-event position
POSTGRES_TIMEOUT_S = 90.0  # several times what 3 x 20,000 inputs take at the target rate
POSTGRES_HANG = (
    "PostgreSQL ingest did not finish on {url}. Known here: over a Unix socket, psycopg 3.3's\n"
    "pipeline mode (eventsourcing's insert_events) stalls for ever on an insert of ~1 MB,\n"
    "and a batch of 1,000 inputs is ~1.3 MB; over TCP it completes."
)


@dataclass(frozen=True)
class Sizes:
    sqlite_inputs: int
    postgres_inputs: int
    replay_events: int
    repeats: int
    latency_samples: int
    live: live_latency.Counts
    serving_inputs: int | None  # None: no serving figures (--quick)
    serving_only: bool
    http_inputs: int  # the HTTP figures' large journal
    http: http.Sizes
    http_only: bool
    nats: nats.Sizes
    nats_only: bool
    portfolio_positions: int
    portfolio_only: bool
    triggers: trigger_latency.Counts
    triggers_only: bool


def parse(argv: list[str]) -> Sizes:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sqlite-inputs", type=int, default=50_000)
    parser.add_argument("--postgres-inputs", type=int, default=20_000)
    parser.add_argument("--replay-events", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure")
    parser.add_argument(
        "--latency-samples", type=int, default=200, help="detection latency samples per way"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of every size (smoke run), no serving figures"
    )
    parser.add_argument(
        "--serving",
        action="store_true",
        help="only the serving figures (bench/serving.py): answers, restart, memory and ingest "
        "on a 1,000,000-input journal beside a small one",
    )
    parser.add_argument(
        "--serving-inputs",
        type=int,
        default=serving.INPUTS,
        help="the serving figures' large journal (a multiple of 100; default %(default)s)",
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="only the HTTP figures (bench/http.py): trueup serve under load, POST throughput "
        "and POST -> event stream, on the serving figures' journals (with --quick: on "
        f"journals of {http.QUICK_INPUTS:,} inputs, briefly)",
    )
    parser.add_argument(
        "--http-workers",
        type=int,
        default=None,
        help="serving processes for the HTTP figures (trueup serve --workers; default: one "
        "per core; 1 measures a checkout without --workers, see TRUEUP_BENCH_SERVER)",
    )
    parser.add_argument(
        "--baseline-checkout",
        type=Path,
        default=None,
        metavar="PATH",
        help="with --http: the large journal's figures served by this checkout and by PATH's "
        "trueup (a worktree of the commit compared against, after `make install` there) in "
        "turn, the baseline's column beside",
    )
    parser.add_argument(
        "--nats",
        action="store_true",
        help="only the NATS figures (bench/nats.py): trueup worker --nats throughput with 1, 2 "
        "and 4 workers beside trueup ingest, and a closing frame -> POSITION_CLOSED latency",
    )
    parser.add_argument(
        "--portfolio",
        action="store_true",
        help="only the position manager's figures (bench/portfolio.py): summary and the ccxt "
        "export on 10,000 open positions",
    )
    parser.add_argument("--portfolio-positions", type=int, default=10_000)
    parser.add_argument(
        "--triggers",
        action="store_true",
        help="only the trigger latency (bench/trigger_latency.py): a ticker crossing a trigger "
        "-> its order at the Bybit simulator, in one process, with its stages",
    )
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    return Sizes(
        args.sqlite_inputs // scale,
        args.postgres_inputs // scale,
        args.replay_events // scale,
        args.repeats,
        args.latency_samples // scale,
        live_latency.QUICK if args.quick else live_latency.Counts(),
        None if args.quick and not args.serving else args.serving_inputs,
        args.serving,
        min(args.serving_inputs, http.QUICK_INPUTS) if args.quick else args.serving_inputs,
        _http_sizes(args),
        args.http,
        nats.QUICK if args.quick else nats.Sizes(repeats=args.repeats),
        args.nats,
        args.portfolio_positions // scale,
        args.portfolio,
        trigger_latency.QUICK if args.quick else trigger_latency.Counts(),
        args.triggers,
    )


def _http_sizes(args: argparse.Namespace) -> http.Sizes:
    sizes = replace(http.QUICK if args.quick else http.Sizes(), baseline=args.baseline_checkout)
    return sizes if args.http_workers is None else replace(sizes, workers=args.http_workers)


def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def ingest_figures(
    sqlite: SQLiteStore, server: PostgresStore | None, sizes: Sizes, notes: list[str]
) -> list[Figure]:
    progress(f"ingest into SQLite: {sizes.sqlite_inputs:,} lines x {sizes.repeats}")
    figures = [
        throughput.ingest_figure(sqlite, sizes.sqlite_inputs, INGEST_SQLITE_TARGET, sizes.repeats)
    ]
    if server is None:
        return figures
    progress(f"ingest into PostgreSQL: {sizes.postgres_inputs:,} lines x {sizes.repeats}")
    figure = isolated.postgres_ingest_figure(
        server.server_url,
        sizes.postgres_inputs,
        sizes.repeats,
        INGEST_POSTGRES_TARGET,
        timeout_s=POSTGRES_TIMEOUT_S,
    )
    figures.append(figure)
    if figure.failure:
        notes.append(POSTGRES_HANG.format(url=redact(server.server_url)))
    return figures


def memory_and_fold(
    sqlite: SQLiteStore, sizes: Sizes
) -> tuple[list[memory.MemoryRow], list[Figure]]:
    """Memory probes at growing journal sizes; the largest journal is then replayed."""
    rows: list[memory.MemoryRow] = []
    for inputs in (sizes.replay_events // 4, sizes.replay_events // 2):
        progress(f"memory: ingest, read, fold {inputs:,} inputs, each in a fresh process")
        with sqlite.fresh() as url:
            rows.append(memory.memory_row(url, inputs))
    progress(f"memory: ingest, read, fold {sizes.replay_events:,} inputs (the replay setup)")
    with sqlite.fresh() as url:
        rows.append(memory.memory_row(url, sizes.replay_events))
        progress(f"fold {sizes.replay_events:,} events x {sizes.repeats}")
        figures = replay.fold_figures(url, sizes.repeats, FOLD_TARGET)
    return rows, figures


def held_audit(sqlite: SQLiteStore, sizes: Sizes) -> tuple[Figure, list[breakdown.Stage]]:
    """The audit of one position held through all the events, and its stages one by one."""
    progress(f"audit of one position held through {sizes.replay_events:,} events")
    with sqlite.fresh() as url:
        replay.fill_journal(url, holding_lines(sizes.replay_events))
        what = f"1 position held, {sizes.replay_events:,} events"
        figure = replay.audit_figure(url, sizes.repeats, AUDIT_TARGET, what)
        progress("the audit's stages one by one")
        return figure, breakdown.stages(url, sizes.repeats)


def session_audits(sqlite: SQLiteStore, sizes: Sizes) -> list[replay.Growth]:
    """A trading session's audit at a tenth, half and all of the replay size."""
    growth: list[replay.Growth] = []
    for events in (sizes.replay_events // 10, sizes.replay_events // 2, sizes.replay_events):
        progress(f"audit of a trading session of {events:,} events")
        with sqlite.fresh() as url:
            replay.fill_journal(url, capture_lines(events, clock=False))
            growth.append(replay.audit_growth(url))
    return growth


def detection_latency(
    sqlite: SQLiteStore, server: PostgresStore | None, sizes: Sizes
) -> list[latency.Latency]:
    """In-process on SQLite, then through worker processes on PostgreSQL (when there is a
    server); fewer samples at the longer poll interval, whose samples each take longer."""
    samples, warmup = sizes.latency_samples, max(5, sizes.latency_samples // 10)
    progress(f"detection latency in-process: {warmup} warm-up + {samples} samples")
    rows = [
        latency.measured(latency.IN_PROCESS, partial(latency.in_process, sqlite, samples, warmup))
    ]
    if server is None:
        return rows
    for poll_ms in latency.WORKER_POLLS_MS:
        count = samples if poll_ms == min(latency.WORKER_POLLS_MS) else samples // 2
        progress(f"detection latency, worker --poll-ms {poll_ms}: {warmup} + {count} samples")
        run = partial(latency.through_worker, server, poll_ms, count, warmup)
        rows.append(latency.measured(latency.worker_name(poll_ms), run))
    return rows


def live_detection_latency(sqlite: SQLiteStore, sizes: Sizes) -> list[live_latency.Measured]:
    """End to end through the venue clients against the simulators, on SQLite."""
    return live_latency.measure(sqlite, sizes.live, progress)


def portfolio_figures(sqlite: SQLiteStore, sizes: Sizes) -> list[Figure]:
    positions = sizes.portfolio_positions
    progress(f"portfolio: {positions:,} open positions ingested, then summary x {sizes.repeats}")
    with sqlite.fresh() as url:
        portfolio.fill(url, positions)
        return portfolio.command_figures(url, positions, sizes.repeats)


def portfolio_report(sizes: Sizes) -> str:
    """The position manager's figures alone, on a scratch SQLite journal."""
    with scratch_sqlite() as sqlite:
        return table(portfolio_figures(sqlite, sizes))


def trigger_report(sizes: Sizes) -> str:
    """The trigger latency alone (issue 13), on a scratch SQLite journal."""
    with scratch_sqlite() as sqlite:
        return trigger_latency.report(sqlite, sizes.triggers, progress)


def header(sizes: Sizes) -> str:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("eventsourcing", "psycopg", "orjson")
    )
    return (
        f"trueup bench: Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cores, {versions}\n"
        f"each timed figure: median [min-max] of {sizes.repeats} runs on a fresh store; "
        "the machine is shared, expect noise of 10-30%"
    )


def baselines() -> str:
    limit = PostgresBackend.transaction_bytes
    chunks = f" (on PostgreSQL, in transactions of <= {limit // 1024} KB)"
    return f"""\
baselines (same run, same kind of store, fresh each time):
  ingest: eventsourcing application_recorder().insert_events of as many bare events (one
          stream, ~10-byte states, one transaction per {BATCH:,} = runners.ingest.BATCH).
          trueup decodes every line, then writes 2 rows per input (the event and its
          idempotency marker) per batch of {BATCH:,}{chunks}.
  fold, audit: recorder.select_events of the same stored rows, paged like the journal
          (rows/s beside the fold; seconds beside the audit)."""


def serving_report(sizes: Sizes) -> str:
    """The serving figures (issue 8); the journals they need are cached between runs."""
    assert sizes.serving_inputs is not None
    progress(f"serving: journals of {sizes.serving_inputs:,} inputs (cached under /tmp)")
    return serving.measure(progress, sizes.serving_inputs)


def http_report(sizes: Sizes) -> str:
    """The HTTP figures (issue 10), on the serving figures' cached journals."""
    progress(f"http: journals of {sizes.http_inputs:,} inputs (cached under /tmp)")
    return http.measure(progress, sizes.http_inputs, sizes.http)


def nats_report(sizes: Sizes, server: PostgresStore | None = None) -> str:
    """The NATS figures (issue 11); on ``server`` when one is up already."""
    progress("nats: NATS at TRUEUP_TEST_NATS_URL, else a private nats-server")
    return nats.measure(progress, sizes.nats, server)


def chosen_reports(sizes: Sizes) -> list[str]:
    """The reports of the figures asked for alone (--serving, --http, ...); none if none was."""
    reports = [serving_report(sizes)] if sizes.serving_only else []
    reports += [http_report(sizes)] if sizes.http_only else []
    reports += [nats_report(sizes)] if sizes.nats_only else []
    reports += [portfolio_report(sizes)] if sizes.portfolio_only else []
    reports += [trigger_report(sizes)] if sizes.triggers_only else []
    return reports


def main(argv: list[str] | None = None) -> int:
    sizes = parse(sys.argv[1:] if argv is None else argv)
    reports = chosen_reports(sizes)
    if reports:
        print("\n\n".join(reports))
        return 0
    notes: list[str] = []
    progress("PostgreSQL: TRUEUP_TEST_POSTGRES_URL, else an embedded server")
    with scratch_sqlite() as sqlite, postgres(notes) as server:
        figures = ingest_figures(sqlite, server, sizes, notes)
        rows, fold_figures = memory_and_fold(sqlite, sizes)
        audit_figure, stages = held_audit(sqlite, sizes)
        figures += [*fold_figures, audit_figure, *portfolio_figures(sqlite, sizes)]
        growth = session_audits(sqlite, sizes)
        latencies = detection_latency(sqlite, server, sizes)
        live = live_detection_latency(sqlite, sizes)
        triggers = trigger_latency.report(sqlite, sizes.triggers, progress)
        nats_text = nats_report(sizes, server)
    polling = latency.polling_baseline()
    print(header(sizes))
    print()
    print(table(figures))
    print()
    print(baselines())
    print()
    print(f"where the audit's time goes (1 position held, {sizes.replay_events:,} events):")
    print(breakdown.stage_table(stages))
    print()
    print("audit --json of a trading session on one key (a local position per trade):")
    print(replay.growth_table(growth, sizes.replay_events, AUDIT_TARGET))
    print()
    print("peak memory growth (RSS), each step in a fresh process, SQLite:")
    print(memory.memory_table(rows))
    print()
    print("detection latency: input appended -> the emitted event it causes stored:")
    print(latency.latency_table(latencies, polling))
    print(latency.legend(polling))
    print()
    print("end-to-end detection latency, live: the simulated exchange changes a position ->")
    print("the emitted event it causes stored (venue client, LiveIngest, SQLite):")
    print(live_latency.live_table(live, polling))
    print(live_latency.legend(live, sizes.live))
    print()
    print(triggers)
    for note in notes:
        print(note)
    if sizes.serving_inputs is not None:
        print()
        print(serving_report(sizes))
    print()
    print(http_report(sizes))
    print()
    print(nats_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
