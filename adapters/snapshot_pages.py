"""A position list that is a whole snapshot run in one reply (no cursor pagination)."""

from trueup.domain.events import SnapshotPage


def whole_run(
    category: str, symbol: str | None, server_time: int, forms: tuple[str, ...] = ()
) -> SnapshotPage:
    """The page of a reply that lists every position of ``category`` (or of ``symbol``) at
    once: its first page and its last; ``forms``, the names it lists (() : every name)."""
    return SnapshotPage(
        category=category,
        symbol=symbol,
        settle_coin=None,
        cursor="",
        next_cursor="",
        server_time=server_time,
        symbol_forms=() if symbol else forms,
    )
