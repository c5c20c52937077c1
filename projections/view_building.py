"""The persisted views (projections/views.py) built from the reconciled state alone, so a
view is exactly what a replay would give; the projection rebuilds only those its inputs
touched (domain/touched.py)."""

from collections.abc import Iterator
from decimal import Decimal

import orjson

from trueup.adapters.store import codec
from trueup.domain.book import AccountBook
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected
from trueup.domain.keys import PositionKey
from trueup.domain.pnl_records import ClosedPosition
from trueup.domain.position import Position
from trueup.domain.reconciler import Account, Reconciler
from trueup.domain.risk import position_risk
from trueup.domain.rules.can_open_facts import SymbolIndex, account_facts, symbol_facts
from trueup.domain.rules.findings import Finding, dated_findings
from trueup.domain.snapshots import describe
from trueup.domain.touched import Touched
from trueup.projections.audit import position_state
from trueup.projections.position_json import pnl_state
from trueup.projections.triggers import trigger_rows
from trueup.projections.views import AccountView, Freshness, KeyRow, SymbolView

ZERO = Decimal(0)


def symbol_view(
    reconciler: Reconciler,
    account: Account,
    symbol: str,
    index: SymbolIndex | None = None,
) -> SymbolView:
    """The symbol's view; ``index``, when given, saves looking through every key of the
    account for it (see ``touched_views``)."""
    book = reconciler.book(*account)
    detectors = reconciler.detectors(*account)
    index = index or SymbolIndex(book, only=(symbol,))
    keys = []
    for key in sorted([*index.keys.get(symbol, ()), *index.ledger_only.get(symbol, ())]):
        position = book.positions.get(key)
        findings = dated_findings(book, detectors, reconciler.config, key)
        if position is None:
            keys.append(_ledger_only_row(book, key, findings))
            continue
        keys.append(
            KeyRow(
                category=key.category,
                position_idx=key.position_idx,
                local_qty=position.local_qty,
                exchange_qty=position.exchange_qty,
                findings=tuple(text for text, _ in findings),
                state=position_state(book, position),
                held_ever=book.held_ever(key),
                pnl=pnl_state(book, key),
                risk=position_risk(book, key, reconciler.config),
                deadlines=tuple(due for _, due in findings),
            )
        )
    facts = symbol_facts(book, detectors, symbol, index)
    return SymbolView(*account, symbol, tuple(keys), facts)


def _ledger_only_row(book: AccountBook, key: PositionKey, findings: list[Finding]) -> KeyRow:
    """A key known by its fills alone: flat as the book sees it (no report says otherwise),
    with no risk, but its PnL, its findings (held by its fills, unreported), and held once."""
    return KeyRow(
        category=key.category,
        position_idx=key.position_idx,
        local_qty=ZERO,
        exchange_qty=ZERO,
        findings=tuple(text for text, _ in findings),
        deadlines=tuple(due for _, due in findings),
        state=position_state(book, Position(key)),
        held_ever=True,
        pnl=pnl_state(book, key),
        risk=None,
    )


def account_view(reconciler: Reconciler, account: Account) -> AccountView:
    book = reconciler.book(*account)
    reconnected = book.reconnected
    freshness = Freshness(
        clock=book.clock,
        as_of=reconciler.as_of(account),
        exchange_seen_at=book.exchange_seen_at,
        complete_snapshot_at=book.complete_snapshot_at,
        snapshots_under_way=tuple(describe(scope) for scope in book.snapshots.under_way()),
        reconnected_at=reconnected[0] if reconnected else None,
        reconnect_reason=reconnected[1] if reconnected else None,
    )
    return AccountView(
        *account,
        book.mode,
        account_facts(book, reconciler.config),
        freshness,
        book.wallet.summary(),
        reconciler.detectors(*account).triggers.last_fired_at,
        tuple(trigger_rows(reconciler, *account)),
    )


def closed_positions(reconciler: Reconciler) -> list[ClosedPosition]:
    """The lifecycles the reconciler's books closed since last asked, handed over once."""
    return [c for book in reconciler.books.values() for c in book.pnl.take_closed()]


def retracted_positions(reconciler: Reconciler) -> list[tuple[str, str, str, str, int, int]]:
    """(venue, account, category, symbol, position_idx, number) of the lifecycles handed
    over before that a late fill has since reopened or merged, handed over once."""
    return [
        (key.venue, key.account, key.category, key.symbol, key.position_idx, number)
        for book in reconciler.books.values()
        for key, number in book.pnl.take_retracted()
    ]


def symbols(book: AccountBook) -> set[str]:
    """Every symbol the account's views speak of: its keys' (the ledger's too) and its
    intents'."""
    return (
        {key.symbol for key in book.positions}
        | {key.symbol for key in book.pnl.keys}
        | {p.symbol for p in book.placed.values()}
    )


def touched_views(reconciler: Reconciler, touched: Touched) -> Iterator[AccountView | SymbolView]:
    """The views of what ``touched`` names, as the reconciler's state has them now."""
    accounts = sorted(reconciler.books) if touched.every_account else sorted(touched.symbols)
    for account in accounts:
        if account not in reconciler.books:
            continue
        yield account_view(reconciler, account)
        book = reconciler.books[account]
        whole = touched.every_account or account in touched.whole
        names = symbols(book) if whole else touched.symbols[account]
        if not names:
            continue
        # One pass over the account for all its symbols, not one per symbol; sorting and
        # filing only the keys and intents of the symbols touched (a few of its hundreds).
        only = None if whole else names
        index = SymbolIndex(book, only=only)
        for symbol in sorted(names):
            yield symbol_view(reconciler, account, symbol, index)


def every_view(reconciler: Reconciler) -> Iterator[AccountView | SymbolView]:
    """The views of every account and symbol the reconciler knows."""
    everything = Touched()
    everything.everything()
    return touched_views(reconciler, everything)


def recent_body(event: Emitted | InputRejected) -> bytes:
    """An entry of the recent log, as `diagnose` shows it: an emitted event as `events --json`
    prints it; of a refused input, when, why and where from."""
    if isinstance(event, InputRejected):
        return orjson.dumps({"at": event.at, "reason": event.reason, "endpoint": event.endpoint})
    return codec.encode_emitted(event)  # what codec.as_json parses: the same JSON
