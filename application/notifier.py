"""The notifier: follows the emitted events and sends each one a target selects to it,
recording every try in the journal (channel ``notification``) so "did anyone get told?" is
answered from the journal alone (docs/notifications.md).

Each target has a queue of its own, in journal order: a target that is down waits out its
back-off without holding the others up. One notifier of a name holds a lease and works;
others stand by. Its progress is the tries it recorded: restarted, it sends what no try
delivered or dead-lettered, and carries on counting the tries of those that failed. A crash
between a send and its record sends that one again: at least once, not exactly once.
"""

import logging
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson

from trueup.adapters import notification_reports
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.notify.message import render, test_document
from trueup.adapters.notify.sender import Attempt, Sender
from trueup.adapters.notify.target import Target
from trueup.adapters.store.codec import event_json
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import Lease
from trueup.application.answers import NotificationTest
from trueup.application.backlog import Backlog
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.events import NotificationAttempted
from trueup.domain.vocabulary import NotificationOutcome

log = logging.getLogger("trueup.notify")
# The most deliveries waiting across targets before the notifier reads further: a target
# down for long must not fill memory with the journal.
MAX_WAITING = 1_000
# The most tries one target is given in one step, so that a stop is heard in good time.
TRIES_PER_STEP = 100


@dataclass
class Delivery:
    """One emitted event owed to one target."""

    position: int
    event: Emitted
    target: Target
    attempts: int = 0  # tries made so far, these and any recorded before a restart
    due_at: int = 0  # epoch ms: not tried again before


@dataclass
class NotifierStep:
    """What one step did."""

    delivered: int = 0
    failed: int = 0
    dead_lettered: int = 0
    holding: bool = False
    # Always 0: a failed delivery waits out its back-off in its target's queue, and the
    # notifier goes on with the others.
    retrying: int = 0
    dead_lettered_at: list[int] = field(default_factory=list)
    backlog: Backlog | None = None  # what is owed after the step, for /health


@dataclass
class _Recorded:
    """The tries of one event to one target found in the journal on resuming."""

    attempts: int = 0
    finished: bool = False
    last_at: int = 0


@dataclass
class _Queues:
    by_target: dict[str, deque[Delivery]] = field(default_factory=dict)

    def waiting(self) -> int:
        return sum(len(q) for q in self.by_target.values())

    def oldest_at(self) -> int | None:
        """When the oldest event still owed was emitted (each queue is in journal order)."""
        heads = [q[0].event.at for q in self.by_target.values() if q]
        return min(heads) if heads else None

    def first_position(self) -> int | None:
        heads = [q[0].position for q in self.by_target.values() if q]
        return min(heads) if heads else None


class Notifier:
    """The notifier ``name`` of one journal, sending to ``targets``."""

    def __init__(
        self,
        journal: Journal,
        targets: Sequence[Target],
        *,
        name: str = "default",
        sender: Sender | None = None,
        clock: Clock = wall_clock,
        from_now: bool = False,
    ) -> None:
        """``from_now``: a notifier of this name that has never run starts at the journal's
        end, not its beginning (the events emitted before it are not sent)."""
        self.journal = journal
        self.from_now = from_now
        self.targets = list(targets)
        self.name = name
        self.sender = sender or Sender()
        self.clock = clock
        self.service = TrueupService(journal, clock)
        self.tracker = f"notifier.{name}"
        self.lease: Lease = journal.lease(self.tracker)
        self._queues = _Queues()
        # Where reading has got to; None: to be resumed from the journal first.
        self._read_upto: int | None = None
        self._recorded: dict[tuple[str, str], _Recorded] = {}
        self._progress = 0

    def step(self) -> NotifierStep:
        """Read what was emitted since, and try each delivery that is due, while holding
        the lease."""
        done = NotifierStep()
        if not self.lease.acquire():
            self._read_upto = None  # another notifier moves on meanwhile
            return done
        done.holding = True
        try:
            if self._read_upto is None:
                self._resume()
            self._read()
            for queue in self._queues.by_target.values():
                self._work(queue, done)
            self._record_progress()
            done.backlog = Backlog(
                self._queues.waiting(), self._queues.oldest_at(), tuple(done.dead_lettered_at)
            )
        except Exception:
            self._read_upto = None  # what is known is the journal's: start from it again
            raise
        return done

    def release(self) -> None:
        self.lease.release()
        self.sender.close()

    def _resume(self) -> None:
        """Start from the recorded progress, knowing every try recorded since."""
        after = self.journal.tracked_position(self.tracker)
        if after == 0 and self.from_now:
            after = self.journal.last_position()
            self.journal.record_progress(self.tracker, after)
        self._progress = after
        self._read_upto = after
        self._queues = _Queues({t.name: deque() for t in self.targets})
        self._recorded = {}
        for _, report in self.journal.inputs_of_type(NotificationAttempted.type, after):
            if not isinstance(report, NotificationAttempted) or report.notifier != self.name:
                continue
            recorded = self._recorded.setdefault((report.event_id, report.target), _Recorded())
            recorded.attempts = max(recorded.attempts, report.attempt)
            recorded.finished |= report.outcome is not NotificationOutcome.FAILED
            recorded.last_at = max(recorded.last_at, report.at)

    def _read(self) -> None:
        assert self._read_upto is not None
        room = MAX_WAITING - self._queues.waiting()
        if room <= 0:
            return
        page, last = self.journal.emitted_after(self._read_upto, limit=room)
        for position, event in page:
            for delivery in self._owed(position, event):
                self._queues.by_target[delivery.target.name].append(delivery)
        self._read_upto = last

    def _owed(self, position: int, event: Emitted) -> Iterable[Delivery]:
        for target in self.targets:
            if not target.selection.selects(event.type, event.venue, event.account):
                continue
            recorded = self._recorded.pop((event.event_id, target.name), None)
            if recorded is None:
                yield Delivery(position, event, target)
            elif not recorded.finished:
                due = recorded.last_at + _wait_ms(target, recorded.attempts)
                yield Delivery(position, event, target, recorded.attempts, due)

    def _work(self, queue: deque[Delivery], done: NotifierStep) -> None:
        for _ in range(TRIES_PER_STEP):
            if not queue or queue[0].due_at > self.clock() or not self.lease.held():
                return
            delivery = queue[0]
            outcome = self._try(delivery)
            if outcome is NotificationOutcome.FAILED:
                delivery.due_at = self.clock() + _wait_ms(delivery.target, delivery.attempts)
                done.failed += 1
                return  # this target waits; the others go on
            queue.popleft()
            if outcome is NotificationOutcome.DELIVERED:
                done.delivered += 1
            else:
                done.dead_lettered += 1
                done.dead_lettered_at.append(self.clock())

    def _try(self, delivery: Delivery) -> NotificationOutcome:
        """One try, recorded; never raises for what the event or the target holds."""
        target, event = delivery.target, delivery.event
        delivery.attempts += 1
        try:
            message = render(target, event_json(delivery.position, event))
        except Exception as error:  # an event that cannot be put in a request: never again
            attempt = Attempt(False, False, f"could not render it: {error!r:.200}", None, 0)
        else:
            attempt = self.sender.send(target, message)
        if attempt.delivered:
            outcome = NotificationOutcome.DELIVERED
        elif attempt.retryable and delivery.attempts < target.retries.max_attempts:
            outcome = NotificationOutcome.FAILED
        else:
            outcome = NotificationOutcome.DEAD_LETTERED
        log_at = logging.INFO if attempt.delivered else logging.WARNING
        log.log(
            log_at,
            "%s %s to %s, try %d: %s%s",
            event.type,
            event.event_id,
            target.name,
            delivery.attempts,
            outcome,
            f" ({attempt.reason})" if attempt.reason else "",
        )
        self._record(delivery, outcome, attempt)
        return outcome

    def _record(self, delivery: Delivery, outcome: NotificationOutcome, attempt: Attempt) -> None:
        event = delivery.event
        report = {
            "notifier": self.name,
            "target": delivery.target.name,
            "event_id": event.event_id,
            "event_type": event.type,
            "attempt": delivery.attempts,
            "outcome": outcome.value,
            "reason": attempt.reason,
            "status": attempt.status,
            "elapsed_ms": attempt.elapsed_ms,
        }
        record = notification_reports.record(self.clock(), event.venue, event.account, report)
        stored = self.service.ingest([[orjson.dumps(record)]], detect=False)
        if stored.rejected:
            log.error("the record of a try of %s was refused by the journal", event.event_id)

    def _record_progress(self) -> None:
        """Past every event whose deliveries are all done, delivered or dead-lettered."""
        assert self._read_upto is not None
        first = self._queues.first_position()
        position = self._read_upto if first is None else first - 1
        if position > self._progress:
            self.journal.record_progress(self.tracker, position)
            self._progress = position


def _wait_ms(target: Target, attempts: int) -> int:
    return int(target.retries.wait_after(attempts) * 1000)


def send_tests(targets: Sequence[Target], clock: Clock = wall_clock) -> list[NotificationTest]:
    """A test notification to each target, once each (no retries: the answer is the point)."""
    results = []
    with Sender() as sending:
        for target in targets:
            attempt = sending.send(target, render(target, test_document(target.name, clock())))
            results.append(
                NotificationTest(
                    target=target.name,
                    kind=target.kind.value,
                    url=target.shown_url,
                    delivered=attempt.delivered,
                    reason=attempt.reason,
                    status=attempt.status,
                    elapsed_ms=attempt.elapsed_ms,
                )
            )
    return results
