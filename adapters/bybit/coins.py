"""The coins Bybit counts in, read off its names (V5 enum "symbol"): a linear contract,
perpetual or dated, is quoted and settled in USDT or USDC; an inverse one is sized in USD
and settled in its base coin; the unified account states its equity in USD. An option's
name says its settle coin, but trueup counts no option's money."""

import re
from functools import cache
from typing import NamedTuple

from trueup.adapters.venue import Coins, Contract
from trueup.domain.vocabulary import ContractKind

LINEAR = "linear"
INVERSE = "inverse"
OPTION = "option"
USD = "USD"
EQUITY_COIN = USD

# A base coin is upper-case letters and digits, of any script (as adapters/bybit/venue.py
# spells names); a name's forms below hold it as {base}.
_BASE = r"[^\W_a-z]+"
_BASE_HOLE = "{base}"
# A future's delivery day or an option's expiry: day, month, year. Bybit's docs give its
# futures' days in two digits (BTCUSDT-21FEB25) and its options' without a leading zero
# (BTC-6JAN23-18000-C); either is read of both, or a future so named would be of no family.
_EXPIRY = "[0-9]{1,2}[A-Z]{3}[0-9]{2}"
_QUARTER = "[HMUZ][0-9]{2}"  # an inverse future's quarter and year: Z25
# An option's strike: whole in Bybit's docs' examples (89000), with decimals for a coin worth
# less than its unit (XRP-27DEC24-0.5-C).
_STRIKE = r"[0-9]+(?:\.[0-9]+)?"


class _Family(NamedTuple):
    """One kind of Bybit contract: its category, its name's form, and its coins."""

    category: str
    form: str  # the whole name, its base coin as {base}
    quote: str
    settle: str | None  # None: settled in its base coin (inverse)
    counted_in: str | None  # the coin its notional and PnL are counted in; None: not counted


_FAMILIES = (
    _Family(LINEAR, "{base}USDT", "USDT", "USDT", "USDT"),  # BTCUSDT
    _Family(LINEAR, f"{{base}}USDT-{_EXPIRY}", "USDT", "USDT", "USDT"),  # BTCUSDT-26DEC25
    _Family(LINEAR, "{base}(?:USDC|PERP)", "USDC", "USDC", "USDC"),  # ETHUSDC, BTCPERP
    # BTC-26DEC25; a base cannot end in USDT, or a USDT future would read as one.
    _Family(LINEAR, f"{{base}}(?<!USDT)-{_EXPIRY}", "USDC", "USDC", "USDC"),
    # Sized in contracts of one USD each: its notional is counted in USD.
    _Family(INVERSE, f"{{base}}USD(?:{_QUARTER})?", USD, None, USD),  # BTCUSD, BTCUSDZ25
    _Family(OPTION, f"{{base}}-{_EXPIRY}-{_STRIKE}-[CP]-USDT", "USDT", "USDT", None),
    _Family(OPTION, f"{{base}}-{_EXPIRY}-{_STRIKE}-[CP]", "USDC", "USDC", None),
)


@cache
def _pattern(form: str) -> re.Pattern[str]:
    return re.compile(form.replace(_BASE_HOLE, f"(?P<base>{_BASE})"))


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What ``symbol`` of ``category`` is; None for an option, or a name of no family."""
    for family in _FAMILIES:
        if family.category != category or family.counted_in is None:
            continue
        found = _pattern(family.form).fullmatch(symbol)
        if found is not None:
            base = found["base"]
            return Contract(base, family.quote, family.settle or base, family.counted_in)
    return None


@cache
def listed_forms(category: str, settle_coin: str | None, base_coin: str | None) -> tuple[str, ...]:
    """The names ``/v5/position/list`` returns asked of ``category`` (by ``settle_coin``,
    by ``base_coin``): the names of its families settled in that coin and on that base
    (an inverse contract settles in its base coin). () for a list that returns every name
    of its category (an option list asked by neither) or whose names trueup cannot tell."""
    if category == OPTION and settle_coin is None and base_coin is None:
        return ()  # every option, however named
    forms = []
    for family in _FAMILIES:
        if family.category != category:
            continue
        bases = set() if base_coin is None else {base_coin}
        if settle_coin is not None and family.settle is None:
            bases.add(settle_coin)  # settled in its base coin
        elif settle_coin is not None and family.settle != settle_coin:
            continue
        if len(bases) > 1:
            continue  # asked of two base coins at once: trueup cannot tell what it returns
        base = re.escape(bases.pop()) if bases else _BASE
        forms.append(family.form.replace(_BASE_HOLE, base))
    return tuple(forms)


def categories(symbol: str) -> tuple[str, ...]:
    """The categories ``symbol``'s name can be of: BTCUSDT and BTC-26DEC25 linear, BTCUSD
    and BTCUSDH23 inverse, BTC-13FEB25-89000-P-USDT option; () for a name of none."""
    return tuple(
        dict.fromkeys(
            family.category
            for family in _FAMILIES
            if _pattern(family.form).fullmatch(symbol) is not None
        )
    )


@cache
def kind(category: str, symbol: str) -> ContractKind:
    """Option for the option category and an option's name (whatever category it is asked
    of), inverse for every contract of the inverse category, else linear."""
    if category == OPTION or categories(symbol) == (OPTION,):
        return ContractKind.OPTION
    return ContractKind.INVERSE if category == INVERSE else ContractKind.LINEAR


def from_ccxt(unified: Contract) -> str | None:
    """Bybit's name for a perpetual ccxt names BASE/QUOTE:SETTLE; None where it cannot tell
    (a dated future, an option)."""
    if unified.quote == unified.settle and unified.quote in ("USDT", "USDC"):
        return unified.base + unified.quote
    if unified.quote == USD and unified.settle == unified.base:
        return unified.base + USD
    return None


COINS = Coins(contract, EQUITY_COIN, kind, listed_forms, categories)
