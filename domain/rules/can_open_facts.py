"""The facts can-open weighs (domain/rules/can_open.py), found in an account's book and
detectors: what a replay hands the rule, and what the projection keeps in the views."""

from collections.abc import Collection

from trueup.domain.book import AccountBook
from trueup.domain.events import OrderPlaced
from trueup.domain.keys import PositionKey
from trueup.domain.pnl import unreported
from trueup.domain.position import Position
from trueup.domain.rules.account import AccountDetectors
from trueup.domain.rules.can_open import (
    AccountFacts,
    EntryInFlight,
    FilledFacts,
    HeldFacts,
    KeyFacts,
    LocalFacts,
    SymbolFacts,
    Verdict,
    judge,
)
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.orders import is_filled
from trueup.domain.vocabulary import PositionSide


def account_facts(book: AccountBook, config: RuleConfig) -> AccountFacts:
    faults = book.fold_faults
    return AccountFacts(
        len(faults),
        faults[0] if faults else None,
        known=book.heard_from,
        # In scope order, so that the same book gives the same facts however it was made.
        snapshots=tuple(book.vouched[scope] for scope in sorted(book.vouched, key=repr)),
        freshness_limit_ms=config.freshness_limit_ms,
        stream_down=book.stream_down,
        resync_due=book.resync_due,
    )


def symbol_facts(
    book: AccountBook,
    detectors: AccountDetectors,
    symbol: str,
    index: "SymbolIndex | None" = None,
) -> SymbolFacts:
    """The facts about ``symbol``; ``index``, when given, saves looking through every key
    and intent of the account for it (the views build many symbols' at once)."""
    index = index or SymbolIndex(book, only=(symbol,))
    keys: list[KeyFacts] = []
    symbol_keys = index.keys.get(symbol, ())
    for key in sorted([*symbol_keys, *index.ledger_only.get(symbol, ())]):
        # A key only trueup's fills have named has no position in the book: it is weighed
        # for as long as they hold it.
        position = book.positions.get(key)
        held = None if position is None else position.exchange
        filled = unreported_fills(book, key)
        if position is None:
            if filled is None:
                continue
            position = Position(key)
        keys.append(
            KeyFacts(
                position_idx=key.position_idx,
                local_qty=position.local_qty,
                exchange_qty=position.exchange_qty,
                held=HeldFacts(held.side, held.size, held.seq) if held and held.size else None,
                drift_since=detectors.drift.unresolved(key),
                locals=tuple(
                    LocalFacts(
                        local.position_id,
                        local.mode,
                        local.timeframe,
                        detectors.stale.why(book, local),
                        detectors.manual_close.awaited_since(local.position_id),
                    )
                    for local in position.open_local()
                ),
                filled=filled,
            )
        )
    entries: list[EntryInFlight] = []
    for link, placed in index.entries.get(symbol, ()):
        owner = book.local_position(placed.position_id)
        if owner is None or owner.mode != "LIVE" or not owner.is_open:
            continue
        order = book.order_by_client_id(link)
        if order is None or not (order.is_terminal or is_filled(order)):
            entries.append(EntryInFlight(link, order.status if order else None, placed.at))
    return SymbolFacts(
        tuple(keys),
        tuple(entries),
        detectors.manual_close.cooldown_until(symbol),
        tuple(sorted({key.category for key in symbol_keys})),
    )


def unreported_fills(book: AccountBook, key: PositionKey) -> FilledFacts | None:
    """The position trueup's fills opened on ``key`` that no report of the venue has named
    since, taken as held; only where a list of the venue's could name the key (Bybit's spot
    has no positions, so its buys open none), or none was taken yet."""
    ledger = book.pnl.keys.get(key)
    if ledger is None or ledger.open is None:
        return None
    position = book.positions.get(key)
    held = None if position is None else position.exchange
    received = 0 if position is None else position.exchange_at
    life = unreported(ledger, held, received)
    if life is None:
        return None
    vouched = book.vouched.values()
    if vouched and not any(v.coverage.covers(key.category, key.symbol) for v in vouched):
        return None
    return FilledFacts(life.side, life.size, life.opened_at)


class SymbolIndex:
    """An account's position keys and ENTRY intents by symbol, each list in order; with
    ``only``, of those symbols alone. ``ledger_only``: the keys only the PnL ledger holds
    (fills folded, but no position report or intent named them yet)."""

    __slots__ = ("entries", "keys", "ledger_only")

    def __init__(self, book: AccountBook, only: Collection[str] | None = None) -> None:
        self.keys: dict[str, list[PositionKey]] = {}
        self.entries: dict[str, list[tuple[str, OrderPlaced]]] = {}
        self.ledger_only: dict[str, list[PositionKey]] = {}
        positions = book.positions
        keys = positions if only is None else (k for k in positions if k.symbol in only)
        for key in sorted(keys):
            self.keys.setdefault(key.symbol, []).append(key)
        ledger_only = [
            key
            for key in book.pnl.keys
            if key not in positions and (only is None or key.symbol in only)
        ]
        for key in sorted(ledger_only):
            self.ledger_only.setdefault(key.symbol, []).append(key)
        entries = [
            (link, placed)
            for link, placed in book.placed.items()
            if (only is None or placed.symbol in only) and placed.purpose == "ENTRY"
        ]
        for link, placed in sorted(entries, key=lambda entry: entry[0]):
            self.entries.setdefault(placed.symbol, []).append((link, placed))


def can_open(
    book: AccountBook,
    detectors: AccountDetectors,
    symbol: str,
    now: int,
    *,
    config: RuleConfig | None = None,
    side: PositionSide | None = None,
    timeframe: str | None = None,
) -> Verdict:
    return judge(
        account_facts(book, config or RuleConfig()),
        symbol_facts(book, detectors, symbol),
        symbol,
        now,
        side=side,
        timeframe=timeframe,
    )
