"""The fuzz run: generated sessions checked line by line, crashes kept, deduplicated and shrunk.

``check_line`` checks one line in a fresh session; ``run`` is the long loop ``make fuzz``
drives, seeded so that any session can be rebuilt from the seed and its index.
"""

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fuzz import generate, store
from tests.fuzz.checks import Count, Session
from tests.fuzz.crashes import Crash
from tests.fuzz.minimise import minimise

STORE_EVERY = 10_000
STORE_LINES = 1_200  # a dozen ingest batches and more (store.STEP inputs each)
AUDIT_EVERY = 10  # sessions between audit trips (each a fresh journal: four sessions' time)
MINIMISE_S = 5.0

Signature = tuple[str, str]


@dataclass
class CrashClass:
    """Every crash with one signature: the first found, and how often it came."""

    first: Crash
    times: int = 1


@dataclass
class Summary:
    """What a run did: lines, events, store round trips, crashes by class, and its pace."""

    seed: int
    count: Count = field(default_factory=Count)
    sessions: int = 0
    store_trips: int = 0
    audit_trips: int = 0
    seconds: float = 0.0
    classes: dict[Signature, CrashClass] = field(default_factory=dict)

    @property
    def crashes(self) -> int:
        return sum(found.times for found in self.classes.values())

    @property
    def rate(self) -> float:
        """Lines per second of the loop itself (shrinking the crashes not counted)."""
        return self.count.lines / self.seconds if self.seconds else 0.0

    def add(self, crashes: list[Crash], origin: str) -> None:
        for crash in crashes:
            found = self.classes.get(crash.signature)
            if found is None:
                where = f"{origin} line {len(crash.lines)}"
                self.classes[crash.signature] = CrashClass(dataclasses.replace(crash, origin=where))
            else:
                found.times += 1


def check_line(line: bytes) -> list[Crash]:
    """Every invariant one line breaks on its own, in a fresh session."""
    return Session().check_lines([line])


def check_session(lines: list[bytes], summary: Summary, origin: str) -> None:
    """One session's lines checked, its counts and crashes added to ``summary``."""
    session = Session()
    summary.add(session.check_lines(lines), origin)
    summary.count.add(session.count)
    summary.sessions += 1


def run(
    lines: int,
    seed: int,
    *,
    store_every: int = STORE_EVERY,
    minimise_s: float = MINIMISE_S,
    progress: Callable[[Summary], None] | None = None,
    store_lines: int = STORE_LINES,
) -> Summary:
    """About ``lines`` generated lines through every check; each crash class shrunk after.

    Every ``store_every`` lines, the last ``store_lines`` of them make a store round trip;
    every AUDIT_EVERY sessions, one makes an audit trip.
    """
    summary = Summary(seed)
    started = time.perf_counter()
    recent: list[bytes] = []
    next_store = store_every
    index = 0
    while summary.count.lines < lines:
        session = generate.session_lines(generate.session_rng(seed, index))
        origin = f"seed {seed} session {index}"
        check_session(session, summary, origin)
        if index % AUDIT_EVERY == 0:
            summary.add(store.audit_trip(session), f"the audit trip of {origin}")
            summary.audit_trips += 1
        recent = (recent + session)[-store_lines:]
        if summary.count.lines >= next_store or summary.count.lines >= lines:
            summary.add(store.round_trip(recent), f"the store trip after {origin}")
            summary.store_trips += 1
            next_store += store_every
        if progress is not None and index % 500 == 0:
            summary.seconds = time.perf_counter() - started
            progress(summary)
        index += 1
    summary.seconds = time.perf_counter() - started
    for found in summary.classes.values():
        found.first = minimise(found.first, minimise_s)
    return summary


def replay(seed: int, index: int) -> list[bytes]:
    """The lines of session ``index`` of the run with ``seed``, to reproduce what it found."""
    return generate.session_lines(generate.session_rng(seed, index))


def report(summary: Summary) -> str:
    """The run in words: pace, counts, and every crash class with its reproducer."""
    count = summary.count
    events = count.accepted + count.rejected
    head = [
        f"fuzz: seed {summary.seed}: {count.lines} lines in {summary.sessions} sessions, "
        f"{summary.seconds:.1f} s, {summary.rate:.0f} lines/s",
        f"  events: {events} ({count.accepted} accepted, {count.rejected} rejected), "
        f"{count.blank} blank lines, {count.duplicates} duplicates stored once, "
        f"{count.emitted} emitted",
        f"  lines lost or uncounted: {count.lost}",
        f"  store round trips: {summary.store_trips}, audit trips: {summary.audit_trips}",
        f"  crashes: {summary.crashes} in {len(summary.classes)} classes",
    ]
    ordered = sorted(summary.classes.values(), key=lambda f: (f.first.stage, f.first.signature))
    body = [
        f"\n[{number}] {found.times} time(s): {found.first.describe()}"
        for number, found in enumerate(ordered, 1)
    ]
    return "\n".join(head + body)
