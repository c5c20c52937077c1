"""How long a book keeps what has finished, and why letting go of it then is safe.

A book's working state follows what is open: open orders, open local positions, and what
those still read (the first intent of each purpose of an open position, with its order, for
entry_resting and tp1_state; an entry never acknowledged). Anything else that has finished
(a terminal order and its intent, a closed local position, a cancel request) is forgotten,
with what the detectors remember of it, once nothing has happened to it for
``FORGET_AFTER_MS`` of input time: the ``at`` of the inputs, never the wall clock, so a
replay forgets exactly what the first run forgot. What is due goes at the next sweep, at a
multiple of a tenth of the window, so within 1.1 windows; a sweep is as of its instant,
before the first input at or after it, so a fold of one symbol's inputs (an audit) lets go
of that symbol's keys where the fold of the whole account did.

Why ten minutes is enough to take every repeat as a repeat:
- Bybit's private WebSocket never replays: after a reconnect, trueup re-syncs by REST, and
  ``/v5/order/realtime`` as trueup asks it (openOnly=0) lists open orders only. The repeats
  it does send (Filled twice when a cancel races a fill, a frame and its execution) come
  within seconds.
- Intents are repeated by their transport: JetStream's duplicate window is two minutes by
  default, its redeliveries come within the ack wait (thirty seconds). An intent about a
  position forgotten is a new claim.
- Every rule timer waits far less by default (order timeout and partial-fill stall 20 s,
  pagination 10 s, grace periods 3 s). Drift's window and cooldowns are kept per key and
  per symbol, never forgotten. (A timeout set longer than the window no longer fires for
  an entry never acknowledged whose position closed more than a window before.)

What replays older reports is history: Bybit's order history and execution list (seven days
unless asked otherwise, the last 500 closed orders with openOnly=1) and Hyperliquid's
userFills (its 2000 most recent fills, sent again as a snapshot on every subscription). A
book no longer holds such an order, so the venue's own timestamp decides: a terminal report
or a fill of an order the book does not hold, stamped no later than the newest finish the
book has let go (``AccountBook.forgotten_until``), is a replay of what it forgot and is
ignored. That needs no memory per order, so it holds for reports of any age; only a report
the venue did not stamp (time 0) is taken as new.
"""

from collections import deque
from typing import Generic, TypeVar

from trueup.domain.keys import OrderKey

MINUTE = 60_000
FORGET_AFTER_MS = 10 * MINUTE
NEVER = 2**63  # later than any instant trueup takes

K = TypeVar("K")


def sweep_instant(clock: int, step: int) -> int:
    """The last sweep instant at or before ``clock``: sweeps are at the multiples of
    ``step``, whichever inputs a fold takes, so each lets go as of the same instant."""
    return clock - clock % step


class Retention(Generic[K]):
    """Keys to look at again once ``window_ms`` of input time has passed since their last
    touch; a key touched again meanwhile waits from that touch."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        # Each key's last touch (clock), in the order of those touches: a key touched again
        # moves to the end, and the clock never goes back, so the keys due are the first
        # ones whatever the window. No pair per touch to walk through again (``due``).
        self._last: dict[K, int] = {}
        # The clocks of the touches, each once (a clock touched at again in a row is not
        # added): the first one past the window is when a key may next fall due, as the
        # oldest touch of a key touched since still counts for ``next_due``.
        self._clocks: deque[int] = deque()
        self._newest = -1  # the clock last added to _clocks

    def __reduce__(self) -> tuple[object, ...]:
        # As Snapshots (snapshots.py): made by its constructor, then given its state.
        state = {"_last": self._last, "_clocks": self._clocks, "_newest": self._newest}
        return Retention, (self.window_ms,), state

    def touch(self, key: K, clock: int) -> None:
        last = self._last
        last.pop(key, None)
        last[key] = clock
        if clock != self._newest:
            self._newest = clock
            self._clocks.append(clock)

    def due(self, clock: int) -> list[K]:
        """Each key untouched for the window, once, oldest first."""
        touched_by = clock - self.window_ms  # touched then or before: due
        clocks = self._clocks
        while clocks and clocks[0] <= touched_by:
            clocks.popleft()
        last, due = self._last, []
        for key, touched in last.items():
            if touched > touched_by:
                break
            due.append(key)
        for key in due:
            del last[key]
        return due

    def next_due(self) -> int:
        """The earliest clock at which a key may fall due (NEVER when none is waiting)."""
        return self._clocks[0] + self.window_ms if self._clocks else NEVER


class Log(Generic[K]):
    """Keys a book let go, kept for the detectors' memory to forget too (``take``); a book
    no rules follow drops them after the window, so the log stays small either way."""

    def __init__(self) -> None:
        self._keys: deque[tuple[int, K]] = deque()

    def add(self, key: K, clock: int) -> None:
        self._keys.append((clock, key))

    def trim(self, clock: int, window_ms: int) -> None:
        keys = self._keys
        while keys and keys[0][0] + window_ms <= clock:
            keys.popleft()

    def take(self) -> list[K]:
        keys = [key for _, key in self._keys]
        self._keys.clear()
        return keys

    def first_added(self) -> int:
        return self._keys[0][0] if self._keys else NEVER

    def __len__(self) -> int:
        return len(self._keys)


class Forgotten:
    """What a book has let go, by kind: orders, intents (by client_order_id) and local
    positions (by position_id)."""

    def __init__(self) -> None:
        self.orders: Log[OrderKey] = Log()
        self.intents: Log[str] = Log()
        self.locals: Log[str] = Log()

    def trim(self, clock: int, window_ms: int) -> None:
        for log in (self.orders, self.intents, self.locals):
            log.trim(clock, window_ms)

    def __bool__(self) -> bool:
        # Asked after every input: the logs' deques are read directly (same module).
        return bool(self.orders._keys or self.intents._keys or self.locals._keys)

    def first_added(self) -> int:
        """When the oldest key still listed was let go (NEVER when none is)."""
        return min(log.first_added() for log in (self.orders, self.intents, self.locals))
