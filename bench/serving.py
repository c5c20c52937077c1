"""Serving figures (issue 8): answers, restarts, memory and ingest on a journal of 1,000,000
inputs, each beside the same figure on a journal of about 10,000 measured in the same run,
so that the ratio says whether a cost creeps with the journal.

The journals (generated once, cached under /tmp keyed by a version, see ``cached``):

- main, 1M: 100 Bybit accounts of 10,000 inputs each, interleaved: trade cycles
  (bench/workload.py's, round robin over 100 symbols per account, with per-account clock
  ticks), then the holdings: per account, 100 positions opened (intents) and confirmed by a
  REST position list, so 10,000 positions are open at the end. The holdings begin once the
  history's finished orders and closed positions are let go (domain/retention.py), so the
  reconciled state is the small journal's, with what the trading left per key (last fills,
  PnL); before, they began a minute after, and the state held the last 10 minutes of
  trading too (snapshots of 11.3 MB against 1.1 MB): the ratios weighed state, not journal.
  The reconciliation projection ran over it once and stopped cleanly, so it holds a
  snapshot at its end.
- main, small: the holdings alone (the last 10,200 inputs of the 1M journal, on their own):
  the same 10,000 open positions, 1% of the journal. State-bound figures (can-open,
  positions, restart, memory) compare like with like.
- audit, 1M: one account of 1,000,000 inputs (trade cycles over 100 symbols); the audited
  position (BTCUSDT) is traded in 40 of its cycles, 960 inputs. Audit, small: the same 40
  cycles in an account of 10,000 inputs. The fold rates are measured on these too: one
  account's stream, the same mix of events at both sizes.

Every capture line goes through trueup.adapters.capture.decode_line and Journal.append, so
the stored form is the real one. Measurements that write (the worker, ingest) work on a copy.
Each figure is measured in a fresh process: ``python -m bench.serving WORK JSON`` prints one
JSON object (see CHILD_WORK); commands run as the ``trueup`` console script.
"""

import compileall
import hashlib
import importlib
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import ProcessRecorder, StoredEvent

from bench.probe import peak_rss_kb, reset_peak, status_kb
from bench.report import Target, render, spread
from bench.timing import Stats
from bench.workload import START_MS, STEP_MS, Session, trade_cycle
from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.adapters.store.journal import MARKER_TOPIC, Journal, marker_id
from trueup.adapters.store.wal_checkpoints import BULK_EVERY_S, checkpoints_aside
from trueup.application.ingest import BATCH
from trueup.application.service import TrueupService
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.keys import account_stream_id
from trueup.domain.reconciler import Reconciler
from trueup.domain.retention import FORGET_AFTER_MS
from trueup.domain.rules.can_open import judge
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.rules.config import RuleConfig
from trueup.projections import reconciliation
from trueup.projections.partitions import tracked_position
from trueup.projections.reconciliation import ReconciliationProjection, replay
from trueup.projections.view_reader import ViewReader
from trueup.projections.views import VIEWS_FORMAT
from trueup.runners.gc_policy import relaxed_gc

JSON = dict[str, Any]
Progress = Callable[[str], None]

INPUTS = 1_000_000
ACCOUNTS = 100
SYMBOLS = 100  # per account: 100 x 100 = 10,000 positions
VENUE = "bybit"
MINUTE_MS = 60_000
CYCLE = sum(1 for _ in trade_cycle(Session(), 1, "BTCUSDT"))  # records per trade cycle
HOLDING_INPUTS = 2 + SYMBOLS  # per account: the account mode, an open per symbol, a REST list
HELD_QTY = "0.3"
HOLDING_SEQ = 10_000_000  # above any seq of the history, so the holdings' reports are newer
AUDIT_ACCOUNT = "whale"
AUDITED = "BTCUSDT"
AUDIT_CYCLES = 40  # x CYCLE (24) = the audited position's 960 inputs
SMALL_AUDIT_INPUTS = 10_000
WRITE_BATCH = 20_000  # inputs per Journal.append while generating
GENERATOR_VERSION = 2  # bump when the generated journals change
CACHE_ROOT = Path(tempfile.gettempdir()) / "trueup-bench-serving"
KEEP_VERSIONS = 2  # ~3.6 GB each

# Targets (issue 8).
CAN_OPEN_P99_MS = 1.0
RATIO_BOUND = 1.2  # "within 1.2x": larger / smaller of the two journals' figures
AUDIT_S = 0.3
RESTART_S = 1.0
WORKER_MB = 300.0
INGEST_RATE = 25_000.0
FOLD_RATE = 300_000.0

COMMAND_REPEATS = 5
STARTUP_REPEATS = 10
REPEATS = 3
INGEST_INPUTS = 30_000  # per timed ingest (and per baseline insert)
WARM_INPUTS = 1_000  # before a timed ingest into a running trueup: every account woken
CAN_OPEN_CALLS = 200  # through the application layer, at most, within CAN_OPEN_BUDGET_S
CAN_OPEN_MIN_CALLS = 10
CAN_OPEN_BUDGET_S = 15.0
PART_REPEATS = 3
DOMAIN_CALLS = 10_000
LONG_ENOUGH_S = 0.5  # the least a fold's timing takes (_timed_long)
WORKER_POLL_MS = 100
# The ingest figures, each on the 1M journal (big) and an empty one (small): in process,
# with a detector process of its own, into a running trueup, beside a running worker, each
# half of a detector process's ingest alone (the detectors catching up, the appending with
# them off), and the baseline's rows. Each as (its work, its row's label, the segments of
# new lines a run takes: two where a warm-up comes first).
IN_PROCESS = "ingest"  # the way the 10k journal of the same positions is measured too
BASELINE = "baseline"
APPENDING = "ingest-appending"
CATCHING_UP = "catching-up"
INGEST_WAYS = (
    (IN_PROCESS, f"ingest {INGEST_INPUTS:,} inputs, detectors on (small = empty journal)", 1),
    (
        "ingest-detector-process",
        "  --detector-process (a second process, started for the ingest, detects)",
        1,
    ),
    (
        "ingest-running",
        f"  into a running trueup (its state loaded by {WARM_INPUTS:,} inputs first)",
        2,
    ),
    (
        "ingest-beside-worker",
        "  beside a running trueup worker (2 processes; until it has processed all)",
        2,
    ),
    (
        CATCHING_UP,
        "  detectors alone (a worker, its state loaded, catching up): the most they keep up with",
        2,
    ),
    # Leaves its inputs unprocessed, as the baseline's: after every way that detects.
    (
        APPENDING,
        "  detectors off (--no-projections): the most a second process can keep up with",
        1,
    ),
    (BASELINE, "  baseline: the same rows by recorder.insert_events", 1),
)
# Figures beside the ingest's, without its target: what bounds it (a detector process is
# as fast as the slower of its two halves, each alone, at best).
UNTARGETED = (CATCHING_UP, APPENDING, BASELINE)
BESIDE_POLL_MS = 10  # the worker beside an ingest: it looks for new inputs this often
WORKER_TIMEOUT_S = 300.0


def account_name(index: int) -> str:
    return f"acct-{index:02d}"


def symbol_name(index: int) -> str:
    return f"C{index:02d}USDT"


# --- the workload: capture records ----------------------------------------------------------


def _on_account(record: JSON, account: str) -> JSON:
    """bench/workload.py's record, for ``account``; its clock ticks become the account's own."""
    if record.get("channel") == "clock":
        return {**record, "venue": VENUE, "account": account}
    return {**record, "account": account}


def _tick(session: Session, account: str) -> JSON:
    return {"at": session.tick(), "channel": "clock", "venue": VENUE, "account": account}


def _mode(session: Session, account: str) -> JSON:
    return messages.capture_intent(
        session.tick(), account, {"kind": "account_mode", "mode": "LIVE"}
    )


def trading(
    account: str, session: Session, count: int, symbols: Sequence[str], first_number: int = 1
) -> Iterator[JSON]:
    """``count`` records: the account's mode, then whole trade cycles (each position opened
    and closed) round robin over ``symbols``, padded with clock ticks."""
    yield _mode(session, account)
    cycles = (count - 1) // CYCLE
    for number in range(first_number, first_number + cycles):
        for record in trade_cycle(session, number, symbols[number % len(symbols)]):
            yield _on_account(record, account)
    for _ in range(count - 1 - cycles * CYCLE):
        yield _tick(session, account)


def holdings(account: str, session: Session) -> Iterator[JSON]:
    """The account's mode, a LIVE position opened on every symbol, and the REST position list
    (one whole page) in which the exchange holds them all."""
    yield _mode(session, account)
    for index in range(SYMBOLS):
        opened = {
            "kind": "position_opened",
            "position_id": f"h-{index}",
            "category": "linear",
            "symbol": symbol_name(index),
            "position_idx": 0,
            "side": "Buy",
            "qty": HELD_QTY,
            "mode": "LIVE",
            "timeframe": "1h",
        }
        yield messages.capture_intent(session.tick(), account, opened)
    at = session.tick()
    items = [
        messages.position_item(
            symbol=symbol_name(index),
            side="Buy",
            size=HELD_QTY,
            entry_price=str(65_000 + index),
            mark_price=str(65_010 + index),
            seq=session.next_seq(),
            updated_time=at - 3,
            rest=True,
        )
        for index in range(SYMBOLS)
    ]
    params = {"category": "linear", "settleCoin": "USDT", "limit": "200"}
    body = messages.rest_ok("linear", items, time=at)
    yield messages.capture_rest(at, account, "/v5/position/list", params, body)


def _interleave(streams: Iterable[Iterator[JSON]]) -> Iterator[JSON]:
    """One record of each account in turn, as accounts trading side by side arrive."""
    for group in zip(*streams, strict=True):
        yield from group


def _history_per_account(inputs: int) -> int:
    return inputs // ACCOUNTS - HOLDING_INPUTS


def _holdings_start(inputs: int) -> int:
    """Every account's holdings begin a minute after what the longest history finished is
    let go."""
    return START_MS + (_history_per_account(inputs) + 1) * STEP_MS + FORGET_AFTER_MS + MINUTE_MS


def holding_records(inputs: int) -> Iterator[JSON]:
    start = _holdings_start(inputs)
    return _interleave(
        holdings(account_name(i), Session(at=start + i, seq=HOLDING_SEQ)) for i in range(ACCOUNTS)
    )


def main_records(inputs: int) -> Iterator[JSON]:
    """The 1M journal: every account's trading history, then their holdings."""
    symbols = [symbol_name(j) for j in range(SYMBOLS)]
    history = _history_per_account(inputs)
    histories = _interleave(
        trading(account_name(i), Session(at=START_MS + i), history, symbols)
        for i in range(ACCOUNTS)
    )
    return itertools.chain(histories, holding_records(inputs))


def audit_records(inputs: int) -> Iterator[JSON]:
    """One account of ``inputs`` records; AUDITED is traded in AUDIT_CYCLES of its cycles,
    spread evenly, the rest round robin over other symbols."""
    session, account = Session(), AUDIT_ACCOUNT
    others = [symbol_name(j) for j in range(SYMBOLS - 1)]
    cycles = (inputs - 1) // CYCLE
    every = cycles // AUDIT_CYCLES
    yield _mode(session, account)
    for number in range(1, cycles + 1):
        audited = number % every == 0 and number // every <= AUDIT_CYCLES
        symbol = AUDITED if audited else others[number % len(others)]
        for record in trade_cycle(session, number, symbol):
            yield _on_account(record, account)
    for _ in range(inputs - 1 - cycles * CYCLE):
        yield _tick(session, account)


NEW_SYMBOLS = ("N0USDT", "N1USDT", "N2USDT", "N3USDT", "N4USDT")


def ingest_lines(segment: int, count: int, after_ms: int) -> list[bytes]:
    """``count`` new capture lines for the 100 accounts, after ``after_ms``: trade cycles on
    symbols none of them holds, so that ingesting them into the 1M journal and into an empty
    one asks the detectors the same. Each ``segment`` is new inputs, later than the last."""
    per_account = count // ACCOUNTS
    start = after_ms + MINUTE_MS + segment * 60 * MINUTE_MS
    streams = (
        trading(
            account_name(i),
            Session(at=start + i, seq=20_000_000 + segment * 1_000_000),
            per_account,
            NEW_SYMBOLS,
            first_number=(segment + 1) * 100_000,
        )
        for i in range(ACCOUNTS)
    )
    return [orjson.dumps(record) for record in _interleave(streams)]


def close_lines(account: str, symbol: str, at: int) -> list[bytes]:
    """The exchange shows flat a position held open locally, then the account's clock ticks
    past the close's grace (no fill came to say why): on the tick, the worker emits
    POSITION_CLOSED (a stop-loss the bot never saw) and a cooldown."""
    item = messages.position_item(
        symbol=symbol, side="", size="0", seq=HOLDING_SEQ * 2 + at % 1_000_000, updated_time=at - 3
    )
    frame = messages.ws_frame("position", [item], message_id=f"pos-{at}", creation_time=at - 2)
    past = at + RuleConfig().close_cause_grace_ms
    tick = {"at": past, "channel": "clock", "venue": VENUE, "account": account}
    return [orjson.dumps(messages.capture_ws(at, account, frame)), orjson.dumps(tick)]


# --- the journals, generated once and cached ------------------------------------------------


@dataclass(frozen=True)
class Generated:
    """A generated journal file and what it holds."""

    path: str
    inputs: int
    end_ms: int  # the last input's receive time: answers are asked as of then
    emitted: int  # by the projection, when one ran
    seconds: float  # to generate it
    reused: bool = False


@dataclass(frozen=True)
class Journals:
    main_big: Generated
    main_small: Generated
    audit_big: Generated
    audit_small: Generated
    directory: Path


def cache_key(inputs: int) -> str:
    """Changes whenever the generated journals would: this generator, trueup's decoding and
    stored form, the snapshot and views formats (digests of trueup.domain and the views),
    eventsourcing."""
    digest = hashlib.sha256()
    digest.update(f"{GENERATOR_VERSION}:{inputs}:{VIEWS_FORMAT}".encode())
    digest.update(metadata.version("eventsourcing").encode())
    for module in ("trueup.adapters.store", "trueup.adapters", "trueup.adapters.bybit"):
        for entry in sorted(resources.files(module).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".py"):
                digest.update(entry.read_bytes())
    return f"v{GENERATOR_VERSION}-{inputs}-{digest.hexdigest()[:12]}"


def cached(inputs: int, small: int, progress: Progress) -> Journals:
    """The four journals, from the cache when it holds them, else generated into it. Of the
    other versions of the cache, the KEEP_VERSIONS newest stay (another checkout's bench may
    be using one), the rest are removed."""
    directory = CACHE_ROOT / cache_key(inputs)
    if not directory.is_dir():
        others = sorted(CACHE_ROOT.glob("v*-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP_VERSIONS:]:
            shutil.rmtree(old, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    return Journals(
        main_big=_journal(directory / "main-big.db", lambda: main_records(inputs), True, progress),
        main_small=_journal(
            directory / "main-small.db", lambda: holding_records(inputs), True, progress
        ),
        audit_big=_journal(
            directory / "audit-big.db", lambda: audit_records(inputs), False, progress
        ),
        audit_small=_journal(
            directory / "audit-small.db", lambda: audit_records(small), False, progress
        ),
        directory=directory,
    )


def _journal(
    path: Path, records: Callable[[], Iterator[JSON]], project: bool, progress: Progress
) -> Generated:
    manifest = path.with_suffix(".json")
    if manifest.exists() and path.exists():
        return Generated(**{**orjson.loads(manifest.read_bytes()), "reused": True})
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    progress(f"generating {path.name} (cached for later runs in {path.parent})")
    generated = generate(path, records(), project, progress)
    manifest.write_bytes(orjson.dumps(asdict(generated)))  # last: marks the journal complete
    return generated


def generate(path: Path, records: Iterator[JSON], project: bool, progress: Progress) -> Generated:
    """Decode every record through the capture path and append them in large batches; with
    ``project``, the reconciliation projection follows along and stops cleanly (snapshot)."""
    start = time.perf_counter()
    inputs, end_ms, emitted = 0, 0, 0
    with Journal.open(str(path)) as journal, relaxed_gc(), _one_snapshot():
        projection = ReconciliationProjection(journal) if project else None
        for batch in _batches(records, WRITE_BATCH):
            events = [decode_line(orjson.dumps(record)) for record in batch]
            _check_accepted(events)
            if journal.append(events).duplicates:
                raise RuntimeError(f"{path.name}: the generator repeated an input")
            inputs += len(events)
            end_ms = max(end_ms, *(event.at for event in events))
            if projection is not None:
                emitted += len(projection.catch_up())
            if inputs % 100_000 < WRITE_BATCH:
                progress(f"  {path.name}: {inputs:,} inputs, {time.perf_counter() - start:.0f} s")
        if projection is not None:
            projection.checkpoint()
    return Generated(str(path), inputs, end_ms, emitted, time.perf_counter() - start)


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """While generating, the projection snapshots only when it stops: the snapshot table
    keeps one row per projection, the last, so the journal ends the same, minutes sooner
    (each snapshot of 10,000 positions takes seconds, and it would take one every few
    thousand inputs)."""
    every = reconciliation.SNAPSHOT_EVERY
    reconciliation.SNAPSHOT_EVERY = sys.maxsize
    try:
        yield
    finally:
        reconciliation.SNAPSHOT_EVERY = every


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _check_accepted(events: Sequence[InputEvent]) -> None:
    for event in events:
        if isinstance(event, InputRejected):
            raise RuntimeError(f"a generated input was rejected: {event.reason}")


@contextmanager
def working_copy(source: Generated, directory: Path) -> Iterator[Generated]:
    """A copy of a journal to write to, so the cached one stays as generated."""
    target = directory / f"copy-{Path(source.path).name}"
    for part in Path(source.path).parent.glob(Path(source.path).name + "*"):
        shutil.copyfile(part, directory / f"copy-{part.name}")
    # Written out before the first figure: otherwise the kernel writes the copy (2 GB) back
    # while it runs (measured: the first ingest into the 1M copy 3.5 s, 2.8 s after a sync).
    os.sync()
    try:
        yield Generated(str(target), source.inputs, source.end_ms, source.emitted, 0.0)
    finally:
        for part in directory.glob(target.name + "*"):
            part.unlink()


# --- measurements in a fresh process: python -m bench.serving WORK JSON ----------------------


def _queries() -> list[tuple[str, str]]:
    """Accounts and symbols asked about, in turn: held ones (no) and a new one (yes)."""
    held = [(account_name(i), symbol_name((i * 7) % SYMBOLS)) for i in range(0, ACCOUNTS, 3)]
    return held + [(account_name(i), "NEWUSDT") for i in range(1, ACCOUNTS, 9)]


def work_can_open_service(url: str, at: int) -> JSON:
    """service.can_open, call after call, as a long-running caller of the application layer
    would (default garbage collection); then one call's parts, each timed on its own."""
    from trueup.application.can_open import views_at

    queries = _queries()
    samples: list[float] = []
    with Journal.open(url) as journal:
        service = TrueupService(journal)
        # Else each answer is a replay of the account (seconds each, for hundreds of calls):
        # the views of a journal generated by another build (pure Python, or compiled) are
        # not this one's to read.
        for account in sorted({account for account, _ in queries}):
            if views_at(journal, VENUE, account, at) is None:
                raise RuntimeError(
                    f"the views of {url} do not answer for {account}: written by another "
                    "build of trueup? delete the cached journals to generate them again"
                )
        # A serving process asks again and again: the first pass over the queries (imports,
        # the pages of their views read from disk) is reported on its own, not in the p99.
        first_pass: list[float] = []
        for account, symbol in queries:
            begin = time.perf_counter()
            service.can_open(VENUE, account, symbol, at=at)
            first_pass.append(time.perf_counter() - begin)
        started = time.perf_counter()
        for account, symbol in itertools.cycle(queries):
            elapsed = time.perf_counter() - started
            if len(samples) >= CAN_OPEN_CALLS or (
                len(samples) >= CAN_OPEN_MIN_CALLS and elapsed > CAN_OPEN_BUDGET_S
            ):
                break
            begin = time.perf_counter()
            service.can_open(VENUE, account, symbol, at=at)
            samples.append(time.perf_counter() - begin)
        parts = _can_open_parts(journal, at)
    return {"samples": samples, "first_pass": first_pass, "parts": parts}


def _can_open_parts(journal: Journal, at: int) -> JSON:
    """Where one call's time goes now that it reads the views: whether they are current
    (tracking position, format, the inputs after it), the account's and the symbol's view
    (read and decode), the answer. Medians of a few."""
    currents, accounts, symbols, answers = [], [], [], []
    account, symbol = _queries()[0]
    reader = ViewReader(journal)
    sizes = (0, 0)
    for _ in range(PART_REPEATS):
        begin = time.perf_counter()
        assert reader.answer_for((VENUE, account)), "the views do not answer for now"
        currents.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        account_view = reader.account(VENUE, account)
        accounts.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        symbol_view = reader.symbol(VENUE, account, symbol)
        symbols.append(time.perf_counter() - begin)
        assert account_view is not None and symbol_view is not None
        begin = time.perf_counter()
        judge(account_view.facts, symbol_view.facts, symbol, at)
        answers.append(time.perf_counter() - begin)
        sizes = (
            len(journal.views().account(VENUE, account) or b""),
            len(journal.views().symbol(VENUE, account, symbol) or b""),
        )
    return {
        "current_s": statistics.median(currents),
        "account_view_s": statistics.median(accounts),
        "symbol_view_s": statistics.median(symbols),
        "answer_s": statistics.median(answers),
        "account_view_bytes": sizes[0],
        "symbol_view_bytes": sizes[1],
    }


def _apply_after(journal: Journal, reconciler: Reconciler, position: int) -> int:
    """Apply every input after journal ``position``, emitting nothing; how many there were."""
    applied = 0
    while True:
        events, last = journal.inputs(position)
        if last == position:
            return applied
        for _, event in events:
            reconciler.apply(event)
        applied += len(events)
        position = last


def work_can_open_domain(url: str, at: int) -> JSON:
    """The answer alone, from a reconciler already built (by replaying the journal): the
    account's book and detectors, the can_open rule."""
    queries = _queries()
    samples: list[float] = []
    with Journal.open(url) as journal:
        reconciler = replay(journal)
        for account, symbol in itertools.islice(itertools.cycle(queries), DOMAIN_CALLS):
            begin = time.perf_counter()
            book, detectors = reconciler.book(VENUE, account), reconciler.detectors(VENUE, account)
            can_open(book, detectors, symbol, at)
            samples.append(time.perf_counter() - begin)
    return {"samples": samples}


def work_fold(url: str, account: str) -> JSON:
    """One account's stream, REPEATS times each: read the rows; read, decode and fold them;
    fold them already decoded; and apply them to a Reconciler (fold and rules), decoded.
    Under relaxed_gc, as every trueup command runs."""
    from trueup.domain.book import fold

    result: dict[str, list[float]] = {"read": [], "read_fold": [], "fold": [], "rules": []}
    with Journal.open(url) as journal, relaxed_gc():
        count = sum(1 for _ in journal.account_states(VENUE, account))
        for _ in range(REPEATS):
            result["read"].append(
                _timed_long(lambda: sum(1 for _ in journal.account_states(VENUE, account)))
            )
            result["read_fold"].append(
                _timed_long(lambda: fold(VENUE, account, journal.account_events(VENUE, account)))
            )
        events = list(journal.account_events(VENUE, account))
        for _ in range(REPEATS):
            result["fold"].append(_timed_long(lambda: fold(VENUE, account, events)))
            result["rules"].append(_timed_long(lambda: _reconcile(events)))
    return {"events": count, **result}


def _reconcile(events: list[InputEvent]) -> None:
    reconciler = Reconciler()
    for event in events:
        reconciler.apply(event)


def _timed_long(work: Callable[[], object]) -> float:
    """Seconds per ``work``, done again until LONG_ENOUGH_S have passed: the small journal's
    10,000 events fold in 30 ms, where one timing is the machine's noise as much as ours."""
    done, begin = 0, time.perf_counter()
    while True:
        work()
        done += 1
        elapsed = time.perf_counter() - begin
        if elapsed >= LONG_ENOUGH_S:
            return elapsed / done


def work_rebuild(url: str) -> JSON:
    """What a worker does when no snapshot serves (a new trueup, say): every input of the
    journal through a fresh Reconciler. Its time, and the process's peak RSS."""
    with Journal.open(url) as journal, relaxed_gc():
        reset_peak()
        before = status_kb("VmRSS") or peak_rss_kb()
        begin = time.perf_counter()
        reconciler = Reconciler()
        inputs = _apply_after(journal, reconciler, 0)
        seconds = time.perf_counter() - begin
        peak = peak_rss_kb()
    positions = sum(len(b.positions) for b in reconciler.books.values())
    return {
        "seconds": seconds,
        "inputs": inputs,
        "before_kb": before,
        "peak_kb": peak,
        "positions": positions,
    }


def work_ingest(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """``trueup ingest`` of new capture lines, the detectors running in process."""
    lines = ingest_lines(segment, count, after_ms)
    with Journal.open(url) as journal, relaxed_gc():
        begin = time.perf_counter()
        with checkpoints_aside(url, BULK_EVERY_S):  # as `trueup ingest`
            report = TrueupService(journal).ingest([lines])
        seconds = time.perf_counter() - begin
    if report.accepted != len(lines) or not report.detected_here:
        raise RuntimeError(f"ingest did not take the workload as meant: {report}")
    return {"seconds": seconds, "inputs": len(lines), "emitted": sum(report.emitted.values())}


def work_ingest_detector_process(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """``trueup ingest --detector-process always``: the lines appended here while a worker
    started for the ingest runs the detectors (its start and state load in the time)."""
    from trueup.runners.detector_process import ingest_beside

    lines = ingest_lines(segment, count, after_ms)
    with Journal.open(url) as journal, relaxed_gc():
        begin = time.perf_counter()
        with checkpoints_aside(url, BULK_EVERY_S):
            report = ingest_beside(TrueupService(journal), [lines])
        seconds = time.perf_counter() - begin
    if report.accepted != len(lines) or not report.emitted:
        raise RuntimeError(f"ingest did not take the workload as meant: {report}")
    return {"seconds": seconds, "inputs": len(lines), "emitted": sum(report.emitted.values())}


def work_ingest_appending(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """``trueup ingest --no-projections``: the lines decoded and appended, no detectors. A
    detector process runs beside this very work, and can finish no sooner."""
    lines = ingest_lines(segment, count, after_ms)
    with Journal.open(url) as journal, relaxed_gc():
        begin = time.perf_counter()
        with checkpoints_aside(url, BULK_EVERY_S):
            report = TrueupService(journal).ingest([lines], detect=False)
        seconds = time.perf_counter() - begin
    if report.accepted != len(lines):
        raise RuntimeError(f"ingest did not take the workload as meant: {report}")
    return {"seconds": seconds, "inputs": len(lines)}


def work_ingest_running(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """Ingest into a trueup already running (``trueup run`` or ``serve`` taking a bot's
    inputs): the projection kept, its state loaded by a first WARM_INPUTS lines for every
    account (segment ``segment``), then ``count`` new lines (the next segment) timed."""
    from trueup.projections.leased import LeasedProjection

    warm = ingest_lines(segment, WARM_INPUTS, after_ms)
    lines = ingest_lines(segment + 1, count, after_ms)
    # Its WAL checkpointed by a thread aside, as `trueup run` and `serve` have it.
    with Journal.open(url) as journal, relaxed_gc(), checkpoints_aside(url):
        service, projection = TrueupService(journal), LeasedProjection(journal)
        try:
            service.ingest([warm], projection=projection)
            begin = time.perf_counter()
            report = service.ingest([lines], projection=projection)
            seconds = time.perf_counter() - begin
        finally:
            projection.release()
    if report.accepted != len(lines) or not report.detected_here:
        raise RuntimeError(f"ingest did not take the workload as meant: {report}")
    return {"seconds": seconds, "inputs": len(lines), "emitted": sum(report.emitted.values())}


def work_ingest_beside_worker(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """Ingest with the detectors in a second process, as a team that runs ``trueup worker``
    beside its ingests (``--no-projections``) or its ``serve`` has it: the worker started
    and its state loaded by a first WARM_INPUTS lines (segment ``segment``), then ``count``
    new lines (the next segment) appended here; timed until the worker has processed them
    all (its partitions' tracking at the last input), so both processes' work counts."""
    warm = ingest_lines(segment, WARM_INPUTS, after_ms)
    lines = ingest_lines(segment + 1, count, after_ms)
    argv = [*trueup_command(), "--store", url, "worker", "--poll-ms", str(BESIDE_POLL_MS)]
    Journal.open(url).close()  # an empty journal made first: a worker opens only a journal
    worker = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with Journal.open(url) as journal, relaxed_gc():
            service = TrueupService(journal)
            service.ingest([warm], detect=False)
            _processed_up_to(journal, journal.last_position(), worker)
            begin = time.perf_counter()
            with checkpoints_aside(url, BULK_EVERY_S):  # as `trueup ingest --no-projections`
                report = service.ingest([lines], detect=False)
            _processed_up_to(journal, journal.last_position(), worker)
            seconds = time.perf_counter() - begin
        worker.send_signal(signal.SIGTERM)
        worker.wait(WORKER_TIMEOUT_S)
    finally:
        if worker.poll() is None:
            worker.kill()
        _, stderr = worker.communicate()
    if report.accepted != len(lines) or worker.returncode != 0:
        raise RuntimeError(
            f"ingest beside a worker: {report}; worker {worker.returncode}: {stderr!r:.500}"
        )
    return {"seconds": seconds, "inputs": len(lines)}


def work_catching_up(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """The detectors' half of an ingest alone: ``count`` new lines stored first, untimed,
    then a worker's projection, its state loaded by a first WARM_INPUTS lines (segment
    ``segment``), catching up on them in steps of its pages, as `trueup worker` does."""
    from trueup.projections.leased import LeasedProjection
    from trueup.runners.cli import WORKER_PAGE

    warm = ingest_lines(segment, WARM_INPUTS, after_ms)
    lines = ingest_lines(segment + 1, count, after_ms)
    with Journal.open(url) as journal, relaxed_gc():
        service, projection = TrueupService(journal), LeasedProjection(journal)
        try:
            service.ingest([warm], projection=projection)
            service.ingest([lines], detect=False)
            begin = time.perf_counter()
            emitted = projection.catch_up(page=WORKER_PAGE)
            seconds = time.perf_counter() - begin
        finally:
            projection.release()
    if not emitted:
        raise RuntimeError("the worker's catching up emitted nothing: not the workload meant")
    return {"seconds": seconds, "inputs": len(lines), "emitted": len(emitted)}


def _processed_up_to(journal: Journal, position: int, worker: "subprocess.Popen[bytes]") -> None:
    """Wait until every partition has processed the journal up to ``position``."""
    begin = time.perf_counter()
    while tracked_position(journal) < position:
        if time.perf_counter() - begin > WORKER_TIMEOUT_S or worker.poll() is not None:
            raise RuntimeError("the worker did not process the inputs in time")
        time.sleep(0.002)


def work_baseline(url: str, segment: int, count: int, after_ms: int) -> JSON:
    """The rows trueup writes for the same lines (each input's marker and state), inserted
    with eventsourcing's recorder.insert_events in the journal's transactions (batches of
    BATCH inputs, in chunks of transaction_bytes if the store has one), into the same
    journal, on a connection tuned as an appender's (sqlite_recorder.APPENDER_CACHE).
    Decoding, ids and stream versions are worked out before the clock starts."""
    events = [decode_line(line) for line in ingest_lines(segment, count, after_ms)]
    with Journal.open(url) as journal:
        recorder = journal.recorder
        transactions = _baseline_rows(recorder, events, journal.transaction_bytes)
        begin = time.perf_counter()
        for rows in transactions:
            recorder.insert_events(rows, appending_inputs=True)
        seconds = time.perf_counter() - begin
    return {"seconds": seconds, "inputs": len(events), "rows": sum(map(len, transactions))}


def _baseline_rows(
    recorder: ProcessRecorder, events: list[InputEvent], limit: int | None
) -> list[list[StoredEvent]]:
    heads: dict[UUID, int] = {}
    transactions: list[list[StoredEvent]] = []
    for batch in _batches(events, BATCH):
        rows: list[StoredEvent] = []
        size = 0
        for event in batch:
            stream = account_stream_id(event.venue, event.account)
            if stream not in heads:
                last = recorder.select_events(stream, desc=True, limit=1)
                heads[stream] = last[0].originator_version if last else 0
            heads[stream] += 1
            marker = orjson.dumps({"stream": str(stream), "version": heads[stream]})
            rows.append(StoredEvent(marker_id(event), 1, MARKER_TOPIC, marker))
            state = codec.encode(event)
            rows.append(StoredEvent(stream, heads[stream], codec.TOPICS[event.type], state))
            size += 2 * len(event.raw)
            if limit is not None and size >= limit:
                transactions.append(rows)
                rows, size = [], 0
        if rows:
            transactions.append(rows)
    return transactions


CHILD_WORK: dict[str, Callable[..., JSON]] = {
    "can-open-service": work_can_open_service,
    "can-open-domain": work_can_open_domain,
    "fold": work_fold,
    "rebuild": work_rebuild,
    IN_PROCESS: work_ingest,
    "ingest-running": work_ingest_running,
    "ingest-beside-worker": work_ingest_beside_worker,
    "ingest-detector-process": work_ingest_detector_process,
    CATCHING_UP: work_catching_up,
    APPENDING: work_ingest_appending,
    BASELINE: work_baseline,
}


def child(work: str, **arguments: Any) -> JSON:
    """One measurement in a fresh Python process."""
    return run_child("bench.serving", work, arguments)


def run_child(module: str, work: str, arguments: JSON) -> JSON:
    """``module``'s CHILD_WORK ``work`` run in a fresh Python process (its ``main`` is
    ``child_main``): what it returned."""
    command = [sys.executable, "-m", module, work, orjson.dumps(arguments).decode()]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {work} failed:\n{completed.stderr}")
    result: JSON = orjson.loads(completed.stdout)
    return result


def child_main(works: Mapping[str, Callable[..., JSON]], argv: list[str]) -> None:
    """The child's side of ``run_child``: one work, its JSON arguments, its JSON result."""
    work, arguments = works[argv[0]], orjson.loads(argv[1])
    sys.stdout.write(orjson.dumps(work(**arguments)).decode())


# --- measurements of commands and processes --------------------------------------------------


def trueup_command() -> list[str]:
    script = Path(sys.executable).with_name("trueup")
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "from trueup.runners.cli import entry; entry()",
    ]


def command_seconds(argv: list[str], times: int, expected: int = 0) -> Stats:
    """Wall time of a command, start to exit, ``times`` times; output discarded."""
    samples = []
    for _ in range(times):
        begin = time.perf_counter()
        completed = subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        samples.append(time.perf_counter() - begin)
        if completed.returncode != expected:
            raise RuntimeError(f"{argv}: exit {completed.returncode}: {completed.stderr!r:.500}")
    return Stats(tuple(samples))


@dataclass(frozen=True)
class Restart:
    seconds: float  # process start -> the emitted event stored
    peak_kb: int  # the worker's VmHWM over its whole life, clean stop included
    peak_serving_kb: int  # ... when its first emitted event was stored


def worker_restart(journal: Generated, attempt: int) -> Restart:
    """Start ``trueup worker`` on the journal, append an input that makes it emit, and time
    the process start to that emitted event stored; then stop it cleanly (SIGTERM)."""
    account, symbol = account_name(attempt), symbol_name(attempt)
    at = journal.end_ms + 10_000 * (attempt + 1)  # each attempt's tick before the next's flat
    events = [decode_line(line) for line in close_lines(account, symbol, at)]
    argv = [*trueup_command(), "--store", journal.path, "worker", "--poll-ms", str(WORKER_POLL_MS)]
    with Journal.open(journal.path) as watcher:
        before = watcher.last_position()
        begin = time.perf_counter()
        worker = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            watcher.append(events)
            peak = 0
            while not _emitted_after(watcher, before):
                peak = max(peak, _proc_kb(worker.pid, "VmHWM"))
                if time.perf_counter() - begin > WORKER_TIMEOUT_S or worker.poll() is not None:
                    raise RuntimeError("the worker emitted nothing in time")
                time.sleep(0.002)
            seconds = time.perf_counter() - begin
            serving = max(peak, _proc_kb(worker.pid, "VmHWM"))
            worker.send_signal(signal.SIGTERM)
            while worker.poll() is None:
                peak = max(peak, serving, _proc_kb(worker.pid, "VmHWM"))
                time.sleep(0.005)
        finally:
            if worker.poll() is None:
                worker.kill()
            _, stderr = worker.communicate()
    if worker.returncode != 0:
        raise RuntimeError(f"the worker exited {worker.returncode}: {stderr!r:.500}")
    return Restart(seconds, max(peak, serving), serving)


def _emitted_after(journal: Journal, position: int) -> bool:
    page = journal.recorder.select_notifications(position, 100, inclusive_of_start=False)
    return any(n.topic.startswith(codec.EMITTED_TOPIC_PREFIX) for n in page)


def _proc_kb(pid: int, field: str) -> int:
    """A field of /proc/PID/status in kB; 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One figure on the 1M journal beside the same figure on the small one."""

    what: str
    unit: str
    big: Stats
    small: Stats | None = None
    target: Target | None = None  # met by the 1M journal's median
    same_within: float | None = None  # the two medians, larger over smaller, at most this

    @property
    def ratio(self) -> float | None:
        if self.small is None or not self.small.samples or not self.big.samples:
            return None
        if self.small.median == 0:  # a rate of nothing (no request answered): no ratio
            return None
        return self.big.median / self.small.median

    def verdict(self) -> str:
        misses = []
        if self.target is not None and not self.target.met(self.big.median):
            misses.append("target")
        ratio = self.ratio
        if (
            self.same_within is not None
            and ratio is not None
            and (max(ratio, 1 / ratio) > self.same_within)
        ):
            misses.append("ratio")
        if self.target is None and self.same_within is None:
            return ""
        return "met" if not misses else "MISSED (" + ", ".join(misses) + ")"

    def target_text(self) -> str:
        parts = [self.target.text(self.unit)] if self.target else []
        if self.same_within is not None:
            parts.append(f"same within {self.same_within:g}x")
        return "; ".join(parts) or "-"


def size_name(inputs: int) -> str:
    return f"{inputs // 1_000_000}M" if inputs % 1_000_000 == 0 else f"{inputs:,}"


def table(rows: Sequence[Row], inputs: int, columns: tuple[str, str, str] | None = None) -> str:
    """``columns``: the headers of the two figures and their ratio, if not the 1M journal's
    beside the small one's."""
    big = size_name(inputs)
    first, second, ratio = columns or (f"{big} journal", "small journal", f"{big}/small")
    headers = ("measurement", "unit", first, second, ratio, "target")
    return render(
        [(*headers, "")]
        + [
            (
                r.what,
                r.unit,
                spread(r.big),
                spread(r.small) if r.small else "-",
                f"{r.ratio:.2f}" if r.ratio is not None else "-",
                r.target_text(),
                r.verdict(),
            )
            for r in rows
        ]
    )


def _ms(samples: Iterable[float]) -> Stats:
    return Stats(tuple(s * 1000 for s in samples))


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _mb(kb: Iterable[int]) -> Stats:
    return Stats(tuple(k / 1024 for k in kb))


# --- the figures ----------------------------------------------------------------------------


@dataclass
class Report:
    rows: list[Row]
    notes: list[str]


def can_open_rows(journals: Journals, report: Report, progress: Progress) -> None:
    big, small = journals.main_big, journals.main_small
    progress("can-open in process, through the application layer (1M, then small)")
    os.sync()  # the journals' generation or copy, written back now rather than mid-measure
    service = {j.path: child("can-open-service", url=j.path, at=j.end_ms) for j in (big, small)}
    progress("can-open in process, the rule alone on a built reconciler")
    domain = {j.path: child("can-open-domain", url=j.path, at=j.end_ms) for j in (big, small)}
    for name, results in (
        ("service.can_open", service),
        ("answer from a built Reconciler", domain),
    ):
        b, s = results[big.path]["samples"], results[small.path]["samples"]
        report.rows += [
            Row(f"{name} p50 ({len(b):,} calls)", "ms", _ms(b), _ms(s)),
            Row(
                f"{name} p99",
                "ms",
                _ms([percentile(b, 0.99)]),
                _ms([percentile(s, 0.99)]),
                Target(CAN_OPEN_P99_MS, at_least=False),
            ),
        ]
    first = [service[j.path]["first_pass"] for j in (big, small)]
    report.notes.append(
        f"service.can_open, first pass over the {len(first[0])} queries (not in the rows "
        "above: imports, views read from disk): "
        + " | ".join(
            f"{name} median {statistics.median(f) * 1e3:.2f} ms, max {max(f) * 1e3:.2f} ms"
            for name, f in zip((size_name(big.inputs), "small"), first, strict=True)
        )
    )
    parts = [service[j.path]["parts"] for j in (big, small)]
    report.notes.append(_parts_text(parts, size_name(big.inputs)))


def _parts_text(parts: list[JSON], big: str) -> str:
    lines = [f"where one service.can_open goes (medians of {PART_REPEATS}): {big} | small"]
    for key, label in (
        ("current_s", "are the views current? (SQL x3)"),
        ("account_view_s", "account view (read + decode)"),
        ("symbol_view_s", "symbol view (read + decode)"),
        ("answer_s", "the answer (judge)"),
    ):
        lines.append(
            f"  {label:<32} {parts[0][key] * 1000:>9.3f} ms | {parts[1][key] * 1000:.3f} ms"
        )
    lines.append(
        f"  {'views':<32} account {parts[0]['account_view_bytes']:,} B, symbol "
        f"{parts[0]['symbol_view_bytes']:,} B | {parts[1]['account_view_bytes']:,} B, "
        f"{parts[1]['symbol_view_bytes']:,} B"
    )
    return "\n".join(lines)


def command_rows(journals: Journals, report: Report, progress: Progress) -> None:
    trueup = trueup_command()
    account, symbol = account_name(7), symbol_name(7)
    progress(f"commands: can-open and positions x {COMMAND_REPEATS} on each journal")
    stats: dict[str, list[Stats]] = {"can-open": [], "positions": []}
    for journal in (journals.main_big, journals.main_small):
        store = [*trueup, "--store", journal.path]
        question = ["--venue", VENUE, "--account", account, "--symbol", symbol]
        stats["can-open"].append(
            command_seconds(
                [*store, "can-open", *question, "--at", str(journal.end_ms)], COMMAND_REPEATS, 1
            )
        )
        stats["positions"].append(command_seconds([*store, "positions"], COMMAND_REPEATS))
    for name, (big, small) in stats.items():
        report.rows.append(
            Row(f"trueup {name} (command, wall)", "s", big, small, same_within=RATIO_BOUND)
        )
    progress(f"commands: audit --json x {COMMAND_REPEATS} on each audit journal")
    audits = [
        command_seconds(
            [
                *trueup,
                "--store",
                j.path,
                "audit",
                "--venue",
                VENUE,
                "--account",
                AUDIT_ACCOUNT,
                "--symbol",
                AUDITED,
                "--json",
            ],
            COMMAND_REPEATS,
        )
        for j in (journals.audit_big, journals.audit_small)
    ]
    report.rows.append(
        Row(
            f"trueup audit --json, a {AUDIT_CYCLES * CYCLE:,}-input position",
            "s",
            audits[0],
            audits[1],
            Target(AUDIT_S, at_least=False),
        )
    )


# trueup's packages (pyproject.toml's package-dir), each a folder of its own.
TOP_PACKAGES = ("adapters", "application", "client", "domain", "projections", "runners")


def cache_bytecode() -> None:
    """Compile trueup's modules as pip does when it installs them, so that the commands'
    figures time them, not compiling: an editable install run where writing bytecode is
    off (PYTHONDONTWRITEBYTECODE) compiles every module it imports on every run, about
    60 ms of a can-open's start-up on 2 shared cores."""
    for name in TOP_PACKAGES:
        package = importlib.import_module(f"trueup.{name}")
        assert package.__file__ is not None
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)


def startup_rows(directory: Path, report: Report, progress: Progress) -> None:
    progress(f"start-up: --help, can-open on an empty journal, python -c pass, x {STARTUP_REPEATS}")
    trueup = trueup_command()
    empty = directory / "empty.db"
    Journal.open(str(empty)).close()
    floor = command_seconds([sys.executable, "-c", "pass"], STARTUP_REPEATS)
    help_ = command_seconds([*trueup, "--help"], STARTUP_REPEATS)
    question = ["--venue", VENUE, "--account", "a", "--symbol", "BTCUSDT"]
    # An account the journal has never seen: the answer is no (exit 1).
    empty_can_open = command_seconds(
        [*trueup, "--store", str(empty), "can-open", *question], STARTUP_REPEATS, expected=1
    )
    report.rows += [
        Row("trueup --help (start-up)", "s", help_),
        Row("trueup can-open, empty journal (start-up)", "s", empty_can_open),
        Row("python -c pass (the interpreter alone)", "s", floor),
    ]


def worker_rows(journals: Journals, scratch: Path, report: Report, progress: Progress) -> None:
    """Restart and memory; then ingest, on the same working copies (restarts first: the
    baseline's inserts leave inputs no projection has seen)."""
    restarts: list[list[Restart]] = []
    for journal in (journals.main_big, journals.main_small):
        progress(f"worker restart x {REPEATS} on a copy of {Path(journal.path).name}")
        with working_copy(journal, scratch) as copy:
            restarts.append([worker_restart(copy, attempt) for attempt in range(REPEATS)])
    big, small = restarts
    report.rows += [
        Row(
            "worker restart -> first new emitted event stored",
            "s",
            Stats(tuple(r.seconds for r in big)),
            Stats(tuple(r.seconds for r in small)),
            Target(RESTART_S, at_least=False),
        ),
        Row(
            "worker peak RSS, start to first emitted event",
            "MB",
            _mb(r.peak_serving_kb for r in big),
            _mb(r.peak_serving_kb for r in small),
            Target(WORKER_MB, at_least=False),
        ),
        Row(
            "worker peak RSS, whole life (clean stop's snapshot too)",
            "MB",
            _mb(r.peak_kb for r in big),
            _mb(r.peak_kb for r in small),
            Target(WORKER_MB, at_least=False),
        ),
    ]
    progress("cold rebuild (no snapshot): every input through a fresh Reconciler")
    cold = [child("rebuild", url=j.path) for j in (journals.main_big, journals.main_small)]
    report.rows += [
        Row(
            "cold rebuild, no usable snapshot (a new trueup)",
            "s",
            Stats((cold[0]["seconds"],)),
            Stats((cold[1]["seconds"],)),
        ),
        Row(
            "cold rebuild: peak RSS of the process",
            "MB",
            _mb([cold[0]["peak_kb"]]),
            _mb([cold[1]["peak_kb"]]),
            Target(WORKER_MB, at_least=False),
        ),
    ]


def ingest_rows(journals: Journals, scratch: Path, report: Report, progress: Progress) -> None:
    big = journals.main_big
    after = big.end_ms + MINUTE_MS
    big_rates: dict[str, list[float]] = {work: [] for work, _, _ in INGEST_WAYS}
    small_rates: dict[str, list[float]] = {work: [] for work, _, _ in INGEST_WAYS}
    # The same lines into the small journal, which holds the same 10,000 positions: the 1M's
    # state at 1% of its inputs, so that the journal's length is all that differs.
    holding: list[float] = []

    def rate(work: str, url: str, segment: int) -> float:
        return _rate(child(work, url=url, segment=segment, count=INGEST_INPUTS, after_ms=after))

    def rate_empty(work: str, segment: int) -> float:
        empty = scratch / f"empty-{work}-{segment}.db"
        try:
            return rate(work, str(empty), segment)
        finally:
            for part in scratch.glob(empty.name + "*"):
                part.unlink()

    progress(
        f"ingest {INGEST_INPUTS:,} inputs x {REPEATS}, detectors on, into a copy of the 1M "
        "and into an empty journal in turn (in process: and into a copy of the small one)"
    )
    with working_copy(big, scratch) as copy, working_copy(journals.main_small, scratch) as same:
        # Into the copy, segments in time order, each new; the baseline's last, for no
        # projection sees its inputs (a later ingest would process them first). Each run into
        # the copy is followed by its run into an empty journal, not all of one then all of
        # the other: this machine's speed drifts over minutes (a loop 1.65 s at the start of
        # a run, 1.09 s after it), and drift taken in blocks reads as a ratio.
        segments = itertools.count()
        for work, _, takes in INGEST_WAYS:
            for repeat in range(REPEATS):
                segment = next(segments)
                for _ in range(takes - 1):  # the timed one, after the warm one
                    next(segments)
                big_rates[work].append(rate(work, copy.path, segment))
                small_rates[work].append(rate_empty(work, repeat))
                if work == IN_PROCESS:
                    holding.append(rate(work, same.path, segment))
    rows = {
        work: Row(
            label,
            "inputs/s",
            Stats(tuple(big_rates[work])),
            Stats(tuple(small_rates[work])),
            None if work in UNTARGETED else Target(INGEST_RATE, at_least=True),
            None if work in UNTARGETED else RATIO_BOUND,
        )
        for work, label, _ in INGEST_WAYS
    }
    trueup, baseline = rows[IN_PROCESS], rows[BASELINE]
    same_state = Row(
        "  (small = the 10k journal holding the same 10,000 positions)",
        "inputs/s",
        trueup.big,
        Stats(tuple(holding)),
        None,
        RATIO_BOUND,
    )
    report.rows += [trueup, same_state, *(row for row in rows.values() if row is not trueup)]
    report.notes.append(
        "ingest, trueup/baseline: "
        f"{trueup.big.median / baseline.big.median:.2f} into the 1M journal, "
        f"{trueup.small.median / baseline.small.median:.2f} into an empty one"
        if trueup.small and baseline.small
        else ""
    )


def _rate(result: JSON) -> float:
    return float(result["inputs"]) / float(result["seconds"])


def fold_rows(journals: Journals, report: Report, progress: Progress) -> None:
    progress(f"fold rates x {REPEATS}: one account's 1M stream, then its 10k one")
    results = [
        child("fold", url=j.path, account=AUDIT_ACCOUNT)
        for j in (journals.audit_big, journals.audit_small)
    ]

    def rates(result: JSON, key: str) -> Stats:
        return Stats(tuple(result["events"] / s for s in result[key]))

    for key, label, target in (
        ("read", "read rows (no decode)", None),
        ("read_fold", "read+decode+fold", Target(FOLD_RATE, at_least=True)),
        ("fold", "pure fold (decoded)", Target(FOLD_RATE, at_least=True)),
        ("rules", "fold + rules (Reconciler.apply), decoded", None),
    ):
        report.rows.append(
            Row(
                f"one account's events: {label}",
                "events/s",
                rates(results[0], key),
                rates(results[1], key),
                target,
                RATIO_BOUND if target else None,
            )
        )


def journals_text(journals: Journals) -> str:
    def line(name: str, j: Generated) -> str:
        made = "reused from the cache" if j.reused else f"generated in {j.seconds:.0f} s"
        emitted = f", {j.emitted:,} emitted" if j.emitted else ""
        return f"  {name:<13} {j.inputs:>9,} inputs{emitted}; {made}"

    return "\n".join(
        [
            f"journals (SQLite, cached in {journals.directory}; delete it to regenerate):",
            line("main 1M", journals.main_big) + f"; {ACCOUNTS} accounts x {SYMBOLS} positions",
            line("main small", journals.main_small) + "; the 1M's holdings alone, same positions",
            line("audit 1M", journals.audit_big) + f"; one account, {AUDITED} traded in "
            f"{AUDIT_CYCLES} cycles ({AUDIT_CYCLES * CYCLE:,} inputs)",
            line("audit small", journals.audit_small) + "; the same position, account 1% of it",
        ]
    )


def measure(progress: Progress, inputs: int = INPUTS) -> str:
    """Every serving figure; the report as text."""
    if inputs % ACCOUNTS or inputs < SMALL_AUDIT_INPUTS or _history_per_account(inputs) <= CYCLE:
        raise ValueError(f"--serving-inputs must be a multiple of {ACCOUNTS} and large enough")
    journals = cached(inputs, SMALL_AUDIT_INPUTS, progress)
    cache_bytecode()
    report = Report([], [])
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="trueup-serving-", dir=CACHE_ROOT) as scratch:
        can_open_rows(journals, report, progress)
        command_rows(journals, report, progress)
        worker_rows(journals, Path(scratch), report, progress)
        ingest_rows(journals, Path(scratch), report, progress)
        fold_rows(journals, report, progress)
        startup_rows(Path(scratch), report, progress)
    return "\n\n".join(
        [
            f"serving (issue 8): each figure on the 1M journal beside the same on the small one; "
            f"median [min-max] of {REPEATS} (commands {COMMAND_REPEATS}, start-up "
            f"{STARTUP_REPEATS}), each in a fresh process; load average "
            f"{load_before[1]:.1f} before, {os.getloadavg()[1]:.1f} after (5 min, "
            f"{os.cpu_count()} cores: others' work on the machine adds noise)",
            table(report.rows, inputs),
            *[note for note in report.notes if note],
            journals_text(journals),
        ]
    )


if __name__ == "__main__":
    child_main(CHILD_WORK, sys.argv[1:])
