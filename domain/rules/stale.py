"""Stale local records: positions the trading system holds open that the exchange does not.

PAPER_LEFTOVER: a PAPER or BACKTEST position still OPEN while the account trades LIVE.
NEVER_ON_EXCHANGE: a LIVE position the exchange never showed, although complete snapshots
covered its key for longer than the grace period.
"""

from collections.abc import Iterable

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, Emitted, StalePosition
from trueup.domain.events import PositionsReported
from trueup.domain.keys import PositionKey
from trueup.domain.position import LocalPosition
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.memory import Memory


def paper_leftovers(
    book: AccountBook, memory: Memory, keys: Iterable[PositionKey], cause: Cause
) -> list[Emitted]:
    if book.mode != "LIVE":
        return []
    emitted: list[Emitted] = []
    for key in keys:
        for local in book.positions[key].open_local():
            if local.mode != "LIVE" and local.position_id not in memory.stale_reported:
                emitted.append(_stale(local, "PAPER_LEFTOVER", cause))
                memory.stale_reported.add(local.position_id)
    return emitted


def note_snapshot(book: AccountBook, memory: Memory, event: PositionsReported) -> None:
    """Start the clock on LIVE positions a complete snapshot shows nothing for."""
    for key in book.covered_keys(event):
        position = book.positions.get(key)
        if position is None or position.exchange_qty != 0:
            continue
        for local in position.open_local():
            pid = local.position_id
            # A limit entry resting on the book is not yet a position: not stale.
            if local.mode == "LIVE" and pid not in memory.confirmed and not book.entry_resting(pid):
                memory.unseen_since.setdefault(pid, event.at)


def never_on_exchange(
    book: AccountBook, memory: Memory, config: RuleConfig, cause: Cause
) -> list[Emitted]:
    emitted: list[Emitted] = []
    for pid, since in list(memory.unseen_since.items()):
        local = book.local_position(pid)
        if local is None or not local.is_open or pid in memory.confirmed or book.entry_resting(pid):
            del memory.unseen_since[pid]
        elif cause.at - since >= config.stale_grace_ms:
            del memory.unseen_since[pid]
            if pid not in memory.stale_reported:
                memory.stale_reported.add(pid)
                emitted.append(_stale(local, "NEVER_ON_EXCHANGE", cause))
    return emitted


def is_stale(book: AccountBook, memory: Memory, local: LocalPosition) -> str | None:
    """Why an open local position is stale now, or None."""
    if not local.is_open:
        return None
    if local.mode != "LIVE":
        return "PAPER_LEFTOVER" if book.mode == "LIVE" else None
    if local.position_id in memory.stale_reported and local.position_id not in memory.confirmed:
        return "NEVER_ON_EXCHANGE"
    return None


def _stale(local: LocalPosition, reason: str, cause: Cause) -> StalePosition:
    return StalePosition(
        **cause.on(local.key), position_id=local.position_id, reason=reason, mode=local.mode
    )
