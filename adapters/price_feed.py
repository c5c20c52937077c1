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

    def fetch_snapshots(self) -> bool:
        return False
