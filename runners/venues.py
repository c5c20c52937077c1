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


VENUE_FEEDS: dict[str, Callable[[argparse.Namespace], "SupervisedFeed"]] = {
    "aster": aster,
    "bybit": bybit,
    "hyperliquid": hyperliquid,
}


def bybit_prices(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.bybit.price_feed import BybitPriceFeed
    from trueup.adapters.clock import wall_clock

    return BybitPriceFeed(args.account, args.prices, clock=wall_clock, base_url=args.base_url)


def hyperliquid_prices(args: argparse.Namespace) -> "SupervisedFeed":
    from trueup.adapters.clock import wall_clock
    from trueup.adapters.hyperliquid.price_feed import HyperliquidPriceFeed

    return HyperliquidPriceFeed(args.account, args.prices, clock=wall_clock, base_url=args.base_url)


# The public price stream of ``--prices``, recorded for the account beside its own stream.
VENUE_PRICE_FEEDS: dict[str, Callable[[argparse.Namespace], "SupervisedFeed"]] = {
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


# Where ``trueup execute`` places the orders that fired triggers request.
VENUE_EXECUTION: dict[str, Callable[[argparse.Namespace], "ExecutionClient"]] = {
    "bybit": bybit_orders,
    "hyperliquid": hyperliquid_orders,
}
