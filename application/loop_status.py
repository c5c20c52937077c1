"""How a long-running loop (an executor, a notifier) is doing, kept in the journal's store so
any process (the HTTP API's /health) can tell: its last success, its last failure and how
many in a row, and whether it stopped cleanly.

One row per loop in the snapshot table (tracker ``loop.<name>``), replaced on each write;
a loop that is doing well writes at most once every ``every_ms``. A notifier's row also
holds its backlog: what it still owes, and when it last gave deliveries up (dead letters).
An operator's acknowledgement of those dead letters has a row of its own
(``acknowledged.<name>``): the loop rewrites its row, and must not write over it.
"""

from dataclasses import asdict, dataclass, replace

import orjson

from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.application.backlog import KEPT_DEAD_LETTERS, Backlog, BacklogLimits

PREFIX = "loop."
ACKNOWLEDGED_PREFIX = "acknowledged."
# A loop silent this long, and not stopped, has died without a successor.
SILENT_AFTER_MS = 30_000
# Failing this many steps in a row is no passing hiccup.
FAILURES_TOLD = 3
JSON = dict[str, object]


@dataclass(frozen=True)
class Acknowledgement:
    """An operator has seen a loop's dead letters up to ``at``: /health counts only later ones."""

    at: int
    operator: str
    reason: str = ""


@dataclass(frozen=True)
class LoopStatus:
    name: str
    last_success_at: int | None = None
    last_failure_at: int | None = None
    last_failure: str = ""
    failures_in_row: int = 0
    stopped_at: int | None = None
    beat_at: int = 0  # when it last wrote
    # A notifier's backlog (waiting None: a loop without one, an executor).
    waiting: int | None = None
    oldest_waiting_at: int | None = None
    dead_lettered_at: tuple[int, ...] = ()  # the latest, up to KEPT_DEAD_LETTERS
    # Read from its own row, never written with the loop's.
    acknowledged: Acknowledgement | None = None

    def unacknowledged_dead_letters(self, since: int) -> int:
        """The dead letters recorded after ``since`` that no operator has acknowledged."""
        seen = since if self.acknowledged is None else max(since, self.acknowledged.at)
        return sum(1 for at in self.dead_lettered_at if at > seen)

    def problem(self, now: int) -> str | None:
        """Why this loop is not doing its work, if it is not."""
        if self.stopped_at is not None:
            return None
        if self.failures_in_row >= FAILURES_TOLD:
            return (
                f"{self.name} has failed {self.failures_in_row} times in a row: {self.last_failure}"
            )
        if now - self.beat_at > SILENT_AFTER_MS:
            return f"{self.name} has been silent for {now - self.beat_at} ms"
        return None

    def backlog_problems(self, now: int, limits: BacklogLimits) -> list[str]:
        """Why this loop's backlog means someone is not being told, if it does; a loop
        stopped cleanly is judged by nobody."""
        if self.stopped_at is not None or self.waiting is None:
            return []
        problems = []
        window = limits.dead_letter_window_ms
        recent = self.unacknowledged_dead_letters(now - window - 1)
        if recent > limits.max_dead_letters:
            problems.append(
                f"{self.name} dead-lettered {recent} notification(s) in the last {window} ms "
                f"that nobody acknowledged; the limit is {limits.max_dead_letters}"
            )
        oldest = self.oldest_waiting_at
        if oldest is not None and now - oldest > limits.max_undelivered_ms:
            problems.append(
                f"{self.name} has {self.waiting} notification(s) undelivered, the oldest "
                f"emitted {now - oldest} ms ago; the limit is {limits.max_undelivered_ms} ms"
            )
        return problems

    def as_document(self, now: int, limits: BacklogLimits) -> JSON:
        since = None if self.last_success_at is None else now - self.last_success_at
        return {
            **asdict(self),
            "since_last_success_ms": since,
            "problem": self.problem(now),
            "backlog_problems": self.backlog_problems(now, limits),
        }


def executor_name(venue: str, account: str) -> str:
    """The executor of an account, by the name its lease and status go by."""
    return f"executor.{venue}.{account}"


def loop_statuses(journal: Journal) -> list[LoopStatus]:
    """Every loop that ever wrote its status (executors, notifiers), by name."""
    names = [t.removeprefix(PREFIX) for t in journal.snapshot_trackers(PREFIX)]
    return [status for name in names if (status := loop_status(journal, name)) is not None]


def loop_status(journal: Journal, name: str) -> LoopStatus | None:
    """The status ``name`` last wrote, if it ever did."""
    found = journal.load_snapshot(PREFIX + name)
    if found is None:
        return None
    written = orjson.loads(found[1])
    written["dead_lettered_at"] = tuple(written.get("dead_lettered_at", ()))
    written["acknowledged"] = acknowledgement(journal, name)
    return LoopStatus(**written)


def acknowledgement(journal: Journal, name: str) -> Acknowledgement | None:
    """The last acknowledgement of ``name``'s dead letters, if any."""
    found = journal.load_snapshot(ACKNOWLEDGED_PREFIX + name)
    return None if found is None else Acknowledgement(**orjson.loads(found[1]))


def acknowledge_dead_letters(
    journal: Journal, acknowledged: LoopStatus, by: Acknowledgement
) -> int:
    """Record that ``by.operator`` has seen ``acknowledged``'s dead letters up to ``by.at``;
    how many were not acknowledged before."""
    unseen = acknowledged.unacknowledged_dead_letters(since=-1)
    journal.save_snapshot(ACKNOWLEDGED_PREFIX + acknowledged.name, 0, orjson.dumps(asdict(by)))
    return unseen


class LoopHeartbeat:
    """Writes one loop's status as it goes."""

    def __init__(self, journal: Journal, name: str, clock: Clock, every_ms: int = 1_000) -> None:
        self.journal = journal
        self.clock = clock
        self.every_ms = every_ms
        self.status = loop_status(journal, name) or LoopStatus(name)
        self.status = replace(self.status, stopped_at=None, failures_in_row=0)

    def success(self, backlog: Backlog | None = None) -> None:
        """A step done; ``backlog``, what a notifier still owes after it (a new dead letter
        is written at once)."""
        now = self.clock()
        due = self.status.failures_in_row or now - self.status.beat_at >= self.every_ms
        status = replace(self.status, last_success_at=now, failures_in_row=0)
        if backlog is not None:
            kept = (*status.dead_lettered_at, *backlog.dead_lettered_at)[-KEPT_DEAD_LETTERS:]
            status = replace(
                status,
                waiting=backlog.waiting,
                oldest_waiting_at=backlog.oldest_waiting_at,
                dead_lettered_at=kept,
            )
            due = due or bool(backlog.dead_lettered_at)
        self.status = status
        if due:
            self._write(now)

    def failure(self, error: str) -> None:
        now = self.clock()
        self.status = replace(
            self.status,
            last_failure_at=now,
            last_failure=error[:500],
            failures_in_row=self.status.failures_in_row + 1,
        )
        self._write(now)

    def stopped(self) -> None:
        now = self.clock()
        self.status = replace(self.status, stopped_at=now)
        self._write(now)

    def _write(self, now: int) -> None:
        self.status = replace(self.status, beat_at=now)
        written = asdict(self.status)
        del written["acknowledged"]
        self.journal.save_snapshot(PREFIX + self.status.name, 0, orjson.dumps(written))
