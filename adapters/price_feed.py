"""A venue's public price stream, kept alive as the account's own stream is.

Its frames are recorded for the account whose runner subscribed them. It is rebuilt with the
same backoff and told in the same feed lines (stream ``prices``), so a dropped price stream
emits WS_RECONNECT; it has nothing to fetch by REST, since each venue's stream starts with
the whole of what it covers (Bybit's ticker snapshot, Hyperliquid's activeAssetCtx).
"""

from trueup.adapters.feed import Clock
from trueup.adapters.supervised_feed import SupervisedFeed
from trueup.domain.prices import PRICE_STREAM

# Nothing to poll: the supervisor's poll thread only wakes this often to see it must stop.
IDLE_POLL_S = 60.0


class PriceFeed(SupervisedFeed):
    """The public stream of ``symbols`` on one venue, as capture lines of channel market."""

    stream = PRICE_STREAM

    def __init__(self, account: str, symbols: tuple[str, ...], *, clock: Clock) -> None:
        super().__init__(account, clock=clock, poll_interval_s=IDLE_POLL_S)
        self.symbols = symbols
        # The prices last recorded per symbol; emptied at each (re)connect, so its first is.
        self.recorded: dict[object, tuple[object, ...]] = {}

    def moved(self, symbol: object, prices: tuple[object, ...]) -> bool:
        """Whether ``prices`` (those trueup reads) differ from the symbol's last recorded,
        noted as recorded if so: venues push unchanged prices every few seconds."""
        if self.recorded.get(symbol) == prices:
            return False
        self.recorded[symbol] = prices
        return True

    def fetch_snapshots(self) -> bool:
        return False
