"""The audit read model: one position's history, replayed from the journal, as of any instant.

The inputs are folded with the closes the reconciler makes itself (rules/local_closes.py):
a position the exchange closed while the trading system held it open is closed on the local
side at the input the reconciler closed it on, as `positions` shows it.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from trueup.domain.book import NOTHING, AccountBook, Changed
from trueup.domain.emitted import Emitted
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    PositionReport,
    PositionsReported,
    PricesReported,
    RulesSet,
    moves_clock,
)
from trueup.domain.keys import PositionKey
from trueup.domain.position import Position
from trueup.domain.risk import position_risk
from trueup.domain.risk_records import PositionRisk
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.in_force import RulesInForce
from trueup.domain.rules.local_closes import Close, LocalCloses

JSON = dict[str, Any]


# (after) -> the inputs of no account stored after journal position ``after``, each with
# its position, in order: journal.inputs_of_every_account.
EveryAccount = Callable[[int], Iterable[tuple[int, InputEvent]]]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One input that changed the position, and the position's state right after it, with
    the events the reconciler emitted as it closed local positions there on that input."""

    at: int
    type: str
    source: str | None
    input_id: str
    key: PositionKey
    state: JSON
    closed_by: tuple[Close, ...] = ()


@dataclass(slots=True)
class Audit:
    """The timeline of every key of one symbol, and the book as of the instant asked."""

    symbol: str
    position_idx: int | None
    as_of: int | None
    book: AccountBook
    timeline: list[TimelineEntry] = field(default_factory=list)
    # The rules in force at the instant audited: what risk is weighed with.
    rules: RuleConfig = field(default_factory=RuleConfig)
    # The ids of the closes in the timeline the journal holds no event of (``emitted``):
    # the fold of the inputs dated by ``as_of`` made them, but the reconciler, which took
    # some of those inputs after later ones, did not (or has not taken them yet).
    unemitted: frozenset[str] = frozenset()

    @property
    def closes(self) -> list[Close]:
        """Every close in the timeline, in order."""
        return [close for entry in self.timeline for close in entry.closed_by]

    def emitted(self, close: Close) -> bool:
        """Whether the reconciler emitted ``close``, as the audit's fold made it."""
        return close.event_id not in self.unemitted

    @property
    def symbol_keys(self) -> list[PositionKey]:
        """The symbol's keys, of every idx: those the book holds, and those known from fills
        alone (no report of the position yet)."""
        book = self.book
        return sorted(k for k in {**book.positions, **book.pnl.keys} if k.symbol == self.symbol)

    @property
    def keys(self) -> list[PositionKey]:
        """The symbol's keys audited: of ``position_idx``, if given."""
        return [k for k in self.symbol_keys if self.position_idx in (None, k.position_idx)]

    def state(self, key: PositionKey) -> JSON:
        return position_state(self.book, held(self.book, key))

    def risk(self, key: PositionKey) -> PositionRisk | None:
        """What the exchange held on ``key`` as of the instant asked, weighed as
        `positions` weighs it (None: flat)."""
        return position_risk(self.book, key, self.rules)


def audit(
    venue: str,
    account: str,
    inputs: Iterable[tuple[int, InputEvent]],
    *,
    symbol: str,
    position_idx: int | None = None,
    as_of: int | None = None,
    rules: RulesInForce | None = None,
    clocks: Mapping[int, int] | None = None,
    every_account: EveryAccount | None = None,
) -> Audit:
    """Fold the account's inputs (each with its journal position, in journal order), noting
    each one that changed a key of ``symbol``; ``clocks``: the account's clock the journal
    kept with some of them, by position (adapters/store/account_clock.py); ``every_account``:
    the inputs of no account, read while a close awaits its cause."""
    return audit_marked(
        venue,
        account,
        _AllConcern(inputs),
        symbol=symbol,
        position_idx=position_idx,
        as_of=as_of,
        rules=rules,
        clocks=clocks,
        every_account=every_account,
    )


def audit_marked(
    venue: str,
    account: str,
    inputs: "MarkedInputs",
    *,
    symbol: str,
    position_idx: int | None = None,
    as_of: int | None = None,
    rules: RulesInForce | None = None,
    clocks: Mapping[int, int] | None = None,
    every_account: EveryAccount | None = None,
) -> Audit:
    """``audit`` of the inputs that concern ``symbol``, each marked True, and of those that
    do not, marked False, which ``inputs`` give while a close awaits its cause (they ask
    ``Auditor.awaiting``): only their instants are taken (``Auditor.pass_time``)."""
    auditor = Auditor(
        venue,
        account,
        symbol,
        position_idx,
        as_of,
        rules=rules,
        clocks=clocks,
        every_account=every_account,
    )
    for where, event, concerns in inputs.marked(lambda: auditor.awaiting):
        if concerns:
            auditor.take(where, event)
        else:
            auditor.pass_time(where, event)
    return auditor.finished()


class MarkedInputs(Protocol):
    """The inputs of an account, as journal.symbol_inputs gives them."""

    def marked(self, passing: Callable[[], bool]) -> Iterable[tuple[int, InputEvent, bool]]:
        """Each marked whether it concerns the symbol audited; those that do not only
        while ``passing`` (asked as each is read) wants them."""


class _AllConcern:
    """Inputs that each concern the symbol audited: an account's, folded whole."""

    def __init__(self, inputs: Iterable[tuple[int, InputEvent]]) -> None:
        self._inputs = inputs

    def marked(self, passing: Callable[[], bool]) -> Iterator[tuple[int, InputEvent, bool]]:
        for where, event in self._inputs:
            yield where, event, True


def held(book: AccountBook, key: PositionKey) -> Position:
    """The key's position as the book holds it; one with nothing on either side where it
    holds none yet (a key known from fills alone), not added to the book."""
    position = book.positions.get(key)
    return Position(key) if position is None else position


class Auditor:
    """An audit under way: folds the events it is given, noting each change to a key of the
    symbol audited (of its ``position_idx``, if given) made before ``as_of``. Each input is
    folded under the rules recorded before it in the journal, as the reconciler folded it,
    whatever their instants: an input dated by ``as_of`` puts in force all recorded before it.
    Before an input stored after later ones, its book catches up to the account's clock then
    (``clocks``), as the account's fold had, so that both let go of the same."""

    def __init__(
        self,
        venue: str,
        account: str,
        symbol: str,
        position_idx: int | None,
        as_of: int | None,
        *,
        rules: RulesInForce | None = None,
        clocks: Mapping[int, int] | None = None,
        every_account: EveryAccount | None = None,
    ) -> None:
        self._rules_in_force = rules or RulesInForce()
        self._clocks = clocks if clocks is not None else {}
        # The inputs of no account, which the account's fold takes too: read while a close
        # awaits its cause, from after the account's last input given (``_seen_upto``).
        self._every_account = every_account
        self._every: Iterator[tuple[int, InputEvent]] | None = None
        self._every_ahead: tuple[int, InputEvent] | None = None
        self._seen_upto = 0
        # Its timeout is set again before each input, to the rules in force then.
        book = AccountBook(venue, account, RuleConfig().pagination_timeout_ms)
        self.result = Audit(symbol, position_idx, as_of, book)
        self._closes = LocalCloses()
        self._last: dict[PositionKey, JSON] = {}
        # The journal position of the last input folded: rules recorded before it are in
        # force at the instant audited, whatever their own instants.
        self._folded_upto: int | None = None

    def finished(self) -> Audit:
        """The audit, its risk weighed by the rules in force at the instant audited."""
        self._pass_every_account(None)
        result = self.result
        result.rules = self._rules_in_force.at(result.as_of, applied_to=self._folded_upto)
        return result

    @property
    def book(self) -> AccountBook:
        return self.result.book

    def rules_before(self, where: int) -> RuleConfig:
        """The rules an input at journal position ``where`` is folded under."""
        return self._rules_in_force.before(where)

    def visible(self, event: InputEvent) -> bool:
        """Whether the audit takes ``event``: none after the instant asked about."""
        as_of = self.result.as_of
        return as_of is None or event.at <= as_of

    def take(self, where: int, event: InputEvent, *, noted: bool = True) -> None:
        """Fold ``event``, stored at journal position ``where`` (unless after ``as_of``); with
        ``noted`` False, keep no timeline entry for it (an input folded again only to rebuild
        what it left behind)."""
        self._pass_every_account(where)
        if not self.visible(event) or not moves_clock(event):
            return  # after the instant audited, or a notification record (no change)
        book = self.result.book
        rules = self.rules_before(where)
        if self._folded_upto is None or where > self._folded_upto:
            self._folded_upto = where
        # As the reconciler does at a RulesSet: a run under way waits the new timeout.
        book.snapshots.timeout_ms = rules.pagination_timeout_ms
        clock = self._clocks.get(where)
        if clock is not None:
            book.catch_up(clock)
        changed = book.apply(event)
        # Those are the inputs' changes; the reconciler's own closes come with them.
        closes = self._closes.take(book, event, changed, rules)
        if not isinstance(event, PositionsReported | PricesReported):
            # It may have moved an order or a TP1 of a key it did not change (a report of
            # an order the book files under no key yet, say): no state kept is sure any more.
            self._last.clear()
        if isinstance(event, ExecutionsReported) and book.pnl.moved:
            # A fill that changed only a key's PnL (a late one, of a position already closed,
            # or one before any report of the position) is behind a change all the same.
            changed = changed | set(book.pnl.moved)
        self._note(event, changed, closes, noted=noted)

    @property
    def awaiting(self) -> bool:
        """Whether a close of the account awaits its cause (rules/manual_close.py): then any
        input of the account may end its grace, one of another symbol's or a tick too."""
        return self._closes.awaiting

    def pass_time(self, where: int, event: InputEvent) -> None:
        """An input of the account the audit does not fold (another symbol's, a clock tick),
        stored at journal position ``where``, taken while a close awaits its cause: as in the
        account's fold, its instant may end the close's grace, and the close is on it."""
        self._pass_every_account(where)
        self._pass(where, event)

    def _pass(self, where: int, event: InputEvent) -> None:
        if not self.visible(event) or not moves_clock(event):
            return
        book = self.result.book
        if event.venue:  # one of no account runs the account's timers, but moves no clock
            book.catch_up(event.at)
        # Rules put in force judge every key at once, under themselves (Reconciler._rejudge).
        rules = event.rules if isinstance(event, RulesSet) else self.rules_before(where)
        closes = self._closes.passing(book, event, rules)
        if closes:
            self._last.clear()
            self._note(event, NOTHING, closes, noted=True)

    def _pass_every_account(self, before: int | None) -> None:
        """While a close awaits its cause: the inputs of no account (a clock tick for every
        account, rules put in force) stored after the account's last input given and before
        journal position ``before`` (None: to the end), passed in their places, for the
        account's fold took each as one of its own; then the input at ``before`` is the last
        given."""
        if self._every_account is not None:
            while self.awaiting:
                if self._every is None:
                    self._every = iter(self._every_account(self._seen_upto))
                    self._every_ahead = next(self._every, None)
                ahead = self._every_ahead
                if ahead is None or (before is not None and ahead[0] >= before):
                    break
                self._every_ahead = next(self._every, None)
                self._pass(*ahead)
            if not self.awaiting:  # the next wait reads from its own beginning
                self._every = self._every_ahead = None
        if before is not None and before > self._seen_upto:
            self._seen_upto = before

    def _note(
        self, event: InputEvent, changed: Changed, closes: list[Close], *, noted: bool
    ) -> None:
        """The timeline entries of the keys of the symbol ``event`` changed, those it closed
        with them: a close that awaited its cause may come on an input that changed nothing
        of its key (a clock tick, another symbol's), and its key changed on it all the same."""
        result = self.result
        book, symbol, position_idx = result.book, result.symbol, result.position_idx
        if closes:
            closed = {_key_of(book, e) for e in closes}
            if not closed <= changed:
                changed = changed | closed
        # Keys in order: a set's order hangs on the other keys in it, and on string hashing.
        for key in sorted(k for k in changed if k.symbol == symbol):
            if position_idx not in (None, key.position_idx):
                continue
            if not noted:
                self._last.pop(key, None)
                continue
            position = held(book, key)
            before = self._last.get(key)
            if (
                isinstance(event, PositionsReported)
                and before is not None
                and len(position.opened) == len(before["local"]["positions"])
            ):
                # A position report changes the exchange's side and nothing else, but for
                # closing a local position: a leg of trueup's own, or one the manual-close
                # rule closed (one fewer open local position).
                state = {**before, "exchange": exchange_state(position.exchange)}
            else:
                state = position_state(book, position)
            self._last[key] = state
            result.timeline.append(
                TimelineEntry(
                    at=event.at,
                    type=event.type,
                    source=getattr(event, "source", None),
                    input_id=event.input_id,
                    key=key,
                    state=state,
                    closed_by=tuple(e for e in closes if _about(e, key)),
                )
            )


def _key_of(book: AccountBook, event: Emitted) -> PositionKey:
    """The key of ``book``'s account that ``event`` (a close on it) is about."""
    assert event.symbol is not None
    return PositionKey(
        book.venue, book.account, event.category or "", event.symbol, event.position_idx or 0
    )


def _about(event: Emitted, key: PositionKey) -> bool:
    """Whether ``event`` (of the key's account) is about ``key``."""
    return (event.category, event.symbol, event.position_idx) == (
        key.category,
        key.symbol,
        key.position_idx,
    )


def position_state(book: AccountBook, position: Position) -> JSON:
    """Local beside exchange, as plain JSON values (decimals as strings).

    Local positions are the open ones: a closed one shows in the entry that closed it.
    """
    return {
        "exchange": exchange_state(position.exchange),
        "local": {
            "qty": str(position.local_qty),
            "positions": [
                {
                    "position_id": p.position_id,
                    "side": p.side,
                    "qty": str(p.qty),
                    "mode": p.mode,
                    "timeframe": p.timeframe,
                    "status": p.status,
                    "tp1": book.tp1_state(p.position_id),
                }
                for p in position.open_local()
            ],
        },
        "open_orders": [
            {
                "venue_order_id": o.venue_order_id,
                "client_order_id": o.client_order_id,
                "status": o.status,
                "filled_qty": str(o.filled_qty),
                "avg_price": _text(o.avg_price),
            }
            for o in book.open_orders_for(position.key)
        ],
    }


# Reports are immutable and one stays current across many timeline entries: render each
# once. Keyed by identity (the cache holds the report, so its id stays its own).
_rendered: dict[int, tuple[PositionReport, JSON]] = {}


def exchange_state(report: PositionReport | None) -> JSON | None:
    """The exchange's side of a position, as plain JSON values."""
    if report is None:
        return None
    cached = _rendered.get(id(report))
    if cached is not None and cached[0] is report:
        return cached[1]
    if len(_rendered) >= 64:
        _rendered.clear()
    state: JSON = {
        "side": report.side,
        "size": str(report.size),
        "qty": str(report.signed_size),
        "entry_price": _text(report.entry_price),
        "mark_price": _text(report.mark_price),
        "unrealised_pnl": _text(report.unrealised_pnl),
        "cum_realised_pnl": _text(report.cum_realised_pnl),
        "seq": report.seq,
        "updated_time": report.updated_time,
        "status": report.status,
    }
    _rendered[id(report)] = (report, state)
    return state
