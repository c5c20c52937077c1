"""One account's latest prices per symbol, folded from the public market data its runner saw.

A venue may send only the prices that changed (Bybit's ticker deltas), so each price is kept
until a later word replaces it; a quote older, by the venue's own clock, than the one held
is ignored, as an older report never overwrites a newer one.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from trueup.domain.events import PriceQuote

# The name the live runner gives its public price stream in its feed lines: its loss blinds
# no position, so it is told apart from the account's own stream.
PRICE_STREAM = "prices"


@dataclass(frozen=True, slots=True)
class Price:
    """What is known of one symbol's prices, and when it was last told (input time)."""

    symbol: str
    mark: Decimal | None
    last: Decimal | None
    index: Decimal | None
    mid: Decimal | None
    venue_time: int | None
    at: int
    # The input time of the quote that carried the mark: a quote without one (Hyperliquid's
    # allMids, its mids alone) says nothing of how current the mark is.
    mark_at: int = 0

    @property
    def reference(self) -> Decimal | None:
        """The price a rule should judge by: the mark, else the mid, else the last trade."""
        if self.mark is not None:
            return self.mark
        return self.mid if self.mid is not None else self.last


@dataclass(slots=True)
class PriceBook:
    """The latest prices per symbol."""

    prices: dict[str, Price] = field(default_factory=dict)

    def apply(self, quote: PriceQuote, at: int) -> bool:
        """Fold one quote; says whether the symbol's mark changed."""
        held = self.prices.get(quote.symbol)
        if held is None:
            self.prices[quote.symbol] = Price(
                quote.symbol,
                quote.mark,
                quote.last,
                quote.index,
                quote.mid,
                quote.venue_time,
                at,
                at if quote.mark is not None else 0,
            )
            return quote.mark is not None
        if _older(quote.venue_time, held.venue_time):
            return False
        self.prices[quote.symbol] = Price(
            quote.symbol,
            _newer(quote.mark, held.mark),
            _newer(quote.last, held.last),
            _newer(quote.index, held.index),
            _newer(quote.mid, held.mid),
            quote.venue_time if quote.venue_time is not None else held.venue_time,
            at,
            at if quote.mark is not None else held.mark_at,
        )
        return quote.mark is not None and quote.mark != held.mark

    def get(self, symbol: str) -> Price | None:
        return self.prices.get(symbol)


def _older(time: int | None, held: int | None) -> bool:
    return time is not None and held is not None and time < held


def _newer(value: Decimal | None, held: Decimal | None) -> Decimal | None:
    # A price the quote leaves out has not changed.
    return held if value is None else value
