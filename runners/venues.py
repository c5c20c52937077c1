"""What ``trueup run``, ``fix-stale`` and ``execute`` build for ``--venue``, from the venue's
definition (adapters/venues.py), with credentials from the environment."""

import argparse
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from trueup.adapters import venues
from trueup.adapters.venue import SettingRefused, Settings, Venue
from trueup.runners.usage import UsageError

if TYPE_CHECKING:  # named only: the command line loads no feed it does not build
    from trueup.adapters.feed import Feed
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.supervised_feed import SupervisedFeed

T = TypeVar("T")

# Each venue's feed and clients, and its SDK, are imported when built: the command line
# names the venues without loading either.
FEED_VENUES = "{" + ",".join(venues.SHOWN_NAMES) + "}"
EXECUTION_VENUES = sorted(v.name for v in venues.VENUES if v.execution is not None)


def feed_venue(text: str) -> str:
    """A venue ``trueup run`` can follow: a registered one, or a family's member."""
    if venues.find(text) is not None:
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(venues.SHOWN_NAMES)})"
    )


def venue_account(text: str) -> tuple[str, str]:
    """``VENUE/ACCOUNT`` (``serve --follow``): a venue trueup reads, an account's name."""
    from trueup.domain.bounds import name_fault

    venue, slash, account = text.partition("/")
    if not slash:
        raise argparse.ArgumentTypeError(f"{text!r} is not VENUE/ACCOUNT (bybit/main)")
    fault = name_fault(account)
    if fault is not None:
        raise argparse.ArgumentTypeError(f"{text!r}: the account {account!r} {fault}")
    return feed_venue(venue), account


def venue_feed(args: argparse.Namespace) -> "SupervisedFeed":
    """The feed of ``args.venue`` (as feed_venue took it)."""
    venue = _venue(args)
    return _built(lambda: venue.feed(settings(args)))


def run_feed(args: argparse.Namespace) -> "Feed":
    """What ``trueup run`` follows: the account's feed, and with ``--prices`` the venue's
    public prices of those symbols beside it."""
    venue = _venue(args)
    prices = venue.prices
    if args.prices and prices is None:
        raise UsageError(f"--prices: {args.venue}'s public prices are not recorded yet")
    feed = _built(lambda: venue.feed(settings(args)))
    if not args.prices or prices is None:
        return feed
    from trueup.adapters.feeds import Feeds

    return Feeds(feed, _built(lambda: prices(settings(args), tuple(args.prices))))


def execution_client(args: argparse.Namespace) -> "ExecutionClient":
    """Where ``trueup execute`` places the orders that fired triggers request."""
    execution = _venue(args).execution
    if execution is None:  # argparse chose among EXECUTION_VENUES
        raise UsageError(f"--venue: trueup places no orders on {args.venue}")
    return _built(lambda: execution(settings(args)))


def settings(args: argparse.Namespace) -> Settings:
    """The settings a venue builds from: the command's, and this process's environment."""
    from trueup.adapters.clock import wall_clock

    return Settings(
        venue=args.venue,
        account=args.account,
        clock=wall_clock,
        environment=os.environ,
        base_url=args.base_url,
        # ``execute`` polls no venue: it has no --poll-interval.
        poll_interval_s=getattr(args, "poll_interval", 5.0),
    )


def _venue(args: argparse.Namespace) -> Venue:
    venue = venues.find(args.venue)
    if venue is None:  # argparse took only venues trueup reads
        raise UsageError(f"--venue: trueup reads no venue {args.venue!r}")
    return venue


def _built(build: Callable[[], T]) -> T:
    """What ``build`` makes; a setting it refuses, as the operator's one-line usage error."""
    try:
        return build()
    except SettingRefused as error:
        raise UsageError(str(error)) from None
