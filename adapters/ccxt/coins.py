"""The coins a ccxt exchange counts in, read from its unified symbol BASE/QUOTE:SETTLE: a
position's notional and PnL are in the settle coin. trueup decodes no ccxt balance, so no
equity coin is known."""

from functools import cache

from trueup.adapters.venue import Coins, Contract


@cache
def contract(category: str, symbol: str) -> Contract | None:
    """What the unified ``symbol`` is; None where it is not BASE/QUOTE[:SETTLE]."""
    base, slash, rest = symbol.partition("/")
    if not slash or not base or not rest:
        return None
    quote, _, settle = rest.partition(":")
    settle = settle or quote
    return Contract(base, quote, settle, settle)


COINS = Coins(contract, None)
