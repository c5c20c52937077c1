"""One round of the soak: its plan drawn from a seed, its processes run on one journal with
their faults, and what they left judged against one process over the same inputs."""

import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from tests.processes import one_process, trueup, worker_command
from tests.scenarios import busy_capture
from tests.stored_events import by_account, emitted_in, inputs_in
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.events import InputEvent
from trueup.projections.partitions import tracked_position

WORKER_BATCHES = (100, 1_000, None)  # None: the default step
# Long enough for the slowest process of a round on a loaded machine, short of a hang.
ENDS_WITHIN_S = 300.0


class Ingest(StrEnum):
    """How a capture is ingested: each a way `trueup ingest` runs the detectors."""

    IN_PROCESS = "in process"  # detects itself, where no other process holds the projections
    NO_PROJECTIONS = "--no-projections"  # leaves detection to the workers
    DETECTOR_PROCESS = "--detector-process always"  # a worker of its own, where it may

    def options(self) -> list[str]:
        return [] if self is Ingest.IN_PROCESS else self.value.split()


class Blow(StrEnum):
    KILL = "kill -9"
    PAUSE = "pause"  # SIGSTOP, then SIGCONT: a holder that stalls, not one that dies


@dataclass(frozen=True)
class Capture:
    account: str
    inputs: int
    seed: int
    ingest: Ingest
    start_s: float


@dataclass(frozen=True)
class Fault:
    after_s: float
    target: int  # the process's place in Plan.starts
    blow: Blow
    pause_s: float = 0.0


@dataclass(frozen=True)
class Start:
    """A process of a round: when it starts, and its command line after the store (an
    ingest's capture, that of ``account``, last)."""

    name: str
    at_s: float
    command: tuple[str, ...]
    account: str | None
    worker: bool = False  # runs until stopped; any other ends by itself


@dataclass(frozen=True)
class Plan:
    """What a round starts, and what befalls its processes when."""

    worker_batches: tuple[int | None, ...]  # a worker each, started first
    captures: tuple[Capture, ...]  # an ingest each, started next
    operator_start_s: float | None  # fix-stale --force, started last (None: not at all)
    faults: tuple[Fault, ...]

    def starts(self) -> list[Start]:
        """The round's processes: the workers, the ingests, the operator (a fault's
        ``target`` is a place in this list; each starts at its own ``at_s``)."""
        found = [
            Start(
                "worker" if batch is None else f"worker --batch {batch}",
                0.0,
                tuple(worker_command(batch)),
                None,
                worker=True,
            )
            for batch in self.worker_batches
        ]
        found += [
            Start(
                f"ingest {c.account} ({c.ingest.value})",
                c.start_s,
                ("ingest", *c.ingest.options()),
                c.account,
            )
            for c in self.captures
        ]
        if self.operator_start_s is not None:
            fix = ("fix-stale", "--force", "--yes", "--operator", "soak")
            found.append(Start("fix-stale --force", self.operator_start_s, fix, None))
        return found

    def described(self) -> str:
        names = [start.name for start in self.starts()]
        faults = [
            f"{f.blow.value} {names[f.target]} at {f.after_s:.2f} s"
            + (f" for {f.pause_s:.2f} s" if f.blow is Blow.PAUSE else "")
            for f in self.faults
        ]
        sizes = ", ".join(f"{c.account} {c.inputs} inputs (seed {c.seed})" for c in self.captures)
        return f"{'; '.join(names)}. Captures: {sizes}. Faults: {'; '.join(faults) or 'none'}"


def draw(rng: random.Random, sizes: tuple[int, ...]) -> Plan:
    """A round's plan: 0-3 workers, 2-4 accounts' captures of one of ``sizes`` inputs each,
    most often an operator, and up to 4 faults in the first 3 s."""
    batches = tuple(rng.choice(WORKER_BATCHES) for _ in range(rng.randint(0, 3)))
    captures = tuple(
        Capture(
            f"acct{i}",
            rng.choice(sizes),
            rng.randrange(1_000_000),
            rng.choice([Ingest.IN_PROCESS, Ingest.IN_PROCESS, *Ingest]),
            rng.uniform(0, 0.3),
        )
        for i in range(rng.randint(2, 4))
    )
    operator = rng.uniform(0, 1) if rng.random() < 0.7 else None
    processes = len(batches) + len(captures) + (operator is not None)
    faults = tuple(
        Fault(rng.uniform(0.1, 3), rng.randrange(processes), blow, rng.uniform(0.2, 2))
        for blow in rng.choices([Blow.KILL, Blow.PAUSE], weights=[7, 3], k=rng.randint(0, 4))
    )
    return Plan(batches, captures, operator, faults)


@dataclass
class Outcome:
    """What a round left: what went wrong (nothing, if it passed) and how much it did."""

    problems: list[str] = field(default_factory=list)
    inputs: int = 0
    emitted: int = 0
    seconds: float = 0.0


@dataclass
class _Started:
    name: str
    process: subprocess.Popen[bytes]
    capture: Path | None = None
    worker: bool = False
    killed: bool = False


def run(plan: Plan, store_url: str, folder: Path) -> Outcome:
    """Run ``plan``'s processes on the empty journal at ``store_url``, then judge them."""
    begin = time.monotonic()
    files = {
        c.account: busy_capture(folder / f"{c.account}.jsonl", c.account, c.inputs, c.seed)
        for c in plan.captures
    }
    # The journal made first, as a team's is before its operators act: fix-stale on a store
    # that holds none says so (exit 2), and must not make one.
    Journal.open(store_url).close()
    started, outcome = _start_and_strike(plan, store_url, files), Outcome()
    _see_them_end(started, store_url, outcome)
    with Journal.open(store_url) as journal:
        _detect_the_rest(journal, outcome)
        stored, inputs = emitted_in(journal), inputs_in(journal)
    outcome.inputs, outcome.emitted = len(inputs), len(stored)
    _judge_inputs(files, inputs, outcome)
    _judge_emitted(stored, one_process(inputs, folder), outcome)
    outcome.seconds = time.monotonic() - begin
    return outcome


def _see_them_end(started: list[_Started], store_url: str, outcome: Outcome) -> None:
    """Each process to its end: those left alone end by themselves, the killed ingests'
    captures are ingested again, the workers are stopped."""
    for one in started:
        if one.killed:
            _, err = one.process.communicate(timeout=ENDS_WITHIN_S)
            _no_traceback(one, err, outcome)
        elif not one.worker:
            _ended_cleanly(one, outcome)
    # A capture whose ingest was killed is ingested again, whole: what is in stays once.
    for one in started:
        if one.killed and one.capture is not None:
            again = _Started(f"{one.name}, again", trueup(store_url, "ingest", str(one.capture)))
            _ended_cleanly(again, outcome)
    for one in started:
        if one.worker and not one.killed:
            one.process.terminate()
            _stopped_cleanly(one, outcome)


def _judge_emitted(stored: list[bytes], alone: list[bytes], outcome: Outcome) -> None:
    """Each account's emitted events, in their order, those one process emitted (``alone``):
    partitions run by different processes interleave accounts differently."""
    emitted, reference = by_account(stored), by_account(alone)
    for account in sorted(emitted.keys() | reference.keys()):
        ours, theirs = emitted.get(account, []), reference.get(account, [])
        if ours != theirs:
            outcome.problems.append(
                f"{account}: emitted {len(ours)} events, not the {len(theirs)} one process "
                f"emits (first apart at {_first_apart(ours, theirs)})"
            )


def _start_and_strike(plan: Plan, store_url: str, files: dict[str, Path]) -> list[_Started]:
    """Start the plan's processes at their moments and deal its faults at theirs; the
    processes in the plan's order."""
    starts = plan.starts()
    began = time.monotonic()
    started: dict[int, _Started] = {}
    for place, start in sorted(enumerate(starts), key=lambda s: s[1].at_s):
        _sleep_until(began + start.at_s)
        capture = None if start.account is None else files[start.account]
        command = start.command if capture is None else (*start.command, str(capture))
        process = trueup(store_url, *command)
        started[place] = _Started(start.name, process, capture, start.worker)
    actions = [(f.after_s, f) for f in plan.faults]
    actions += [(f.after_s + f.pause_s, f) for f in plan.faults if f.blow is Blow.PAUSE]
    paused: set[int] = set()
    for at, fault in sorted(actions, key=lambda a: a[0]):
        _sleep_until(began + at)
        one = started[fault.target]
        if one.process.poll() is not None or one.killed:
            continue
        if fault.blow is Blow.KILL:
            one.process.kill()
            one.killed = True
        elif fault.target in paused:
            one.process.send_signal(signal.SIGCONT)
            paused.discard(fault.target)
        else:
            one.process.send_signal(signal.SIGSTOP)
            paused.add(fault.target)
    for place in paused:  # a pause that outlasted its process's kill, or the round
        started[place].process.send_signal(signal.SIGCONT)
    return [started[place] for place in range(len(starts))]


def _detect_the_rest(journal: Journal, outcome: Outcome) -> None:
    """Detect what no process lived to, as an ingest would; once the worker of a killed
    ingest's detector process has let its leases go (it stops when its ingest dies)."""
    deadline = time.monotonic() + ENDS_WITHIN_S
    while True:
        TrueupService(journal).detect()
        if tracked_position(journal) >= journal.last_position():
            return
        if time.monotonic() > deadline:
            outcome.problems.append("the journal's inputs were never all processed")
            return
        time.sleep(0.05)


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _ended_cleanly(one: _Started, outcome: Outcome) -> None:
    """An ingest or an operator left alone: it ends by itself, exit 0."""
    try:
        _, err = one.process.communicate(timeout=ENDS_WITHIN_S)
    except subprocess.TimeoutExpired:
        one.process.kill()
        _, err = one.process.communicate()
        outcome.problems.append(f"{one.name} did not end within {ENDS_WITHIN_S:.0f} s")
    if one.process.returncode != 0:
        outcome.problems.append(f"{one.name}: exit {one.process.returncode}: {_tail(err)}")
    _no_traceback(one, err, outcome)


def _stopped_cleanly(one: _Started, outcome: Outcome) -> None:
    """A worker stopped by SIGTERM: exit 0, unless the signal came before it had started
    (then it dies of it, having said and done nothing)."""
    _, err = one.process.communicate(timeout=ENDS_WITHIN_S)
    code = one.process.returncode
    if code != 0 and not (code == -signal.SIGTERM and not err.strip()):
        outcome.problems.append(f"{one.name} stopped with exit {code}: {_tail(err)}")
    _no_traceback(one, err, outcome)


def _no_traceback(one: _Started, err: bytes, outcome: Outcome) -> None:
    if b"Traceback" in err:
        outcome.problems.append(f"{one.name} printed a traceback: {_tail(err)}")


def _tail(err: bytes) -> str:
    return err.decode(errors="replace").strip()[-1_500:]


def _first_apart(ours: list[bytes], theirs: list[bytes]) -> int:
    """The place of the first event in which two runs' lists differ."""
    pairs = enumerate(zip(ours, theirs, strict=False))
    return next((i for i, (a, b) in pairs if a != b), min(len(ours), len(theirs)))


def _judge_inputs(files: dict[str, Path], inputs: list[InputEvent], outcome: Outcome) -> None:
    """Every capture's inputs stored once each; besides them, only the operator's closes."""
    ids = Counter(event.input_id for event in inputs)
    twice = [input_id for input_id, count in ids.items() if count > 1]
    if twice:
        outcome.problems.append(f"{len(twice)} inputs stored twice, {twice[0]} first")
    captured: set[str] = set()
    for account, path in files.items():
        lines = [line for line in path.read_bytes().splitlines() if line]
        wanted = {decode_line(line).input_id for line in lines}
        captured |= wanted
        missing = wanted - ids.keys()
        if missing:
            outcome.problems.append(f"{account}: {len(missing)} of its inputs not stored")
    others = Counter(e.type for e in inputs if e.input_id not in captured)
    if set(others) - {"LocalPositionCleaned"}:
        outcome.problems.append(f"inputs no capture or operator made: {dict(others)}")
