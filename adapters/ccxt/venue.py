"""The ccxt family as trueup reads it: every ``ccxt:<exchange-id>``, one definition, listed
in adapters/venues.py. Credentials from CCXT_<ID>_API_KEY, _SECRET and the rest of what the
exchange requires (credentials.py names them)."""

import re
from typing import TYPE_CHECKING

from trueup.adapters.ccxt.coins import COINS, from_venue
from trueup.adapters.symbol_spelling import SymbolSpelling
from trueup.adapters.venue import SettingRefused, Settings, Venue, Wire

if TYPE_CHECKING:
    from trueup.adapters.supervised_feed import SupervisedFeed

# ccxt's exchange ids: lower-case letters and digits (binanceusdm, okx, aster).
EXCHANGE_ID = re.compile(r"[a-z][a-z0-9]*", re.ASCII)


def _wire() -> Wire:
    from trueup.adapters.ccxt import wire

    return Wire(wire.decode, wire.rate_limited, wire.POSITION_SNAPSHOTS)


def _feed(settings: Settings) -> "SupervisedFeed":
    from trueup.adapters.ccxt import credentials
    from trueup.adapters.ccxt.live import CcxtFeed, build_exchange, can_watch

    exchange_id = settings.venue.partition(":")[2]
    keys, options = credentials.from_environment(exchange_id, settings.environment)
    base_url = settings.base_url
    try:
        exchange = build_exchange(exchange_id, keys, options=options, base_url=base_url)
    except ValueError as error:
        raise SettingRefused(str(error)) from None
    unset = credentials.missing(exchange_id, exchange.requiredCredentials, keys)
    if unset:
        raise SettingRefused(
            f"{', '.join(unset)} not set: ccxt's {exchange_id} needs them, from the environment"
        )

    def watching() -> object:
        return build_exchange(exchange_id, keys, options=options, base_url=base_url, pro=True)

    return CcxtFeed(
        exchange,
        settings.account,
        clock=settings.clock,
        poll_interval_s=settings.poll_interval_s,
        secrets=tuple(keys.values()),
        watch=watching if can_watch(exchange_id) else None,
    )


# ccxt's unified symbols, BASE/QUOTE[:SETTLE[-EXPIRY...]]; a base may be lower case (kPEPE).
SPELLING = SymbolSpelling(
    "ccxt",
    re.compile(r"[^/\s]+/[^/\s]+"),
    "unified, BASE/QUOTE:SETTLE like BTC/USDT:USDT",
    guess=from_venue,
)

VENUE = Venue(
    "ccxt",
    _wire,
    _feed,
    members=EXCHANGE_ID,
    member_label="exchange-id",
    coins=COINS,
    misspelt=SPELLING.misspelt,
)
