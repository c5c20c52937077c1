"""Detection latency: from an input appended to the journal to the emitted event it causes
being stored, beside the usual alternative, a bot polling the exchange every 5 s.

Every sample is a stop-out a bot never saw: a LIVE local position is opened, the exchange
shows it, and its stop-loss fills (the venue's own order: setup, untimed), then a position
frame shows the key flat (the trigger, timed) and the rules answer with POSITION_CLOSED
STOP_LOSS (and COOLDOWN_STARTED). The fill comes first, as Bybit's stream sends it: a flat
no fill explains yet would wait close_cause_grace_ms for one (rules/manual_close.py). Once
told, the bot marks its position closed (a ``position_closed`` intent, untimed). Each sample
has its own symbol and position, so each trigger emits exactly one new close; its event id
is known before the run (ids are deterministic), from the same inputs run through a
Reconciler with the default rules, which are also the worker's.

- in-process, SQLite: as ``trueup ingest`` runs a live feed, an Ingestor of batch size 1
  whose ``after_flush`` is the projection's ``catch_up``; the time ``Ingestor.add`` takes
  (append, then catch up), the close then confirmed stored by its id.
- worker, PostgreSQL: a ``trueup worker --poll-ms N`` process follows the journal; once it
  has caught up (tracking position = last position) and a random part of its poll interval
  has passed, this process appends the trigger and looks for the close by its id every
  millisecond; from before the append until found.
- baseline: a loop comparing the bot's table with a REST snapshot every 5 s sees a change
  after a uniform wait in [0, 5 s) plus the poll's own round trip (assumed, see below):
  simulated over many random arrival phases.
"""

import gc
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from typing import IO

import orjson

from bench.report import render
from bench.stores import PostgresStore, SQLiteStore
from bench.workload import ACCOUNT, JSON, Session, stop_loss_fill
from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal, emitted_key
from trueup.application.ingest import Ingestor
from trueup.domain.emitted import PositionClosed
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.reconciler import Reconciler
from trueup.projections.partitions import tracked_position
from trueup.projections.reconciliation import ReconciliationProjection

POLL_PERIOD_MS = 5_000.0  # the polling loop trueup replaces (DESIGN.md: every 5-10 s)
REST_ROUND_TRIP_MS = 100.0  # assumed: one /v5/position/list call and the comparison
POLL_PHASES = 10_000
POLL_SEED = 20261121
PHASE_SEED = 1762199126
WORKER_POLLS_MS = (10, 100)  # --poll-ms: a tight setting, and the default
LOOK_EVERY_S = 0.001  # how often this process looks for the worker's output
SAMPLE_TIMEOUT_S = 10.0
WORKER_START_TIMEOUT_S = 60.0
WORKER_STOP_GRACE_S = 5.0
MS = 1000.0


@dataclass(frozen=True)
class Latency:
    """Detection latencies of one way of running the detectors, in milliseconds."""

    what: str
    samples_ms: tuple[float, ...]
    failure: str = ""  # why there are no samples

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[98]

    @property
    def max(self) -> float:
        return max(self.samples_ms)


# --- the inputs: one stop-out per sample ------------------------------------------------------


@dataclass(frozen=True)
class StopOut:
    """One sample's inputs, and the id of the POSITION_CLOSED its trigger must emit."""

    setup: tuple[InputEvent, ...]  # the previous sample's acknowledgement, open, confirmation
    trigger: InputEvent  # the exchange's position frame showing the key flat
    closed: PositionClosed  # what the trigger must emit

    @property
    def closed_id(self) -> str:
        return self.closed.event_id


@dataclass(frozen=True)
class Scenario:
    mode: InputEvent  # the account trades LIVE
    stop_outs: tuple[StopOut, ...]


def scenario(count: int) -> Scenario:
    """``count`` stop-outs, each on its own symbol, their closes' ids found by the rules."""
    session = Session()
    reconciler = Reconciler()
    mode = _intent(session, {"kind": "account_mode", "mode": "LIVE"})
    reconciler.apply(mode)
    stop_outs: list[StopOut] = []
    acknowledged: tuple[InputEvent, ...] = ()
    for number in range(1, count + 1):
        symbol, position_id = f"LAT{number}USDT", f"lat-{number}"
        opened = _opened(session, position_id, symbol)
        shown = _position_frame(session, symbol, "Buy", "0.3")
        setup = (*acknowledged, opened, shown, _stop_loss_fill(session, symbol))
        trigger = _position_frame(session, symbol, "", "0")
        closed = _expected_close(reconciler, setup, trigger, position_id)
        stop_outs.append(StopOut(setup, trigger, closed))
        told = {"kind": "position_closed", "position_id": position_id, "exit_reason": "SL"}
        acknowledged = (_intent(session, told),)
    return Scenario(mode, tuple(stop_outs))


def _expected_close(
    reconciler: Reconciler, setup: Sequence[InputEvent], trigger: InputEvent, position_id: str
) -> PositionClosed:
    for event in setup:
        reconciler.apply(event)
    closes = [e for e in reconciler.apply(trigger) if isinstance(e, PositionClosed)]
    if [e.position_id for e in closes] != [position_id]:
        raise RuntimeError(f"the trigger of {position_id} does not close it alone: {closes}")
    return closes[0]


def _intent(session: Session, intent: JSON) -> InputEvent:
    return _decoded(messages.capture_intent(session.tick(), ACCOUNT, intent))


def _opened(session: Session, position_id: str, symbol: str) -> InputEvent:
    intent: JSON = {
        "kind": "position_opened",
        "position_id": position_id,
        "category": "linear",
        "symbol": symbol,
        "position_idx": 0,
        "side": "Buy",
        "qty": "0.3",
        "mode": "LIVE",
        "timeframe": "1h",
    }
    return _intent(session, intent)


def _position_frame(session: Session, symbol: str, side: str, size: str) -> InputEvent:
    at = session.tick()
    item = messages.position_item(
        symbol=symbol,
        side=side,
        size=size,
        entry_price="65000" if side else "0",
        mark_price="65000",
        seq=session.next_seq(),
        updated_time=at - 3,
    )
    frame = messages.ws_frame("position", [item], message_id=f"pos-{at}", creation_time=at - 2)
    return _decoded(messages.capture_ws(at, ACCOUNT, frame))


def _stop_loss_fill(session: Session, symbol: str) -> InputEvent:
    at = session.tick()
    return _decoded(stop_loss_fill(at, ACCOUNT, symbol, "0.3", session.next_seq()))


def _decoded(record: JSON) -> InputEvent:
    event = decode_line(orjson.dumps(record))
    if isinstance(event, InputRejected):
        raise RuntimeError(f"the latency workload was rejected: {event.reason}")
    return event


def _stored(journal: Journal, stop_out: StopOut) -> bool:
    """Whether its POSITION_CLOSED is stored, under the key the journal gives it."""
    return bool(journal.recorder.select_events(emitted_key(stop_out.closed), limit=1))


# --- (a) in-process on SQLite, as `trueup ingest` runs --------------------------------------

IN_PROCESS = "in-process, SQLite (trueup ingest, batch 1)"


def in_process(store: SQLiteStore, count: int, warmup: int) -> Latency:
    """The detectors in the ingesting process: an Ingestor flushing every input."""
    inputs = scenario(warmup + count)
    with store.fresh() as url, closing(Journal.open(url)) as journal, _heap_like_the_cli():
        projection = ReconciliationProjection(journal)
        ingestor = Ingestor(journal, batch_size=1, after_flush=projection.catch_up)
        ingestor.add(inputs.mode)
        took = [_ingest_stop_out(journal, ingestor, s) for s in inputs.stop_outs]
    return Latency(IN_PROCESS, tuple(took[warmup:]))


def _ingest_stop_out(journal: Journal, ingestor: Ingestor, stop_out: StopOut) -> float:
    for event in stop_out.setup:
        ingestor.add(event)
    start = time.perf_counter()
    ingestor.add(stop_out.trigger)  # a batch of 1: appended, then the projection catches up
    took = time.perf_counter() - start
    if not _stored(journal, stop_out):
        raise RuntimeError(f"no POSITION_CLOSED {stop_out.closed_id} after the catch-up")
    return took * MS


@contextmanager
def _heap_like_the_cli() -> Iterator[None]:
    """The collector as ``trueup`` sets it (runners/cli.py), and the bench's own earlier
    garbage out of its way: frozen, so a full collection does not walk it."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# --- (b) a `trueup worker` process following PostgreSQL -------------------------------------


def worker_name(poll_ms: int) -> str:
    return f"trueup worker, PostgreSQL, --poll-ms {poll_ms}"


class WorkerError(RuntimeError):
    """The worker died, or did not answer in time."""


@dataclass
class Follower:
    """This process's side of a running worker: appends inputs and waits for its output.

    The worker is caught up just as it starts to sleep between polls: each trigger then
    waits a random part of that poll interval, as an input arriving at any instant would.
    """

    journal: Journal
    worker: "subprocess.Popen[bytes]"
    poll_ms: int
    phases: random.Random = field(default_factory=lambda: random.Random(PHASE_SEED))

    def caught_up(self) -> bool:
        tracked = tracked_position(self.journal)  # first: it never passes the last
        return tracked == self.journal.last_position()

    def wait(self, done: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.perf_counter() + timeout_s
        while not done():
            if self.worker.poll() is not None:
                raise WorkerError(f"the worker exited with status {self.worker.returncode}")
            if time.perf_counter() > deadline:
                raise WorkerError(f"the worker did not {what} in {timeout_s:.0f} s")
            time.sleep(LOOK_EVERY_S)

    def stop_out(self, stop_out: StopOut) -> float:
        self.journal.append(stop_out.setup)
        self.wait(self.caught_up, SAMPLE_TIMEOUT_S, "catch up")
        time.sleep(self.phases.uniform(0, self.poll_ms / MS))
        start = time.perf_counter()
        self.journal.append([stop_out.trigger])
        self.wait(lambda: _stored(self.journal, stop_out), SAMPLE_TIMEOUT_S, "close")
        return (time.perf_counter() - start) * MS


def through_worker(server: PostgresStore, poll_ms: int, count: int, warmup: int) -> Latency:
    """A ``trueup worker`` process following a fresh PostgreSQL journal."""
    inputs = scenario(warmup + count)
    with (
        server.fresh() as url,
        closing(Journal.open(url)) as journal,  # first, so the worker finds its tables
        tempfile.TemporaryFile() as log,
        running_worker(url, poll_ms, log) as worker,
    ):
        follower = Follower(journal, worker, poll_ms)
        journal.append([inputs.mode])
        try:
            follower.wait(follower.caught_up, WORKER_START_TIMEOUT_S, "start")
            took = [follower.stop_out(s) for s in inputs.stop_outs]
        except WorkerError as error:
            raise WorkerError(f"{error}; its last words: {_last_line(log)}") from None
    return Latency(worker_name(poll_ms), tuple(took[warmup:]))


@contextmanager
def running_worker(url: str, poll_ms: int, log: IO[bytes]) -> Iterator["subprocess.Popen[bytes]"]:
    """``trueup worker`` as its own process; stopped (SIGTERM, then killed) however we leave."""
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", url, "worker"]
    worker = subprocess.Popen(
        [*command, "--poll-ms", str(poll_ms)], stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        yield worker
    finally:
        _stop(worker)


def _stop(worker: "subprocess.Popen[bytes]") -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=WORKER_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = log.read().decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else "(nothing)"


# --- (c) the baseline: a 5 s polling loop --------------------------------------------------


def polling_baseline(phases: int = POLL_PHASES) -> Latency:
    """Changes arriving at random phases of a 5 s poll: each is seen at the next poll, whose
    REST round trip then still has to complete. Simulated, seeded, so every run agrees."""
    rng = random.Random(POLL_SEED)
    waits = tuple(rng.uniform(0, POLL_PERIOD_MS) + REST_ROUND_TRIP_MS for _ in range(phases))
    return Latency(f"poll every {POLL_PERIOD_MS / MS:.0f} s (simulated)", waits)


# --- all of it, and the table ----------------------------------------------------------------


def measured(what: str, run: Callable[[], Latency]) -> Latency:
    """One measurement; a failure becomes its row, so the rest of the report still prints."""
    try:
        return run()
    except Exception as error:
        return Latency(what, (), f"{type(error).__name__}: {error}")


HEADERS = (
    "measurement",
    "samples",
    "p50 ms",
    "p99 ms",
    "max ms",
    "5 s poll p50 ms",
    "5 s poll p99 ms",
    "trueup/poll p50",
    "trueup/poll p99",
)


def latency_table(rows: Sequence[Latency], baseline: Latency) -> str:
    """The table, then why any row failed (an error message would stretch its column)."""
    table = render([HEADERS, *(_row(row, baseline) for row in rows)])
    failures = [f"  {row.what}: {row.failure}" for row in rows if row.failure]
    return "\n".join([table, *failures])


def _row(row: Latency, baseline: Latency) -> tuple[str, ...]:
    if row.failure:
        return (row.what, "0", "FAILED", "", "", "", "", "", "")
    return (
        row.what,
        f"{len(row.samples_ms):,}",
        _ms(row.p50),
        _ms(row.p99),
        _ms(row.max),
        _ms(baseline.p50),
        _ms(baseline.p99),
        _fraction(row.p50, baseline.p50),
        _fraction(row.p99, baseline.p99),
    )


def _fraction(part: float, whole: float) -> str:
    """A small ratio as people say it: 1/2,600 rather than 0.00038."""
    return f"1/{whole / part:,.0f}" if part < whole else f"{part / whole:.2f}"


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def legend(baseline: Latency) -> str:
    period_s = POLL_PERIOD_MS / MS
    p50 = POLL_PERIOD_MS / 2 + REST_ROUND_TRIP_MS
    p99 = POLL_PERIOD_MS * 0.99 + REST_ROUND_TRIP_MS
    return "\n".join(
        (
            "  each sample: a LIVE position the exchange had shown, then a position frame",
            "  showing it flat; from before the frame's append until its POSITION_CLOSED is",
            "  stored (found by its deterministic id). In-process: Ingestor.add of the frame",
            "  (batch 1: append, then the projection's catch_up). Worker: Journal.append here,",
            "  the close looked for every 1 ms; each append a random part of a poll interval",
            "  after the worker had caught up (tracking = last position); default rules.",
            "  Warm-up samples left out.",
            f"  {period_s:.0f} s poll: a wait uniform in [0, {period_s:.0f} s) plus an assumed "
            f"{REST_ROUND_TRIP_MS:.0f} ms REST round trip,",
            f"  simulated over {len(baseline.samples_ms):,} random arrival phases "
            f"(analytically p50 {p50:,.0f} ms, p99 {p99:,.0f} ms).",
        )
    )
