"""Bybit (v5, unified account) as trueup reads it: one definition, listed in adapters/venues.py."""

import re
from typing import TYPE_CHECKING

from trueup.adapters.bybit.coins import COINS, from_ccxt
from trueup.adapters.symbol_spelling import SymbolSpelling
from trueup.adapters.venue import Credentials, Settings, Venue, Wire

if TYPE_CHECKING:
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.supervised_feed import SupervisedFeed

CREDENTIALS = Credentials(
    ("BYBIT_API_KEY", "BYBIT_API_SECRET"),
    "the Bybit API key and secret come from the environment",
)


def _wire() -> Wire:
    from trueup.adapters.bybit import wire

    return Wire(wire.decode, wire.rate_limited, (wire.POSITION_SNAPSHOT,))


def _feed(settings: Settings) -> "SupervisedFeed":
    from trueup.adapters.bybit.live import BybitFeed

    key, secret = CREDENTIALS.read(settings.environment)
    return BybitFeed(
        settings.account,
        key,
        secret,
        clock=settings.clock,
        base_url=settings.base_url,
        poll_interval_s=settings.poll_interval_s,
    )


def _prices(settings: Settings, symbols: tuple[str, ...]) -> "SupervisedFeed":
    from trueup.adapters.bybit.price_feed import BybitPriceFeed

    return BybitPriceFeed(
        settings.account, symbols, clock=settings.clock, base_url=settings.base_url
    )


def _orders(settings: Settings) -> "ExecutionClient":
    from trueup.adapters.bybit.orders import BybitOrders

    key, secret = CREDENTIALS.read(settings.environment)
    return BybitOrders(key, secret, base_url=settings.base_url)


# Its docs: symbols are "uppercase only"; an option's or a dated future's parts are joined by
# dashes (BTC-30DEC25-50000-C, BTCUSDT-26DEC25), and an option's strike may have decimals
# (XRP-27DEC24-0.5-C). Letters other than a-z pass the pattern, a listing may be named in
# Chinese, but only those of Chinese, Japanese and Korean pass the spelling (ascii_or_cjk).
_PART = r"[^\W_a-z]+(?:\.[0-9]+)?"
SPELLING = SymbolSpelling(
    "bybit",
    re.compile(f"{_PART}(?:-{_PART})*"),
    "upper-case letters and digits, like BTCUSDT or BTC-30DEC25-50000-C",
    from_ccxt=from_ccxt,
    upper_case=True,
    ascii_or_cjk=True,
)

VENUE = Venue(
    "bybit",
    _wire,
    _feed,
    credentials=CREDENTIALS,
    prices=_prices,
    execution=_orders,
    coins=COINS,
    misspelt=SPELLING.misspelt,
)
