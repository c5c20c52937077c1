"""Bybit V5's public ticker stream through pybit, supervised like the private one.

pybit folds ticker deltas into the snapshot it holds and hands its callback that whole
ticker (``type`` snapshot): that is what is recorded, copied at once, since pybit goes on
changing the dict it handed over. Most deltas move only volume, turnover or open interest:
a ticker is recorded only when a price trueup reads moved, so the journal grows with the
prices, not with the trading.
"""

import logging
import threading
from typing import Any

from pybit import unified_trading

from trueup.adapters.bybit.tickers import PRICES_READ
from trueup.adapters.feed import Clock
from trueup.adapters.market_data import capture_market
from trueup.adapters.price_feed import PriceFeed
from trueup.adapters.supervised_feed import NOT_CONNECTED, close_quietly

log = logging.getLogger("trueup.bybit")

# pybit's WebSocket reads its public URL from a module global at construction.
_PUBLIC_WSS_LOCK = threading.Lock()


class BybitPriceFeed(PriceFeed):
    """``tickers.<symbol>`` of each symbol on Bybit's public stream of ``category``."""

    venue = "bybit"

    def __init__(
        self,
        account: str,
        symbols: tuple[str, ...],
        *,
        clock: Clock,
        base_url: str | None = None,
        category: str = "linear",
    ) -> None:
        super().__init__(account, symbols, clock=clock)
        self.base_url = base_url
        self.category = category
        self._ws: Any = None

    def _ws_url(self) -> str:
        if not self.base_url:
            return str(unified_trading.PUBLIC_WSS)
        host = "ws" + self.base_url.rstrip("/").removeprefix("http")
        return host + "/v5/public/{CHANNEL_TYPE}"

    def connect(self) -> None:
        self.recorded.clear()
        with _PUBLIC_WSS_LOCK:
            default = unified_trading.PUBLIC_WSS
            unified_trading.PUBLIC_WSS = self._ws_url()
            try:
                ws = unified_trading.WebSocket(
                    channel_type=self.category,
                    testnet=False,
                    retries=2,
                    restart_on_error=False,  # the supervisor rebuilds, with backoff
                )
            finally:
                unified_trading.PUBLIC_WSS = default
        self._ws = ws
        ws.ticker_stream(list(self.symbols), self._on_message)

    def close_stream(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            close_quietly(ws.exit)

    def stream_lost(self) -> str | None:
        if self._ws is None:
            return NOT_CONNECTED
        if not self._ws.is_connected():
            return "stream closed"
        return None

    def _on_message(self, message: dict[str, Any]) -> None:
        # pybit ends the stream for good if a callback raises: nothing may escape.
        try:
            frame = dict(message)
            data = frame.get("data")
            if isinstance(data, dict):
                frame["data"] = data = dict(data)
                symbol = data.get("symbol")
                if not self.moved(symbol, tuple(data.get(name) for name in PRICES_READ)):
                    return
            self.sink(capture_market(self.clock(), self.venue, self.account, frame))
        except Exception:
            log.exception("could not hand on a Bybit ticker")
