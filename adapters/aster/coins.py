"""The coins Aster counts in: a perpetual is quoted and settled in the coin its symbol ends
with (BTCUSDT in USDT); the futures account states its equity in USDT."""

from functools import cache

from trueup.adapters.venue import Coins, Contract

PERP = "perp"
_SUFFIXES = (("USDT", "USDT"), ("USDC", "USDC"))
EQUITY_COIN = "USDT"


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What ``symbol`` is; None where its name does not say."""
    if category == PERP:
        for suffix, coin in _SUFFIXES:
            if symbol.endswith(suffix) and len(symbol) > len(suffix):
                return Contract(symbol[: -len(suffix)], coin, coin, coin)
    return None


def from_ccxt(unified: Contract) -> str | None:
    """Aster's name for a perpetual ccxt names BASE/QUOTE:SETTLE; None where it cannot tell."""
    if unified.quote == unified.settle and unified.quote in dict(_SUFFIXES):
        return unified.base + unified.quote
    return None


def categories(symbol: str) -> tuple[str, ...]:
    """Every symbol trueup reads of Aster is a perpetual's."""
    return (PERP,)


COINS = Coins(contract, EQUITY_COIN, categories=categories)
