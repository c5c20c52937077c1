"""Which feed ``trueup run --venue`` builds, with its credentials from the environment."""

import argparse
import os
from collections.abc import Callable

from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.feed import Feed
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.runners.live import wall_clock
from trueup.runners.usage import UsageError


def _secret(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise UsageError(
            f"{name} is not set: the Bybit API key and secret come from the environment"
        )
    return value


def bybit(args: argparse.Namespace) -> Feed:
    return BybitFeed(
        args.account,
        _secret("BYBIT_API_KEY"),
        _secret("BYBIT_API_SECRET"),
        clock=wall_clock,
        base_url=args.base_url,
        poll_interval_s=args.poll_interval,
    )


def hyperliquid(args: argparse.Namespace) -> Feed:
    # A Hyperliquid account is its address: public, no key needed to read it.
    return HyperliquidFeed(
        args.account, clock=wall_clock, base_url=args.base_url, poll_interval_s=args.poll_interval
    )


VENUE_FEEDS: dict[str, Callable[[argparse.Namespace], Feed]] = {
    "bybit": bybit,
    "hyperliquid": hyperliquid,
}
