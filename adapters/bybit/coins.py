"""The coins Bybit counts in: a linear contract is quoted and settled in the coin its symbol
ends with (BTCUSDT in USDT, BTCPERP in USDC); an inverse one (BTCUSD) is sized in USD and
settled in its base coin; the unified account states its equity in USD."""

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


def settled_endings(category: str, settle_coin: str) -> tuple[str, ...]:
    """The endings of the linear symbols settled in ``settle_coin`` (USDC: USDC and PERP),
    which ``/v5/position/list`` asked by settleCoin lists; () for the inverse category, whose
    names end in USD whatever they settle in."""
    if category != LINEAR:
        return ()
    return tuple(suffix for suffix, coin in _LINEAR_SUFFIXES if coin == settle_coin)


def categories(symbol: str) -> tuple[str, ...]:
    """The categories ``symbol``'s name can be of: BTCUSDT linear, BTCUSD inverse; () for a
    name that does not say (a dated future, an option)."""
    return tuple(c for c in (LINEAR, INVERSE) if contract(c, symbol) is not None)


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


COINS = Coins(contract, EQUITY_COIN, kind, settled_endings, categories)
