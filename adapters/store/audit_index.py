"""The audit index: rows stored beside the inputs, naming which positions each can touch,
so that an audit of one symbol reads that symbol's inputs and not its whole account's.

In the transaction that appends a batch, for each account stream the batch wrote to, rows
keyed by the batch's last version in that stream (so no two batches ever share a key):
- one per symbol the batch names: the versions of its inputs that name the symbol, list it
  in a position snapshot, quote its price, or name a position or order intent opened or
  placed for it;
- one per snapshot scope (category, symbol, settle coin, base coin) of the batch's
  position pages: their versions, and which of them begin a pagination run;
- one for the account, when needed: inputs that bear on every position (account mode),
  refused snapshot pages, scopes this process had not declared yet, and, in a process's
  first batch for the account, the version from which its inputs are all indexed.
Beside each position opening and order placement, an owner row under the position's (or
the order's) id names its symbol, so that a later intent naming only that id finds it
(owner_table.py keeps them, keyed by the id itself). An order
placement is filed under the symbols its position was opened for before it too, whatever
symbol it spells itself (``btcusdt``, ccxt's ``BTC/USDT:USDT``): the book ties it to the position by
the position's id, so a TP1 placed so is still that position's TP1. One placed before its
position was opened for any symbol leaves a row under the position's id naming its version;
the position's first opening (the only one the book heeds) files those placements under
the symbol it opens, in the row of the opening's batch (a symbol's rows are read whole, so
a version listed after its batch is found all the same).

Pages are filed by scope, not under every symbol they might flatten: whether one flattens a
symbol's key depends on the fold (only a key held, or never reported, is), so the audit
decides, reading a scope's pages only while the symbol has such a key
(projections/indexed_audit.py). An idle account polled every 5 s costs no audit anything.

What it costs an append: a symbol's rows go to the end of their own stream, so each lands
on a page of the primary key of its own. Owner rows were kept so too, under a hash of their
id, until journal format 6: on a journal of 1,000,000 inputs (bench/serving.py) a
4,000-input batch's 500 owner rows rewrote about 500 pages, most of what it wrote beyond
what it writes into an empty journal (gathering the hashed keys under a prefix of their own
changed nothing: 500 inserts at random places in a few thousand pages rewrite about as
many). Keyed by the id itself, ids minted in order land together (owner_table.py): on that
journal, 30,000 lines appended in 0.77 s where hashed keys took 1.08 s (0.59 s into the
small one), and their ingest wrote 220 MB where it wrote 270 MB (170 MB). What remains is a
page per stream a batch appends to (each symbol's rows, each account's inputs): the tails
of long streams, where in a small journal many share a page.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from trueup.adapters.store.owner_table import OwnerRow
from trueup.domain.events import (
    ExecutionsReported,
    Fill,
    InputEvent,
    InputRejected,
    LocalPositionCleaned,
    LocalPositionClosed,
    LocalPositionOpened,
    LocalPositionResized,
    OrderCancelled,
    OrderPlaced,
    OrderReport,
    OrdersReported,
    PositionsReported,
    PricesReported,
)
from trueup.domain.keys import minted_id
from trueup.domain.snapshots import Scope, scope_of

INDEX_TOPIC = "trueup.index"
OWNER_TOPIC = "trueup.index-owner"  # an owner row in the events table, before format 6

# What this process has declared in an account's index row: the scopes, and None for
# "indexed from" (once per account and process is enough: readers take the least).
Declared = set[tuple[UUID, Scope | None]]


@lru_cache(maxsize=8192)  # every batch asks for its symbols' streams
def _stream(kind: str, account_stream: UUID, key: str | tuple[str | None, ...] | None) -> UUID:
    # JSON keeps keys unambiguous: ("a:b", "c") and ("a", "b:c") are two names. Its uuid5,
    # minted from the bytes as input ids are, at three quarters of uuid5's cost.
    return UUID(minted_id(orjson.dumps([kind, account_stream.hex, key])))


def account_index_id(account_stream: UUID) -> UUID:
    return _stream("index-account", account_stream, None)


def symbol_index_id(account_stream: UUID, symbol: str) -> UUID:
    return _stream("index-symbol", account_stream, symbol)


def scope_index_id(account_stream: UUID, scope: Scope) -> UUID:
    return _stream("index-scope", account_stream, _stored_scope(scope))


def _stored_scope(scope: Scope) -> tuple[str | None, ...]:
    # A scope asked of no base coin as scopes were before they named one: its rows keep
    # their ids, and an index written before reads as one written now.
    return scope[:3] if scope[3] is None else scope


class OwnerKind(Enum):
    """What an owner row is of; its value names its rows in the events table before format 6."""

    POSITION = "owner-position"  # a position opened: its symbol
    ORDER = "owner-order"  # an order placed: the symbols it is filed under
    PLACED_FIRST = "placed-first"  # orders placed for a position before it was opened

    # Each member is the one object of its value: hashed by identity, in C, for the owners
    # every batch looks up (Enum's own hashes its name in Python).
    __hash__ = object.__hash__


_KIND_CODES = {OwnerKind.POSITION: b"\0P", OwnerKind.ORDER: b"\0O", OwnerKind.PLACED_FIRST: b"\0F"}


class Owner(NamedTuple):
    """A position or order of an account, by its id: whose owner rows name its symbols."""

    kind: OwnerKind
    account_stream: UUID
    id: str

    @property
    def key(self) -> bytes:
        """Its rows' key in the owner table: the id first, so that ids minted in order sort
        together; then its kind and account, 18 bytes that end every key (so no id's bytes
        can pass for another's)."""
        return (
            self.id.encode("utf-8", "surrogatepass")
            + _KIND_CODES[self.kind]
            + self.account_stream.bytes
        )

    @property
    def events_stream(self) -> UUID:
        """Where a trueup of journal format 5 or older kept its rows, in the events table."""
        return _stream(self.kind.value, self.account_stream, self.id)


def position_owner(account_stream: UUID, position_id: str) -> Owner:
    return Owner(OwnerKind.POSITION, account_stream, position_id)


def order_owner(account_stream: UUID, client_order_id: str) -> Owner:
    return Owner(OwnerKind.ORDER, account_stream, client_order_id)


def placed_first_owner(account_stream: UUID, position_id: str) -> Owner:
    """The orders placed for a position before it was opened: their versions."""
    return Owner(OwnerKind.PLACED_FIRST, account_stream, position_id)


class Placed(NamedTuple):
    """An input, where the batch puts it, and the symbols it concerns (``event.symbols``,
    asked for once per input: its stored form names them too)."""

    event: InputEvent
    stream: UUID
    version: int
    symbols: tuple[str, ...] | None


@dataclass(slots=True)
class AccountEntry:
    """What one account index row says."""

    indexed_from: int | None = None
    wide: list[int] = field(default_factory=list)  # bear on every position: account mode
    refused: list[int] = field(default_factory=list)  # refused snapshot pages
    scopes: list[Scope] = field(default_factory=list)
    tangled: list[str] = field(default_factory=list)  # symbols audited by the whole account

    def encode(self) -> bytes:
        found: dict[str, Any] = {
            "from": self.indexed_from,
            "wide": self.wide,
            "refused": self.refused,
            "scopes": [_stored_scope(scope) for scope in self.scopes],
        }
        if self.tangled:  # rows of an older trueup have none
            found["tangled"] = self.tangled
        return orjson.dumps(found)

    @classmethod
    def decode(cls, state: bytes) -> "AccountEntry":
        found: dict[str, Any] = orjson.loads(state)
        scopes = [(s[0], s[1], s[2], s[3] if len(s) > 3 else None) for s in found["scopes"]]
        tangled = found.get("tangled", [])
        return cls(found["from"], found["wide"], found["refused"], scopes, tangled)


@dataclass(slots=True)
class ScopeEntry:
    """What one scope index row says: page versions, and those that begin a run."""

    pages: list[int] = field(default_factory=list)
    firsts: list[int] = field(default_factory=list)

    def encode(self) -> bytes:
        return orjson.dumps([self.pages, self.firsts])

    @classmethod
    def decode(cls, state: bytes) -> "ScopeEntry":
        pages, firsts = orjson.loads(state)
        return cls(pages, firsts)


def encode_versions(versions: list[int]) -> bytes:
    return orjson.dumps(versions)


def decode_versions(state: bytes) -> list[int]:
    versions: list[int] = orjson.loads(state)
    return versions


# What an owner row names: a symbol its position or order was opened for, or the version of
# an order placed for a position before it was opened, with the order's client id and the
# symbol it was placed on (None in rows of an older trueup).
PlacedFirst = tuple[int, str | None, str | None]
OwnerValue = str | PlacedFirst


def owner_values(state: bytes) -> list[OwnerValue]:
    """What one owner row names: ``"BTCUSDT"``, ``["btcusdt", "BTCUSDT"]`` (an order
    filed under several), ``[7, "p-1-tp1", "ETHUSDT"]`` (placed first), or ``[7, "p-1-tp1"]``
    and ``7`` (placed first, in an older trueup's rows)."""
    value = orjson.loads(state)
    if isinstance(value, int):
        return [(value, None, None)]
    if isinstance(value, list) and value and isinstance(value[0], int):
        return [(value[0], value[1], value[2] if len(value) > 2 else None)]
    return value if isinstance(value, list) else [value]


def owners_needed(placed: Iterable[Placed]) -> set[Owner]:
    """The owner rows to read before indexing a batch: those of the intents in it that
    name only a position or an order, of the positions orders are placed for, and of each
    position it opens, with the orders placed before it was."""
    needed: set[Owner] = set()
    for p in placed:
        # By the input's type, as _SORTS files it: most inputs (reports) need none.
        owners_of = _OWNERS_NAMED.get(type(p.event))
        if owners_of is not None:
            needed.update(owners_of(p.stream, p.event))
    return needed


def _opening_owners(stream: UUID, event: LocalPositionOpened) -> tuple[Owner, ...]:
    # Whether the position was opened before: only its first opening takes the orders
    # placed before it, as only that one opens it in the book.
    position_id = event.position_id
    return position_owner(stream, position_id), placed_first_owner(stream, position_id)


def _position_owners(
    stream: UUID, event: LocalPositionResized | LocalPositionClosed | LocalPositionCleaned
) -> tuple[Owner, ...]:
    return (position_owner(stream, event.position_id),)


def _same_instrument(spelt: str, symbol: str) -> bool:
    """Whether a placement's symbol is the position's spelt another way (``btcusdt``,
    ccxt's ``BTC/USDT:USDT``, a space): the venue reports that order under the position's
    symbol, so the position's rows hold its reports. Where unsure, not: the symbols are
    then audited by the whole account, which is right, only slower."""
    return _letters(spelt.split(":", 1)[0]) == _letters(symbol)


def _letters(symbol: str) -> str:
    return "".join(c for c in symbol if c.isalnum()).upper()


def _placement_owners(stream: UUID, event: OrderPlaced) -> tuple[Owner, ...]:
    # Its order's too: a client id placed before, under other symbols, is one order to the book.
    return position_owner(stream, event.position_id), order_owner(stream, event.client_order_id)


def _order_owners(stream: UUID, event: OrderCancelled) -> tuple[Owner, ...]:
    return (order_owner(stream, event.client_order_id),)


def _linked_owners(stream: UUID, event: OrdersReported | ExecutionsReported) -> tuple[Owner, ...]:
    links = {r.client_order_id for r in _records(event) if r.client_order_id}
    return tuple(order_owner(stream, link) for link in links)


def _records(event: OrdersReported | ExecutionsReported) -> tuple[OrderReport | Fill, ...]:
    """The orders and fills a report names."""
    return event.orders + event.fills if isinstance(event, ExecutionsReported) else event.orders


# The owner rows each type of input needs read. An order placed for a position: whatever
# symbol it spells, the book ties it to the position by its id (another spelling,
# ``btcusdt`` or ccxt's, is still that position's).
_OWNERS_NAMED: dict[type[InputEvent], Callable[[UUID, Any], tuple[Owner, ...]]] = {
    LocalPositionOpened: _opening_owners,
    LocalPositionResized: _position_owners,
    LocalPositionClosed: _position_owners,
    LocalPositionCleaned: _position_owners,
    OrderPlaced: _placement_owners,
    OrderCancelled: _order_owners,
    OrdersReported: _linked_owners,
    ExecutionsReported: _linked_owners,
}


class _AccountBatch:
    """One account's share of a batch, sorted into index rows."""

    def __init__(
        self,
        stream: UUID,
        owners: dict[Owner, set[str]],
        placed_first: dict[Owner, list[PlacedFirst]],
    ) -> None:
        self.stream = stream
        self.first = 0
        self.last = 0
        self.symbols: dict[str, list[int]] = {}
        self.scopes: dict[Scope, ScopeEntry] = {}
        self.account = AccountEntry()
        self.tangled: set[str] = set()
        self.owner_rows: list[OwnerRow] = []
        # Owners known before the batch, and those it adds as it goes: an intent is indexed
        # under the symbols its position or order was opened for before it.
        self.owners = owners
        # The orders placed for each position before it was opened (version, client id),
        # known before the batch and added as it goes: its first opening files them under
        # its symbol.
        self.placed_first = placed_first

    def add(self, event: InputEvent, version: int, symbols: tuple[str, ...] | None) -> None:
        if not self.first:
            self.first = version
        self.last = version
        sort = _SORTS.get(type(event))
        if sort is not None:
            sort(self, event, version)
            return
        self._named(symbols, version)
        if isinstance(event, OrdersReported | ExecutionsReported):
            self._linked(event)

    def _named(self, symbols: tuple[str, ...] | None, version: int) -> None:
        if symbols is None:  # bears on every position: account mode, and types to come
            self.account.wide.append(version)
        elif len(symbols) == 1:  # most inputs: no repeats to drop
            self._name_one(symbols[0], version)
        else:
            self._name(symbols, version)

    def _opened(self, event: LocalPositionOpened, version: int) -> None:
        owner = position_owner(self.stream, event.position_id)
        opened_for = self.owners.get(owner)
        first = not opened_for
        if opened_for and event.symbol not in opened_for:
            # Opened again for another symbol: whether the book heeds it turns on the
            # position's whole history under the first (held, or let go since).
            self._tangle({*opened_for, event.symbol})
        symbol = (event.symbol,)
        self._own(owner, symbol, version)
        self._name(symbol, version)
        if not first:
            return
        before = self.placed_first.get(placed_first_owner(self.stream, event.position_id), ())
        for placed, _, placed_on in before:
            self._name(symbol, placed)
            if placed_on is not None and not _same_instrument(placed_on, event.symbol):
                # Placed on another instrument: its reports until now, filed under that one
                # (and any earlier order of its client id), decide what the book holds of it
                # for this position.
                self._tangle({placed_on, event.symbol})
        # Their cancels are found under their orders' rows: each names the symbol too.
        for client_order_id in dict.fromkeys(c for _, c, _ in before if c is not None):
            self._own(order_owner(self.stream, client_order_id), symbol, version)

    def _placed(self, event: OrderPlaced, version: int) -> None:
        order = order_owner(self.stream, event.client_order_id)
        position = self.owners.get(position_owner(self.stream, event.position_id))
        placed_before = self.owners.get(order)
        if placed_before and not placed_before <= {event.symbol, *(position or ())}:
            # A client id placed before under other symbols: what the book makes of this
            # placement turns on that order's history there.
            self._tangle({*placed_before, event.symbol, *(position or ())})
        if position:
            symbols = tuple(dict.fromkeys((event.symbol, *sorted(position))))
            self._own(order, symbols, version)
            self._name(symbols, version)
            return
        # Its position not opened yet: filed under the symbol it is opened for, when it is.
        self._own(order, (event.symbol,), version)
        self._name((event.symbol,), version)
        owner = placed_first_owner(self.stream, event.position_id)
        placed = (version, event.client_order_id, event.symbol)
        self.placed_first.setdefault(owner, []).append(placed)
        self.owner_rows.append((owner.key, version, orjson.dumps(placed)))

    def _position_intent(
        self, event: LocalPositionResized | LocalPositionClosed | LocalPositionCleaned, version: int
    ) -> None:
        owner = position_owner(self.stream, event.position_id)
        self._name(self.owners.get(owner, ()), version)

    def _cancelled(self, event: OrderCancelled, version: int) -> None:
        self._name(self.owners.get(order_owner(self.stream, event.client_order_id), ()), version)

    def _linked(self, event: OrdersReported | ExecutionsReported) -> None:
        """Reports of an order the bot placed under other symbols than they name: the book
        ties them to the position it was placed for, whose inputs the symbol's rows cannot
        hold in full (its other reports, fills naming no order link)."""
        owners, stream = self.owners, self.stream
        for record in _records(event):
            link = record.client_order_id
            if link:
                named = owners.get(order_owner(stream, link))
                if named and (len(named) > 1 or record.symbol not in named):
                    self._tangle({*named, record.symbol})

    def _tangle(self, symbols: set[str]) -> None:
        """Have these symbols audited by a read of the whole account (AccountEntry.tangled)."""
        self.tangled |= symbols

    def _positions(self, event: PositionsReported, version: int) -> None:
        page = event.snapshot
        if page is not None:
            scope = self.scopes.setdefault(scope_of(page), ScopeEntry())
            scope.pages.append(version)
            if not page.cursor:
                scope.firsts.append(version)
        self._name((r.symbol for r in event.reports), version)

    def _prices(self, event: PricesReported, version: int) -> None:
        # Not under event.symbols, which names none (the views take only the held keys a
        # mark moves): an audit weighs a position's risk and PnL at the mark of its instant.
        self._name((quote.symbol for quote in event.quotes), version)

    def _rejected(self, event: InputRejected, version: int) -> None:
        if event.position_snapshot:
            self.account.refused.append(version)

    def _own(self, owner: Owner, symbols: tuple[str, ...], version: int) -> None:
        self.owners.setdefault(owner, set()).update(symbols)
        named = symbols[0] if len(symbols) == 1 else symbols
        self.owner_rows.append((owner.key, version, orjson.dumps(named)))

    def _name(self, symbols: Iterable[str], version: int) -> None:
        for symbol in dict.fromkeys(symbols):
            self._name_one(symbol, version)

    def _name_one(self, symbol: str, version: int) -> None:
        versions = self.symbols.get(symbol)
        if versions is None:
            self.symbols[symbol] = [version]
        else:
            versions.append(version)

    def rows(self, declared: Set[tuple[UUID, Scope | None]]) -> tuple[list[StoredEvent], Declared]:
        """The batch's index rows for this account (its owner rows apart: ``owner_rows``),
        and what they newly declare."""
        stream, last = self.stream, self.last
        new: Declared = set()
        if (stream, None) not in declared:
            self.account.indexed_from = self.first
            new.add((stream, None))
        for scope in self.scopes:
            if (stream, scope) not in declared:
                self.account.scopes.append(scope)
                new.add((stream, scope))
        rows = [
            StoredEvent(symbol_index_id(stream, s), last, INDEX_TOPIC, encode_versions(v))
            for s, v in self.symbols.items()
        ]
        rows += [
            StoredEvent(scope_index_id(stream, scope), last, INDEX_TOPIC, entry.encode())
            for scope, entry in self.scopes.items()
        ]
        entry = self.account
        entry.tangled = sorted(self.tangled)
        if new or entry.wide or entry.refused or entry.tangled:
            rows.append(StoredEvent(account_index_id(stream), last, INDEX_TOPIC, entry.encode()))
        return rows, new


# How each type of input is filed; any other, under the symbols it names (_named).
_SORTS: dict[type[InputEvent], Callable[[_AccountBatch, Any, int], None]] = {
    LocalPositionOpened: _AccountBatch._opened,
    OrderPlaced: _AccountBatch._placed,
    LocalPositionResized: _AccountBatch._position_intent,
    LocalPositionClosed: _AccountBatch._position_intent,
    LocalPositionCleaned: _AccountBatch._position_intent,
    OrderCancelled: _AccountBatch._cancelled,
    PositionsReported: _AccountBatch._positions,
    PricesReported: _AccountBatch._prices,
    InputRejected: _AccountBatch._rejected,
}


class BatchIndex(NamedTuple):
    """A batch's index: rows for the events table, rows for the owner table, and what they
    declare that was not declared before."""

    rows: list[StoredEvent]
    owner_rows: list[OwnerRow]
    declared: Declared


def index_rows(
    placed: Sequence[Placed],
    owners: Mapping[Owner, Iterable[OwnerValue]],
    declared: Set[tuple[UUID, Scope | None]],
) -> BatchIndex:
    """The index of a batch (``placed`` in version order within each stream), given what
    the owner rows ``owners_needed`` named before it (``owner_values``), and ``declared``."""
    accounts: dict[UUID, _AccountBatch] = {}
    known: dict[Owner, set[str]] = {}
    placed_first: dict[Owner, list[PlacedFirst]] = {}
    for owner, named in owners.items():
        for value in named:
            if isinstance(value, str):
                known.setdefault(owner, set()).add(value)
            else:
                placed_first.setdefault(owner, []).append(value)
    stream: UUID | None = None
    batch: _AccountBatch | None = None
    for event, of, version, symbols in placed:
        if of is not stream:  # a batch's inputs are most often one account's, in a run
            batch = accounts.get(of)
            if batch is None:
                batch = accounts[of] = _AccountBatch(of, known, placed_first)
            stream = of
        assert batch is not None
        batch.add(event, version, symbols)
    rows: list[StoredEvent] = []
    owner_rows: list[OwnerRow] = []
    new: Declared = set()
    for batch in accounts.values():
        more, declares = batch.rows(declared)
        rows += more
        owner_rows += batch.owner_rows
        new |= declares
    return BatchIndex(rows, owner_rows, new)
