"""What a coin money is counted in is worth in USD, by the rules.

A position's notional and PnL are in the coin its report names, an account's equity in the
coin its wallet report names (each venue's adapter says which). The rules' quote_equivalents
say what each coin is worth in USD (by default USD, USDT and USDC one for one); a coin they
leave out, or one no report named, has no USD value, and what is counted in it is never
summed with the rest.
"""

from decimal import Decimal

from trueup.domain.rules.config import RuleConfig

ONE = Decimal(1)


def usd_value(coin: str | None, rules: RuleConfig) -> Decimal | None:
    """What one ``coin`` is worth in USD by the rules; None where they give it no value."""
    return None if coin is None else rules.quote_equivalents.get(coin)


def equity_rate(
    notional_coin: str | None, equity_coin: str | None, rules: RuleConfig
) -> Decimal | None:
    """How many of ``equity_coin`` one of ``notional_coin`` is worth: 1 where they are one
    coin, or both are worth the same in USD; None where either has no USD value."""
    if notional_coin is not None and notional_coin == equity_coin:
        return ONE
    notional = usd_value(notional_coin, rules)
    equity = usd_value(equity_coin, rules)
    if notional is None or equity is None or equity == 0:
        return None
    return notional if equity == 1 else notional / equity
