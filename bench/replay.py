"""Replay of one position's events from a SQLite journal: fold rate and the CLI's audit.

Setup (not timed): the events are ingested through the real path into a fresh journal.
Timed: (a) read + decode + fold, (b) the pure fold of events already decoded, (c) the
audit as ``trueup audit --json`` does it. Baseline: eventsourcing's ``select_events`` of
the same stored rows, paged as the journal pages them.
"""

import io
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from bench import portfolio
from bench.report import Figure, Target, number
from bench.timing import Stats, Stopwatch, rates, repeat
from bench.workload import ACCOUNT, VENUE
from trueup.adapters.store.journal import PAGE, Journal
from trueup.application.ingest import Ingestor
from trueup.domain.book import fold
from trueup.domain.events import InputEvent
from trueup.domain.keys import account_stream_id
from trueup.domain.pnl import PnlLedger
from trueup.domain.wallet import Wallet
from trueup.projections.audit import Audit, audit
from trueup.runners import output
from trueup.runners.gc_policy import relaxed_gc

SYMBOL = "BTCUSDT"


def fill_journal(url: str, lines: Iterable[bytes]) -> int:
    """Ingest ``lines`` through the real path; the number of inputs stored."""
    with Journal.open(url) as journal:
        return Ingestor(journal).ingest(lines).accepted


def fold_figures(url: str, times: int, target: float) -> list[Figure]:
    count = count_rows(url)
    baseline = rates(count, repeat(lambda: time_select_events(url, count), times))
    read_fold = rates(count, repeat(lambda: time_read_fold(url), times))
    # Decoded only now, so that no other run has 100,000 events in memory beside it.
    events = account_events(url)
    # On and off in turn, run by run: on a shared machine the load moves between runs, and
    # would otherwise weigh on one side of the ratio only.
    on, off = [], []
    for _ in range(times):
        on.append(time_pure_fold(events))
        with ledger_off():
            off.append(time_pure_fold(events))
    pure_fold, without_pnl = rates(count, Stats(tuple(on))), rates(count, Stats(tuple(off)))
    # Detectors run over a tenth of the events: the figure is a ratio, not a total.
    detectors = portfolio.detector_figure(events[: count // 10], times, target / 10)
    return [
        detectors,
        Figure(
            f"fold {count:,} events: read+decode+fold",
            "events/s",
            read_fold,
            baseline,
            Target(target, at_least=True),
        ),
        Figure(
            f"fold {count:,} events: pure fold (decoded), CPU time",
            "events/s",
            pure_fold,
            None,
            Target(target, at_least=True),
        ),
        # The same fold with the PnL ledger and the wallet fold on (as always), beside them
        # switched off: their cost, to be within 1.3x.
        Figure(
            f"fold {count:,} events: pure fold, PnL and wallet on (baseline: off), CPU time",
            "events/s",
            pure_fold,
            without_pnl,
            Target(target, at_least=True),
        ),
    ]


def audit_figure(url: str, times: int, target: float, what: str) -> Figure:
    count = count_rows(url)
    baseline = repeat(lambda: time_select_events(url, count), times)
    return Figure(
        f"audit --json: {what}",
        "s",
        repeat(lambda: time_audit(url), times),
        baseline,
        Target(target, at_least=False),
    )


@dataclass(frozen=True)
class Growth:
    """One audit of a trading session's journal: its size and what the audit cost."""

    events: int
    local_positions: int
    timeline: int
    json_mb: float
    seconds: float


def audit_growth(url: str) -> Growth:
    """One audit, as the CLI does it, of the session in the journal at ``url``."""
    watch = Stopwatch()
    with Journal.open(url) as journal, CountingSink() as out, relaxed_gc(), watch.running():
        result = cli_audit(journal, out)
    (key,) = result.keys
    locals_ = len(result.book.positions[key].local)
    events = count_rows(url)
    return Growth(events, locals_, len(result.timeline), out.written / 1e6, watch.seconds)


def growth_table(growth: list[Growth], projected_events: int, target: float) -> str:
    """The audits beside each other, and where the trend puts a ``projected_events`` one."""
    lines = [f"{'events':>8}  {'local positions':>15}  {'timeline':>8}  {'JSON MB':>8}  seconds"]
    lines += [
        f"{g.events:>8,}  {g.local_positions:>15,}  {g.timeline:>8,}  {g.json_mb:>8.1f}  "
        f"{g.seconds:.2f}"
        for g in growth
    ]
    first, last = growth[0], growth[-1]
    power = math.log(last.seconds / first.seconds) / math.log(last.events / first.events)
    lines.append(f"seconds grow as events^{power:.1f}")
    if projected_events > last.events:
        projected = last.seconds * (projected_events / last.events) ** power
        verdict = "met" if projected < target else "MISSED"
        lines.append(
            f"a {projected_events:,}-event session, on that trend: {number(projected)} s "
            f"(target < {target:g} s: {verdict}); not run"
        )
    return "\n".join(lines)


# --- the timed work ------------------------------------------------------------------------


def time_select_events(url: str, expected: int) -> float:
    watch = Stopwatch()
    with Journal.open(url) as journal, watch.running():
        rows = select_all_rows(journal)
    _check(rows, expected)
    return watch.seconds


def select_all_rows(journal: Journal) -> int:
    """The baseline's work: the account's stored rows, paged as the journal pages them."""
    stream, after, rows = account_stream_id(VENUE, ACCOUNT), 0, 0
    while True:
        page = journal.recorder.select_events(stream, gt=after, limit=PAGE)
        rows += len(page)
        if len(page) < PAGE:
            return rows
        after = page[-1].originator_version


def time_read_fold(url: str) -> float:
    watch = Stopwatch()
    with Journal.open(url) as journal, watch.running():
        fold(VENUE, ACCOUNT, journal.account_events(VENUE, ACCOUNT))
    return watch.seconds


@contextmanager
def ledger_off() -> Iterator[None]:
    """The fold without the PnL ledger and the wallet fold, for this measurement alone:
    their entry points do nothing meanwhile."""
    executions, position_report = PnlLedger.executions, PnlLedger.position_report
    local_opened, wallet = PnlLedger.local_opened, Wallet.apply
    PnlLedger.executions = lambda *_: None  # type: ignore[method-assign]
    PnlLedger.position_report = lambda *_: None  # type: ignore[method-assign]
    PnlLedger.local_opened = lambda *_: None  # type: ignore[method-assign]
    Wallet.apply = lambda *_: False  # type: ignore[method-assign]
    try:
        yield
    finally:
        PnlLedger.executions = executions  # type: ignore[method-assign]
        PnlLedger.position_report = position_report  # type: ignore[method-assign]
        PnlLedger.local_opened = local_opened  # type: ignore[method-assign]
        Wallet.apply = wallet  # type: ignore[method-assign]


def time_pure_fold(events: list[InputEvent]) -> float:
    # CPU time: the fold does no I/O, and its on/off ratio must not move with the load.
    watch = Stopwatch(cpu=True)
    with watch.running():
        fold(VENUE, ACCOUNT, events)
    return watch.seconds


def time_audit(url: str) -> float:
    watch = Stopwatch()
    with Journal.open(url) as journal, CountingSink() as out, relaxed_gc(), watch.running():
        cli_audit(journal, out)
    return watch.seconds


def cli_audit(journal: Journal, out: TextIO) -> Audit:
    """What ``trueup audit --json`` does once the store is open (under relaxed_gc)."""
    inputs = journal.account_inputs(VENUE, ACCOUNT, SYMBOL)
    result = audit(VENUE, ACCOUNT, inputs, symbol=SYMBOL)
    output.write_json(output.audit_json(result), out)
    return result


class CountingSink(io.StringIO):
    """Standard output for the audit: counts what is written and keeps none of it."""

    written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)


def count_rows(url: str) -> int:
    with Journal.open(url) as journal:
        return select_all_rows(journal)


def account_events(url: str) -> list[InputEvent]:
    with Journal.open(url) as journal:
        return list(journal.account_events(VENUE, ACCOUNT))


def _check(rows: int, expected: int) -> None:
    if rows != expected:
        raise RuntimeError(f"read {rows} rows, expected {expected}")
