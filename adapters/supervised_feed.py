"""A venue feed kept alive: neither pybit nor the Hyperliquid SDK reconnects reliably.

pybit gives up after its retries and a clean close from the server ends its stream without
a word; the Hyperliquid SDK never reconnects. So a supervisor thread watches the stream,
rebuilds it with backoff, says so (a feed line, which emits WS_RECONNECT), and re-syncs
over REST after every (re)connect, since neither venue sends a snapshot on subscribe. A
poller re-syncs every interval as the fallback, backing off while rate-limited.
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

    @abstractmethod
    def fetch_snapshots(self) -> bool:
        """Hand on positions and open orders by REST; says whether a rate limit was met."""

    # --- the Feed protocol ----------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self.sink = sink
        for name, target in (("stream", self._supervise), ("poll", self._poll)):
            thread = threading.Thread(target=target, name=f"{self.venue}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

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
            return self.fetch_snapshots()

    def _supervise(self) -> None:
        attempt = 0
        connected_once = False
        while not self.stopping.is_set():
            lost = self.stream_lost()
            if lost is None:
                attempt = 0
                self.stopping.wait(0.2)
                continue
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
            if connected_once:
                log.info("%s stream reconnected (attempt %d): %s", self.venue, attempt, lost)
                self.sink(
                    feed_status.reconnected(
                        self.clock(),
                        self.venue,
                        self.account,
                        stream=self.stream,
                        reason=lost,
                        attempt=attempt,
                    )
                )
            connected_once = True
            self.resync()

    def _poll(self) -> None:
        interval = self.poll_interval_s
        while not self.stopping.wait(interval):
            # Back off while the venue says we ask too often; back to the interval after.
            limited = self.resync()
            interval = min(interval * 2, MAX_POLL_BACKOFF_S) if limited else self.poll_interval_s
