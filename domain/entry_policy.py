"""The entry policy (seed 001), for the accounts that opt in: an ENTRY the venue has not
filled in time is cancelled and repriced towards the market, a few times, then sent as a
market order; a partial fill that stalls is treated the same for what remains.

Each step is two-phase, so it can never buy twice what the bot asked for: the step's event
(ENTRY_REPRICED, ENTRY_RETRIED, ENTRY_FALLBACK_MARKET) asks the executor to cancel the
order working now; only once the venue reports that order ended is the replacement
requested (ORDER_REQUESTED), for what the venue says remains unfilled.
"""

from dataclasses import dataclass
from decimal import Decimal

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import (
    AboutOrder,
    Cause,
    Emitted,
    EntryAbandoned,
    EntryFallbackMarket,
    EntryRepriced,
    EntryRetried,
    EntryStep,
    OrderRequested,
)
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    OrderCancelled,
    OrderPlaced,
    OrderPlacementReported,
    OrdersReported,
)
from trueup.domain.keys import PositionKey
from trueup.domain.order import Order
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes, LetGo
from trueup.domain.vocabulary import OrderAction, OrderSide, PlacementOutcome

BPS = Decimal(10_000)
ZERO = Decimal(0)


@dataclass(slots=True)
class Replacement:
    """A step under way: the order working now is being cancelled, to be replaced."""

    decision_id: str  # the step event's id
    price: Decimal | None  # the replacement's limit; None: market
    requested: bool = False  # the replacement has been requested (the old order ended)


@dataclass(slots=True)
class Entry:
    """One ENTRY the policy works, through the chain of orders that replace it."""

    entry_client_order_id: str
    key: PositionKey
    side: OrderSide
    qty: Decimal  # what the bot asked for
    price: Decimal | None  # the working order's limit
    current: str  # the client order id of the order working now ("" while one is placed)
    since: int  # when it started working (its placement), input time
    progress_at: int  # when its fills last moved
    seen_filled: Decimal = ZERO  # what the working order had filled when last looked at
    filled_before: Decimal = ZERO  # what the ended orders of the chain filled
    retries: int = 0
    replacing: Replacement | None = None


class EntryPolicy(Detector):
    """The ENTRY orders of one account the policy works, by the bot's client order id."""

    __slots__ = ("entries",)

    def judged(self) -> EventTypes:
        return (
            OrderPlaced,
            OrderCancelled,
            OrderPlacementReported,
            OrdersReported,
            ExecutionsReported,
        )

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        if isinstance(event, OrderPlaced):
            if event.purpose == "ENTRY" and config.entry_policy_for(event.venue, event.account):
                self._track(book, event)
            return []
        if not self.entries:
            return []
        if isinstance(event, OrderCancelled):
            # The bot withdrew its own ENTRY: never work on against its word.
            self.entries.pop(event.client_order_id, None)
            return []
        if isinstance(event, OrderPlacementReported):
            return self._placed(book, event, cause)
        if isinstance(event, OrdersReported | ExecutionsReported):
            return self._reported(book, cause)
        return []

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        if not self.entries:
            return []  # asked on every input: most have no ENTRY under the policy
        if not config.entry_policy_for(book.venue, book.account):
            # The operator took the account out of the policy: it acts on nothing more.
            self.entries.clear()
        emitted: list[Emitted] = []
        for name in sorted(self.entries):
            entry = self.entries[name]
            if entry.replacing is not None or not entry.current:
                continue
            order = book.order_by_client_id(entry.current)
            if order is None or order.is_terminal or order.report is None:
                continue  # not (yet) on the venue, or ended: _reported settles it
            emitted += self._judge(book, entry, order, cause, config)
        return emitted

    def forget(self, let_go: LetGo) -> None:
        for link in let_go.intents:
            self.entries.pop(link, None)

    def _track(self, book: AccountBook, event: OrderPlaced) -> None:
        key = book.key(event.category, event.symbol, 0)
        self.entries.setdefault(
            event.client_order_id,
            Entry(
                event.client_order_id,
                key,
                event.side,
                event.qty,
                event.price,
                event.client_order_id,
                event.at,
                event.at,
            ),
        )

    def _judge(
        self, book: AccountBook, entry: Entry, order: Order, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        filled = order.filled_qty
        if filled != entry.seen_filled:
            entry.seen_filled, entry.progress_at = filled, cause.at
        if filled == 0:
            waited = cause.at - entry.since
            if waited < config.entry_timeout_ms:
                return []
            why = f"nothing filled after {waited} ms"
        else:
            waited = cause.at - entry.progress_at
            if waited < config.entry_partial_fill_timeout_ms:
                return []
            why = f"filled {filled} of {entry.qty - entry.filled_before}, no fill for {waited} ms"
        return [self._step(book, entry, order, cause, config=config, why=why, partial=filled > 0)]

    def _step(
        self,
        book: AccountBook,
        entry: Entry,
        order: Order,
        cause: Cause,
        *,
        config: RuleConfig,
        why: str,
        partial: bool,
    ) -> Emitted:
        report = order.report
        assert report is not None
        # The venue's word on the leg: the intent names no positionIdx.
        entry.key = book.key(report.category, report.symbol, report.position_idx)
        placed = book.placed.get(entry.entry_client_order_id)
        about = AboutOrder(
            **cause.on(entry.key),
            venue_order_id=order.venue_order_id,
            client_order_id=entry.current,
            position_id=placed.position_id if placed is not None else None,
        )
        base = report.price or entry.price
        if entry.retries < config.entry_max_retries and base:
            towards = 1 if entry.side is OrderSide.BUY else -1
            price = base * (1 + towards * config.entry_reprice_bps / BPS)
            kind: type[EntryStep] = EntryRetried if partial else EntryRepriced
            reason = f"{why}: repriced {config.entry_reprice_bps} bps from {base} to {price}"
        elif config.entry_fallback_market:
            price, kind = None, EntryFallbackMarket
            reason = f"{why}, {entry.retries} reprices spent: the rest at market"
        else:
            return self._abandon(
                entry, cause, f"{why}, {entry.retries} reprices spent and no market fallback"
            )
        entry.retries += 1
        step = kind(
            **about,
            entry_client_order_id=entry.entry_client_order_id,
            retry=entry.retries,
            price=price,
            reason=reason,
        )
        entry.replacing = Replacement(step.event_id, price)
        return step

    def _reported(self, book: AccountBook, cause: Cause) -> list[Emitted]:
        """Entries whose working order has ended: done, or replaced if a step awaits it."""
        emitted: list[Emitted] = []
        for name in sorted(self.entries):
            entry = self.entries[name]
            if not entry.current:
                continue
            order = book.order_by_client_id(entry.current)
            if order is None or not order.is_terminal:
                continue
            filled = entry.filled_before + order.filled_qty
            left = entry.qty - filled
            replacing = entry.replacing
            if left <= 0 or replacing is None:
                # Filled, or ended by someone else (the bot, the venue): not ours to redo.
                del self.entries[name]
                continue
            entry.filled_before, entry.current = filled, ""
            replacing.requested = True
            emitted.append(self._request(entry, replacing, left, cause))
        return emitted

    def _abandon(self, entry: Entry, cause: Cause, reason: str) -> EntryAbandoned:
        del self.entries[entry.entry_client_order_id]
        return EntryAbandoned(
            **cause.on(entry.key),
            venue_order_id="",
            client_order_id=entry.current,
            position_id=None,
            entry_client_order_id=entry.entry_client_order_id,
            reason=reason,
        )

    def _request(
        self, entry: Entry, replacing: Replacement, left: Decimal, cause: Cause
    ) -> OrderRequested:
        market = replacing.price is None
        return OrderRequested(
            **cause.on(entry.key),
            trigger_id="",
            decision_id=replacing.decision_id,
            order_side=entry.side.value,
            order_position_idx=entry.key.position_idx,
            quantity=left,
            reduce_only=False,
            requested_by="entry policy",
            price=entry.price,
            order_type="market" if market else "limit",
            limit_price=replacing.price,
            entry_client_order_id=entry.entry_client_order_id,
        )

    def _placed(
        self, book: AccountBook, event: OrderPlacementReported, cause: Cause
    ) -> list[Emitted]:
        """The cancel of a step, or its replacement's placement: it works on under its own
        id, or the entry ends."""
        entry = next(
            (
                e
                for e in self.entries.values()
                if e.replacing is not None and e.replacing.decision_id == event.decision_id
            ),
            None,
        )
        if entry is None or entry.replacing is None:
            return []
        replacing = entry.replacing
        refused = event.outcome is PlacementOutcome.REFUSED
        if event.action is OrderAction.CANCEL:
            if not refused or replacing.requested:
                return []  # its end, reported by the venue, brings the replacement
            # Not cancelled: the order may still fill, so nothing may replace it.
            held = book.order_by_client_id(entry.current)
            if held is not None and held.is_terminal:
                return self._reported(book, cause)
            return [self._abandon(entry, cause, f"the cancel was refused: {event.reason}")]
        if not replacing.requested:
            return []
        if refused and book.order_by_client_id(event.client_order_id) is None:
            entry.current = event.client_order_id
            return [
                self._abandon(entry, cause, f"the venue refused the replacement: {event.reason}")
            ]
        entry.current, entry.since, entry.progress_at = event.client_order_id, event.at, event.at
        entry.price = replacing.price
        entry.seen_filled, entry.replacing = ZERO, None
        # Its reports may have come before the placement report did.
        return self._reported(book, cause)
