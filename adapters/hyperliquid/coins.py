"""The coins Hyperliquid counts in: every perpetual is named by its coin and is quoted and
settled in USDC, and the account states its equity (accountValue) in USDC."""

from functools import cache

from trueup.adapters.venue import Coins, Contract

PERP = "perp"
SPOT = "spot"
USDC = "USDC"
# A perp of Hyperliquid's own dex is named by its coin (BTC, kPEPE): what clearinghouseState
# lists. A spot pair's name is "@<index>" or "BASE/QUOTE"; a builder-deployed perp's
# ("dex:COIN") is listed only when its dex is asked, so neither is of this form.
_PERP_NAME = "[0-9A-Za-z]+"


def category_of(coin: str) -> str:
    """Spot pairs are named "@<index>" or "BASE/QUOTE"; every other coin is a perp."""
    return SPOT if coin.startswith("@") or "/" in coin else PERP


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What ``symbol`` is; None for a spot pair (its name says nothing trueup counts in)."""
    return Contract(symbol, USDC, USDC, USDC) if category == PERP else None


def from_ccxt(unified: Contract) -> str | None:
    """The coin of the perpetual ccxt names COIN/USDC:USDC; None for any other."""
    return unified.base if unified.quote == unified.settle == USDC else None


def categories(symbol: str) -> tuple[str, ...]:
    """The category a coin's name says it is of: a spot pair's, or a perp's."""
    return (category_of(symbol),)


def listed_forms(category: str, settle_coin: str | None, base_coin: str | None) -> tuple[str, ...]:
    """The names clearinghouseState lists: the perps of Hyperliquid's own dex, no spot."""
    return (_PERP_NAME,) if category == PERP else ()


COINS = Coins(contract, USDC, listed_forms=listed_forms, categories=categories)
