"""The coins Hyperliquid counts in: every perpetual is named by its coin and is quoted and
settled in USDC, and the account states its equity (accountValue) in USDC."""

from functools import cache

from trueup.adapters.venue import Coins, Contract

PERP = "perp"
USDC = "USDC"


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What ``symbol`` is; None for a spot pair (its name says nothing trueup counts in)."""
    return Contract(symbol, USDC, USDC, USDC) if category == PERP else None


def from_ccxt(unified: Contract) -> str | None:
    """The coin of the perpetual ccxt names COIN/USDC:USDC; None for any other."""
    return unified.base if unified.quote == unified.settle == USDC else None


def categories(symbol: str) -> tuple[str, ...]:
    """Every symbol trueup reads of Hyperliquid is a perpetual's (clearinghouseState's)."""
    return (PERP,)


COINS = Coins(contract, USDC, categories=categories)
