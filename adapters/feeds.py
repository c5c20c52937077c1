"""Several feeds of one account run as one: its own stream and its public price stream."""

from collections.abc import Callable

from trueup.adapters.feed import Feed, Sink


class Feeds:
    """The Feed protocol over ``feeds`` (the first says the venue and account)."""

    def __init__(self, *feeds: Feed) -> None:
        if not feeds:
            raise ValueError("Feeds needs at least one feed")
        self.feeds = feeds
        self.venue = feeds[0].venue
        self.account = feeds[0].account

    @property
    def failure(self) -> str | None:
        return next((f.failure for f in self.feeds if f.failure is not None), None)

    def start(self, sink: Sink, gave_up: Callable[[str], object] = lambda _why: None) -> None:
        for feed in self.feeds:
            feed.start(sink, gave_up)

    def stop(self) -> None:
        for feed in self.feeds:
            feed.stop()

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        for feed in self.feeds:
            feed.resume_after(at, symbols)
