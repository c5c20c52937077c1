"""The coins a ccxt exchange counts in, read from its unified symbol BASE/QUOTE:SETTLE: a
position's notional and PnL are in the settle coin. trueup decodes no ccxt balance, so no
equity coin is known."""

from functools import cache

from trueup.adapters.venue import Coins, Contract

# A quote a venue's own name for a perpetual ends with (BTCUSDT): its ccxt name is guessed.
_QUOTES = ("USDT", "USDC")


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What the unified ``symbol`` is; None where it is not BASE/QUOTE[:SETTLE]."""
    return unified(symbol)


def unified(symbol: str) -> Contract | None:
    """What ccxt's unified ``symbol`` names; None where it is not BASE/QUOTE[:SETTLE]. Not
    cached: it also reads what a caller typed (a venue's SymbolSpelling)."""
    base, slash, rest = symbol.partition("/")
    if not slash or not base or not rest:
        return None
    quote, _, settle = rest.partition(":")
    settle = settle or quote
    return Contract(base, quote, settle, settle)


def from_venue(symbol: str) -> str | None:
    """ccxt's name for a perpetual a venue names BASEQUOTE (BTCUSDT: BTC/USDT:USDT)."""
    for quote in _QUOTES:
        base = symbol.upper().removesuffix(quote)
        if base and base != symbol.upper():
            return f"{base}/{quote}:{quote}"
    return None


COINS = Coins(contract, None)
