"""The coins a ccxt exchange counts in, and how its contracts are sized, read from its
unified symbol: BASE/QUOTE:SETTLE for a perpetual, BASE/QUOTE:SETTLE-YYMMDD for a dated
future, BASE/QUOTE:SETTLE-YYMMDD-STRIKE-C (or -P) for an option (ccxt's manual, "Contract
naming conventions"). A contract settled in its quote coin is linear, in its base coin
inverse (sized in the quote coin: ``contracts`` x ``contractSize`` is USD). trueup decodes
no ccxt balance, so no equity coin is known."""

import re
from functools import cache
from typing import NamedTuple

from trueup.adapters.venue import Coins, Contract
from trueup.domain.vocabulary import ContractKind

# A quote a venue's own name for a perpetual ends with (BTCUSDT): its ccxt name is guessed.
_QUOTES = ("USDT", "USDC")
# What follows the settle coin of a dated contract: its expiry, and an option's strike and
# right.
_DATED = re.compile(r"-\d{6}(?P<option>-[0-9.]+-[CP])?")


class _Named(NamedTuple):
    """A unified symbol's parts."""

    base: str
    quote: str
    settle: str
    dated: bool
    option: bool


def _named(symbol: str) -> _Named | None:
    """The parts of the unified ``symbol``; None where it is not one."""
    base, slash, rest = symbol.partition("/")
    if not slash or not base or not rest:
        return None
    quote, colon, settled = rest.partition(":")
    settle, dash, expiry = settled.partition("-")
    if not quote or (colon and not settle):
        return None
    dated = _DATED.fullmatch(dash + expiry) if dash else None
    if dash and dated is None:
        return None
    option = dated is not None and dated["option"] is not None
    return _Named(base, quote, settle or quote, dated is not None, option)


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What the unified ``symbol`` is; None where it is no unified name, or an option (what
    its notional is counted in trueup cannot tell, as for Bybit's)."""
    named = _named(symbol)
    return None if named is None or named.option else _contract(named)


def _contract(named: _Named) -> Contract:
    counted_in = named.quote if _inverse(named) else named.settle
    return Contract(named.base, named.quote, named.settle, counted_in)


def _inverse(named: _Named) -> bool:
    return named.settle == named.base and named.settle != named.quote


@cache
def kind(category: str, symbol: str) -> ContractKind:
    """An option by its name's strike and right, inverse when settled in its base coin,
    else linear."""
    named = _named(symbol)
    if named is None:
        return ContractKind.LINEAR
    if named.option:
        return ContractKind.OPTION
    return ContractKind.INVERSE if _inverse(named) else ContractKind.LINEAR


def unified(symbol: str) -> Contract | None:
    """What ccxt's unified ``symbol`` of a perpetual (or spot pair) names; None where it is
    no such name. Not cached: it also reads what a caller typed (a venue's SymbolSpelling)."""
    named = _named(symbol)
    return None if named is None or named.dated else _contract(named)


def from_venue(symbol: str) -> str | None:
    """ccxt's name for a perpetual a venue names BASEQUOTE (BTCUSDT: BTC/USDT:USDT)."""
    for quote in _QUOTES:
        base = symbol.upper().removesuffix(quote)
        if base and base != symbol.upper():
            return f"{base}/{quote}:{quote}"
    return None


COINS = Coins(contract, None, kind)
