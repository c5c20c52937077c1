"""Hyperliquid (perpetuals) as trueup reads it: one definition, listed in adapters/venues.py.

Its reads are public: an account is the user's address, and needs no key. Only placing
orders does: the key (the account's or an agent's) that signs them.
"""

import re
from typing import TYPE_CHECKING

from trueup.adapters.hyperliquid.coins import COINS, from_ccxt
from trueup.adapters.symbol_spelling import SymbolSpelling
from trueup.adapters.venue import Credentials, SettingRefused, Settings, Venue, Wire
from trueup.domain.errors import shown

if TYPE_CHECKING:
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.supervised_feed import SupervisedFeed

# What Hyperliquid calls a user: an Ethereum address.
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)
# What signs its orders: an Ethereum private key, 32 bytes in hex.
PRIVATE_KEY = re.compile(r"(?:0x)?[0-9a-fA-F]{64}", re.ASCII)
SIGNING_KEY = Credentials(
    ("HYPERLIQUID_SECRET_KEY",),
    "the key (the account's or an agent's) that signs Hyperliquid orders comes from the "
    "environment",
)


def _wire() -> Wire:
    from trueup.adapters.hyperliquid import wire

    return Wire(wire.decode, wire.rate_limited, (wire.POSITION_SNAPSHOT,))


def _feed(settings: Settings) -> "SupervisedFeed":
    from trueup.adapters.hyperliquid.live import HyperliquidFeed

    if not ADDRESS.fullmatch(settings.account):
        raise SettingRefused(
            f"a Hyperliquid --account is the user's address (0x and 40 hex digits), "
            f"not {shown(settings.account)}"
        )
    return HyperliquidFeed(
        settings.account,
        clock=settings.clock,
        base_url=settings.base_url,
        poll_interval_s=settings.poll_interval_s,
    )


def _prices(settings: Settings, symbols: tuple[str, ...]) -> "SupervisedFeed":
    from trueup.adapters.hyperliquid.price_feed import HyperliquidPriceFeed

    return HyperliquidPriceFeed(
        settings.account, symbols, clock=settings.clock, base_url=settings.base_url
    )


# The order of secp256k1's group: a private key is a number from 1 to below it.
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _orders(settings: Settings) -> "ExecutionClient":
    from trueup.adapters.hyperliquid.orders import HyperliquidOrders

    (key,) = SIGNING_KEY.read(settings.environment)
    if not PRIVATE_KEY.fullmatch(key) or not 0 < int(key, 16) < SECP256K1_ORDER:
        raise SettingRefused(
            "HYPERLIQUID_SECRET_KEY is not a private key: 64 hex digits, after 0x or not, of a "
            "number from 1 to below secp256k1's order"
        )
    # An agent's key trades for the account it names: the account is --account.
    return HyperliquidOrders(key, account_address=settings.account, base_url=settings.base_url)


# Its coin names are case-sensitive and of many forms (BTC, kPEPE, the spot @107 and
# PURR/USDC, a builder dex's xyz:XYZ100): refused is only what cannot be one, a space, or
# ccxt's BASE/QUOTE:SETTLE.
SPELLING = SymbolSpelling(
    "hyperliquid",
    re.compile(r"[^\s/]+(?:/[^\s/:]+)?"),
    "coin names like BTC, kPEPE or @107",
    from_ccxt=from_ccxt,
)

VENUE = Venue(
    "hyperliquid",
    _wire,
    _feed,
    prices=_prices,
    execution=_orders,
    coins=COINS,
    misspelt=SPELLING.misspelt,
)
