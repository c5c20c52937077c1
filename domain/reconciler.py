"""The reconciler: folds every account's inputs and runs its detectors on each, in order.

Pure: the same inputs always give the same emitted events, byte for byte, so a worker that
restarts rebuilds its state by replaying what it had already processed.

On an input of an account, once its book has folded it, the account's detectors note what
it shows, all before any judges it (stale asks manual close whether the exchange ever showed
a position); then they judge it, then each key it changed. Then, as on a clock tick, the
timers: the keys any detector waits on are judged again, the detectors forget what the book
has let go, and the timed ones report what time has made due.

A change of rules (RulesSet) has every key of every account judged again under the new
rules, as though each had just changed: a threshold lowered is acted on at once, one raised
resolves what no longer breaks it; the timed rules read the rules in force each time.

One rule changes the book itself: manual close closes the local positions the exchange
closed. A fold of the inputs alone (the audit) runs it too (rules/local_closes.py), so that
its local side is the reconciler's.
"""

from collections.abc import Callable, Collection, Iterable

from trueup.domain import retention
from trueup.domain.book import AccountBook, Changed
from trueup.domain.bounds import name_fault
from trueup.domain.emitted import Cause, Emitted
from trueup.domain.events import (
    AccountModeSet,
    ClockTicked,
    InputEvent,
    InputRejected,
    NotificationAttempted,
    OrderCancelled,
    OrderPlacementReported,
    RulesSet,
    StreamConnected,
    StreamDown,
    StreamReconnected,
)
from trueup.domain.keys import PositionKey
from trueup.domain.rules import sync
from trueup.domain.rules.account import AccountDetectors
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Phases
from trueup.domain.rules.local_closes import cleaned
from trueup.domain.touched import Touched

Account = tuple[str, str]
# The kinds of input _apply asks about one by one; any other is an account's input to fold
# and judge. By type, whether it is none of them: asked once per type, not once per input.
_OF_THEIR_OWN = (
    RulesSet,
    ClockTicked,
    InputRejected,
    StreamDown,
    StreamReconnected,
    StreamConnected,
)
# What the reconciler asks of an input's type, found once per type (with its subclasses) and
# kept: bits of _KINDS, not isinstance asks of every input.
_OWN = 1  # one of _OF_THEIR_OWN
_NOTIFIED = 2  # NotificationAttempted
_SETS_MODE = 4  # AccountModeSet
_RULES = 8  # RulesSet
_CANCELS = 16  # OrderCancelled
_PLACEMENT = 32  # OrderPlacementReported
_RECORDS = _NOTIFIED | _PLACEMENT
_KINDS: dict[type[InputEvent], int] = {}


def _kind(kind: type[InputEvent]) -> int:
    found = _KINDS.get(kind)
    if found is None:
        found = _KINDS[kind] = (
            (_OWN if issubclass(kind, _OF_THEIR_OWN) else 0)
            | (_NOTIFIED if issubclass(kind, NotificationAttempted) else 0)
            | (_SETS_MODE if issubclass(kind, AccountModeSet) else 0)
            | (_RULES if issubclass(kind, RulesSet) else 0)
            | (_CANCELS if issubclass(kind, OrderCancelled) else 0)
            | (_PLACEMENT if issubclass(kind, OrderPlacementReported) else 0)
        )
    return found


_NO_BOOK = "\0no book"  # the mode of an account not seen before: any mode set changes it


class Reconciler:
    """A book and its detectors for every account seen; ``apply`` returns what to emit."""

    def __init__(self, config: RuleConfig | None = None, *, contain_faults: bool = True) -> None:
        self.config = config or RuleConfig()
        # An input the rules cannot take is a fault of its account's fold, recorded, so a
        # worker never dies on one input; unless not ``contain_faults``: then it is raised,
        # for a test or a fuzzer to see where it happened.
        self.contain_faults = contain_faults
        self.books: dict[Account, AccountBook] = {}
        self.detectors_by_account: dict[Account, AccountDetectors] = {}
        # What the inputs applied have touched since the views last took it.
        self.touched = Touched()
        # The latest instant of the ticks for every account applied. Each bears on every
        # account but moves no account's clock: the state is as of the later of the two
        # (``as_of``). Rules put in force are no clock (``_apply``).
        self.every_account_clock = 0

    def book(self, venue: str, account: str) -> AccountBook:
        found = self.books.get((venue, account))
        if found is None:
            # The window read off its module as each book is made, so that a test can shorten
            # it for every book, compiled as the reconciler is (setup.py) or not.
            found = self.books[(venue, account)] = AccountBook(
                venue, account, self.config.pagination_timeout_ms, retention.FORGET_AFTER_MS
            )
            self.detectors_by_account[(venue, account)] = AccountDetectors()
        return found

    def as_of(self, account: Account) -> int:
        """The latest instant of the inputs applied that bear on ``account``: its own (its
        book's clock), and those that name no account."""
        book = self.books.get(account)
        return max(0 if book is None else book.clock, self.every_account_clock)

    def detectors(self, venue: str, account: str) -> AccountDetectors:
        self.book(venue, account)
        return self.detectors_by_account[(venue, account)]

    def apply(self, event: InputEvent) -> list[Emitted]:
        """What to emit for one input; an input the rules cannot take emits nothing, and
        marks its account as one whose answers can no longer be vouched for."""
        kind = _KINDS.get(type(event))
        if kind is None:
            kind = _kind(type(event))
        if kind & _RECORDS and self._ignored_record(event, kind):
            return []
        # Only a mode set can change its account's mode: the others skip both looks.
        sets_mode = kind & _SETS_MODE
        mode = self._mode(event) if sets_mode else None
        try:
            emitted = self._apply(event, kind)
        except Exception as error:  # a worker never dies on one input, whatever it holds
            if not self.contain_faults:
                raise
            emitted = []
            if event.venue:
                book = self.book(event.venue, event.account)
                book.fold_faults.append(f"input {event.input_id}: {type(error).__name__}")
        mode_changed = bool(sets_mode) and mode != self._mode(event)
        self._touch(event, kind, emitted, mode_changed=mode_changed)
        return emitted

    @staticmethod
    def _ignored_record(event: InputEvent, kind: int) -> bool:
        """Whether a record of trueup's own (a notification's, a placement's) changes nothing."""
        if kind & _NOTIFIED:
            # What the notifier told someone changes nothing it told of; and its receive
            # time must not run the account's timers, or a notification could cause another.
            return True
        # A placement names its event's account as it was: one no other line can name (an
        # older journal's, a hostile one) makes no book, which no query could ask for and
        # whose views PostgreSQL's text could not hold.
        return bool(name_fault(event.venue) or name_fault(event.account))

    def _mode(self, event: InputEvent) -> str | None:
        """The mode of the account ``event`` is for, as its book has it."""
        book = self.books.get((event.venue, event.account))
        return _NO_BOOK if book is None else book.mode

    def _touch(
        self, event: InputEvent, kind: int, emitted: list[Emitted], *, mode_changed: bool
    ) -> None:
        """Note what this input (of ``kind``, its _KINDS bits) may have changed, for the views
        (see ``touched``). A mode set again, unchanged, changes no symbol's view: only its
        account's (its clock) is touched."""
        touched = self.touched
        if kind & _RULES:
            touched.everything()
        if not event.venue:  # it may have run every account's timers
            for account, book in list(self.books.items()):
                if book.touched or book.touched_symbols:
                    book.take_touched(touched.account(account))
        else:
            account = (event.venue, event.account)
            symbols = touched.account(account)
            own = self.books.get(account)
            if own is not None:
                own.take_touched(symbols)
            named = event.symbols
            if named:
                symbols.update(named)
            if mode_changed:
                touched.whole_account(account)
            elif own is not None and kind & _CANCELS:
                assert isinstance(event, OrderCancelled)
                placed = own.placed.get(event.client_order_id)
                if placed is not None:
                    symbols.add(placed.symbol)
        for e in emitted:
            symbols = touched.account((e.venue, e.account))
            if e.symbol is not None:
                symbols.add(e.symbol)

    def _apply(self, event: InputEvent, kind: int) -> list[Emitted]:
        cause = Cause(event.input_id, event.at)
        if not kind & _OWN:  # most inputs: none of the kinds below need asking about
            if not event.venue:
                return []
            return self._account_input((event.venue, event.account), event, cause)
        emitted: list[Emitted] = []
        if isinstance(event, RulesSet):
            # Each account judged again as of its own time, not the rules': rules recorded
            # today for a capture of last week (`ingest --rules`) would otherwise run out
            # every grace the account has pending, at today's date. As a replay as of an
            # instant judges them (projections/reconciliation.py's _AsOf).
            # Nor do they move the clock of every account: a second change judged as of the
            # first's date would run out what the first, as of the accounts', did not.
            judged_at = {account: min(event.at, self.as_of(account)) for account in self.books}
            self._set_rules(event.rules)
            for account in sorted(self.books):
                at = judged_at[account]
                emitted += self._guarded(account, Cause(event.input_id, at), self._rejudge)
            return emitted
        if isinstance(event, ClockTicked):
            # A tick for one account moves its clock, as every input of the account does
            # (the journal keeps that clock for the audit), and runs its timers; one naming
            # no account runs everyone's.
            if event.venue:
                self.book(event.venue, event.account).catch_up(event.at)
            else:
                self.every_account_clock = max(self.every_account_clock, event.at)
            accounts = [(event.venue, event.account)] if event.venue else sorted(self.books)
            for account in accounts:
                if account in self.books:
                    emitted += self._guarded(account, cause, self._timers)
            return emitted
        if isinstance(event, InputRejected):
            if not event.venue:
                return []
            self.book(event.venue, event.account).apply(event)
            # The book may let go of things on any input: the detectors must too, or a
            # position id opened again would meet what they held of the old one.
            self._forget((event.venue, event.account))
            detectors = self.detectors_by_account[(event.venue, event.account)]
            return detectors.sync.rejected(event, cause, self.config)
        if isinstance(event, StreamDown):
            if event.venue:
                self.book(event.venue, event.account).feed_down(
                    event.at, event.reason, event.stream
                )
            return []
        if isinstance(event, StreamReconnected):
            if event.venue:
                self.book(event.venue, event.account).feed_reconnected(
                    event.at, event.reason, event.stream
                )
            return sync.stream_reconnected(event)
        if isinstance(event, StreamConnected):
            if event.venue:
                self.book(event.venue, event.account).feed_connected(event.at, event.stream)
            return []
        if not event.venue:
            return []
        return self._account_input((event.venue, event.account), event, cause)

    def _account_input(self, account: Account, event: InputEvent, cause: Cause) -> list[Emitted]:
        """The input folded into its account's book, noted and judged, then the timers."""
        book = self.books.get(account)
        if book is None:
            book = self.book(*account)
        # The account's book, detectors and touched symbols found once for all the phases
        # (as _keys and _timers would find them again): this runs for every input.
        phases = self.detectors_by_account[account].phases
        symbols = self.touched.account(account)  # touched, even with no key (a timer ran)
        changed = book.apply(event)
        emitted = cleaned(event, changed, cause)
        emitted += phases.take(book, event, changed, cause, self.config)
        if changed:
            emitted += self._judged(book, phases, symbols, changed, cause)
        emitted += self._timed(account, book, phases, cause, changed)
        return emitted

    def _set_rules(self, rules: RuleConfig) -> None:
        """From now on, for every account; what was already decided (a cooldown's end) stays."""
        self.config = rules
        for book in self.books.values():
            book.snapshots.timeout_ms = rules.pagination_timeout_ms

    def _rejudge(self, account: Account, cause: Cause) -> list[Emitted]:
        """Every key of the account judged again, under the rules just set."""
        return self._keys(account, self.books[account].positions.keys(), cause)

    def _keys(self, account: Account, keys: Collection[PositionKey], cause: Cause) -> list[Emitted]:
        """Every detector's judgement of each key, key by key."""
        symbols = self.touched.account(account)  # touched, even with no key (a timer ran)
        if not keys:
            return []
        phases = self.detectors_by_account[account].phases
        return self._judged(self.books[account], phases, symbols, keys, cause)

    def _judged(
        self,
        book: AccountBook,
        phases: Phases,
        symbols: set[str],
        keys: Collection[PositionKey],
        cause: Cause,
    ) -> list[Emitted]:
        """``_keys`` for keys there are, the account's book, detectors and touched symbols
        found."""
        keys = sorted(keys)
        symbols.update([key.symbol for key in keys])
        keyed, config = phases.keyed, self.config
        emitted: list[Emitted] = []
        for key in keys:
            for detector in keyed:
                emitted += detector.on_key(book, key, cause, config)
        return emitted

    def _forget(self, account: Account) -> None:
        """The detectors forget what the book has let go since the last time."""
        self.detectors_by_account[account].phases.forget(self.books[account])

    def _guarded(
        self, account: Account, cause: Cause, judge: Callable[[Account, Cause], list[Emitted]]
    ) -> list[Emitted]:
        """One account judged on an input of no account (its timers, or every key): should
        its state break a rule, that account alone is marked unvouched for, and the other
        accounts are still judged."""
        try:
            return judge(account, cause)
        except Exception as error:  # see apply
            if not self.contain_faults:
                raise
            self.books[account].fold_faults.append(
                f"input {cause.input_id}: {type(error).__name__}"
            )
            return []

    def _timers(self, account: Account, cause: Cause) -> list[Emitted]:
        """Rules waiting on time: re-check them now that the clock reads ``cause.at``."""
        book, phases = self.books[account], self.detectors_by_account[account].phases
        self.touched.account(account)  # as _keys: a timer ran
        return self._timed(account, book, phases, cause, frozenset())

    def _timed(
        self, account: Account, book: AccountBook, phases: Phases, cause: Cause, skip: Changed
    ) -> list[Emitted]:
        """``_timers``, the account's book and detectors found and the account touched; the
        keys just judged (``skip``) not judged again."""
        # A key any detector waits on is judged again by all of them (unless just judged).
        # Most inputs find none waiting: no set is built for them.
        waited: set[PositionKey] | None = None
        for detector in phases.waiting:
            keys = detector.waiting()
            if keys:
                if waited is None:
                    waited = set(keys)
                else:
                    waited.update(keys)
        if waited is None:
            emitted = []
        else:
            emitted = self._keys(account, waited - skip if skip else waited, cause)
        if book.forgotten:
            phases.forget(book)
        config = self.config
        for detector in phases.timed:
            emitted += detector.on_time(book, cause, config)
        return emitted


def reconcile(events: Iterable[InputEvent], config: RuleConfig | None = None) -> list[Emitted]:
    """Everything the rules emit for these inputs, in order."""
    reconciler = Reconciler(config)
    return [e for event in events for e in reconciler.apply(event)]
