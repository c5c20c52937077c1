"""Stale local records: positions the trading system holds open that the exchange does not.

PAPER_LEFTOVER: a PAPER or BACKTEST position still OPEN while the account trades LIVE.
NEVER_ON_EXCHANGE: a LIVE position the exchange never showed, although complete snapshots
covered its key for longer than the grace period.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, StalePosition
from trueup.domain.events import (
    AccountModeSet,
    InputEvent,
    LocalPositionOpened,
    PositionsReported,
)
from trueup.domain.keys import PositionKey
from trueup.domain.position import LocalPosition
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes, LetGo
from trueup.domain.rules.manual_close import ManualCloseDetector


@dataclass(slots=True, eq=False)
class StaleDetector(Detector):
    """Since when complete snapshots have shown nothing for each LIVE local position, and
    which positions were reported stale."""

    def noted(self) -> EventTypes:
        return (PositionsReported,)

    def judged(self) -> EventTypes:
        return (AccountModeSet, LocalPositionOpened)

    # Whether the exchange ever showed a position is the manual-close rule's to know: one
    # it showed and no longer holds was closed there, not stale.
    closes: ManualCloseDetector
    # position_id -> first time a snapshot covered its key and showed nothing there.
    unseen_since: dict[str, int] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Start the clock on LIVE positions a complete snapshot shows nothing for."""
        if not isinstance(event, PositionsReported):
            return
        for key in book.covered_keys(event):
            position = book.positions.get(key)
            if position is None or position.exchange_qty != 0:
                continue
            for local in position.live_open:
                pid = local.position_id
                # A limit entry resting on the book is not yet a position: not stale.
                if not self.closes.is_confirmed(pid) and not book.entry_resting(pid):
                    self.unseen_since.setdefault(pid, event.at)

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        if isinstance(event, AccountModeSet):
            return self._paper_leftovers(book, sorted(book.positions), cause)
        if isinstance(event, LocalPositionOpened):
            return self._paper_leftovers(book, sorted(changed), cause)
        return []

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """NEVER_ON_EXCHANGE for each position unseen for the grace period, once."""
        if not self.unseen_since:
            return []  # asked on every input: most have no position unseen
        emitted: list[Emitted] = []
        for pid, since in list(self.unseen_since.items()):
            local = book.local_position(pid)
            if (
                local is None
                or not local.is_open
                or self.closes.is_confirmed(pid)
                or book.entry_resting(pid)
            ):
                del self.unseen_since[pid]
            elif cause.at - since >= config.stale_grace_ms:
                del self.unseen_since[pid]
                if pid not in self.reported:
                    self.reported.add(pid)
                    emitted.append(_stale(local, "NEVER_ON_EXCHANGE", cause))
        return emitted

    def forget(self, let_go: LetGo) -> None:
        for position_id in let_go.locals:
            self.reported.discard(position_id)
            self.unseen_since.pop(position_id, None)

    def why(self, book: AccountBook, local: LocalPosition) -> str | None:
        """Why an open local position is stale now, or None."""
        if not local.is_open:
            return None
        if local.mode != "LIVE":
            return "PAPER_LEFTOVER" if book.mode == "LIVE" else None
        pid = local.position_id
        if pid in self.reported and not self.closes.is_confirmed(pid):
            return "NEVER_ON_EXCHANGE"
        return None

    def _paper_leftovers(
        self, book: AccountBook, keys: Iterable[PositionKey], cause: Cause
    ) -> list[Emitted]:
        if book.mode != "LIVE":
            return []
        emitted: list[Emitted] = []
        for key in keys:
            for local in book.positions[key].open_local():
                if local.mode != "LIVE" and local.position_id not in self.reported:
                    emitted.append(_stale(local, "PAPER_LEFTOVER", cause))
                    self.reported.add(local.position_id)
        return emitted


def _stale(local: LocalPosition, reason: str, cause: Cause) -> StalePosition:
    return StalePosition(
        **cause.on(local.key), position_id=local.position_id, reason=reason, mode=local.mode
    )
