"""The fold of one account's events: its positions, orders and local claims.

``AccountBook.apply`` is the whole fold; it returns the position keys an event changed,
which is what an audit timeline and the detectors need to know. What has finished is let
go once nothing has happened to it for a while (domain/retention.py), so a book's size
follows what is open, not how long the journal is.
"""

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from enum import Enum
from typing import Any, TypeVar

from msgspec import structs

from trueup.domain.coverage import Vouched, coverage_of
from trueup.domain.events import (
    AccountModeSet,
    ExecutionsReported,
    InputEvent,
    InputRejected,
    LocalPositionCleaned,
    LocalPositionClosed,
    LocalPositionOpened,
    LocalPositionResized,
    OrderCancelled,
    OrderPlaced,
    OrderPlacementReported,
    OrderReport,
    OrdersReported,
    PositionsReported,
    PricesReported,
    SnapshotPage,
    WalletReport,
    WalletReported,
)
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.order import Order
from trueup.domain.pnl import KeyLedger, PnlLedger
from trueup.domain.position import LocalPosition, Position
from trueup.domain.prices import PRICE_STREAM, PriceBook
from trueup.domain.retention import FORGET_AFTER_MS, NEVER, Forgotten, Retention, sweep_instant
from trueup.domain.rules.config import RuleConfig
from trueup.domain.snapshots import PageOutcome, PageVerdict, Scope, Snapshots, scope_of
from trueup.domain.vocabulary import ExecutionKind, OrderAction, OrderStatus, PlacementOutcome
from trueup.domain.wallet import Wallet

DEFAULT_SNAPSHOT_TIMEOUT_MS = RuleConfig().pagination_timeout_ms

K = TypeVar("K")
_new_tuple = tuple.__new__
# Read off its enum once: in Python 3.11 a member read off its class costs several times a
# module global, and the fold asks it of every fill.
FUNDING = ExecutionKind.FUNDING
# What the exchange says, as opposed to what the trading system or trueup's runner says
# (by exact type, as the handlers are looked up).
EXCHANGE_FRAMES: frozenset[type[InputEvent]] = frozenset(
    (PositionsReported, OrdersReported, ExecutionsReported, WalletReported)
)
# What the account's own sides say of it: its exchange, and its trading system's intents.
# An account heard of only otherwise (a trigger commanded on it, an operator's action, a
# line refused) is one trueup has never seen: nothing of it is known to reconcile.
_INTENTS: tuple[type[InputEvent], ...] = (
    AccountModeSet, OrderPlaced, OrderCancelled,
    LocalPositionOpened, LocalPositionResized, LocalPositionClosed,
)  # fmt: skip
OWN_INPUTS: frozenset[type[InputEvent]] = EXCHANGE_FRAMES | frozenset(_INTENTS)
# The keys an input changed: the handler's own set, handed on as it is (no frozen copy per
# input); nobody alters it once ``apply`` returns it.
Changed = AbstractSet[PositionKey]
NOTHING: Changed = frozenset()


# What a snapshot keeps of a book (a tuple, not the class's __slots__: compiled by mypyc, a
# class has none): all of it but its table of bound methods, made again on loading.
_KEPT = (
    "_client_ids_by_position",
    "_forget_after_ms",
    "_intents_to_forget",
    "_keys",
    "_locals_to_forget",
    "_next_forget",
    "_open_at",
    "_orders_to_forget",
    "_placed_by_purpose",
    "account",
    "cancel_requested",
    "clock",
    "exchange_seen_at",
    "fold_faults",
    "forgotten",
    "forgotten_until",
    "heard_from",
    "last_page",
    "leg_orders",
    "legs",
    "local_keys",
    "mode",
    "open_orders",
    "order_keys_by_client_id",
    "orders",
    "placed",
    "pnl",
    "positions",
    "prices",
    "prices_down",
    "reconnected",
    "resync_due",
    "snapshots",
    "stream_down",
    "touched",
    "touched_symbols",
    "venue",
    "vouched",
    "wallet",
)


class AccountBook:
    """Everything trueup knows about one account, folded from its events in arrival order."""

    # Slots: every attribute the fold reads or writes is then a fixed offset, not a lookup
    # in the book's own dict. Every attribute set in __init__ is listed here.
    __slots__ = (*_KEPT, "_handlers")

    def __init__(
        self,
        venue: str,
        account: str,
        snapshot_timeout_ms: int = DEFAULT_SNAPSHOT_TIMEOUT_MS,
        forget_after_ms: int = FORGET_AFTER_MS,
    ) -> None:
        self.venue = venue
        self.account = account
        self.mode: str | None = None
        self.positions: dict[PositionKey, Position] = {}
        # (category, symbol, position_idx) -> its key, made once (``key``): a key is asked
        # for on every report, and a NamedTuple's constructor is Python called from C.
        self._keys: dict[tuple[str, str, int], PositionKey] = {}
        # Open orders, and finished ones not yet forgotten (see _forget_due).
        self.orders: dict[OrderKey, Order] = {}
        self.order_keys_by_client_id: dict[str, OrderKey] = {}
        self.open_orders: dict[PositionKey, set[OrderKey]] = {}
        self._open_at: dict[OrderKey, PositionKey] = {}  # each open order's key in open_orders
        self.placed: dict[str, OrderPlaced] = {}
        self._placed_by_purpose: dict[tuple[str, str], OrderPlaced] = {}
        # position_id -> the client_order_ids placed for it (a dict: ordered, so deterministic).
        self._client_ids_by_position: dict[str, dict[str, None]] = {}
        self.cancel_requested: dict[str, int] = {}
        self.local_keys: dict[str, PositionKey] = {}
        # The orders placed to open a leg of trueup's own (a lock's, its placement report's
        # ``opens``), by client_order_id, until they execute or end with nothing filled.
        self.leg_orders: dict[str, OrderPlacementReported] = {}
        # The legs they opened, by position_id, until forgotten: whether the exchange has
        # shown each on its side (SHOWN), and closed it (FLAT), as the manual-close rule judges.
        self.legs: dict[str, Leg] = {}
        # The latest instant of the account's inputs (trueup's notification records aside),
        # folded or only noted (catch_up): the book's only sense of time.
        self.clock = 0
        # What may be forgotten once untouched for forget_after_ms: orders no intent placed,
        # intents (with the order each became) by client_order_id, closed local positions.
        self._forget_after_ms = forget_after_ms
        self._orders_to_forget: Retention[OrderKey] = Retention(forget_after_ms)
        self._intents_to_forget: Retention[str] = Retention(forget_after_ms)
        self._locals_to_forget: Retention[str] = Retention(forget_after_ms)
        # The earliest clock at which any of them, or the forgotten log, may be due.
        self._next_forget = NEVER
        self.forgotten = Forgotten()
        # The newest venue timestamp of an order this book has let go (0: none yet).
        self.forgotten_until = 0
        self.snapshots = Snapshots(snapshot_timeout_ms)
        # Inputs of this account the rules could not take: while any, no answer is vouched for.
        self.fold_faults: list[str] = []
        # How the last snapshot page was judged, for the sync rule.
        self.last_page: PageVerdict | None = None
        # How fresh the exchange view is: the last exchange frame taken, the newest complete
        # snapshot, and the last time the feed said it had to reconnect (and why).
        self.exchange_seen_at: int | None = None
        # Whether its exchange or its trading system has said anything of it (OWN_INPUTS).
        self.heard_from = False
        # Each scope's complete snapshot stored last: what can-open may vouch for, and how
        # freshly.
        self.vouched: dict[Scope, Vouched] = {}
        self.reconnected: tuple[int, str] | None = None
        # The feed's stream found dead, and why, until it reconnects.
        self.stream_down: tuple[int, str] | None = None
        # The stream rebuilt then (and why) with some scope not snapshotted completely since
        # (none begun after it): what it missed there (a close, a position opened by hand)
        # is not known yet. Each symbol is judged by the scopes that cover it (can_open.py).
        self.resync_due: tuple[int, str] | None = None
        # Keys whose views may show something new since the views last took them.
        self.touched: set[PositionKey] = set()
        # Symbols of intents whose order or local position moved: an ENTRY intent is one of
        # can-open's entries in flight under its own symbol, which it may spell otherwise than
        # its order and position do (then no key of that symbol changed, yet its view did).
        self.touched_symbols: set[str] = set()
        # Profit and loss per key and per lifecycle, from the fills (domain/pnl.py).
        self.pnl = PnlLedger()
        # The account's balances, from its wallet updates (domain/wallet.py).
        self.wallet = Wallet()
        # The latest public prices per symbol (domain/prices.py), for rules that need them.
        self.prices = PriceBook()
        # The price stream found dead, and why, until it reconnects.
        self.prices_down: tuple[int, str] | None = None
        self._handlers = self._handler_table()

    def _handler_table(self) -> dict[type[InputEvent], Callable[[Any], Changed]]:
        """Each input type's handler, bound to this book (``apply`` looks them up)."""
        return {
            PositionsReported: self._positions_reported,
            OrdersReported: self._orders_reported,
            ExecutionsReported: self._executions_reported,
            WalletReported: self._wallet_reported,
            PricesReported: self._prices_reported,
            AccountModeSet: self._account_mode_set,
            LocalPositionOpened: self._local_opened,
            LocalPositionResized: self._local_resized,
            LocalPositionClosed: self._local_closed,
            LocalPositionCleaned: self._local_closed,
            InputRejected: self._input_rejected,
            OrderPlaced: self._order_placed,
            OrderCancelled: self._order_cancelled,
            OrderPlacementReported: self._placement_reported,
        }

    def __reduce__(self) -> tuple[object, ...]:
        # As Snapshots (snapshots.py): made by its constructor, then given its state.
        return AccountBook, (self.venue, self.account), self.__getstate__()

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _KEPT}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._handlers = self._handler_table()

    @property
    def forget_after_ms(self) -> int:
        """How long what has finished is kept untouched before it is let go."""
        return self._forget_after_ms

    @forget_after_ms.setter
    def forget_after_ms(self, window_ms: int) -> None:
        self._forget_after_ms = window_ms
        for queue in (self._orders_to_forget, self._intents_to_forget, self._locals_to_forget):
            queue.window_ms = window_ms
        self._next_forget = self.clock  # look again at the next input

    def apply(self, event: InputEvent) -> Changed:
        self.last_page = None
        at = event.at
        clock = self.clock
        if at > clock:  # as max(), without the builtin's call
            self.clock = clock = at
        # Before the event, as of a sweep instant at or before it (see _forget_due): what an
        # input finds then depends on its own instant only, not on which others came first.
        if clock >= self._next_forget:
            self._forget_due()
        kind = type(event)
        handler = self._handlers.get(kind)
        changed = handler(event) if handler is not None else NOTHING
        if changed:
            positions = self.positions
            for key in changed:
                # An order can name a key before any position report does.
                if key not in positions:
                    positions[key] = Position(key)
            self.touched.update(changed)
            if self.legs:
                self._follow_legs(changed, at)
        if kind in EXCHANGE_FRAMES and at > (self.exchange_seen_at or 0):
            self.exchange_seen_at = at
        if not self.heard_from and kind in OWN_INPUTS:
            self.heard_from = True
        return changed

    def catch_up(self, at: int) -> None:
        """Time has passed to ``at`` for the account, with nothing to fold: a tick, a feed's
        word, or (in a fold of some of its inputs, an audit's) the clock it had reached."""
        self.clock = max(self.clock, at)

    def feed_reconnected(self, at: int, reason: str, stream: str = "") -> None:
        """The feed had to rebuild its stream: noted for freshness, folding nothing."""
        self.catch_up(at)
        if stream == PRICE_STREAM:
            self.prices_down = None
            return
        self.reconnected = (at, reason)
        self.resync_due = (at, reason)
        self.stream_down = None

    def feed_connected(self, at: int, stream: str = "") -> None:
        """A new run has the stream up: no longer down, but what no run heard before it is
        unknown until its re-sync, as after a reconnect (only no reconnect is noted)."""
        self.catch_up(at)
        if stream == PRICE_STREAM:
            self.prices_down = None
            return
        self.resync_due = (at, "a new run connected it")
        self.stream_down = None

    def feed_down(self, at: int, reason: str, stream: str = "") -> None:
        """The feed's stream died (the first word of it, until it is back), folding nothing.

        The price stream is apart: without prices the positions are still seen."""
        self.catch_up(at)
        if stream == PRICE_STREAM:
            if self.prices_down is None:
                self.prices_down = (at, reason)
        elif self.stream_down is None:
            self.stream_down = (at, reason)

    def position(self, key: PositionKey) -> Position:
        found = self.positions.get(key)
        if found is None:
            found = self.positions[key] = Position(key)
        return found

    def key(self, category: str, symbol: str, position_idx: int) -> PositionKey:
        leg = (category, symbol, position_idx)
        found = self._keys.get(leg)
        if found is None:
            found = self._keys[leg] = PositionKey(self.venue, self.account, *leg)
        return found

    def held_ever(self, key: PositionKey) -> bool:
        """Whether either side has held the key: a report, a local position (open, or closed
        and not yet forgotten), or fills the PnL ledger folded (the exchange's word that it
        held the key, reported or not)."""
        position = self.positions.get(key)
        if position is not None and (position.exchange is not None or position.local):
            return True
        return key in self.pnl.keys

    def open_orders_for(self, key: PositionKey) -> list[Order]:
        return [self.orders[k] for k in sorted(self.open_orders.get(key, ()))]

    def placed_order(self, position_id: str, purpose: str) -> OrderPlaced | None:
        return self._placed_by_purpose.get((position_id, purpose))

    def order_by_client_id(self, client_order_id: str) -> Order | None:
        order_key = self.order_keys_by_client_id.get(client_order_id)
        return self.orders.get(order_key) if order_key else None

    def entry_resting(self, position_id: str) -> bool:
        """Whether the position's ENTRY order is on the exchange and still open."""
        placed = self.placed_order(position_id, "ENTRY")
        order = self.order_by_client_id(placed.client_order_id) if placed else None
        return order is not None and not order.is_terminal

    def tp1_state(self, position_id: str) -> str:
        """NONE (no TP1 placed), PLACED, PARTIAL, FILLED or CANCELLED."""
        placed = self.placed_order(position_id, "TP1")
        if placed is None:
            return "NONE"
        order = self.order_by_client_id(placed.client_order_id)
        if order is None:
            return "PLACED"
        if order.status is OrderStatus.FILLED:
            return "FILLED"
        if order.filled_qty > 0:
            return "PARTIAL"
        return "CANCELLED" if order.is_terminal else "PLACED"

    # --- exchange reports -----------------------------------------------------------------

    def _positions_reported(self, event: PositionsReported) -> Changed:
        changed: set[PositionKey] = set()
        pnl = self.pnl
        pnl.begin()
        keys, positions = self._keys, self.positions
        pushed = event.snapshot is None
        for r in event.reports:
            # As ``key`` and ``position``, the maps read first: a sixth of the events.
            leg = (r.category, r.symbol, r.position_idx)
            key = keys.get(leg)
            if key is None:
                key = self.key(*leg)
            position = positions.get(key)
            if position is None:
                position = positions[key] = Position(key)
            if position.apply_report(r, event.at, pushed=pushed):
                changed.add(key)
                pnl.position_report(self, key, r, event.at)
        if event.snapshot is not None:
            changed |= self._snapshot_page(event, event.snapshot)
        if event.wallet is not None:
            self._wallet(event.wallet, event.at)
        return changed

    def _wallet_reported(self, event: WalletReported) -> Changed:
        for report in event.wallets:
            self._wallet(report, event.at)
        return NOTHING

    def _prices_reported(self, event: PricesReported) -> Changed:
        """Fold the prices; a new mark moves the unrealised PnL and the risk of the symbol's
        held keys, so the detectors judge them again (a risk warning follows the price) and
        the views take them again."""
        moved: set[PositionKey] = set()
        at = event.at
        for quote in event.quotes:
            self.prices.apply(quote, at)
            mark, price = quote.mark, self.prices.get(quote.symbol)
            # Taken (not older than the price held), its mark marks the keys even unchanged:
            # one of them may have refused it when it was older than a fill (pnl.py _open).
            if mark is None or mark <= 0 or price is None or price.mark_at != at:
                continue
            if price.mark != mark:
                continue  # an older quote, refused, told at the same instant as the one held
            for key in self._priced_keys(quote.symbol):
                ledger = self.pnl.key(key)
                before = ledger.mark
                if ledger.marked(mark, at) and before != mark:
                    moved.add(key)
        return moved

    def _priced_keys(self, symbol: str) -> list[PositionKey]:
        """The keys a mark of ``symbol`` moves: those the exchange holds, and those a
        lifecycle of trueup's fills holds before any report of it."""
        keys = [key for key in self.held_keys() if key.symbol == symbol]
        for key, ledger in self.pnl.keys.items():
            if key.symbol == symbol and ledger.open is not None and key not in keys:
                keys.append(key)
        return keys

    def _wallet(self, report: WalletReport, at: int) -> None:
        """Fold a balance update; a new equity moves every held position's concentration,
        so the views take those keys again."""
        if self.wallet.apply(report, at):
            self.touched.update(self.held_keys())

    @property
    def complete_snapshot_at(self) -> int | None:
        """The instant of the latest complete snapshot of any scope (Vouched); None: none."""
        return max((v.at for v in self.vouched.values()), default=None)

    def held_keys(self) -> list[PositionKey]:
        """The keys the exchange holds a position on, by its last word."""
        return [key for key, p in self.positions.items() if p.exchange_qty != 0]

    def _snapshot_page(self, event: PositionsReported, page: SnapshotPage) -> set[PositionKey]:
        listed = {self.key(r.category, r.symbol, r.position_idx) for r in event.reports}
        verdict = self.last_page = self.snapshots.page(page, listed, event.at)
        if verdict.outcome is not PageOutcome.COMPLETE:
            return set()
        # A run of pages is as old as its first: what it shows of the keys there is no
        # newer, however late its last page came. So it is dated, and judges the keys it
        # omits, by its first page (received, and served by the venue's clock).
        started = event.at if verdict.started_at is None else verdict.started_at
        served = page.server_time if verdict.served_from is None else verdict.served_from
        scope = scope_of(page)
        coverage = coverage_of(page)
        if scope not in self.vouched:
            # The venue can name the keys it covers now: what trueup's fills hold there
            # becomes a position can-open weighs (can_open_facts.py), listed or not.
            covers = coverage.covers
            self.touched.update(k for k in self.pnl.keys if covers(k.category, k.symbol))
        self.vouched[scope] = Vouched(coverage, started)
        due = self.resync_due
        if due is not None and all(v.at >= due[0] for v in self.vouched.values()):
            self.resync_due = None
        # A whole run: every covered key it did not list is flat, but for one whose last
        # news it may not show yet (a push, or a fill of trueup's, within LIST_SETTLES_MS).
        covers = coverage.covers
        ledgers = self.pnl.keys
        absent = [
            position
            for key, position in self.positions.items()
            if key not in verdict.listed
            and covers(key.category, key.symbol)
            and _fills_settled(ledgers.get(key), served, started)
        ]
        flat = [p for p in absent if p.apply_absent(served, started)]
        # A lifecycle of trueup's fills it omits or lists flat, served long enough after
        # their last to show it, is closed at the venue by fills trueup did not see.
        settled = [
            key
            for key, ledger in ledgers.items()
            if ledger.open is not None
            and _fills_settled(ledger, served, started)
            and covers(key.category, key.symbol)
            and (key not in verdict.listed or not self.positions[key].exchange_qty)
        ]
        for key in settled:
            position = self.position(key)
            if position.apply_absent(served, started, renew_flat=True):
                flat.append(position)
        for position in flat:  # a position trueup did not see open may be gone with it
            if position.exchange is not None:
                self.pnl.venue_flat(self, position.key, position.exchange)
        return {p.key for p in flat}

    def covered_keys(self, event: PositionsReported) -> list[PositionKey]:
        """The keys a complete snapshot speaks for: those it lists and those it omits."""
        page = event.snapshot
        verdict = self.last_page
        if page is None or verdict is None or verdict.outcome is not PageOutcome.COMPLETE:
            return []
        covers = coverage_of(page).covers
        return sorted(verdict.listed | {k for k in self.positions if covers(k.category, k.symbol)})

    def _input_rejected(self, event: InputRejected) -> Changed:
        if event.position_snapshot:
            self.snapshots.abandon_all()
        return NOTHING

    def _orders_reported(self, event: OrdersReported) -> Changed:
        changed = self._order_reports(event.orders)
        if self.leg_orders:
            links = {r.client_order_id for r in event.orders}
            changed |= self._legs_opened(links, event.at)
        return changed

    def _order_reports(self, reports: tuple[OrderReport, ...]) -> set[PositionKey]:
        changed: set[PositionKey] = set()
        orders, keys = self.orders, self._keys
        open_orders, open_at = self.open_orders, self._open_at
        for report in reports:
            # Found by a plain tuple (equal to its OrderKey, and hashed alike): a third of the
            # events are order reports, and only a new order needs a key built.
            order = orders.get((report.category, report.symbol, report.venue_order_id))  # type: ignore[call-overload]
            if order is None:
                if self._forgotten_report(report):
                    continue
                order_key = _new_tuple(
                    OrderKey, (report.category, report.symbol, report.venue_order_id)
                )
                order = orders[order_key] = Order(order_key)
            else:
                order_key = order.key
            link = report.client_order_id
            if link and self.order_keys_by_client_id.get(link) is not order_key:
                self.order_keys_by_client_id[link] = order_key
                intent = self.placed.get(link)
                if intent is not None:  # its entry's order is another now, changed or not
                    self.touched_symbols.add(intent.symbol)
            if not order.apply_report(report):
                continue
            # Filed under its position key while it is open (as ``key``, the key read first).
            leg = (report.category, report.symbol, report.position_idx)
            key = keys.get(leg)
            if key is None:
                key = self.key(*leg)
            # A report may name another key than the last one did: the order leaves the old one.
            previous = open_at.pop(order_key, None)
            if previous is not None:
                left = open_orders.get(previous)
                if left is not None:
                    left.discard(order_key)
                if previous is not key:  # its view no longer lists the order
                    self.touched.add(previous)
            if not report.status.is_terminal:
                at_key = open_orders.get(key)
                if at_key is None:
                    at_key = open_orders[key] = set()
                at_key.add(order_key)
                open_at[order_key] = key
            changed.add(key)
            # The order's link is now the report's (as Order.client_order_id reads it).
            self._touch_order(order_key, link, key.symbol)
        return changed

    def _executions_reported(self, event: ExecutionsReported) -> Changed:
        changed = self._order_reports(event.orders) if event.orders else set()
        orders = self.orders
        for fill in event.fills:
            if not fill.venue_order_id or fill.kind is FUNDING:
                continue  # a payment, or a settlement: it fills no order
            # As in _order_reports: found by a plain tuple.
            order = orders.get((fill.category, fill.symbol, fill.venue_order_id))  # type: ignore[call-overload]
            if order is None:
                if 0 < fill.exec_time <= self.forgotten_until:
                    continue  # a fill of an order let go, sent again (see domain/retention.py)
                order_key = _new_tuple(OrderKey, (fill.category, fill.symbol, fill.venue_order_id))
                order = orders[order_key] = Order(order_key)
            else:
                order_key = order.key
            if fill.client_order_id:
                self.order_keys_by_client_id.setdefault(fill.client_order_id, order_key)
            if order.apply_fill(fill):
                key = self._order_position_key(order)
                self._touch_order(order_key, order.client_order_id, key.symbol if key else None)
                if key is not None:
                    changed.add(key)
        if self.leg_orders:
            links = {r.client_order_id for r in event.orders}
            links.update(f.client_order_id for f in event.fills)
            changed |= self._legs_opened(links, event.at)
        pnl = self.pnl
        pnl.begin()
        pnl.executions(self, event)
        if pnl.moved:
            self.touched.update(pnl.moved)
        return changed

    def _forgotten_report(self, report: OrderReport) -> bool:
        """Whether a report of an order this book does not hold is one it let go, sent again.

        Only a terminal report can be: an open one is news, however old its timestamp (a
        resting order first seen in a REST listing).
        """
        return report.status.is_terminal and 0 < report.updated_time <= (self.forgotten_until)

    def _order_position_key(self, order: Order) -> PositionKey | None:
        r = order.report
        if r is not None:
            leg = (r.category, r.symbol, r.position_idx)
            return self._keys.get(leg) or self.key(*leg)  # a key is never empty
        placed = self.placed.get(order.client_order_id)
        if placed is not None:
            return self.local_keys.get(placed.position_id)
        return None

    # --- intents --------------------------------------------------------------------------

    def _account_mode_set(self, event: AccountModeSet) -> Changed:
        self.mode = event.mode
        return NOTHING

    def _local_opened(self, event: LocalPositionOpened) -> Changed:
        key = self.key(event.category, event.symbol, event.position_idx)
        return self.open_local(
            LocalPosition(
                position_id=event.position_id,
                key=key,
                side=event.side,
                qty=event.qty,
                mode=event.mode,
                timeframe=event.timeframe,
                opened_at=event.at,
            )
        )

    def open_local(self, local: LocalPosition) -> Changed:
        """Open a local claim: by the trading system's intent, or trueup's own (the leg a
        lock trigger's order opened, domain/triggers/detector.py)."""
        if local.position_id in self.local_keys:
            return NOTHING  # an intent repeated is the same claim
        key = local.key
        self.local_keys[local.position_id] = key
        self.position(key).add_local(local)
        if local.mode == "LIVE":
            self.pnl.local_opened(key, local.position_id)
        self._touch_intents(local.position_id)
        self.touched.add(key)
        return {key}

    def _local_resized(self, event: LocalPositionResized) -> Changed:
        local = self.local_position(event.position_id)
        if local is None or not local.is_open or local.qty == event.qty:
            return NOTHING
        self.positions[local.key].resize_local(local, event.qty)
        return {local.key}

    def _local_closed(self, event: LocalPositionClosed | LocalPositionCleaned) -> Changed:
        return self.close_local(event.position_id, event.exit_reason, event.at)

    def close_local(self, position_id: str, exit_reason: str, at: int) -> Changed:
        """Close an open local position: by the trading system's intent, an operator's
        clean, or trueup's own finding that the exchange closed it (then the intent that
        follows changes nothing)."""
        key = self.local_keys.get(position_id)
        if key is None or not self.positions[key].close_local(position_id, exit_reason, at):
            return NOTHING
        self._wait_to_forget(self._locals_to_forget, position_id)
        # Its intents and orders were kept for it while it was open; from now they may go.
        for link in self._client_ids_by_position.get(position_id, ()):
            self._wait_to_forget(self._intents_to_forget, link)
        self._touch_intents(position_id)
        self.touched.add(key)
        return {key}

    def take_touched(self, symbols: set[str]) -> None:
        """Add to ``symbols`` those whose views may show something new since the last take
        (of the keys touched, and the intents' symbols), and begin again from none."""
        if self.touched:
            symbols.update([key.symbol for key in self.touched])
            self.touched.clear()
        if self.touched_symbols:
            symbols.update(self.touched_symbols)
            self.touched_symbols.clear()

    def _touch_intents(self, position_id: str) -> None:
        """The symbols of a local position's intents: its opening or closing starts or ends
        their entries in flight."""
        placed = self.placed
        for link in self._client_ids_by_position.get(position_id, ()):
            intent = placed.get(link)
            if intent is not None:
                self.touched_symbols.add(intent.symbol)

    def local_position(self, position_id: str) -> LocalPosition | None:
        key = self.local_keys.get(position_id)
        return self.positions[key].local[position_id] if key else None

    def _order_placed(self, event: OrderPlaced) -> Changed:
        if event.client_order_id in self.placed:
            return NOTHING
        # Kept without its verbatim line: nothing reads it here (the journal has it), and
        # an account keeps thousands of these for the retention window.
        event = structs.replace(event, raw="")
        self.placed[event.client_order_id] = event
        self._placed_by_purpose.setdefault((event.position_id, event.purpose), event)
        links = self._client_ids_by_position.get(event.position_id)
        if links is None:  # not setdefault: that would build a dict for every intent
            links = self._client_ids_by_position[event.position_id] = {}
        links[event.client_order_id] = None
        # As _wait_to_forget, without its call: a sixth of the events are intents placed.
        clock = self.clock
        self._intents_to_forget.touch(event.client_order_id, clock)
        due, next_forget = clock + self._forget_after_ms, self._next_forget
        self._next_forget = due if due < next_forget else next_forget  # as min()
        key = self.local_keys.get(event.position_id)
        return {key} if key else NOTHING

    # --- legs of trueup's own (a lock trigger's, domain/triggers/detector.py) ----------------

    def _placement_reported(self, event: OrderPlacementReported) -> Changed:
        """An order that opens a leg once it executes, followed by its client_order_id.

        As the trigger follows it: a refusal of an order the venue does not report holding
        opens nothing, and a repeated report changes nothing."""
        opens = event.opens
        link = event.client_order_id
        if (
            opens is None
            or event.action is not OrderAction.PLACE
            or link in self.leg_orders
            or opens.position_id in self.local_keys
        ):
            return NOTHING
        if event.outcome is PlacementOutcome.REFUSED and self.order_by_client_id(link) is None:
            return NOTHING
        self.leg_orders[link] = structs.replace(event, raw="")
        # Let go after the window if its order never shows (see _forget_intent).
        self._wait_to_forget(self._intents_to_forget, link)
        # Its reports may have come in before the executor could say it placed it.
        return frozenset(self._legs_opened((link,), event.at))

    def _legs_opened(self, links: Iterable[str], at: int) -> set[PositionKey]:
        """Open the leg of each of ``links``' orders that has executed: ended, or filled
        what was asked, having filled some; the leg holds what it filled. An order that
        ended with nothing filled opens nothing."""
        changed: set[PositionKey] = set()
        for link in sorted(links):
            placement = self.leg_orders.get(link)
            order = self.order_by_client_id(link) if placement is not None else None
            if placement is None or order is None:
                continue
            filled, asked = order.filled_qty, placement.qty
            if not (
                order.status is OrderStatus.FILLED
                or order.is_terminal
                or (asked is not None and filled >= asked)
            ):
                continue
            del self.leg_orders[link]
            opens = placement.opens
            if filled <= 0 or opens is None:
                continue
            key = self.key(opens.category, placement.symbol, opens.position_idx)
            local = LocalPosition(
                position_id=opens.position_id,
                key=key,
                side=opens.side,
                qty=filled,
                mode="LIVE",
                timeframe=None,
                opened_at=at,
            )
            if self.open_local(local):
                self.legs[opens.position_id] = Leg.OPENED
                changed.add(key)
        return changed

    def _follow_legs(self, changed: Changed, at: int) -> None:
        """What the exchange now shows of the open legs on ``changed``: a leg it has shown on
        its side and now shows flat was closed there (the manual-close rule says why)."""
        for position_id, leg in list(self.legs.items()):
            key = self.local_keys.get(position_id)
            if leg is Leg.FLAT or key is None or key not in changed:
                continue
            position = self.positions[key]
            local = position.opened.get(position_id)
            if local is None:
                continue  # closed otherwise (an operator's clean)
            qty = position.exchange_qty
            if qty != 0 and (qty > 0) == (local.signed_qty > 0):
                self.legs[position_id] = Leg.SHOWN
            elif leg is Leg.SHOWN and position.exchange is not None and position.exchange.size == 0:
                self.legs[position_id] = Leg.FLAT
                # No reason of its own: exits.exit_reason then reads the fills, as for any close.
                self.close_local(position_id, "", at)

    def legs_closed(self, key: PositionKey) -> list[LocalPosition]:
        """The legs of trueup's own on ``key`` the exchange closed (not yet forgotten)."""
        position = self.positions.get(key)
        if position is None:
            return []
        return [
            position.local[pid]
            for pid, leg in self.legs.items()
            if leg is Leg.FLAT and pid in position.local
        ]

    def _order_cancelled(self, event: OrderCancelled) -> Changed:
        # A cancel request is a claim; the exchange's order report is what ends the order.
        self.cancel_requested.setdefault(event.client_order_id, event.at)
        self._wait_to_forget(self._intents_to_forget, event.client_order_id)
        return NOTHING

    # --- letting go of what has finished (domain/retention.py) -----------------------------

    def _touch_order(self, order_key: OrderKey, link: str, symbol: str | None) -> None:
        """Restart the wait of whatever decides the fate of the order whose client_order_id
        is ``link``: its intent, if placed, whose symbol is touched unless it is ``symbol``
        (the order's key's, touched with it)."""
        # As _placed_for and _wait_to_forget, read here: asked for every report and fill
        # that changes an order.
        clock = self.clock
        placed = self.placed.get(link)
        if placed is not None and self.order_keys_by_client_id.get(link) == order_key:
            self._intents_to_forget.touch(link, clock)
            if placed.symbol != symbol:
                self.touched_symbols.add(placed.symbol)
        else:
            self._orders_to_forget.touch(order_key, clock)
        due, next_forget = clock + self._forget_after_ms, self._next_forget
        self._next_forget = due if due < next_forget else next_forget  # as min()

    def _wait_to_forget(self, queue: Retention[K], key: K) -> None:
        """(Re)start the wait before ``key`` may be forgotten: it was just touched."""
        clock = self.clock
        queue.touch(key, clock)
        due, next_forget = clock + self._forget_after_ms, self._next_forget
        self._next_forget = due if due < next_forget else next_forget  # as min()

    def _placed_for(self, order_key: OrderKey, order: Order) -> bool:
        """Whether the order is the one an intent of this book placed (its link leads here)."""
        link = order.client_order_id
        return link in self.placed and self.order_keys_by_client_id.get(link) == order_key

    def _forget_due(self) -> None:
        """Let go of what was untouched for more than the window at the last sweep instant
        (a multiple of a tenth of the window) and is no longer in use."""
        window = self._forget_after_ms
        step = max(window // 10, 1)
        clock = self.clock
        # Sweeps are as of fixed instants of input time, so that a fold of some of the
        # account's inputs (an audit of one symbol) lets go of a key exactly where the fold
        # of all of them did: at the first sweep instant after it fell due, whichever input
        # comes first after that instant. Once in a tenth of the window at most, so that a
        # busy account pays for this pass once in many inputs: what is due goes within 1.1
        # windows. Touched at or before ``due_by``: untouched for more than the window.
        due_by = sweep_instant(clock, step) - 1
        # Local positions first: an intent is let go only once its position is done with.
        for position_id in self._locals_to_forget.due(due_by):
            self._forget_local(position_id)
        for link in self._intents_to_forget.due(due_by):
            self._forget_intent(link)
        for order_key in self._orders_to_forget.due(due_by):
            self._forget_exchange_order(order_key)
        self.forgotten.trim(due_by, window)
        due = min(
            self._locals_to_forget.next_due(),
            self._intents_to_forget.next_due(),
            self._orders_to_forget.next_due(),
            self.forgotten.first_added() + window,
        )
        # The first sweep instant after it (later than this one: ``due`` is past due_by).
        self._next_forget = NEVER if due >= NEVER else sweep_instant(due, step) + step

    def _forget_exchange_order(self, order_key: OrderKey) -> None:
        """An order no intent placed goes once it is finished, or never reported (fills only)."""
        order = self.orders.get(order_key)
        if order is None or self._placed_for(order_key, order):
            return  # gone already, or its intent decides (it was touched when placed)
        if order.report is None or order.is_terminal:
            self._drop_order(order_key, order)

    def _forget_intent(self, link: str) -> None:
        """An intent goes with its order once both are done with and its position needs neither."""
        placed = self.placed.get(link)
        order_key = self.order_keys_by_client_id.get(link)
        order = self.orders.get(order_key) if order_key else None
        if placed is not None and self._intent_in_use(placed, order):
            return  # touched again when that changes: the order ends, or its position closes
        self.cancel_requested.pop(link, None)
        if link in self.leg_orders and (order is None or order.is_terminal):
            del self.leg_orders[link]  # never shown, or ended unlooked-for: it opens nothing now
        if placed is None:
            return  # a cancel request for no intent of ours: its order, if any, goes by itself
        if order_key is not None and order is not None:
            self._drop_order(order_key, order)  # finished, or never reported
        self._drop_intent(placed)

    def _intent_in_use(self, placed: OrderPlaced, order: Order | None) -> bool:
        """Open order; or an open position that still reads it (entry_resting, tp1_state,
        can_open's entries in flight), being first of its purpose or never reported."""
        report = order.report if order is not None else None
        if report is not None and not report.status.is_terminal:
            return True
        # As local_position, read here: asked of every intent as it falls due.
        position_id = placed.position_id
        at_key = self.local_keys.get(position_id)
        owner = self.positions[at_key].local[position_id] if at_key else None
        if owner is None or not owner.is_open:
            return False
        first = self._placed_by_purpose.get((placed.position_id, placed.purpose)) is placed
        return first or order is None or order.report is None

    def _forget_local(self, position_id: str) -> None:
        """A closed local position goes; its intents follow as they fall due themselves.

        The views show only open local positions: of a closed one, only that its key was
        held, so its key is touched only when that is no longer so."""
        local = self.local_position(position_id)
        if local is None or local.is_open:
            return
        key = local.key
        self.positions[key].forget_local(position_id)
        if not self.held_ever(key):
            self.touched.add(key)
        del self.local_keys[position_id]
        self.legs.pop(position_id, None)
        self.forgotten.locals.add(position_id, self.clock)

    def _drop_order(self, order_key: OrderKey, order: Order) -> None:
        """Remove it, raising the horizon below which a report of it is a replay."""
        # Never one in open_orders: only a terminal or never reported order is dropped.
        del self.orders[order_key]
        link = order.client_order_id
        if link and self.order_keys_by_client_id.get(link) == order_key:
            del self.order_keys_by_client_id[link]
            intent = self.placed.get(link)
            if intent is not None:  # kept past its order: its entry shows no order now
                self.touched_symbols.add(intent.symbol)
        venue_time, until = order.venue_time, self.forgotten_until
        self.forgotten_until = venue_time if venue_time > until else until  # as max()
        self.forgotten.orders.add(order_key, self.clock)

    def _drop_intent(self, placed: OrderPlaced) -> None:
        link, position_id = placed.client_order_id, placed.position_id
        del self.placed[link]
        slot = (position_id, placed.purpose)
        if self._placed_by_purpose.get(slot) is placed:
            del self._placed_by_purpose[slot]
        links = self._client_ids_by_position.get(position_id)
        if links is not None:
            links.pop(link, None)
            if not links:
                del self._client_ids_by_position[position_id]
        self.forgotten.intents.add(link, self.clock)


def _fills_settled(ledger: KeyLedger | None, served: int, received: int) -> bool:
    """Whether a list served at ``served`` (received at ``received``) came long enough
    after the last fill of the lifecycle of trueup's fills open on a key (if one is) to
    show it."""
    return ledger is None or ledger.open is None or ledger.settled_by(served, received)


class Leg(Enum):
    """Where a leg of trueup's own stands, by the exchange's word."""

    OPENED = "opened"  # not yet shown on its side
    SHOWN = "shown"
    FLAT = "flat"  # shown, then flat: closed there


def fold(venue: str, account: str, events: Iterable[InputEvent]) -> AccountBook:
    """Replay events into a fresh book: the same events always give the same book."""
    book = AccountBook(venue, account)
    apply = book.apply
    for event in events:
        apply(event)
    return book
