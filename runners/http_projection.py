"""The projection as ``trueup serve`` runs it: in a thread of the server, while the server
holds the partitions' leases (as ``trueup run`` and ``trueup worker`` do), following the
journal's end whoever appends to it; how far behind that end the projection is; and how long
each input took to be detected.
"""

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.location import StoreError
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import ALL, tracked_position
from trueup.runners.http_siblings import Siblings

log = logging.getLogger("trueup.http")

# While nothing is appended, leases held by others are asked for again this often: each
# try is a round trip to PostgreSQL per partition.
RETRY_LEASES_S = 1.0
# Journal ends remembered with when they were first seen, for the detection latency.
ARRIVALS_KEPT = 4_096


@dataclass(frozen=True)
class Lag:
    """How far the projection is behind the journal's end: inputs stored it has not
    processed (counted up to PAGE), and for how long the oldest of them has waited."""

    inputs: int
    ms: int
    # Partitions this server ran and lost the lease of, by when (epoch ms), until retaken.
    lost: dict[int, int]


class Arrivals:
    """When inputs arrived, as this server knows it: the inputs of a POST being ingested here
    when it was received, any other when the projection first saw the journal's end at or
    past it (to a poll). Read and written under the server's journal lock."""

    def __init__(self) -> None:
        self._ends: list[int] = []  # ascending
        self._seen: list[float] = []  # monotonic s, beside each
        self._receiving: float | None = None

    def saw(self, end: int, at: float) -> None:
        """The journal's end read at ``at``: every input up to it had arrived by then."""
        if self._ends and end <= self._ends[-1]:
            return
        self._ends.append(end)
        self._seen.append(at)
        if len(self._ends) > 2 * ARRIVALS_KEPT:
            del self._ends[:ARRIVALS_KEPT], self._seen[:ARRIVALS_KEPT]

    @contextmanager
    def receiving(self, at: float) -> Iterator[None]:
        """While a POST received at ``at`` is ingested: what is past the ends seen is its."""
        self._receiving = at
        try:
            yield
        finally:
            self._receiving = None

    def of(self, position: int, now: float) -> float:
        """When the input at ``position`` arrived (``now`` when not known: past every end
        seen, and no POST being ingested)."""
        found = bisect.bisect_left(self._ends, position)
        if found < len(self._ends):
            return self._seen[found]
        return now if self._receiving is None else self._receiving


class ServedProjection:
    """Runs ``LeasedProjection`` every ``poll_s`` from a thread, each call into the journal
    under ``lock`` (the server's: a journal connection serves one thread at a time). With
    ``runs`` False (``serve --no-projection``) it only measures how far behind the processes
    that run it are."""

    def __init__(
        self,
        journal: Journal,
        lock: threading.Lock,
        *,
        poll_s: float = 0.025,
        clock: Clock = wall_clock,
        detected: Callable[[str, float], object] = lambda _type, _s: None,
        measured: Callable[[Lag], object] = lambda _: None,
        siblings: Siblings | None = None,
        runs: bool = True,
    ) -> None:
        self.journal = journal
        self.runs = runs
        self.lock = lock
        self.poll_s = poll_s
        self.clock = clock
        # Told of each emitted event's type and its detection latency (s), and of each lag.
        self.detected = detected
        self.measured = measured
        self.arrivals = Arrivals()
        # With sibling serving processes (--workers), one of them comes to run every
        # partition: free ones are taken only while no sibling runs any, and a process
        # running fewer than a sibling lets them go to it (runners/http_siblings.py).
        self.siblings = siblings
        self.leased = LeasedProjection(journal, on_recorded=self._recorded, offering=self._offering)
        self.lag = Lag(0, 0, {})
        self._held: set[int] = set()
        self._lost: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="trueup-projection", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following, and let the leases go (snapshotting first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if not self.runs:
            return
        with self.lock:
            try:
                self.leased.release()
            except StoreError as error:
                log.warning("the projection's leases: %s", error)

    def _run(self) -> None:
        seen_end = -1
        tried = 0.0
        while not self._stop.wait(self.poll_s):
            try:
                with self.lock:
                    end = self.journal.last_position()
                    now = time.monotonic()
                    self.arrivals.saw(end, now)
                    # Holding no partition, there is nothing to process: the leases are
                    # tried, and the lag measured, once a RETRY_LEASES_S, not at every
                    # append (the lag's count reads the journal).
                    moved = end != seen_end and self.leased.holding
                    if moved or now - tried > RETRY_LEASES_S:
                        if self.runs:
                            self.leased.catch_up()
                            self._meet_siblings()
                        tried = now
                        self._measure(self.journal.last_position(), time.monotonic())
                    # The end read before the step, not after it: what another process
                    # appended once the step had read to the end is processed at the next
                    # poll, not left until the next append or lease retry.
                    seen_end = end
            except StoreError as error:
                # The journal's own retrying has given up (--give-up-after): /health says so.
                log.warning("the projection: %s", error)
            except Exception:
                log.exception("the projection failed; trying again")

    def _offering(self) -> bool:
        """Whether free partitions are to be taken now: always, but beside a sibling that
        runs some (it takes them; this process stands by until it has gone)."""
        if self.siblings is None:
            return True
        return not any(sibling.held for sibling in self.siblings.others())

    def _meet_siblings(self) -> None:
        """Let the partitions go to a sibling running more, and say which this one runs."""
        if self.siblings is None:
            return
        held = self.leased.held
        if self.siblings.yields_to_another(held):
            log.info("letting partitions go to the serving process running more of them")
            self.leased.let_go(held)
            held = self.leased.held
            self._held = set(held)  # let go, not lost: /health has nothing to say of it
        self.siblings.say_held(held)

    def _measure(self, end: int, now: float) -> None:
        """The lag, from where the projection (this server's and others') has got."""
        self.arrivals.saw(end, now)
        held = set(self.leased.held)
        for number in self._held - held:
            if not self.leased.leases[number].held():
                self._lost.setdefault(number, self.clock())
                log.warning("lost the lease of partition %d of the projection", number)
        for number in held:
            self._lost.pop(number, None)
        self._held = held
        others = [n for n in ALL if n not in held]
        processed = min(
            self.leased.position if held else end,
            tracked_position(self.journal, others) if others else end,
        )
        inputs = self.journal.inputs_between(processed, end) if processed < end else 0
        waited = int((now - self.arrivals.of(processed + 1, now)) * 1000) if inputs else 0
        self.lag = Lag(inputs, waited, dict(self._lost))
        self.measured(self.lag)

    def _recorded(self, inputs: list[tuple[int, InputEvent]], emitted: list[Emitted]) -> None:
        """Time what was just stored from when the inputs that caused it arrived."""
        now = time.monotonic()
        causes = {event.cause for event in emitted}
        where = {e.input_id: position for position, e in inputs if e.input_id in causes}
        for event in emitted:
            position = where.get(event.cause)
            if position is not None:
                self.detected(event.type, now - self.arrivals.of(position, now))
