"""The coins Bybit counts in: a linear contract is quoted and settled in the coin its symbol
ends with (BTCUSDT in USDT, BTCPERP in USDC); an inverse one (BTCUSD) is sized in USD and
settled in its base coin; the unified account states its equity in USD."""

import re
from functools import cache

from trueup.adapters.venue import Coins, Contract
from trueup.domain.vocabulary import ContractKind

LINEAR = "linear"
INVERSE = "inverse"
# A linear symbol's suffix, and the coin it is quoted and settled in.
_LINEAR_SUFFIXES = (("USDT", "USDT"), ("USDC", "USDC"), ("PERP", "USDC"))
_INVERSE_SUFFIX = "USD"
EQUITY_COIN = "USD"


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What ``symbol`` is; None where its name does not say (a dated future, an option)."""
    if category == LINEAR:
        for suffix, coin in _LINEAR_SUFFIXES:
            if symbol.endswith(suffix) and len(symbol) > len(suffix):
                return Contract(symbol[: -len(suffix)], coin, coin, coin)
    if category == INVERSE and symbol.endswith(_INVERSE_SUFFIX) and len(symbol) > 3:
        base = symbol[: -len(_INVERSE_SUFFIX)]
        # Sized in contracts of one USD each: its notional is counted in USD.
        return Contract(base, _INVERSE_SUFFIX, base, _INVERSE_SUFFIX)
    return None


# The names Bybit gives its contracts (V5 enum "symbol"): a perpetual is its base coin and
# its suffix; a USDT future the perpetual's name and its delivery date (BTCUSDT-26DEC25); a
# USDC future the base coin and the date (BTC-26DEC25); an inverse future the perpetual's
# name and its quarter's letter and year (BTCUSDH23). A base coin is upper-case letters and
# digits, of any script (as adapters/bybit/venue.py spells it).
_BASE = r"[^\W_a-z]+"
_DELIVERY = r"-[0-9]{2}[A-Z]{3}[0-9]{2}"
_QUARTER = "[HMUZ][0-9]{2}"
# A linear list asked by settle coin: its perpetuals and its futures. A USDC future's base
# cannot end in USDT, or BTCUSDT-26DEC25 would read as one.
_LINEAR_FORMS = {
    "USDT": (f"{_BASE}USDT", f"{_BASE}USDT{_DELIVERY}"),
    "USDC": (f"{_BASE}(?:USDC|PERP)", f"{_BASE}(?<!USDT){_DELIVERY}"),
}


@cache
def listed_forms(category: str, settle_coin: str | None) -> tuple[str, ...]:
    """The names ``/v5/position/list`` returns asked of ``category`` (by ``settle_coin``):
    linear USDT the USDT perpetuals and futures, USDC the USDC ones; inverse by coin that
    coin's perpetual and futures (an inverse contract settles in its base coin), inverse
    alone every one; () for any other list (none by an unknown coin, every option)."""
    if category == LINEAR:
        if settle_coin is None:  # refused by Bybit (symbol or settleCoin is required)
            return tuple(f for forms in _LINEAR_FORMS.values() for f in forms)
        return _LINEAR_FORMS.get(settle_coin, ())
    if category == INVERSE:
        base = _BASE if settle_coin is None else re.escape(settle_coin)
        return (f"{base}{_INVERSE_SUFFIX}(?:{_QUARTER})?",)
    return ()


def categories(symbol: str) -> tuple[str, ...]:
    """The categories ``symbol``'s name can be of: BTCUSDT and BTC-26DEC25 linear, BTCUSD
    and BTCUSDH23 inverse; () for a name that is neither's (an option)."""
    return tuple(
        category
        for category in (LINEAR, INVERSE)
        if any(re.fullmatch(f, symbol) for f in listed_forms(category, None))
    )


def kind(category: str, symbol: str) -> ContractKind:
    """Inverse for every contract of the inverse category (perpetual or dated), else linear."""
    return ContractKind.INVERSE if category == INVERSE else ContractKind.LINEAR


def from_ccxt(unified: Contract) -> str | None:
    """Bybit's name for a perpetual ccxt names BASE/QUOTE:SETTLE; None where it cannot tell
    (a dated future, an option)."""
    if unified.quote == unified.settle and unified.quote in ("USDT", "USDC"):
        return unified.base + unified.quote
    if unified.quote == _INVERSE_SUFFIX and unified.settle == unified.base:
        return unified.base + _INVERSE_SUFFIX
    return None


COINS = Coins(contract, EQUITY_COIN, kind, listed_forms, categories)
