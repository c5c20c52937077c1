"""From when a feed asks a venue for what it pushed while nobody listened.

A venue's stream pushes a fill or an order's end once, to whoever listens then. After a
reconnect the feed asks for what happened since its last whole sync (before any, since the
stream was first opened); on a run's first sync, since the journal last heard from the
account (resume_after). Each less a margin, for a push lost just before; what is asked
twice is counted once (by trade id, order status).
"""

# How far before the last instant known heard the ask starts.
OVERLAP_MS = 60_000


class ResumePoint:
    """The instant the next sync asks from, if it must ask at all."""

    def __init__(self) -> None:
        self._opened_at: int | None = None  # when the stream was first opened
        self._synced_at: int | None = None  # when the last whole sync began
        self._since: int | None = None

    @property
    def since(self) -> int | None:
        """From when the next sync asks for fills and ended orders; None: it need not."""
        return self._since

    def resume_after(self, at: int) -> None:
        """The journal last heard from the account at ``at`` (a run starting)."""
        self._since = at - OVERLAP_MS

    def reconnecting(self, at: int) -> None:
        """The stream is being opened at ``at``; if again, what it pushed while down went to
        nobody. Before any whole sync, that is all since it was first opened: its frames may
        have shown a position the sync has yet to see closed (a stream lost before it came
        up, its first sync not begun)."""
        if self._opened_at is None:
            self._opened_at = at
            return
        if self._since is None:
            heard = self._opened_at if self._synced_at is None else self._synced_at
            self._since = heard - OVERLAP_MS

    def synced(self, began: int, asked_since: int | None) -> None:
        """A whole sync that began at ``began`` asked from ``asked_since``: done with it,
        unless a newer reconnect asked for more meanwhile."""
        self._synced_at = began
        if asked_since is not None and self._since == asked_since:
            self._since = None
