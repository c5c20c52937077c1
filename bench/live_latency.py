"""End-to-end detection latency, live: from a simulated exchange changing a position to the
emitted event it causes being stored in the journal, through the real venue clients.

Everything runs as ``trueup run`` runs it, in this one process: a venue feed (pybit's or the
Hyperliquid SDK's WebSocket, and REST, supervised) hands capture records to a LiveIngest
writer thread, which appends them to a fresh SQLite journal and lets the in-process
projection catch up (default rules, clock ticks every 1 s). The exchange is the project's
simulator on 127.0.0.1, in a thread of this process too. A reader with a connection of its
own looks for the emitted event every millisecond, as a bot reading the journal would.

Setup, untimed: every sample's LIVE local position (a ``position_opened`` intent put into
LiveIngest as a capture record) is opened on the exchange (an order placed and filled)
before the feed starts; its first REST sync shows them all, and the projection has
processed that snapshot (tracking position) before the first sample. Each sample has its
own symbol and position id, so each trigger closes exactly one position.

- Bybit, WS: BybitFeed against BybitSimulator, the REST poll every 60 s so only the private
  stream can deliver. Timed: from just before ``sim.close_by_hand(symbol)`` until that
  position's POSITION_CLOSED is found stored. The bot then says its position is closed (a
  ``position_closed`` intent, untimed, processed before the next sample).
- Bybit, REST only: the same, with a BybitFeed whose stream is never opened (connect()
  opens nothing and the stream counts as up), so only the poller delivers; each close comes
  a random part (uniform) of the poll interval after the previous close was found, as a
  change arriving at any instant would. A poll brings the flat and no fill to say why, so
  under the default rules each close would wait close_cause_grace_ms (3 s) more and be
  reported on the clock tick after it: these rows record that grace as 0, to time the
  poller's own path.
- Hyperliquid, WS: the SDK's stream carries orders and fills (userFills, orderUpdates,
  userEvents), never positions (those come by REST clearinghouseState only, so a close is
  seen at the poll, as in the REST-only rows). Measured instead: an ENTRY order (an
  ``order_placed`` intent, its cloid as order_link_id) resting on the book, ENTRY_SUBMITTED
  already stored; timed from just before ``sim.fill(user, oid)`` until its ENTRY_FILLED is
  found stored. REST poll every 60 s.

Every sample's trigger is checked to have come by the way the row names (the cause of the
emitted event is a WebSocket or a REST input), and the inputs that caused them are counted.
"""

import argparse
import gc
import random
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial

from bench.latency import HEADERS, MS, Latency, polling_baseline
from bench.report import render
from bench.stores import SQLiteStore, scratch_sqlite
from trueup.adapters import rule_changes
from trueup.adapters.aster.live import AsterFeed
from trueup.adapters.bybit import messages as bybit_messages
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.hyperliquid import messages as hyperliquid_messages
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted, EntryFilled, EntrySubmitted, PositionClosed
from trueup.domain.events import InputEvent, LocalPositionClosed, PositionsReported
from trueup.domain.rules.config import RuleConfig
from trueup.projections.partitions import ALL, tracked_position
from trueup.runners.gc_policy import relaxed_gc
from trueup.runners.live import LiveIngest
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

KEY, SECRET = "bench-key-not-real", "bench-secret-not-real"
ACCOUNT = "main"
ADDRESS = "0x00000000000000000000000000000000bec4a11e"  # a Hyperliquid account
STREAM_POLL_S = 60.0  # the REST poll while the stream is measured: never within a run
REST_POLLS_S = (5.0, 1.0)  # the default --poll-interval, and a tight one
QTY, PRICE = "0.3", "100"
LOOK_EVERY_S = 0.001  # how often the reader looks for the emitted event
SETTLE_S = 0.02  # after a Hyperliquid fill: its later frames in before the next sample
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
PHASE_SEED = 20261122

Stored = InputEvent | Emitted
OnEmitted = Callable[[Emitted], object] | None  # told of each event the projection emits


class LiveError(RuntimeError):
    """Something did not arrive in time, or arrived by another way than measured."""


@dataclass(frozen=True)
class Counts:
    """Timed samples per row; warm-up samples (left out) precede the WebSocket ones."""

    stream: int = 30
    rest_default: int = 10  # REST only, every 5 s
    rest_tight: int = 15  # REST only, every 1 s
    hyperliquid: int = 30
    aster: int = 30
    warmup: int = 3


QUICK = Counts(stream=10, rest_default=4, rest_tight=6, hyperliquid=10, aster=10, warmup=2)


@dataclass(frozen=True)
class Measured:
    """One row's latencies, and what carried each timed sample's cause into the journal."""

    latency: Latency
    causes: tuple[tuple[str, int], ...] = ()


# --- reading the journal as a bot would -------------------------------------------------------


class Reader:
    """The journal through a connection of its own, looked at every LOOK_EVERY_S."""

    def __init__(self, journal: Journal, partitions: tuple[int, ...] = ALL) -> None:
        self.journal = journal
        self.partitions = partitions  # the projection's partitions it waits on
        self.after = 0
        self.backlog: deque[tuple[int, Stored]] = deque()
        self.carriers: dict[str, str] = {}  # input id -> e.g. "ws PositionsReported"
        self.last_match = 0  # the journal position of the last event ``until`` returned

    def _look(self) -> None:
        for position, event in self.journal.all_events(self.after):
            self.after = position
            if isinstance(event, InputEvent):
                self.carriers[event.input_id] = _carrier(event)
            self.backlog.append((position, event))

    def until(self, match: Callable[[Stored], bool], timeout_s: float, what: str) -> Stored:
        """The next stored event ``match`` accepts (those before it are passed over)."""
        deadline = time.perf_counter() + timeout_s
        while True:
            while self.backlog:
                position, event = self.backlog.popleft()
                if match(event):
                    self.last_match = position
                    return event
            if time.perf_counter() > deadline:
                raise LiveError(f"no {what} stored within {timeout_s:.0f} s")
            self._look()
            if not self.backlog:
                time.sleep(LOOK_EVERY_S)

    def processed(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the projection has processed the last event matched."""
        self._wait(lambda: self._processed() >= self.last_match, timeout_s)

    def settle(self) -> None:
        """Wait until the projection has processed all that is stored after a short pause."""
        time.sleep(SETTLE_S)
        last = self.journal.last_position()
        self._wait(lambda: self._processed() >= last, START_TIMEOUT_S)

    def _processed(self) -> int:
        return tracked_position(self.journal, self.partitions)

    def carrier(self, event: Stored) -> str:
        """What carried the input that caused an emitted event into the journal."""
        cause = event.cause if isinstance(event, Emitted) else ""
        return self.carriers.get(cause, "unknown")

    def _wait(self, done: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.perf_counter() + timeout_s
        while not done():
            if time.perf_counter() > deadline:
                raise LiveError(f"the projection did not catch up within {timeout_s:.0f} s")
            time.sleep(LOOK_EVERY_S)


def _carrier(event: InputEvent) -> str:
    source = getattr(event, "source", None)
    return f"{source} {event.type}" if source else event.type


# --- live ingest, as `trueup run` has it --------------------------------------------------------


@contextmanager
def writing(
    journal: Journal, on_emitted: OnEmitted = None, ticks_for: tuple[str, str] | None = None
) -> Iterator[LiveIngest]:
    """LiveIngest with its projection, writing from a thread of its own until we leave.
    ``ticks_for``: one account's ticks and projection partition, as ``trueup run`` has them
    (None: every account's, as the demo has them)."""
    live = LiveIngest(journal, config=RuleConfig(), on_emitted=on_emitted, ticks_for=ticks_for)
    stop = threading.Event()
    writer = threading.Thread(target=live.run, args=(stop,), name="bench-writer", daemon=True)
    writer.start()
    try:
        yield live
    finally:
        stop.set()
        writer.join(timeout=STOP_TIMEOUT_S)


@contextmanager
def journals(store: SQLiteStore) -> Iterator[tuple[LiveIngest, Reader]]:
    """A fresh SQLite journal, written by LiveIngest and read through a connection of its
    own; the writer stopped, both closed and the files removed on leaving."""
    with ExitStack() as stack:
        url = stack.enter_context(store.fresh())
        reader = Reader(stack.enter_context(Journal.open(url)))
        live = stack.enter_context(writing(stack.enter_context(Journal.open(url))))
        yield live, reader


@contextmanager
def feeding(feed: Feed, live: LiveIngest) -> Iterator[None]:
    """The feed handing records to LiveIngest; stopped, threads and all, on leaving."""
    feed.start(live.put)
    try:
        yield
    finally:
        feed.stop()


def _timeout(poll_interval_s: float) -> float:
    return 2 * poll_interval_s + 10


Sample = tuple[float, str]  # milliseconds, and what carried the trigger's input


def _timed(
    trigger: Callable[[], object],
    reader: Reader,
    match: Callable[[Stored], bool],
    timeout_s: float,
) -> Sample:
    """From just before ``trigger`` until the emitted event ``match`` accepts is stored."""
    start = time.perf_counter()
    trigger()
    event = reader.until(match, timeout_s, "emitted event")
    took = (time.perf_counter() - start) * MS
    return took, reader.carrier(event)


def _measured(what: str, samples: Sequence[Sample], carried_by: str) -> Measured:
    """The row, once every sample is known to have come the way the row names."""
    astray = [carrier for _, carrier in samples if not carrier.startswith(f"{carried_by} ")]
    if astray:
        raise LiveError(f"{len(astray)} samples came by {astray[0]!r}, not by {carried_by}")
    causes = Counter(carrier for _, carrier in samples)
    return Measured(Latency(what, tuple(ms for ms, _ in samples)), tuple(sorted(causes.items())))


# --- Bybit: a position closed by hand -------------------------------------------------------


class StreamlessBybitFeed(BybitFeed):
    """BybitFeed whose private stream is never opened: its connect() opens nothing and the
    stream then counts as up, so only REST delivers (the sync after it, then the poller)."""

    _opened = False

    def connect(self) -> None:
        self._opened = True

    def stream_lost(self) -> str | None:
        return None if self._opened else "not connected"


@dataclass(frozen=True)
class BybitWay:
    """One Bybit row: how the feed reaches the simulator, and how many samples it takes."""

    what: str
    poll_interval_s: float
    stream: bool
    samples: int
    warmup: int

    @property
    def carried_by(self) -> str:
        return "ws" if self.stream else "rest"

    def feed(self, sim: BybitSimulator) -> BybitFeed:
        kind = BybitFeed if self.stream else StreamlessBybitFeed
        return kind(
            ACCOUNT,
            KEY,
            SECRET,
            clock=wall_clock,
            base_url=sim.base_url,
            poll_interval_s=self.poll_interval_s,
        )


def bybit_ways(counts: Counts) -> list[BybitWay]:
    stream = BybitWay(
        "Bybit WS (pybit): close -> POSITION_CLOSED",
        STREAM_POLL_S,
        True,
        counts.stream,
        counts.warmup,
    )
    rest = [
        BybitWay(
            f"Bybit REST only, every {poll:.0f} s: close -> POSITION_CLOSED", poll, False, n, 0
        )
        for poll, n in zip(REST_POLLS_S, (counts.rest_default, counts.rest_tight), strict=True)
    ]
    return [stream, *rest]


def bybit(store: SQLiteStore, way: BybitWay) -> Measured:
    """Positions opened and shown by the first sync, then closed by hand one at a time."""
    positions = [(f"LIVE{n}USDT", f"live-{n}") for n in range(1, way.warmup + way.samples + 1)]
    phases = random.Random(PHASE_SEED)
    samples: list[Sample] = []
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as sim, journals(store) as (live, reader):
        if not way.stream:  # see the module's docstring: the poller's path, not the grace
            unwaited = RuleConfig(close_cause_grace_ms=0)
            live.put(rule_changes.record(wall_clock(), unwaited, "bench: REST only"))
        for symbol, position_id in positions:
            _bybit_open(sim, live, symbol, position_id)
        with feeding(way.feed(sim), live):
            if way.stream and not sim.wait_subscribed(timeout=START_TIMEOUT_S):
                raise LiveError("the feed never subscribed to the private stream")
            showing = _showing({symbol for symbol, _ in positions})
            reader.until(showing, START_TIMEOUT_S, "a sync showing every position")
            reader.processed()
            for symbol, position_id in positions:
                if not way.stream:  # a random phase of the poll
                    time.sleep(phases.uniform(0, way.poll_interval_s))
                timeout_s = _timeout(way.poll_interval_s)
                samples.append(_bybit_close(sim, live, reader, (symbol, position_id), timeout_s))
    return _measured(way.what, samples[way.warmup :], way.carried_by)


def _bybit_open(sim: BybitSimulator, live: LiveIngest, symbol: str, position_id: str) -> None:
    intent = {
        "kind": "position_opened",
        "position_id": position_id,
        "category": "linear",
        "symbol": symbol,
        "position_idx": 0,
        "side": "Buy",
        "qty": QTY,
        "mode": "LIVE",
    }
    live.put(bybit_messages.capture_intent(wall_clock(), ACCOUNT, intent))
    sim.fill(sim.place_order(symbol, "Buy", QTY, order_type="Market"), price=PRICE)


def _bybit_close(
    sim: BybitSimulator,
    live: LiveIngest,
    reader: Reader,
    position: tuple[str, str],
    timeout_s: float,
) -> Sample:
    close = partial(sim.close_by_hand, position[0])
    return _closed_by_hand(close, live, reader, position, timeout_s=timeout_s)


def _closed_by_hand(
    close: Callable[[], object],
    live: LiveIngest,
    reader: Reader,
    position: tuple[str, str],
    *,
    timeout_s: float,
    venue: str = "bybit",
) -> Sample:
    """The timed close, then the bot's word that it is closed, processed before the next."""
    _symbol, position_id = position
    sample = _timed(close, reader, _closes(position_id), timeout_s)
    intent = {"kind": "position_closed", "position_id": position_id, "exit_reason": "SL"}
    live.put(_intent(venue, intent))
    reader.until(_acknowledges(position_id), START_TIMEOUT_S, f"{position_id} closed by the bot")
    reader.processed()
    return sample


def _intent(venue: str, intent: Mapping[str, object]) -> dict[str, object]:
    """The bot's intent on ``venue``'s account, as a capture record."""
    record = bybit_messages.capture_intent(wall_clock(), ACCOUNT, dict(intent))
    record["venue"] = venue
    return record


# --- Aster: closed by hand, seen on the user data stream ---------------------------------------

ASTER = "Aster WS (user data stream): close -> POSITION_CLOSED"


def aster(store: SQLiteStore, count: int, warmup: int) -> Measured:
    """As Bybit's stream row: positions shown by the first sync, closed by hand one at a time,
    the REST poll every 60 s so only the user data stream can deliver."""
    positions = [(f"LIVE{n}USDT", f"aster-{n}") for n in range(1, warmup + count + 1)]
    samples: list[Sample] = []
    symbols = tuple(symbol for symbol, _ in positions)
    listed = AsterSimulator(api_key=KEY, api_secret=SECRET, symbols=symbols)
    with listed as sim, journals(store) as (live, reader):
        for symbol, position_id in positions:
            sim.open_position(symbol, QTY, PRICE)
            intent = {
                "kind": "position_opened", "position_id": position_id, "category": "perp",
                "symbol": symbol, "position_idx": 0, "side": "Buy", "qty": QTY, "mode": "LIVE",
            }  # fmt: skip
            live.put(_intent("aster", intent))
        feed = AsterFeed(
            ACCOUNT, KEY, SECRET, clock=wall_clock, base_url=sim.base_url,
            poll_interval_s=STREAM_POLL_S,
        )  # fmt: skip
        with feeding(feed, live):
            if not sim.wait_readers(timeout=START_TIMEOUT_S):
                raise LiveError("the feed never read Aster's user data stream")
            reader.until(_showing({s for s, _ in positions}), START_TIMEOUT_S, "the first sync")
            reader.processed()
            for symbol, position_id in positions:
                close = partial(sim.close_by_hand, symbol)
                timeout_s = _timeout(STREAM_POLL_S)
                position = (symbol, position_id)
                sample = _closed_by_hand(
                    close, live, reader, position, timeout_s=timeout_s, venue="aster"
                )
                samples.append(sample)
    return _measured(ASTER, samples[warmup:], "ws")


def _showing(symbols: set[str]) -> Callable[[Stored], bool]:
    """Matches once position reports have shown every one of ``symbols`` held."""
    waiting = set(symbols)

    def match(event: Stored) -> bool:
        if isinstance(event, PositionsReported):
            waiting.difference_update(r.symbol for r in event.reports if r.size > 0)
        return not waiting

    return match


def _closes(position_id: str) -> Callable[[Stored], bool]:
    return lambda event: isinstance(event, PositionClosed) and event.position_id == position_id


def _acknowledges(position_id: str) -> Callable[[Stored], bool]:
    return lambda e: isinstance(e, LocalPositionClosed) and e.position_id == position_id


# --- Hyperliquid: a resting entry filled ----------------------------------------------------

HYPERLIQUID = "Hyperliquid WS (SDK): fill -> ENTRY_FILLED"
HYPERLIQUID_STREAMS = ("userFills", "orderUpdates", "userEvents")


@dataclass(frozen=True)
class Entry:
    coin: str
    position_id: str
    cloid: str


def hyperliquid(store: SQLiteStore, count: int, warmup: int) -> Measured:
    """Entries resting on the book and reported submitted, then filled one at a time."""
    entries = [Entry(f"LIVE{n}", f"live-{n}", f"0x{n:032x}") for n in range(1, warmup + count + 1)]
    samples: list[Sample] = []
    with HyperliquidSimulator() as sim, journals(store) as (live, reader):
        oids = [_resting_entry(sim, live, entry) for entry in entries]
        feed = HyperliquidFeed(
            ADDRESS, clock=wall_clock, base_url=sim.base_url, poll_interval_s=STREAM_POLL_S
        )
        with feeding(feed, live):
            for stream in HYPERLIQUID_STREAMS:
                sim.wait_subscribed(stream, ADDRESS, timeout=START_TIMEOUT_S)
            submitted = _submitted({entry.cloid for entry in entries})
            reader.until(submitted, START_TIMEOUT_S, "every entry reported submitted")
            reader.processed()
            for entry, oid in zip(entries, oids, strict=True):
                fill = partial(sim.fill, ADDRESS, oid)
                samples.append(_timed(fill, reader, _filled(entry.cloid), _timeout(0)))
                reader.settle()
    return _measured(HYPERLIQUID, samples[warmup:], "ws")


def _resting_entry(sim: HyperliquidSimulator, live: LiveIngest, entry: Entry) -> int:
    """The bot's position and its ENTRY order, said and placed; the order's oid."""
    common = {"position_id": entry.position_id, "category": "perp", "symbol": entry.coin}
    opened = {**common, "kind": "position_opened", "position_idx": 0, "mode": "LIVE"}
    placed = {**common, "kind": "order_placed", "order_link_id": entry.cloid, "purpose": "ENTRY"}
    order = {"side": "Buy", "qty": QTY}
    for intent in ({**opened, **order}, {**placed, **order, "price": PRICE}):
        live.put(hyperliquid_messages.capture_intent(wall_clock(), ADDRESS, intent))
    return sim.open_order(
        ADDRESS, entry.coin, is_buy=True, sz=QTY, limit_px=PRICE, cloid=entry.cloid
    )


def _submitted(cloids: set[str]) -> Callable[[Stored], bool]:
    waiting = set(cloids)

    def match(event: Stored) -> bool:
        if isinstance(event, EntrySubmitted):
            waiting.discard(event.client_order_id)
        return not waiting

    return match


def _filled(cloid: str) -> Callable[[Stored], bool]:
    return lambda event: isinstance(event, EntryFilled) and event.client_order_id == cloid


# --- all of it, and the table -----------------------------------------------------------------


def guarded(what: str, run: Callable[[], Measured]) -> Measured:
    """One row; a failure becomes the row, so the rest of the report still prints."""
    try:
        return run()
    except Exception as error:
        return Measured(Latency(what, (), f"{type(error).__name__}: {error}"))


def measure(store: SQLiteStore, counts: Counts, progress: Callable[[str], None]) -> list[Measured]:
    """Every row, with the collector as ``trueup`` sets it."""
    rows: list[Measured] = []
    gc.collect()
    with relaxed_gc():
        for way in bybit_ways(counts):
            progress(f"live latency, {way.what}: {way.warmup} warm-up + {way.samples} samples")
            rows.append(guarded(way.what, partial(bybit, store, way)))
        progress(f"live latency, {ASTER}: {counts.warmup} + {counts.aster} samples")
        rows.append(guarded(ASTER, partial(aster, store, counts.aster, counts.warmup)))
        progress(f"live latency, {HYPERLIQUID}: {counts.warmup} + {counts.hyperliquid} samples")
        run = partial(hyperliquid, store, counts.hyperliquid, counts.warmup)
        rows.append(guarded(HYPERLIQUID, run))
    return rows


def live_table(rows: Sequence[Measured], baseline: Latency) -> str:
    """bench/latency.py's table, then why any row failed."""
    table = render([HEADERS, *(_row(row.latency, baseline) for row in rows)])
    failures = [
        f"  {row.latency.what}: {row.latency.failure}" for row in rows if row.latency.failure
    ]
    return "\n".join([table, *failures])


def _row(row: Latency, baseline: Latency) -> tuple[str, ...]:
    if row.failure:
        return (row.what, "0", "FAILED", "", "", "", "", "", "")
    return (
        row.what,
        f"{len(row.samples_ms):,}",
        *(_ms(value) for value in (row.p50, row.p99, row.max, baseline.p50, baseline.p99)),
        _ratio(row.p50, baseline.p50),
        _ratio(row.p99, baseline.p99),
    )


def _ratio(part: float, whole: float) -> str:
    """1/529 for a small ratio, 0.69 for one near 1 (where 1/1 would hide the difference)."""
    return f"1/{whole / part:,.0f}" if part < whole / 2 else f"{part / whole:.2f}"


def _ms(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def legend(rows: Sequence[Measured], counts: Counts) -> str:
    carried = [
        f"    {row.latency.what}: " + ", ".join(f"{carrier} x{n}" for carrier, n in row.causes)
        for row in rows
        if row.causes
    ]
    return "\n".join(
        (
            "  one process: simulator (127.0.0.1), venue client, LiveIngest writer with the",
            "  projection (SQLite, default rules, 1 s ticks), and a reader that looks for the",
            "  emitted event every 1 ms by its own connection; timed from just before the",
            "  simulator call to the event found stored. Every sample its own symbol; its LIVE",
            "  position (or resting ENTRY) set up untimed and processed before the first.",
            f"  Bybit WS: REST poll {STREAM_POLL_S:.0f} s, so only the stream can deliver; "
            f"{counts.warmup} warm-up samples left out.",
            "  Bybit REST only: the stream never opened; each close a uniform random part of",
            "  the poll interval after the previous close was found; close_cause_grace_ms 0",
            "  (a poll brings no fill: the default 3 s wait would come on top of these).",
            "  Hyperliquid: its stream carries no positions (a close comes by the REST poll,",
            "  as in the REST-only rows), so this is an ENTRY limit order's fill: sim.fill ->",
            f"  ENTRY_FILLED stored; REST poll {STREAM_POLL_S:.0f} s; "
            f"{counts.warmup} warm-up samples left out.",
            "  the input that caused each timed sample's event (checked: all by the row's way):",
            *carried,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """These rows alone: ``python -m bench.live_latency [--quick]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.live_latency", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples (smoke run)")
    args = parser.parse_args(argv)
    counts = QUICK if args.quick else Counts()
    with scratch_sqlite() as store:
        rows = measure(store, counts, lambda text: print(f"[bench] {text}", file=sys.stderr))
    print(live_table(rows, polling_baseline()))
    print(legend(rows, counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
