"""Manual close: the exchange shows flat a key the trading system still holds open (LIVE).

Someone closed it by hand, a stop-loss or take-profit fired, it was liquidated or
deleveraged, or the contract was delivered. Each local position on the key is reported
closed, with the reason (domain/exits.py) the last fill on its symbol and closing side
shows (within CAUSE_WITHIN_MS): its execution kind (LIQUIDATION, ADL, DELIVERY), the bot's
own TP or SL order, or who placed the order (the venue's TP/SL, liquidation or ADL engine,
a close from its position panel); an order the bot never placed is MANUAL. Where nothing
shows it, STOP_LOSS when its TP1 had not filled, else EXCHANGE_CLOSED. It is closed in
trueup's view from then on; the losses also cool the symbol down, for as long as the rules
say for that reason.
"""

from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, CooldownStarted, Emitted, PositionClosed
from trueup.domain.events import ExecutionsReported, Fill, InputEvent
from trueup.domain.exits import exit_reason
from trueup.domain.keys import PositionKey
from trueup.domain.position import LocalPosition, Position
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, LetGo
from trueup.domain.vocabulary import CLOSING_SIDE, ExecutionKind, OrderSide

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
    # (category, symbol, side) -> the last fill there on that side, and when it came: a
    # close is explained by a fill on its closing side, never by the fill that opened it.
    last_fills: dict[tuple[str, str, OrderSide | None], tuple[Fill, int]] = field(
        default_factory=dict
    )

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Remember the LIVE local positions the exchange now shows on their side, and the
        last fill on each symbol (what may explain a close)."""
        if isinstance(event, ExecutionsReported):
            last_fills = self.last_fills
            for fill in event.fills:
                if fill.kind is ExecutionKind.FUNDING:
                    continue
                # The latest by the venue's clock, not in the order listed: a catch-up page
                # (Bybit's /v5/execution/list) lists the newest first.
                side = (fill.category, fill.symbol, fill.side)
                kept = last_fills.get(side)
                if kept is None or fill.exec_time >= kept[0].exec_time:
                    last_fills[side] = (fill, event.at)
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
        # With the legs of trueup's own the exchange closed: the book closed them itself
        # (their close is in the inputs alone), and they are reported closed like any other.
        closing = position.live_open
        if book.legs:
            closing = (*closing, *book.legs_closed(key))
        for local in closing:
            pid = local.position_id
            # Only a position the exchange once showed can have been closed there; one it
            # never showed is a stale record (rules/stale.py).
            if pid not in self.confirmed or pid in self.closed_reported:
                continue
            self.closed_reported.add(pid)
            # Plain text, as stored: an event's id is minted from its fields' reprs.
            exit_reason = self._exit_reason(book, local, cause.at)
            emitted.append(
                PositionClosed(**cause.on(key), position_id=pid, exit_reason=exit_reason)
            )
            # Reported closed, held closed: the bot's own close that follows changes nothing,
            # and a later position on the key is one it does not track. (A leg of trueup's
            # own is closed already.)
            book.close_local(pid, exit_reason, cause.at)
            cooldown_ms = config.cooldown_for(exit_reason)
            if cooldown_ms:
                until = cause.at + cooldown_ms
                if self.cooldowns.get(key.symbol, 0) < until:
                    self.cooldowns[key.symbol] = until
                    reason = f"{exit_reason} on {pid}"
                    emitted.append(CooldownStarted(**cause.on(key), until=until, reason=reason))
        return emitted

    def _exit_reason(self, book: AccountBook, local: LocalPosition, at: int) -> str:
        """Why the exchange closed it (domain/exits.py), judged by the last fill on its
        closing side (or of no side), if one came within CAUSE_WITHIN_MS."""
        key = local.key
        found = [
            seen
            for side in (CLOSING_SIDE[local.side], None)
            if (seen := self.last_fills.get((key.category, key.symbol, side))) is not None
            and at - seen[1] <= CAUSE_WITHIN_MS
        ]
        fill = max(found, key=lambda seen: seen[1])[0] if found else None
        return exit_reason(book, key, fill, (local.position_id,))
