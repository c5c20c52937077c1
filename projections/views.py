"""The persisted read models: per symbol of an account, what `positions`, `can-open` and
`diagnose` answer from; per account, what can-open weighs of it and how fresh its exchange
view is; and their stored form. How the projection builds them from the reconciled state is
projections/view_building.py: a query that reads them loads none of it.
"""

import hashlib
from decimal import Decimal
from importlib import resources
from typing import Any

import msgspec

from trueup.adapters.store.snapshot_format import SNAPSHOT_FORMAT
from trueup.domain.pnl_records import ClosedPosition
from trueup.domain.risk_records import PositionRisk
from trueup.domain.rules.can_open import AccountFacts, SymbolFacts
from trueup.domain.wallet import WalletSummary
from trueup.projections.position_json import risk_json

JSON = dict[str, Any]

# The views are msgspec structs, not frozen dataclasses: built for every account and symbol a
# projection step touched, and a frozen dataclass sets each field through object.__setattr__
# (ten times the cost). Their stored form is the same JSON, field by field in order.


class KeyRow(msgspec.Struct, frozen=True):
    """One position key: local beside exchange, what is wrong with it, its whole state."""

    category: str
    position_idx: int
    local_qty: Decimal
    exchange_qty: Decimal
    findings: tuple[str, ...]
    state: JSON
    # Either side has held it (a report, an intent, or fills the PnL ledger folded):
    # `positions` lists only these.
    held_ever: bool
    pnl: JSON  # the key's PnL: the lifecycle open, and its totals (see ``pnl_state``)
    # What the exchange holds on the key, weighed (domain/risk.py); None when flat.
    risk: PositionRisk | None = None
    # When each of ``findings`` stops being pending (None: it is not): an instant asked
    # about past it finds it overdue (``diagnose``).
    deadlines: tuple[int | None, ...] = ()


class SymbolView(msgspec.Struct, frozen=True):
    venue: str
    account: str
    symbol: str
    keys: tuple[KeyRow, ...]
    facts: SymbolFacts


class Freshness(msgspec.Struct, frozen=True):
    """How old the account's exchange view is, as of its latest input (``clock``)."""

    clock: int
    # The latest instant of the inputs the views hold that bear on the account: its own, and
    # those of every account (a tick, rules), which do not move its clock. An instant before
    # it is answered by replaying the inputs up to then.
    as_of: int
    exchange_seen_at: int | None  # the last exchange frame or snapshot page taken
    complete_snapshot_at: int | None
    snapshots_under_way: tuple[str, ...]
    reconnected_at: int | None  # the feed's last reconnect, and why
    reconnect_reason: str | None


class AccountView(msgspec.Struct, frozen=True):
    venue: str
    account: str
    mode: str | None
    facts: AccountFacts
    freshness: Freshness
    wallet: WalletSummary | None = None  # the balances the venue last reported
    last_trigger_fired_at: int | None = None  # input time; None: none has fired
    # Every trigger ever added, as `trueup trigger list` shows it (projections/triggers.py).
    triggers: tuple[dict[str, Any], ...] = ()


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


def _format() -> str:
    """A view is valid only for the code that wrote it: the domain (what the state is and
    what the rules find), the modules that render it and the one that keeps it."""
    digest = hashlib.sha256(SNAPSHOT_FORMAT.encode())
    for module in ("views.py", "view_building.py", "audit.py", "triggers.py", "position_json.py"):
        digest.update(resources.files("trueup.projections").joinpath(module).read_bytes())
    # and the tables that keep it: views kept in another layout are written afresh.
    digest.update(resources.files("trueup.adapters.store").joinpath("view_table.py").read_bytes())
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
