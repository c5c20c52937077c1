"""Which feed ``trueup run --venue`` builds, with its credentials from the environment."""

import argparse
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from trueup.domain.errors import shown
from trueup.runners.usage import UsageError

if TYPE_CHECKING:  # named only: the command line loads no feed it does not build
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.supervised_feed import SupervisedFeed

# Each feed, and its venue's SDK, is imported when built: the command line names the venues
# without loading either.

# What Hyperliquid calls a user: an Ethereum address.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def _secret(name: str, venue: str = "Bybit") -> str:
    value = os.environ.get(name)
    if not value:
        raise UsageError(
            f"{name} is not set: the {venue} API key and secret come from the environment"
        )
    return value


def bybit(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.bybit.live import BybitFeed
    from trueup.adapters.clock import wall_clock

    return BybitFeed(
        args.account,
        _secret("BYBIT_API_KEY"),
        _secret("BYBIT_API_SECRET"),
        clock=wall_clock,
        base_url=args.base_url,
        poll_interval_s=args.poll_interval,
    )


def hyperliquid(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.clock import wall_clock
    from trueup.adapters.hyperliquid.live import HyperliquidFeed

    # A Hyperliquid account is its address: public, no key needed to read it.
    if not _ADDRESS.fullmatch(args.account):
        raise UsageError(
            f"a Hyperliquid --account is the user's address (0x and 40 hex digits), "
            f"not {shown(args.account)}"
        )
    return HyperliquidFeed(
        args.account, clock=wall_clock, base_url=args.base_url, poll_interval_s=args.poll_interval
    )


def aster(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.aster.live import AsterFeed
    from trueup.adapters.clock import wall_clock

    return AsterFeed(
        args.account,
        _secret("ASTER_API_KEY", "Aster"),
        _secret("ASTER_API_SECRET", "Aster"),
        clock=wall_clock,
        base_url=args.base_url,
        poll_interval_s=args.poll_interval,
    )


def ccxt(args: argparse.Namespace) -> "SupervisedFeed":
    """``ccxt:<exchange-id>``: credentials from CCXT_<ID>_API_KEY, _SECRET and the rest of
    what the exchange requires (adapters/ccxt/credentials.py names them)."""
    from trueup.adapters.ccxt import credentials
    from trueup.adapters.ccxt.live import CcxtFeed, build_exchange, can_watch
    from trueup.adapters.clock import wall_clock

    exchange_id = args.venue.removeprefix(CCXT_PREFIX)
    keys, options = credentials.from_environment(exchange_id, os.environ)
    try:
        exchange = build_exchange(exchange_id, keys, options=options, base_url=args.base_url)
    except ValueError as error:
        raise UsageError(str(error)) from None
    unset = credentials.missing(exchange_id, exchange.requiredCredentials, keys)
    if unset:
        raise UsageError(
            f"{', '.join(unset)} not set: ccxt's {exchange_id} needs them, from the environment"
        )

    def watching() -> object:
        return build_exchange(exchange_id, keys, options=options, base_url=args.base_url, pro=True)

    return CcxtFeed(
        exchange,
        args.account,
        clock=wall_clock,
        poll_interval_s=args.poll_interval,
        secrets=tuple(keys.values()),
        watch=watching if can_watch(exchange_id) else None,
    )


VENUE_FEEDS: dict[str, Callable[[argparse.Namespace], "SupervisedFeed"]] = {
    "aster": aster,
    "bybit": bybit,
    "hyperliquid": hyperliquid,
}
CCXT_PREFIX = "ccxt:"
_EXCHANGE_ID = re.compile(r"[a-z][a-z0-9]*", re.ASCII)


def feed_venue(text: str) -> str:
    """A venue ``trueup run`` can follow: one of VENUE_FEEDS, or ``ccxt:<exchange-id>``."""
    if text in VENUE_FEEDS:
        return text
    if text.startswith(CCXT_PREFIX) and _EXCHANGE_ID.fullmatch(text.removeprefix(CCXT_PREFIX)):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(sorted(VENUE_FEEDS))}, "
        "ccxt:<exchange-id>)"
    )


def venue_feed(args: argparse.Namespace) -> "SupervisedFeed":
    """The feed of ``args.venue`` (as feed_venue took it)."""
    if args.venue.startswith(CCXT_PREFIX):
        return ccxt(args)
    return VENUE_FEEDS[args.venue](args)


def bybit_prices(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.bybit.price_feed import BybitPriceFeed
    from trueup.adapters.clock import wall_clock

    return BybitPriceFeed(args.account, args.prices, clock=wall_clock, base_url=args.base_url)


def hyperliquid_prices(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.clock import wall_clock
    from trueup.adapters.hyperliquid.price_feed import HyperliquidPriceFeed

    return HyperliquidPriceFeed(args.account, args.prices, clock=wall_clock, base_url=args.base_url)


def aster_prices(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.aster.price_feed import AsterPriceFeed
    from trueup.adapters.clock import wall_clock

    return AsterPriceFeed(args.account, args.prices, clock=wall_clock, base_url=args.base_url)


# The public price stream of ``--prices``, recorded for the account beside its own stream.
VENUE_PRICE_FEEDS: dict[str, Callable[[argparse.Namespace], "SupervisedFeed"]] = {
    "aster": aster_prices,
    "bybit": bybit_prices,
    "hyperliquid": hyperliquid_prices,
}


def bybit_orders(args: argparse.Namespace) -> "ExecutionClient":
    from trueup.adapters.bybit.orders import BybitOrders

    return BybitOrders(
        _secret("BYBIT_API_KEY"), _secret("BYBIT_API_SECRET"), base_url=args.base_url
    )


def hyperliquid_orders(args: argparse.Namespace) -> "ExecutionClient":
    from trueup.adapters.hyperliquid.orders import HyperliquidOrders

    key = os.environ.get("HYPERLIQUID_SECRET_KEY")
    if not key:
        raise UsageError(
            "HYPERLIQUID_SECRET_KEY is not set: the key (the account's or an agent's) that "
            "signs Hyperliquid orders comes from the environment"
        )
    # An agent's key trades for the account it names: the account is --account.
    return HyperliquidOrders(key, account_address=args.account, base_url=args.base_url)


def aster_orders(args: argparse.Namespace) -> "ExecutionClient":
    from trueup.adapters.aster.orders import AsterOrders

    return AsterOrders(
        _secret("ASTER_API_KEY", "Aster"),
        _secret("ASTER_API_SECRET", "Aster"),
        base_url=args.base_url,
    )


# Where ``trueup execute`` places the orders that fired triggers request.
VENUE_EXECUTION: dict[str, Callable[[argparse.Namespace], "ExecutionClient"]] = {
    "aster": aster_orders,
    "bybit": bybit_orders,
    "hyperliquid": hyperliquid_orders,
}
