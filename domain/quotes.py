"""The coins a contract is counted in, and what each is worth in USD by the rules.

A linear contract's notional and PnL are in its settle coin (USDT for Bybit's BTCUSDT,
USDC for Hyperliquid's BTC); an account's equity is in the account's own coin (USD on
Bybit's unified account, USDC on Hyperliquid, USDT on Aster). The rules' quote_equivalents
say what each coin is worth in USD (by default USD, USDT and USDC one for one); a coin they
leave out has no USD value, and what is counted in it is never summed with the rest.
"""

from decimal import Decimal
from functools import cache
from typing import NamedTuple

from trueup.domain.rules.config import RuleConfig

INVERSE = "inverse"  # Bybit's coin-margined contracts: sized in USD, settled in the base coin
# Each venue's suffixes of a linear contract's symbol, and the coin each settles in.
_SUFFIXES = (("USDT", "USDT"), ("USDC", "USDC"), ("PERP", "USDC"))
# The coin each venue states an account's equity in.
_ACCOUNT_COINS = {"bybit": "USD", "hyperliquid": "USDC", "aster": "USDT"}


class Contract(NamedTuple):
    """A contract's base asset, the coin its price is quoted in, and the coin it settles in."""

    base: str
    quote: str
    settle: str


@cache
def contract(venue: str, category: str, symbol: str) -> Contract | None:
    """What ``symbol`` is on, quoted and settled in; None where its name does not say."""
    if venue == "hyperliquid" and category == "perp":
        return Contract(symbol, "USDC", "USDC")
    if (venue, category) in (("bybit", "linear"), ("aster", "perp")):
        for suffix, coin in _SUFFIXES:
            if symbol.endswith(suffix) and len(symbol) > len(suffix):
                return Contract(symbol[: -len(suffix)], coin, coin)
    if venue == "bybit" and category == INVERSE and symbol.endswith("USD") and len(symbol) > 3:
        base = symbol[:-3]
        return Contract(base, "USD", base)
    if venue.startswith("ccxt:") and "/" in symbol:
        # ccxt's unified symbol, BASE/QUOTE:SETTLE.
        base, rest = symbol.split("/", 1)
        quote, _, settle = rest.partition(":")
        return Contract(base, quote, settle or quote)
    return None


def notional_coin(venue: str, category: str, symbol: str) -> str | None:
    """The coin a position's notional and PnL are counted in: the settle coin of a linear
    contract, USD for an inverse one (sized in USD); None where the symbol does not say."""
    found = contract(venue, category, symbol)
    if found is None:
        return None
    return found.quote if category == INVERSE else found.settle


def account_coin(venue: str) -> str | None:
    """The coin the venue states an account's equity in; None where trueup does not know."""
    return _ACCOUNT_COINS.get(venue)


def usd_value(coin: str | None, rules: RuleConfig) -> Decimal | None:
    """What one ``coin`` is worth in USD by the rules; None where they give it no value."""
    return None if coin is None else rules.quote_equivalents.get(coin)


def equity_rate(venue: str, category: str, symbol: str, rules: RuleConfig) -> Decimal | None:
    """How many of the account's equity coin one of the position's notional coin is worth:
    1 where both are worth the same in USD; None where either has no USD value."""
    notional = usd_value(notional_coin(venue, category, symbol), rules)
    equity = usd_value(account_coin(venue), rules)
    if notional is None or equity is None or equity == 0:
        return None
    return notional if equity == 1 else notional / equity
