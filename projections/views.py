"""The persisted read models: per symbol of an account, what `positions`, `can-open` and
`diagnose` answer from; per account, what can-open weighs of it and how fresh its exchange
view is. Each is built from the reconciled state alone, so a view is exactly what a replay
would give, and the projection rewrites only those its inputs touched (domain/touched.py).
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

import msgspec
import orjson

from trueup.adapters.store import codec
from trueup.adapters.store.snapshots import SNAPSHOT_FORMAT
from trueup.domain.book import AccountBook
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected
from trueup.domain.keys import PositionKey
from trueup.domain.pnl import ClosedPosition, PnlLedger
from trueup.domain.reconciler import Account, Reconciler
from trueup.domain.risk import PositionRisk, position_risk
from trueup.domain.rules.can_open import (
    AccountFacts,
    SymbolFacts,
    SymbolIndex,
    account_facts,
    symbol_facts,
)
from trueup.domain.rules.findings import open_findings
from trueup.domain.snapshots import describe
from trueup.domain.touched import Touched
from trueup.domain.wallet import WalletSummary
from trueup.projections.audit import position_state
from trueup.projections.triggers import trigger_rows

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One position key: local beside exchange, what is wrong with it, its whole state."""

    category: str
    position_idx: int
    local_qty: Decimal
    exchange_qty: Decimal
    findings: tuple[str, ...]
    state: JSON
    held_ever: bool  # either side has held it: `positions` lists only these
    pnl: JSON  # the key's PnL: the lifecycle open, and its totals (see ``pnl_state``)
    # What the exchange holds on the key, weighed (domain/risk.py); None when flat.
    risk: PositionRisk | None = None


@dataclass(frozen=True, slots=True)
class SymbolView:
    venue: str
    account: str
    symbol: str
    keys: tuple[KeyRow, ...]
    facts: SymbolFacts


@dataclass(frozen=True, slots=True)
class Freshness:
    """How old the account's exchange view is, as of its latest input (``clock``)."""

    clock: int
    exchange_seen_at: int | None  # the last exchange frame or snapshot page taken
    complete_snapshot_at: int | None
    snapshots_under_way: tuple[str, ...]
    reconnected_at: int | None  # the feed's last reconnect, and why
    reconnect_reason: str | None


@dataclass(frozen=True, slots=True)
class AccountView:
    venue: str
    account: str
    mode: str | None
    facts: AccountFacts
    freshness: Freshness
    wallet: WalletSummary | None = None  # the balances the venue last reported
    last_trigger_fired_at: int | None = None  # input time; None: none has fired
    # Every trigger ever added, as `trueup trigger list` shows it (projections/triggers.py).
    triggers: tuple[dict[str, Any], ...] = ()


def symbol_view(
    reconciler: Reconciler, account: Account, symbol: str, index: SymbolIndex | None = None
) -> SymbolView:
    book = reconciler.book(*account)
    detectors = reconciler.detectors(*account)
    index = index or SymbolIndex(book, only=symbol)
    keys = []
    for key in index.keys.get(symbol, ()):
        position = book.positions[key]
        keys.append(
            KeyRow(
                category=key.category,
                position_idx=key.position_idx,
                local_qty=position.local_qty,
                exchange_qty=position.exchange_qty,
                findings=tuple(open_findings(book, detectors, reconciler.config, key)),
                state=position_state(book, position),
                held_ever=position.exchange is not None or bool(position.local),
                pnl=pnl_state(book.pnl, key),
                risk=position_risk(book, key, reconciler.config),
            )
        )
    facts = symbol_facts(book, detectors, symbol, index)
    return SymbolView(*account, symbol, tuple(keys), facts)


def account_view(reconciler: Reconciler, account: Account) -> AccountView:
    book = reconciler.book(*account)
    reconnected = book.reconnected
    freshness = Freshness(
        clock=book.clock,
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


def pnl_state(ledger: PnlLedger, key: PositionKey) -> JSON:
    """A key's PnL as `positions` shows it: the open lifecycle's (realised before fees,
    fees, funding, unrealised from the latest mark; null without a mark) and the key's
    totals since trueup first saw it. Decimals as strings."""
    found = ledger.keys.get(key)
    if found is None:
        return {}
    life = found.open
    unrealised = found.unrealised()
    return {
        "mark_price": _text(found.mark),
        "unrealised_pnl": _text(unrealised),
        "open": None
        if life is None
        else {
            "lifecycle": life.number,
            "side": life.side.value,
            "size": str(life.size),
            "opened_at": life.opened_at,
            "realised_pnl": str(life.realised),
            "fees": str(life.fees),
            "funding": str(life.funding),
            "position_ids": list(life.position_ids),
        },
        "realised_pnl": str(found.realised),
        "fees": str(found.fees),
        "funding": str(found.funding),
        "coin": found.coin,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def closed_positions(reconciler: Reconciler) -> list[ClosedPosition]:
    """The lifecycles the reconciler's books closed since last asked, handed over once."""
    return [c for book in reconciler.books.values() for c in book.pnl.take_closed()]


def history_row(
    partition: int, closed: ClosedPosition
) -> tuple[int, str, str, str, str, int, int, int, int, bytes]:
    """A row of the history table."""
    return (
        partition,
        closed.venue,
        closed.account,
        closed.category,
        closed.symbol,
        closed.position_idx,
        closed.number,
        closed.opened_at,
        closed.closed_at,
        _encoder.encode(closed),
    )


def decode_closed(stored: bytes) -> ClosedPosition:
    return _closed_decoder.decode(stored)


def symbols(book: AccountBook) -> set[str]:
    """Every symbol the account's views speak of: its keys' and its intents'."""
    return {key.symbol for key in book.positions} | {p.symbol for p in book.placed.values()}


def touched_views(reconciler: Reconciler, touched: Touched) -> Iterator[AccountView | SymbolView]:
    """The views of what ``touched`` names, as the reconciler's state has them now."""
    accounts = sorted(reconciler.books) if touched.every_account else sorted(touched.symbols)
    for account in accounts:
        if account not in reconciler.books:
            continue
        yield account_view(reconciler, account)
        book = reconciler.books[account]
        if touched.every_account or account in touched.whole:
            names = symbols(book)
        else:
            names = touched.symbols[account]
        # One pass over the account for all its symbols, not one per symbol.
        index = SymbolIndex(book) if len(names) > 1 else None
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
    return orjson.dumps(codec.as_json(event))


def position_row(view: SymbolView, row: KeyRow) -> JSON:
    """A key as `positions` lists it."""
    return {
        "venue": view.venue,
        "account": view.account,
        "category": row.category,
        "symbol": view.symbol,
        "position_idx": row.position_idx,
        "local_qty": str(row.local_qty),
        "exchange_qty": str(row.exchange_qty),
        "findings": list(row.findings),
        "state": row.state,
        "pnl": row.pnl,
        "risk": risk_json(row.risk),
    }


def risk_json(risk: PositionRisk | None) -> JSON | None:
    """A position's risk as plain JSON values (decimals as strings; None when flat)."""
    return None if risk is None else msgspec.to_builtins(risk)


def _format() -> str:
    """A view is valid only for the code that wrote it: the domain (what the state is and
    what the rules find) and the modules that render it."""
    digest = hashlib.sha256(SNAPSHOT_FORMAT.encode())
    for module in ("views.py", "audit.py", "triggers.py"):
        digest.update(resources.files("trueup.projections").joinpath(module).read_bytes())
    return digest.hexdigest()[:16]


VIEWS_FORMAT = _format()
_encoder = msgspec.json.Encoder()
_symbol_decoder = msgspec.json.Decoder(SymbolView)
_account_decoder = msgspec.json.Decoder(AccountView)
_closed_decoder = msgspec.json.Decoder(ClosedPosition)


def encode(view: AccountView | SymbolView) -> bytes:
    return _encoder.encode(view)


def decode_symbol(stored: bytes) -> SymbolView:
    return _symbol_decoder.decode(stored)


def decode_account(stored: bytes) -> AccountView:
    return _account_decoder.decode(stored)
