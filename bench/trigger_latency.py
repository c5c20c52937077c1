"""Trigger latency, live: from the simulator pushing a ticker that crosses a trigger to the
order that trigger requests reaching the simulator (POST /v5/order/create).

trueup's side in this one process, as ``trueup run --prices --execute`` runs it: pybit's
private and public WebSockets (BybitFeed, BybitPriceFeed) handing records to a LiveIngest
writer thread over a fresh SQLite journal, the projection in process (default rules, the
account's ticks every 1 s and its partition, its log checkpointed beside it); an Executor
in a thread of its own, on a connection of its own, placing through pybit's HTTP session
(BybitOrders). The Bybit simulator runs in a process of its own (bench/remote_simulator.py):
the venue is remote in production, and a simulator in this process would share its GIL,
its asyncio server and handlers counted in every stage as trueup's own time (as they were
until it moved out). On 2 cores shared with other work, the tail is still mostly the
scheduler's: each stage hands over between threads (feed, writer, executor) at least once.

Setup, untimed: ten symbols, each a long of 1 at 100 (the mark, which market orders fill
at) with its ticker at 100, the positions shown by the first sync and processed. Samples go
round the symbols: in round k, a symbol's trigger k (price, long, level 101 + k, reduce a
tenth, auto-execute) is added and processed (untimed), then the simulator's process reads
the clock just before it pushes the ticker at 101 + k (only the ticker: the book's mark
stays, so no position frame can fire it instead); the sample's end is the instant the
simulator's handler took the order's POST (its RestAnswer.received, on the same system-wide
monotonic clock). The firing is then waited out (its outcome emitted, without polling the
journal meanwhile; TRIGGER_EXECUTED stored, everything processed) before the next sample.
The first round is the warm-up: the executor's first order on a symbol reads the symbol's
instruments-info first (one GET, cached after). Stages, on the same clock: the flush that
stored the price input returning (before the projection runs), the projection's
ORDER_REQUESTED (LiveIngest's on_emitted, after its commit), the order received.
"""

import gc
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from bench.latency import MS, Latency
from bench.live_latency import LiveError, Reader, Stored, _showing, feeding, writing
from bench.remote_simulator import RemoteBybitSimulator
from bench.report import render
from bench.stores import SQLiteStore
from trueup.adapters import trigger_commands
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.bybit.price_feed import BybitPriceFeed
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.clock import wall_clock
from trueup.adapters.feeds import Feeds
from trueup.adapters.store.journal import Appended, Journal
from trueup.application.executor import Executor
from trueup.domain.emitted import Emitted, OrderRequested, TriggerOutcome
from trueup.domain.events import InputEvent, PricesReported
from trueup.projections.partitions import partition_of
from trueup.runners.executor import executing
from trueup.runners.gc_policy import relaxed_gc
from trueup.runners.live import LiveIngest

KEY, SECRET = "trigger-bench-key", "trigger-bench-secret"
ACCOUNT = "main"
POLL_MS = 50  # trueup execute's default --poll-ms
STREAM_POLL_S = 60.0  # the account's REST poll: never within a run
ENTRY = 100
SYMBOLS = tuple(f"TRIG{n}USDT" for n in range(1, 11))
SAMPLE_TIMEOUT_S = 10.0
START_TIMEOUT_S = 30.0
TARGET_P99_MS = 20.0
CREATE = "/v5/order/create"
STAGES = (
    "ticker pushed -> price input stored",
    "stored -> ORDER_REQUESTED stored",
    "ORDER_REQUESTED -> order received",
)


@dataclass(frozen=True)
class Counts:
    """Timed samples; a first round over the symbols precedes them, left out."""

    samples: int = 200
    warmup: int = len(SYMBOLS)


QUICK = Counts(samples=30)


@dataclass
class Stamps:
    """The instants (time.perf_counter) one sample passed each stage, set by the writer."""

    symbol: str = ""
    trigger_id: str = ""
    decoded: bool = False  # the price input that crosses it, on its way to the journal
    stored: float = 0.0
    requested: float = 0.0
    decision_id: str = ""
    ended: threading.Event = field(default_factory=threading.Event)  # its outcome emitted


@dataclass
class Probe:
    """LiveIngest's hooks for the sample under way; wakes the executor on a request."""

    wake: Callable[[Emitted], None] | None = None
    now: Stamps = field(default_factory=Stamps)

    def decoded(self, event: InputEvent) -> None:
        if _prices(event, self.now.symbol):
            self.now.decoded = True

    def flushed(self, _appended: Appended | None) -> None:
        if self.now.decoded and not self.now.stored:
            self.now.stored = time.perf_counter()

    def emitted(self, event: Emitted) -> None:
        if isinstance(event, OrderRequested) and event.trigger_id == self.now.trigger_id:
            self.now.requested = time.perf_counter()
            self.now.decision_id = event.decision_id
        if isinstance(event, TriggerOutcome) and event.trigger_id == self.now.trigger_id:
            self.now.ended.set()
        if self.wake is not None:
            self.wake(event)


def _prices(event: object, symbol: str) -> bool:
    return isinstance(event, PricesReported) and any(q.symbol == symbol for q in event.quotes)


@dataclass(frozen=True)
class Measured:
    """One row: the total per sample, and each stage's share of it."""

    total: Latency
    stages: tuple[Latency, ...] = ()
    ahead: int = 0  # samples whose order arrived before on_emitted stamped the request


@dataclass(frozen=True)
class Sample:
    stored_ms: float
    requested_ms: float
    received_ms: float
    ahead: bool  # the order arrived before on_emitted stamped its request


def measure_way(store: SQLiteStore, counts: Counts, woken: bool) -> Measured:
    """``warmup`` + ``samples`` triggers crossed one at a time; the warm-up left out."""
    rounds = 1 + -(-counts.samples // len(SYMBOLS))
    crossings = [(k, symbol) for k in range(rounds) for symbol in SYMBOLS]
    probe = Probe()
    samples: list[Sample] = []
    with RemoteBybitSimulator(KEY, SECRET) as sim, ExitStack() as stack:
        for symbol in SYMBOLS:
            sim.open_position(symbol, "Buy", "1", str(ENTRY))
        url = stack.enter_context(store.fresh())
        reader = Reader(stack.enter_context(Journal.open(url)), (partition_of("bybit", ACCOUNT),))
        # One account's ticks and partition, as `trueup run` has them (every partition's
        # position recorded on each commit was 16 tracking rows, not 1).
        writer = stack.enter_context(Journal.open(url))
        live = stack.enter_context(writing(writer, probe.emitted, ("bybit", ACCOUNT)))
        _hook(live, probe)
        stack.enter_context(feeding(_feeds(sim), live))
        _ready(sim, reader)
        executor = Executor(
            stack.enter_context(Journal.open(url)),
            "bybit",
            ACCOUNT,
            BybitOrders(KEY, SECRET, base_url=sim.base_url),
        )
        woken_by = stack.enter_context(executing(executor, POLL_MS))
        probe.wake = woken_by if woken else None
        for k, symbol in crossings:
            _arm(live, reader, symbol, k)
            samples.append(_sample(sim, reader, probe, symbol, k))
    kept = samples[counts.warmup : counts.warmup + counts.samples]
    what = "executor woken by the projection" if woken else f"executor polling every {POLL_MS} ms"
    total = Latency(
        f"ticker crosses a trigger -> order at the simulator, {what}",
        tuple(s.received_ms for s in kept),
    )
    parts = (
        tuple(s.stored_ms for s in kept),
        tuple(s.requested_ms - s.stored_ms for s in kept),
        tuple(s.received_ms - s.requested_ms for s in kept),
    )
    stages = tuple(Latency(f"  {stage}", part) for stage, part in zip(STAGES, parts, strict=True))
    return Measured(total, stages, sum(s.ahead for s in kept))


def _hook(live: LiveIngest, probe: Probe) -> None:
    """``probe`` told of each input as the writer decodes it, and of each batch stored
    before the projection runs on it."""
    detect = live.ingestor.after_flush

    def after_flush(appended: Appended | None) -> None:
        probe.flushed(appended)
        if detect is not None:
            detect(appended)

    live.ingestor.after_flush = after_flush
    live.ingestor.on_input = probe.decoded


def _feeds(sim: RemoteBybitSimulator) -> Feeds:
    account = BybitFeed(
        ACCOUNT,
        KEY,
        SECRET,
        clock=wall_clock,
        base_url=sim.base_url,
        poll_interval_s=STREAM_POLL_S,
    )
    prices = BybitPriceFeed(ACCOUNT, SYMBOLS, clock=wall_clock, base_url=sim.base_url)
    return Feeds(account, prices)


def _ready(sim: RemoteBybitSimulator, reader: Reader) -> None:
    """Both streams subscribed, every position shown and processed."""
    if not sim.wait_subscribed(SYMBOLS, START_TIMEOUT_S):
        raise LiveError("the feeds never subscribed to the private stream and every ticker")
    reader.until(_showing(set(SYMBOLS)), START_TIMEOUT_S, "a sync showing every position")
    reader.settle()


def _arm(live: LiveIngest, reader: Reader, symbol: str, k: int) -> None:
    """``symbol``'s trigger of round ``k`` added and processed (untimed)."""
    command = {
        "command": "add", "trigger_id": f"{symbol}-{k}", "operator": "bench",
        "symbol": symbol, "direction": "long", "kind": "price", "level": str(_level(k)),
        "ratio": "0.1", "action": "reduce", "auto_execute": True,
    }  # fmt: skip
    live.put(trigger_commands.record(wall_clock(), "bybit", ACCOUNT, command))
    reader.settle()


def _level(k: int) -> int:
    return ENTRY + 1 + k


def _sample(sim: RemoteBybitSimulator, reader: Reader, probe: Probe, symbol: str, k: int) -> Sample:
    """One trigger crossed, timed to its order's arrival; its firing waited out."""
    trigger_id = f"{symbol}-{k}"
    now = probe.now = Stamps(symbol, trigger_id)
    start = sim.push_ticker(symbol, str(_level(k)))
    # Waited for without looking at the journal: the reader's polling would take the GIL
    # from the threads being timed (and no such poller runs beside `trueup run`).
    now.ended.wait(SAMPLE_TIMEOUT_S)
    outcome = reader.until(_ended(trigger_id), SAMPLE_TIMEOUT_S, f"{trigger_id} ending")
    reader.settle()
    if not isinstance(outcome, TriggerOutcome) or outcome.type != "TRIGGER_EXECUTED":
        raise LiveError(f"{trigger_id} ended {outcome.type}, not executed")
    link_id = client_order_id(now.decision_id).order_link_id
    creates = [a for a in sim.rest_answers() if a.path == CREATE and a.order_link_id == link_id]
    if len(creates) != 1 or creates[0].ret_code != 0:
        raise LiveError(f"{trigger_id}: the order was not placed once: {creates}")
    received = creates[0].received
    if not start < now.stored < min(now.requested, received):
        raise LiveError(
            f"{trigger_id}: fired before its price input was stored (by another input?)"
        )
    # on_emitted runs after the projection's commit: an executor that found the request in
    # between was quicker than the stamp, and the request counts as stored when it did.
    requested = min(now.requested, received)
    ahead = now.requested > received
    stored_ms, requested_ms, received_ms = (
        (at - start) * MS for at in (now.stored, requested, received)
    )
    return Sample(stored_ms, requested_ms, received_ms, ahead)


def _ended(trigger_id: str) -> Callable[[Stored], bool]:
    return lambda event: isinstance(event, TriggerOutcome) and event.trigger_id == trigger_id


def measure(store: SQLiteStore, counts: Counts, progress: Callable[[str], None]) -> list[Measured]:
    rows: list[Measured] = []
    gc.collect()
    with relaxed_gc():
        for woken in (True, False):
            how = "woken" if woken else "polling"
            progress(f"trigger latency, executor {how}: {counts.warmup} + {counts.samples} samples")
            try:
                rows.append(measure_way(store, counts, woken))
            except Exception as error:  # the row says why; the other is still measured
                failure = f"{type(error).__name__}: {error}"
                what = f"trigger -> order at the simulator, executor {how}"
                rows.append(Measured(Latency(what, (), failure)))
    return rows


HEADERS = ("measurement", "samples", "p50 ms", "p99 ms", "max ms", "target", "")


def trigger_table(rows: Sequence[Measured], load: tuple[float, float]) -> str:
    """Each row's total then its stages, and the machine's load before and after."""
    lines: list[tuple[str, ...]] = [HEADERS]
    notes: list[str] = []
    for row in rows:
        total = row.total
        if total.failure:
            lines.append((total.what, "0", "FAILED", "", "", "", ""))
            notes.append(f"  {total.what}: {total.failure}")
            continue
        if row.ahead:
            notes.append(
                f"  {total.what}: {row.ahead} orders arrived before on_emitted could stamp "
                "their request (counted stored when the order arrived)"
            )
        verdict = "met" if total.p99 < TARGET_P99_MS else "MISSED"
        lines.append((*_figures(total), f"p99 < {TARGET_P99_MS:.0f} ms", verdict))
        lines += [(*_figures(stage), "", "") for stage in row.stages]
    before, after = load
    note = (
        f"  load average (1 min) {before:.2f} before, {after:.2f} after, on {os.cpu_count()} cores"
    )
    return "\n".join([render(lines), *notes, note])


def _figures(row: Latency) -> tuple[str, ...]:
    return (
        row.what,
        f"{len(row.samples_ms):,}",
        *(f"{value:.1f}" for value in (row.p50, row.p99, row.max)),
    )


def legend(counts: Counts) -> str:
    return "\n".join(
        (
            "  the Bybit simulator (127.0.0.1) in a process of its own, as a venue is remote;",
            "  in this one pybit's private and ticker streams, LiveIngest with the projection",
            "  (SQLite, default rules, the account's 1 s ticks and partition), and an Executor",
            "  thread placing through pybit's HTTP session (trueup run --prices --execute).",
            "  Timed from just before the",
            "  simulator pushes the ticker that crosses the trigger to its handler receiving",
            f"  the order's POST. {len(SYMBOLS)} positions; each sample a new trigger crossed on",
            "  one of them in turn, its firing waited out before the next; the first round (the",
            f"  executor's first order on each symbol reads its instruments-info: {counts.warmup}",
            "  samples) left out. Stages on the same clock: the price input's batch stored,",
            "  ORDER_REQUESTED committed, order received.",
        )
    )


def report(store: SQLiteStore, counts: Counts, progress: Callable[[str], None]) -> str:
    before = os.getloadavg()[0]
    rows = measure(store, counts, progress)
    load = (before, os.getloadavg()[0])
    title = "trigger latency, live: a ticker crossing a trigger -> its order at the simulator:"
    return "\n".join((title, trigger_table(rows, load), legend(counts)))
