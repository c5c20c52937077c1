"""The projection as ``trueup serve`` runs it: in a thread of the server, while the server
holds the partitions' leases (as ``trueup run`` and ``trueup worker`` do), following the
journal's end whoever appends to it; and how far behind that end the projection is.
"""

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import PAGE, Journal
from trueup.adapters.store.location import StoreError
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import ALL
from trueup.projections.reconciliation import tracked_position

log = logging.getLogger("trueup.http")

# While nothing is appended, leases held by others are asked for again this often: each
# try is a round trip to PostgreSQL per partition.
RETRY_LEASES_S = 1.0


@dataclass(frozen=True)
class Lag:
    """How far the projection is behind the journal's end: inputs stored it has not
    processed (counted up to PAGE), and for how long the oldest of them has waited."""

    inputs: int
    ms: int
    # Partitions this server ran and lost the lease of, by when (epoch ms), until retaken.
    lost: dict[int, int]


class ServedProjection:
    """Runs ``LeasedProjection`` every ``poll_s`` from a thread, each call into the journal
    under ``lock`` (the server's: a journal connection serves one thread at a time)."""

    def __init__(
        self,
        journal: Journal,
        lock: threading.Lock,
        *,
        poll_s: float = 0.025,
        clock: Clock = wall_clock,
    ) -> None:
        self.journal = journal
        self.lock = lock
        self.poll_s = poll_s
        self.clock = clock
        self.leased = LeasedProjection(journal)
        self.lag = Lag(0, 0, {})
        # Each advance of the journal's end as this thread saw it: (position, monotonic s).
        self._ends: deque[tuple[int, float]] = deque()
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
                    if end != seen_end or now - tried > RETRY_LEASES_S:
                        self.leased.catch_up()
                        tried = now
                        end = self.journal.last_position()
                        self._measure(end, time.monotonic())
                    seen_end = end
            except StoreError as error:
                # The journal's own retrying has given up (--give-up-after): /health says so.
                log.warning("the projection: %s", error)
            except Exception:
                log.exception("the projection failed; trying again")

    def _measure(self, end: int, now: float) -> None:
        """The lag, from where the projection (this server's and others') has got."""
        if not self._ends or self._ends[-1][0] < end:
            self._ends.append((end, now))
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
        while self._ends and self._ends[0][0] <= processed:
            self._ends.popleft()
        inputs = 0
        if processed < end:
            inputs = len(self.journal.inputs(processed, end, limit=PAGE)[0])
        waited = int((now - self._ends[0][1]) * 1000) if self._ends and inputs else 0
        self.lag = Lag(inputs, waited, dict(self._lost))
