"""Manual close: the exchange shows flat a key the trading system still holds open (LIVE).

Someone closed it by hand, a stop-loss or take-profit fired, it was liquidated or
deleveraged, or the contract was delivered. Each local position on the key is reported
closed, with the reason (domain/exits.py) the last fill on its leg and closing side shows
(within CAUSE_WITHIN_MS, and since it opened): its execution kind (LIQUIDATION, ADL,
DELIVERY), the bot's own TP or SL order, or who placed the order (the venue's TP/SL,
liquidation or ADL engine, a close from its position panel); an order the bot never placed
is MANUAL. Where nothing shows it, STOP_LOSS when its TP1 had not filled, else
EXCHANGE_CLOSED. It is closed in trueup's view from then on; the losses also cool the symbol
down, for as long as the rules say for that reason.

The exchange's position and its fills come by different roads (a REST poll, a stream's
position and execution topics, which Bybit does not order between them): a key can read
flat before the fill that closed it has come in. A close no fill explains yet is awaited
for the rules' ``close_cause_grace_ms``: reported as soon as a fill that explains it comes,
with that fill's reason, or at the first input of the account (a clock tick too) once the
grace has passed, with the seeds' rule. One the bot or an operator closes meanwhile, or
that the exchange shows held again on its side, is not reported at all.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, CooldownStarted, Emitted, PositionClosed
from trueup.domain.events import ExecutionsReported, Fill, InputEvent
from trueup.domain.exits import exit_reason as exit_reason_of
from trueup.domain.keys import PositionKey
from trueup.domain.legs import leg_index
from trueup.domain.position import ZERO, LocalPosition, Position
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
    # (category, symbol, leg, side) -> the last fill there on that side, and when it came:
    # a close is explained by a fill of its own leg on its closing side, never by the fill
    # that opened it (nor, in hedge mode, by one that opened the other leg).
    last_fills: dict[tuple[str, str, int, OrderSide | None], tuple[Fill, int]] = field(
        default_factory=dict
    )
    # position_id -> (its key, when the exchange showed the key flat): closes no fill
    # explained yet, awaiting their cause for close_cause_grace_ms. In the order they were
    # seen, which a replay repeats: the order they are reported in.
    awaiting: dict[str, tuple[PositionKey, int]] = field(default_factory=dict)
    # The book's clock from which last_fills is next swept of the fills too old to explain
    # a close (``_oldest_kept``): once a tenth of the window, not on every input.
    next_sweep: int = 0

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        """Remember the LIVE local positions the exchange now shows on their side, and the
        last fill on each symbol (what may explain a close)."""
        if book.clock >= self.next_sweep:
            self._sweep(book)
        if isinstance(event, ExecutionsReported):
            last_fills = self.last_fills
            for fill in event.fills:
                if fill.kind is ExecutionKind.FUNDING:
                    continue
                # The latest by the venue's clock, not in the order listed: a catch-up page
                # (Bybit's /v5/execution/list) lists the newest first.
                side = (fill.category, fill.symbol, leg_index(book, fill), fill.side)
                kept = last_fills.get(side)
                if kept is None or fill.exec_time >= kept[0].exec_time:
                    last_fills[side] = (fill, event.at)
            if book.pnl.held:
                self._confirm_held(book)
        positions = book.positions
        for key in sorted(changed):  # sorted: the set is then built the same way every time
            self.confirm_shown(positions[key])

    def confirm_shown(self, position: Position) -> None:
        """Confirm the LIVE local positions of ``position`` the exchange shows on their side."""
        live = position.live_open
        if not live:
            return
        qty = position.exchange_qty
        if qty == ZERO:  # a decimal zero: an integer one would be made a decimal each time
            return
        held, confirmed = qty > ZERO, self.confirmed
        for local in live:
            pid = local.position_id
            if pid not in confirmed and held == (local.signed_qty > ZERO):
                confirmed.add(pid)

    def _confirm_held(self, book: AccountBook) -> None:
        """Confirm the LIVE local positions of the lifecycles the fills just took flat on
        their side: the venue held them, though no report showed it (a position opened and
        closed while nobody listened is a close, not a stale record)."""
        confirmed = self.confirmed
        for side, opened_at, pids in book.pnl.held:
            for pid in pids:
                if pid in confirmed:
                    continue
                local = book.local_position(pid)
                if (
                    local is not None
                    and local.is_open
                    and local.mode == "LIVE"
                    and local.side is side
                    # Claimed by the lifecycle's first fill: its own, not a later entry the
                    # lifecycle of an earlier one took in while it was held.
                    and local.opened_at <= opened_at
                ):
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

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        """The closes awaited on ``key``: reported once a fill explains them or their grace
        has passed; dropped if the bot or an operator closed them, or the exchange holds
        them again."""
        awaiting = self.awaiting
        if not awaiting:
            return []  # asked for every key judged: most find nothing awaited
        pids = [pid for pid, (k, _) in awaiting.items() if k == key]
        if not pids:
            return []
        position = book.positions[key]
        closing = {local.position_id: local for local in self._closing(book, key)}
        held = position.exchange_qty
        emitted: list[Emitted] = []
        for pid in pids:
            flat_at = awaiting[pid][1]
            local = closing.get(pid)
            if (
                local is None
                or pid in self.closed_reported
                or (held and (held > ZERO) == (local.signed_qty > ZERO))
            ):
                # Closed by the bot or an operator meanwhile (it knows, and said why), or
                # held again on its side (not closed after all): nothing to report.
                del awaiting[pid]
                continue
            fill = self._cause(book, local, cause.at)
            if fill is None and cause.at < flat_at + config.close_cause_grace_ms:
                continue
            del awaiting[pid]
            emitted += self._report(book, config, cause, local=local, fill=fill, flat_at=flat_at)
        return emitted

    def waiting(self) -> Iterable[PositionKey]:
        awaiting = self.awaiting
        if not awaiting:
            return ()
        return {key for key, _ in awaiting.values()}

    def forget(self, let_go: LetGo) -> None:
        for position_id in let_go.locals:
            self.confirmed.discard(position_id)
            self.closed_reported.discard(position_id)
            self.awaiting.pop(position_id, None)

    def is_confirmed(self, position_id: str) -> bool:
        """Whether the exchange has shown this LIVE local position on its side."""
        return position_id in self.confirmed

    def awaited_since(self, position_id: str) -> int | None:
        """When the exchange showed this local position's key flat, if its close awaits its
        cause still (not reported yet)."""
        found = self.awaiting.get(position_id)
        return None if found is None else found[1]

    def cooldown_until(self, symbol: str) -> int | None:
        """When the last cooldown started on ``symbol`` ends (epoch ms), if one ever did."""
        return self.cooldowns.get(symbol)

    def _closed(
        self, book: AccountBook, config: RuleConfig, key: PositionKey, cause: Cause
    ) -> list[Emitted]:
        position = book.positions[key]
        if position.exchange is None or position.exchange.size != ZERO:
            return []
        emitted: list[Emitted] = []
        awaiting = self.awaiting
        for local in self._closing(book, key):
            pid = local.position_id
            # Only a position the exchange once showed can have been closed there; one it
            # never showed is a stale record (rules/stale.py).
            if pid not in self.confirmed or pid in self.closed_reported or pid in awaiting:
                continue
            fill = self._cause(book, local, cause.at)
            if fill is None and config.close_cause_grace_ms > 0:
                # No fill says why yet: it may be on its way (on_key reports it).
                awaiting[pid] = (key, cause.at)
                continue
            emitted += self._report(book, config, cause, local=local, fill=fill, flat_at=cause.at)
        return emitted

    @staticmethod
    def _closing(book: AccountBook, key: PositionKey) -> tuple[LocalPosition, ...]:
        """The local positions on ``key`` a flat exchange closes."""
        # With the legs of trueup's own the exchange closed: the book closed them itself
        # (their close is in the inputs alone), and they are reported closed like any other.
        closing = book.positions[key].live_open
        if book.legs:
            closing = (*closing, *book.legs_closed(key))
        return closing

    def _report(
        self,
        book: AccountBook,
        config: RuleConfig,
        cause: Cause,
        *,
        local: LocalPosition,
        fill: Fill | None,
        flat_at: int,
    ) -> list[Emitted]:
        """POSITION_CLOSED for ``local``, its reason what ``fill`` shows (or the seeds' rule),
        and the cooldown that reason starts; reported on ``cause``, the key seen flat at
        ``flat_at``."""
        key, pid = local.key, local.position_id
        self.closed_reported.add(pid)
        # Plain text, as stored: an event's id is minted from its fields' reprs.
        exit_reason = exit_reason_of(book, key, fill, (pid,))
        emitted: list[Emitted] = [
            PositionClosed(**cause.on(key), position_id=pid, exit_reason=exit_reason)
        ]
        # Reported closed, held closed: the bot's own close that follows changes nothing,
        # and a later position on the key is one it does not track. (A leg of trueup's
        # own is closed already.)
        book.close_local(pid, exit_reason, cause.at)
        cooldown_ms = config.cooldown_for(exit_reason)
        if cooldown_ms:
            # From the close, not from its report: the exchange closed it when the key read
            # flat, and waiting to learn why must not lengthen the cooldown (nor make its end
            # hang on when the next input or tick comes). Reported at once, the same instant.
            until = flat_at + cooldown_ms
            if self.cooldowns.get(key.symbol, 0) < until:
                self.cooldowns[key.symbol] = until
                reason = f"{exit_reason} on {pid}"
                emitted.append(CooldownStarted(**cause.on(key), until=until, reason=reason))
        return emitted

    def _cause(self, book: AccountBook, local: LocalPosition, at: int) -> Fill | None:
        """The fill that explains the close of ``local`` judged at ``at``: the last of its
        leg on its closing side (or of no side), if one came within CAUSE_WITHIN_MS, and
        since ``local`` opened (one before closed what was held before it), and is not let
        go (``_oldest_kept``)."""
        key, oldest = local.key, max(_oldest_kept(book), local.opened_at)
        found = [
            seen
            for side in (CLOSING_SIDE[local.side], None)
            if (seen := self.last_fills.get((key.category, key.symbol, key.position_idx, side)))
            is not None
            and at - seen[1] <= CAUSE_WITHIN_MS
            and seen[1] >= oldest
        ]
        return max(found, key=lambda seen: seen[1])[0] if found else None

    def _sweep(self, book: AccountBook) -> None:
        """Let go of the fills ``_cause`` can no longer take, so that what is kept follows
        the symbols traded within the window, not every symbol ever traded."""
        oldest = _oldest_kept(book)
        last_fills = self.last_fills
        for side in [side for side, seen in last_fills.items() if seen[1] < oldest]:
            del last_fills[side]
        self.next_sweep = book.clock + max(_window(book) // 10, 1)


def _window(book: AccountBook) -> int:
    """How far behind the book's clock a fill is kept: the book's own window, and never
    less than the time a fill explains a close for."""
    return max(book.forget_after_ms, CAUSE_WITHIN_MS)


def _oldest_kept(book: AccountBook) -> int:
    """When the oldest fill that may still explain a close came: the book's window behind
    its clock, as the book keeps no finished order longer (domain/retention.py). Of the
    book's clock, which only moves on, when judging and when sweeping alike: so a fold lets
    go of a fill exactly when it could no longer take it, whichever fold (an audit's of one
    symbol too)."""
    return book.clock - _window(book)
