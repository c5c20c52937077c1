"""Manual close: the exchange shows flat a key the trading system still holds open (LIVE).

Someone closed it by hand, a stop-loss or take-profit fired, it was liquidated or
deleveraged, or the contract was delivered. Each local position on the key is reported
closed, with the reason the last fill on its symbol shows (within CAUSE_WITHIN_MS): its
execution kind (LIQUIDATION, ADL, DELIVERY), the bot's own TP or SL order, or who placed the
order (the venue's TP/SL, liquidation or ADL engine, a close from its position panel); an
order the bot never placed is MANUAL. Where nothing shows it, STOP_LOSS when its TP1 had not
filled, else EXCHANGE_CLOSED. It is closed in trueup's view from then on; the losses also
cool the symbol down, for as long as the rules say for that reason.
"""

from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, CooldownStarted, Emitted, ExitReason, PositionClosed
from trueup.domain.events import ExecutionsReported, Fill, InputEvent
from trueup.domain.exits import shown_by
from trueup.domain.keys import PositionKey
from trueup.domain.position import Position
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, LetGo
from trueup.domain.vocabulary import ExecutionKind

# How long after a fill a close is taken to be that fill's doing.
CAUSE_WITHIN_MS = 60_000


@dataclass(slots=True, eq=False)
class ManualCloseDetector(Detector):
    """Which LIVE local positions the exchange has shown, which were closed there, and the
    cooldowns their stop-losses started."""

    # position_id of LIVE local positions the exchange has shown (so a flat key is a close).
    confirmed: set[str] = field(default_factory=set)
    closed_reported: set[str] = field(default_factory=set)
    # symbol -> end of its cooldown (epoch ms).
    cooldowns: dict[str, int] = field(default_factory=dict)
    # (category, symbol) -> the last fill there that moved a position, and when it came.
    last_fills: dict[tuple[str, str], tuple[Fill, int]] = field(default_factory=dict)

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Remember the LIVE local positions the exchange now shows on their side, and the
        last fill on each symbol (what may explain a close)."""
        if isinstance(event, ExecutionsReported):
            for fill in event.fills:
                if fill.kind is not ExecutionKind.FUNDING:
                    self.last_fills[(fill.category, fill.symbol)] = (fill, event.at)
        positions = book.positions
        for key in sorted(changed):  # sorted: the set is then built the same way every time
            self.confirm_shown(positions[key])

    def confirm_shown(self, position: Position) -> None:
        """Confirm the LIVE local positions of ``position`` the exchange shows on their side."""
        live = position.live_open
        if not live:
            return
        qty = position.exchange_qty
        if qty == 0:
            return
        held, confirmed = qty > 0, self.confirmed
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
            # Plain text, as stored: an event's id is minted from its fields' reprs.
            exit_reason = self._exit_reason(book, key, pid, cause.at).value
            emitted.append(
                PositionClosed(**cause.on(key), position_id=pid, exit_reason=exit_reason)
            )
            # Reported closed, held closed: the bot's own close that follows changes nothing,
            # and a later position on the key is one it does not track.
            book.close_local(pid, exit_reason, cause.at)
            cooldown_ms = config.cooldown_for(exit_reason)
            if cooldown_ms:
                until = cause.at + cooldown_ms
                if self.cooldowns.get(key.symbol, 0) < until:
                    self.cooldowns[key.symbol] = until
                    reason = f"{exit_reason} on {pid}"
                    emitted.append(CooldownStarted(**cause.on(key), until=until, reason=reason))
        return emitted

    def _exit_reason(self, book: AccountBook, key: PositionKey, pid: str, at: int) -> ExitReason:
        """Why the exchange closed it, as the last fill on its symbol shows; the seeds' rule
        where nothing does."""
        found = self.last_fills.get((key.category, key.symbol))
        if found is not None and at - found[1] <= CAUSE_WITHIN_MS:
            shown = shown_by(book, found[0])
            if shown is not None:
                return shown
        if book.tp1_state(pid) != "FILLED":
            return ExitReason.STOP_LOSS
        return ExitReason.EXCHANGE_CLOSED
