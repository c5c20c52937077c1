"""Aster (futures v1 API) as trueup reads it: one definition, listed in adapters/venues.py.

Its private stream lives on a listenKey the feed keeps alive and replaces when it expires.
"""

import re
from typing import TYPE_CHECKING

from trueup.adapters.aster.coins import COINS, from_ccxt
from trueup.adapters.symbol_spelling import SymbolSpelling
from trueup.adapters.venue import Credentials, Settings, Venue, Wire

if TYPE_CHECKING:
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.supervised_feed import SupervisedFeed

CREDENTIALS = Credentials(
    ("ASTER_API_KEY", "ASTER_API_SECRET"),
    "the Aster API key and secret come from the environment",
)


def _wire() -> Wire:
    from trueup.adapters.aster import wire

    return Wire(wire.decode, wire.rate_limited, wire.POSITION_SNAPSHOTS)


def _feed(settings: Settings) -> "SupervisedFeed":
    from trueup.adapters.aster.live import AsterFeed

    key, secret = CREDENTIALS.read(settings.environment)
    return AsterFeed(
        settings.account,
        key,
        secret,
        clock=settings.clock,
        base_url=settings.base_url,
        poll_interval_s=settings.poll_interval_s,
    )


def _prices(settings: Settings, symbols: tuple[str, ...]) -> "SupervisedFeed":
    from trueup.adapters.aster.price_feed import AsterPriceFeed

    return AsterPriceFeed(
        settings.account, symbols, clock=settings.clock, base_url=settings.base_url
    )


def _orders(settings: Settings) -> "ExecutionClient":
    from trueup.adapters.aster.orders import AsterOrders

    key, secret = CREDENTIALS.read(settings.environment)
    return AsterOrders(key, secret, base_url=settings.base_url)


# As Binance futures': upper case, a dated future's expiry after an underscore
# (BTCUSDT_251226). Letters other than a-z pass the pattern, a listing may be named in
# Chinese, but only those of Chinese, Japanese and Korean pass the spelling (ascii_or_cjk).
SPELLING = SymbolSpelling(
    "aster",
    re.compile(r"[^\W_a-z]+(?:_[0-9]+)?"),
    "upper-case letters and digits, like BTCUSDT",
    from_ccxt=from_ccxt,
    upper_case=True,
    ascii_or_cjk=True,
)

VENUE = Venue(
    "aster",
    _wire,
    _feed,
    credentials=CREDENTIALS,
    prices=_prices,
    execution=_orders,
    coins=COINS,
    misspelt=SPELLING.misspelt,
)
