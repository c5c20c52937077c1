"""Untracked: the exchange holds a key no LIVE local position maps to (lost local state)."""

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, Emitted, UntrackedPosition
from trueup.domain.keys import PositionKey
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.memory import Memory


def is_untracked(book: AccountBook, key: PositionKey) -> bool:
    position = book.positions[key]
    return position.exchange_qty != 0 and not any(p.mode == "LIVE" for p in position.open_local())


def untracked(
    book: AccountBook, memory: Memory, config: RuleConfig, key: PositionKey, cause: Cause
) -> list[Emitted]:
    if not is_untracked(book, key):
        memory.untracked_since.pop(key, None)
        memory.untracked_reported.discard(key)
        return []
    since = memory.untracked_since.setdefault(key, cause.at)
    if cause.at - since < config.untracked_grace_ms or key in memory.untracked_reported:
        return []
    memory.untracked_reported.add(key)
    return [UntrackedPosition(**cause.on(key), exchange_qty=book.positions[key].exchange_qty)]
