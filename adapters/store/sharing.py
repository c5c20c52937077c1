"""One object for each repeated value of a decoded event: the venue, the account, the symbol,
the category and the other names of few values, the ids held in several places, and the
decimals.

A replay keeps tens of thousands of decoded orders, fills and intents in the reconciler's
state, and msgspec makes a new string and a new Decimal for every field it reads: the same
"linear" or "0.3" held a hundred thousand times over. An event is shared as it is decoded,
before anything else holds it, so setting its frozen fields is still safe.
"""

import sys
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from msgspec import Struct
from msgspec.structs import force_setattr

# Fields of text holding one of few values; reasons and verbatim lines are not.
NAMES = frozenset(
    {
        "venue",
        "account",
        "category",
        "symbol",
        "coin",
        "settle_coin",
        "notional_coin",
        "equity_coin",
        "account_type",
        "order_type",
        "cancel_type",
        "reject_reason",
        "status",
        "timeframe",
        "mode",
        "purpose",
        "source",
        "figure",
    }
)
# Ids the state holds in several places: an order's by its key, its reports, its fills and
# the intent that placed it, a fill's by its order's fills, an intent's by its position and
# its orders. Interned, each is one str wherever it is held, so a snapshot saves it once and
# loads it once (each of those places held a copy of its own as msgspec decoded it).
IDS = frozenset({"venue_order_id", "client_order_id", "trade_id", "position_id"})
# Distinct decimals shared: quantities and fees repeat, prices wander; past this many a new
# value is kept as decoded, so the table (~3 MB when full) cannot grow with the journal.
AMOUNTS_HELD = 16_384
_amounts: dict[str, Decimal] = {}


def shared_amount(value: Decimal) -> Decimal:
    """The one Decimal of this value and exponent (0.10 and 0.1 stay apart, as str tells)."""
    text = str(value)
    found = _amounts.get(text)
    if found is not None:
        return found
    if len(_amounts) < AMOUNTS_HELD:
        _amounts[text] = value
    return value


def _shared_record(value: Any) -> Any:
    share(value)
    return value


def _shared_records(value: Any) -> Any:
    for record in value:
        share(record)
    return value


# Per struct type: (field name, how its value is shared) for the fields worth sharing.
_Plan = tuple[tuple[str, Callable[[Any], Any]], ...]
_PLANS: dict[type, _Plan] = {}


def _how(name: str, hint: Any) -> Callable[[Any], Any] | None:
    kinds = set(typing.get_args(hint)) if isinstance(hint, types.UnionType) else {hint}
    kinds.discard(type(None))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    # A field of one type besides None holds that type whenever it is not None (share skips
    # None): the value is shared as it is, without asking its type again.
    if kind is Decimal:
        return shared_amount
    if kind is str:
        return sys.intern if name in NAMES or name in IDS else None
    if isinstance(kind, type) and issubclass(kind, Struct):
        return _shared_record
    records = typing.get_args(kind) if typing.get_origin(kind) is tuple else ()
    if records and isinstance(records[0], type) and issubclass(records[0], Struct):
        return _shared_records
    return None


def _plan(kind: type[Struct]) -> _Plan:
    plan = _PLANS.get(kind)
    if plan is None:
        hints = typing.get_type_hints(kind)
        found = [(name, _how(name, hints[name])) for name in kind.__struct_fields__]
        plan = _PLANS[kind] = tuple((name, how) for name, how in found if how is not None)
    return plan


def share(event: Struct) -> None:
    """Swap ``event``'s repeated values, and its records', for their one shared object.

    Only for an event just decoded, which nothing else holds yet: its fields change."""
    plan = _PLANS.get(type(event))
    for name, how in plan if plan is not None else _plan(type(event)):
        value = getattr(event, name)
        if value is not None:
            force_setattr(event, name, how(value))
