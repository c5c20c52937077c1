"""A venue feed kept alive: neither pybit nor the Hyperliquid SDK reconnects reliably.

pybit gives up after its retries and a clean close from the server ends its stream without
a word; the Hyperliquid SDK never reconnects. So a supervisor thread watches the stream,
rebuilds it with backoff, says so (a feed line, which emits WS_RECONNECT; a run's first
connection says ``connected``), and re-syncs over REST after every (re)connect, since
neither venue sends a snapshot on subscribe. A poller re-syncs every interval as the
fallback, backing off while rate-limited.
"""

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

from trueup.adapters import feed_status
from trueup.adapters.feed import Clock, Sink

log = logging.getLogger("trueup.feed")

MAX_BACKOFF_S = 30.0
MAX_POLL_BACKOFF_S = 60.0
# How long a stream just opened has to show it is really up (connected, and on Bybit
# authenticated) before the attempt counts as failed.
UP_WAIT_S = 10.0
# Refusals of our credentials in a row after which a feed they never got in stops: a wrong
# key does not heal, and retrying it would only fill the journal with failures. Once they got
# in, a refusal is the venue's hiccup (or a key revoked): retried, backing off, as long as it
# lasts, the stream said down meanwhile (a run that stopped on three refusals in 1.5 s left
# its account unwatched until someone restarted it).
AUTH_REFUSALS = 3
# What a stream says of itself before it is opened, and once closed by its feed; and what
# the supervisor says of one opened that never came up: no cause of a loss, either.
NOT_CONNECTED = "not connected"
NEVER_CAME_UP = "never came up"


def close_quietly(close: Callable[[], object]) -> None:
    """Close a client's stream, whatever state it is in: one already gone closes as it can."""
    try:
        close()
    except Exception:
        log.debug("closing a dead stream", exc_info=True)


class SupervisedFeed(ABC):
    """The Feed protocol over a venue's stream and REST; subclasses say how to reach them."""

    venue: str
    stream: str  # the name of the stream in reconnect lines

    def __init__(self, account: str, *, clock: Clock, poll_interval_s: float) -> None:
        self.account = account
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self.sink: Sink = lambda _record: None
        self.gave_up: Callable[[str], object] = lambda _why: None
        self.failure: str | None = None
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sync_lock = threading.Lock()

    @abstractmethod
    def connect(self) -> None:
        """Open and subscribe the stream (raises if it cannot)."""

    @abstractmethod
    def close_stream(self) -> None:
        """Close the stream, whatever state it is in."""

    @abstractmethod
    def stream_lost(self) -> str | None:
        """Why the stream is not usable now, or None when it is."""

    def stream_up(self) -> bool:
        """Whether the stream just opened is really up (not merely being opened)."""
        return self.stream_lost() is None

    def auth_refused(self) -> str | None:
        """The venue's refusal of our credentials on the stream just opened, if it refused."""
        return None

    def signed_in(self) -> bool:
        """Whether the venue took our credentials on the stream just opened, lost since or
        not: a refusal after it is no wrong key."""
        return self.stream_up()

    def down_said_by_venue(self) -> bool:
        """Whether the venue itself said the stream ended, in a line already handed on that
        reads as StreamDown: the feed's own down line would say it a second time."""
        return False

    @abstractmethod
    def fetch_snapshots(self) -> bool:
        """Hand on positions and open orders by REST; says whether a rate limit was met."""

    # --- the Feed protocol ----------------------------------------------------------------

    def start(self, sink: Sink, gave_up: Callable[[str], object] = lambda _why: None) -> None:
        self.sink = sink
        self.gave_up = gave_up
        for name, target in (("stream", self._supervise), ("poll", self._poll)):
            thread = threading.Thread(target=target, name=f"{self.venue}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """Nothing to ask for by default: the first sync's snapshot is the whole truth."""
        return None

    def fetch_once(self, sink: Sink) -> None:
        self.sink = sink
        self.resync()

    def stop(self) -> None:
        self.stopping.set()
        self.close_stream()
        for thread in self._threads:
            thread.join(timeout=15)

    # --- supervision ----------------------------------------------------------------------

    def resync(self) -> bool:
        with self._sync_lock:
            try:
                return self.fetch_snapshots()
            except Exception:
                # A reply nobody foresaw must end neither the polling nor the stream's
                # supervision: this snapshot is missed, the exchange view ages, and can-open
                # says no once it is stale, until a later one is taken.
                log.exception("%s: the REST re-sync failed", self.venue)
                return False

    def _supervise(self) -> None:
        attempt = 0
        refusals = 0
        accepted = False  # our credentials got in, in this run
        opened_once = False
        down_told = False  # since the stream was last up
        # Why it was lost, the first cause seen since it was last up: what the reconnect
        # says, not how the last attempt before it came back failed ("not connected").
        cause: str | None = None
        while not self.stopping.is_set():
            # One that never came up (no auth reply, say) is as lost as one that dropped.
            lost = self.stream_lost() or (None if self.stream_up() else NEVER_CAME_UP)
            if lost is None:
                # Up (on Bybit, signed in): however it came to be (an attempt that came up
                # after its wait counted it failed, say), our credentials got in.
                attempt, refusals, accepted, cause = 0, 0, True, None
                self.stopping.wait(0.2)
                continue
            if cause is None and lost not in (NOT_CONNECTED, NEVER_CAME_UP):
                cause = lost
            if opened_once and not down_told and not self.stopping.is_set():
                # Said once, at once: until it is back, nothing is vouched for.
                down_told = True
                log.warning("%s stream down: %s", self.venue, lost)
                if not self.down_said_by_venue():
                    down = feed_status.down(
                        self.clock(), self.venue, self.account, stream=self.stream, reason=lost
                    )
                    self.sink(down)
            self.close_stream()
            if attempt and self.stopping.wait(min(MAX_BACKOFF_S, 0.5 * 2 ** (attempt - 1))):
                return
            attempt += 1
            try:
                self.connect()
            except Exception as error:  # any failure is retried, with backoff
                log.warning(
                    "%s stream: connect failed (attempt %d): %s",
                    self.venue,
                    attempt,
                    type(error).__name__,
                )
                continue
            # A stream opened before this one: this one, once up, is a reconnect.
            opened_before, opened_once = opened_once, True
            refused = self._await_up()
            if refused is not None:
                refusals += 1
                log.warning("%s stream: %s (%d in a row)", self.venue, refused, refusals)
                if refusals >= AUTH_REFUSALS and not accepted:
                    self._give_up(
                        f"the venue refused our credentials {refusals} times in a row ({refused})"
                    )
                    return
                continue
            accepted = accepted or self.signed_in()
            if not self.stream_up():
                # Opened, but never came up: an attempt that failed, not a reconnect.
                log.warning("%s stream: attempt %d did not come up", self.venue, attempt)
                continue
            refusals = 0
            down_told = False
            if opened_before:
                log.info(
                    "%s stream reconnected (attempt %d): %s", self.venue, attempt, cause or lost
                )
                self.sink(
                    feed_status.reconnected(
                        self.clock(),
                        self.venue,
                        self.account,
                        stream=self.stream,
                        reason=cause or lost,
                        attempt=attempt,
                    )
                )
            else:
                # No reconnect, but no run listened before this one: a stream the journal
                # last heard was down (a run stopped mid-gap, or killed) is up again now,
                # and what it missed is unknown until the re-sync below.
                log.info("%s stream connected", self.venue)
                self.sink(
                    feed_status.connected(
                        self.clock(), self.venue, self.account, stream=self.stream
                    )
                )
            self.resync()

    def _await_up(self) -> str | None:
        """Wait until the stream just opened is up, or lost, or refused; the refusal if so."""
        deadline = UP_WAIT_S / 0.05
        while deadline > 0 and not self.stopping.is_set():
            refused = self.auth_refused()
            if refused is not None:
                return refused
            if self.stream_up() or self.stream_lost() is not None:
                return None
            self.stopping.wait(0.05)
            deadline -= 1
        return None

    def _give_up(self, why: str) -> None:
        self.failure = f"{self.venue}/{self.account}: {why}"
        log.error("%s", self.failure)
        self.stopping.set()
        self.close_stream()
        self.gave_up(self.failure)

    def _poll(self) -> None:
        interval = self.poll_interval_s
        while not self.stopping.wait(interval):
            # Back off while the venue says we ask too often; back to the interval after.
            limited = self.resync()
            interval = min(interval * 2, MAX_POLL_BACKOFF_S) if limited else self.poll_interval_s
