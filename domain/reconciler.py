"""The reconciler: folds every account's inputs and runs the rules on each, in order.

Pure: the same inputs always give the same emitted events, byte for byte, so a worker that
restarts rebuilds its state by replaying what it had already processed.
"""

from collections.abc import Iterable

from trueup.domain.book import AccountBook
from trueup.domain.emitted import Cause, Emitted, PositionCleaned, WsReconnect
from trueup.domain.events import (
    AccountModeSet,
    ClockTicked,
    ExecutionsReported,
    InputEvent,
    InputRejected,
    LocalPositionCleaned,
    LocalPositionOpened,
    OrderPlaced,
    OrdersReported,
    PositionsReported,
    RulesSet,
    StreamReconnected,
)
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.rules import drift, manual_close, orders, stale, sync, untracked
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.memory import Memory

Account = tuple[str, str]


class Reconciler:
    """Books and detector memory for every account seen; ``apply`` returns what to emit."""

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self.books: dict[Account, AccountBook] = {}
        self.memories: dict[Account, Memory] = {}

    def book(self, venue: str, account: str) -> AccountBook:
        found = self.books.get((venue, account))
        if found is None:
            found = self.books[(venue, account)] = AccountBook(
                venue, account, self.config.pagination_timeout_ms
            )
            self.memories[(venue, account)] = Memory()
        return found

    def memory(self, venue: str, account: str) -> Memory:
        self.book(venue, account)
        return self.memories[(venue, account)]

    def apply(self, event: InputEvent) -> list[Emitted]:
        """What to emit for one input; an input the rules cannot take emits nothing, and
        marks its account as one whose answers can no longer be vouched for."""
        try:
            return self._apply(event)
        except Exception as error:  # a worker never dies on one input, whatever it holds
            if event.venue:
                book = self.book(event.venue, event.account)
                book.fold_faults.append(f"input {event.input_id}: {type(error).__name__}")
            return []

    def _apply(self, event: InputEvent) -> list[Emitted]:
        cause = Cause(event.input_id, event.at)
        if isinstance(event, RulesSet):
            self._set_rules(event.rules)
            return []
        if isinstance(event, ClockTicked):
            # A tick for one account runs its timers; one naming no account, everyone's.
            accounts = [(event.venue, event.account)] if event.venue else sorted(self.books)
            return [
                e
                for account in accounts
                if account in self.books
                for e in self._timers(account, cause)
            ]
        if isinstance(event, InputRejected):
            if event.venue:
                self.book(event.venue, event.account).apply(event)
            return sync.rejected_input(event)
        if isinstance(event, StreamReconnected):
            reason = f"{event.stream} stream reconnected (attempt {event.attempt}): {event.reason}"
            return [WsReconnect(**cause.on_account(event.venue, event.account), reason=reason)]
        if not event.venue:
            return []
        account = (event.venue, event.account)
        book = self.book(*account)
        memory = self.memories[account]
        changed = book.apply(event)
        emitted: list[Emitted] = []
        if isinstance(event, LocalPositionCleaned) and changed:
            (key,) = changed
            emitted.append(
                PositionCleaned(
                    **cause.on(key),
                    position_id=event.position_id,
                    exit_reason=event.exit_reason,
                    operator=event.operator,
                )
            )
        for key in sorted(changed):
            manual_close.note_confirmations(book, memory, key)
        if isinstance(event, PositionsReported):
            emitted += sync.snapshot_page(book, event)
            stale.note_snapshot(book, memory, event)
        if isinstance(event, OrderPlaced):
            orders.on_placed(memory, self.config, event)
        if isinstance(event, OrdersReported | ExecutionsReported):
            emitted += orders.execution_reports(book, memory, _order_keys(event), cause)
        for key in sorted(changed):
            emitted += manual_close.manual_close(book, memory, self.config, key, cause)
        if isinstance(event, AccountModeSet):
            emitted += stale.paper_leftovers(book, memory, sorted(book.positions), cause)
        elif isinstance(event, LocalPositionOpened):
            emitted += stale.paper_leftovers(book, memory, sorted(changed), cause)
        emitted += self._positions(account, changed, cause)
        emitted += self._timers(account, cause, skip=changed)
        return emitted

    def _set_rules(self, rules: RuleConfig) -> None:
        """From now on, for every account; what was already decided (a cooldown's end) stays."""
        self.config = rules
        for book in self.books.values():
            book.snapshots.timeout_ms = rules.pagination_timeout_ms

    def _positions(
        self, account: Account, keys: Iterable[PositionKey], cause: Cause
    ) -> list[Emitted]:
        book, memory = self.books[account], self.memories[account]
        emitted: list[Emitted] = []
        for key in sorted(keys):
            emitted += drift.drift(book, memory, self.config, key, cause)
            emitted += untracked.untracked(book, memory, self.config, key, cause)
        return emitted

    def _timers(
        self, account: Account, cause: Cause, skip: Iterable[PositionKey] = ()
    ) -> list[Emitted]:
        """Rules waiting on time: re-check them now that the clock reads ``cause.at``."""
        book, memory = self.books[account], self.memories[account]
        armed = (set(memory.drift_since) | set(memory.untracked_since)) - set(skip)
        emitted = self._positions(account, armed, cause)
        emitted += stale.never_on_exchange(book, memory, self.config, cause)
        emitted += sync.snapshot_timeouts(book, cause)
        emitted += orders.order_timers(book, memory, self.config, cause)
        return emitted


def _order_keys(event: OrdersReported | ExecutionsReported) -> list[OrderKey]:
    if isinstance(event, OrdersReported):
        keys = [OrderKey(o.category, o.order_id) for o in event.orders]
    else:
        keys = [OrderKey(f.category, f.order_id) for f in event.fills if f.order_id]
    return list(dict.fromkeys(keys))


def reconcile(events: Iterable[InputEvent], config: RuleConfig | None = None) -> list[Emitted]:
    """Everything the rules emit for these inputs, in order."""
    reconciler = Reconciler(config)
    return [e for event in events for e in reconciler.apply(event)]
