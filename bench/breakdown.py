"""Where an audit's time goes, stage by stage, in microseconds per event.

Each stage is timed alone over the same SQLite journal (one position held through all of
its events), so the stages add up to roughly what the whole audit costs. The first row is
the floor under any read: the state column alone, straight from sqlite3.
"""

import gc
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass

from bench.replay import select_all_rows
from bench.timing import Stats, Stopwatch, repeat
from bench.workload import ACCOUNT, VENUE
from trueup.adapters.store import codec
from trueup.adapters.store.journal import PAGE, Journal
from trueup.domain.book import fold
from trueup.domain.events import InputEvent
from trueup.domain.keys import account_stream_id
from trueup.projections.audit import Audit, audit
from trueup.runners import output

SYMBOL = "BTCUSDT"
Timed = Callable[[], float]  # does one run of a stage, returns the seconds it took


@dataclass(frozen=True)
class Stage:
    what: str
    where: str
    micros: Stats  # microseconds per event


@dataclass(frozen=True)
class PerEvent:
    """Times a stage over ``events`` events a few times, in microseconds per event."""

    events: int
    times: int

    def stage(self, what: str, where: str, run: Timed) -> Stage:
        micros = (seconds / self.events * 1e6 for seconds in repeat(run, self.times).samples)
        return Stage(what, where, Stats(tuple(micros)))


def stages(path: str, times: int) -> list[Stage]:
    """The stages of an audit of the SQLite journal at ``path``, each stage's input made
    just before it (a big heap of live objects slows every later stage's collector)."""
    with Journal.open(path) as journal:
        states = list(journal.account_states(VENUE, ACCOUNT))
        per_event = PerEvent(len(states), times)
        reads = [
            per_event.stage("SQL state column", "sqlite3 alone", timed(lambda: _states(path))),
            per_event.stage("SQL rows", "select_events", timed(lambda: select_all_rows(journal))),
            per_event.stage("read", "Journal.account_states", timed(lambda: _drain(journal))),
            per_event.stage("decode", "codec.decode", timed(lambda: _decode(states))),
        ]
    events = _decode(states)
    folds = [
        per_event.stage("fold", "AccountBook.apply", timed(lambda: fold(VENUE, ACCOUNT, events))),
        per_event.stage("fold, GC frozen", "gc.freeze() first", lambda: _frozen_fold(events)),
        per_event.stage("fold + states", "projections.audit.audit", timed(lambda: _audit(events))),
        per_event.stage(
            "fold + states, GC lax", "gen0 threshold 50,000", lambda: _lax_audit(events)
        ),
    ]
    result = _audit(events)
    events.clear()
    render = per_event.stage("render", "audit_json + write_json", timed(lambda: _render(result)))
    return [*reads, *folds, render]


def _decode(states: list[bytes]) -> list[InputEvent]:
    return [codec.decode(state) for state in states]


def stage_table(rows: list[Stage]) -> str:
    names = [f"{r.what} ({r.where})" for r in rows]
    width = max(map(len, names))
    lines = [f"{'stage':<{width}}  us/event median [min-max]"]
    lines += [
        f"{name:<{width}}  {r.micros.median:6.2f} [{r.micros.low:.2f}-{r.micros.high:.2f}]"
        for name, r in zip(names, rows, strict=True)
    ]
    return "\n".join(lines)


def timed(work: Callable[[], object]) -> Timed:
    def run() -> float:
        watch = Stopwatch()
        with watch.running():
            work()
        return watch.seconds

    return run


def _states(path: str) -> int:
    # eventsourcing's SQLite application recorder always names its table stored_events.
    query = (
        "SELECT originator_version, state FROM stored_events WHERE originator_id = ? "
        "AND originator_version > ? ORDER BY originator_version LIMIT ?"
    )
    stream, after, rows = account_stream_id(VENUE, ACCOUNT).hex, 0, 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        while True:
            page = connection.execute(query, (stream, after, PAGE)).fetchall()
            rows += len(page)
            if len(page) < PAGE:
                return rows
            after = page[-1][0]


def _drain(journal: Journal) -> int:
    return sum(1 for _ in journal.account_states(VENUE, ACCOUNT))


def _frozen_fold(events: list[InputEvent]) -> float:
    """The fold with what is already in memory moved out of the collector's sight."""
    gc.collect()
    gc.freeze()
    try:
        return timed(lambda: fold(VENUE, ACCOUNT, events))()
    finally:
        gc.unfreeze()


def _lax_audit(events: list[InputEvent]) -> float:
    """The audit with the collector run 70 times less often (gen0 threshold 700 -> 50,000)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        return timed(lambda: _audit(events))()
    finally:
        gc.set_threshold(*thresholds)


def _audit(events: list[InputEvent]) -> Audit:
    return audit(VENUE, ACCOUNT, enumerate(events, 1), symbol=SYMBOL)


def _render(result: Audit) -> None:
    with open(os.devnull, "w") as out:
        output.write_json(output.audit_json(result), out)
