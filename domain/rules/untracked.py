"""Untracked: the exchange holds a key no LIVE local position maps to (lost local state)."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, Emitted, UntrackedPosition
from trueup.domain.keys import PositionKey
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector


def is_untracked(book: AccountBook, key: PositionKey) -> bool:
    position = book.positions[key]
    return not position.live_open and position.exchange_qty != 0


@dataclass(slots=True, eq=False)
class UntrackedDetector(Detector):
    """Per key: since when the exchange has held it untracked, and whether that was told."""

    since: dict[PositionKey, int] = field(default_factory=dict)
    reported: set[PositionKey] = field(default_factory=set)

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        if not is_untracked(book, key):
            self.since.pop(key, None)
            self.reported.discard(key)
            return []
        since = self.since.setdefault(key, cause.at)
        if cause.at - since < config.untracked_grace_ms or key in self.reported:
            return []
        self.reported.add(key)
        return [UntrackedPosition(**cause.on(key), exchange_qty=book.positions[key].exchange_qty)]

    def due(self, key: PositionKey, config: RuleConfig) -> int | None:
        """When UNTRACKED_POSITION is told for a key still in its grace; None once told, or
        for a key never judged untracked."""
        since = self.since.get(key)
        if since is None or key in self.reported:
            return None
        return since + config.untracked_grace_ms

    def waiting(self) -> Iterable[PositionKey]:
        # Once told, only a change of the key (judged as it comes) can end it: re-judging
        # it on every input would also rewrite its views every time.
        return self.since.keys() - self.reported if self.since else ()
