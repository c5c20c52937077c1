"""Manual close: the exchange shows flat a key the trading system still holds open (LIVE).

Someone closed it by hand, a stop-loss fired, or it was liquidated. Each local position on
the key is reported closed, STOP_LOSS when its TP1 had not filled, else EXCHANGE_CLOSED, and is
closed in trueup's view from then on; a stop-loss also cools the symbol down.
"""

from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, CooldownStarted, Emitted, PositionClosed
from trueup.domain.events import InputEvent
from trueup.domain.keys import PositionKey
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, LetGo


@dataclass(slots=True, eq=False)
class ManualCloseDetector(Detector):
    """Which LIVE local positions the exchange has shown, which were closed there, and the
    cooldowns their stop-losses started."""

    # position_id of LIVE local positions the exchange has shown (so a flat key is a close).
    confirmed: set[str] = field(default_factory=set)
    closed_reported: set[str] = field(default_factory=set)
    # symbol -> end of its cooldown (epoch ms).
    cooldowns: dict[str, int] = field(default_factory=dict)

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Remember the LIVE local positions the exchange now shows on their side."""
        positions, confirmed = book.positions, self.confirmed
        for key in sorted(changed):  # sorted: the set is then built the same way every time
            position = positions[key]
            live = position.live_open
            if not live:
                continue
            qty = position.exchange_qty
            if qty == 0:
                continue
            held = qty > 0
            for local in live:
                pid = local.position_id
                if pid not in confirmed and held == (local.signed_qty > 0):
                    confirmed.add(pid)

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        emitted: list[Emitted] = []
        for key in sorted(changed):
            emitted += self._closed(book, config, key, cause)
        return emitted

    def forget(self, let_go: LetGo) -> None:
        for position_id in let_go.locals:
            self.confirmed.discard(position_id)
            self.closed_reported.discard(position_id)

    def is_confirmed(self, position_id: str) -> bool:
        """Whether the exchange has shown this LIVE local position on its side."""
        return position_id in self.confirmed

    def cooldown_until(self, symbol: str) -> int | None:
        """When the last cooldown started on ``symbol`` ends (epoch ms), if one ever did."""
        return self.cooldowns.get(symbol)

    def _closed(
        self, book: AccountBook, config: RuleConfig, key: PositionKey, cause: Cause
    ) -> list[Emitted]:
        position = book.positions[key]
        if position.exchange is None or position.exchange.size != 0:
            return []
        emitted: list[Emitted] = []
        for local in position.live_open:
            pid = local.position_id
            # Only a position the exchange once showed can have been closed there; one it
            # never showed is a stale record (rules/stale.py).
            if pid not in self.confirmed or pid in self.closed_reported:
                continue
            self.closed_reported.add(pid)
            stop_loss = book.tp1_state(pid) != "FILLED"
            exit_reason = "STOP_LOSS" if stop_loss else "EXCHANGE_CLOSED"
            emitted.append(
                PositionClosed(**cause.on(key), position_id=pid, exit_reason=exit_reason)
            )
            # Reported closed, held closed: the bot's own close that follows changes nothing,
            # and a later position on the key is one it does not track.
            book.close_local(pid, exit_reason, cause.at)
            if stop_loss and config.cooldown_enabled:
                until = cause.at + config.cooldown_ms
                if self.cooldowns.get(key.symbol, 0) < until:
                    self.cooldowns[key.symbol] = until
                    emitted.append(
                        CooldownStarted(**cause.on(key), until=until, reason=f"STOP_LOSS on {pid}")
                    )
        return emitted
