"""What a live venue feed is to the runner: something that, once started, hands it capture
records (DESIGN.md, "Capture files") as they arrive, from its own threads, until stopped."""

from collections.abc import Callable
from typing import Any, Protocol

Record = dict[str, Any]
Sink = Callable[[Record], None]
Clock = Callable[[], int]  # epoch milliseconds


class Feed(Protocol):
    venue: str
    account: str

    @property
    def failure(self) -> str | None:
        """Why the feed gave up for good (the venue refuses our credentials), once it has."""

    def start(self, sink: Sink, gave_up: Callable[[str], object] = lambda _why: None) -> None:
        """Connect and begin handing records to ``sink``; returns at once. ``gave_up`` is
        told why, should the feed stop for good by itself."""

    def stop(self) -> None:
        """Disconnect and stop every thread of the feed; returns once they have."""

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """The journal last heard from the account at ``at``, and knows it on ``symbols``:
        a feed that can ask the venue for what it pushed meanwhile (fills, ended orders)
        does so on its first sync, of those symbols too where the venue asks by symbol."""


class RestSnapshots(Protocol):
    """What asks a venue for an account's state over REST, once, on demand."""

    def fetch_once(self, sink: Sink) -> None:
        """Ask for the account's positions and open orders, and hand the replies to
        ``sink``; no stream, no thread. Returns once they are in."""
