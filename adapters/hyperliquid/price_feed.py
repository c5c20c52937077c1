"""Hyperliquid's allMids through the SDK's WebSocket, supervised (the SDK never reconnects).

allMids lists every coin at every block; a frame is recorded, verbatim, only when it moves
the mid of a coin watched, so the journal grows with the prices that matter here.
"""

import logging
from typing import Any

from hyperliquid.utils.constants import MAINNET_API_URL

from trueup.adapters.feed import Clock
from trueup.adapters.hyperliquid.socket import SdkSocket
from trueup.adapters.market_data import capture_market
from trueup.adapters.price_feed import PriceFeed

log = logging.getLogger("trueup.hyperliquid")


class HyperliquidPriceFeed(PriceFeed):
    """The mids of ``symbols`` (coins) from Hyperliquid's allMids."""

    venue = "hyperliquid"

    def __init__(
        self,
        account: str,
        symbols: tuple[str, ...],
        *,
        clock: Clock,
        base_url: str | None = None,
    ) -> None:
        super().__init__(account, symbols, clock=clock)
        self.base_url = (base_url or MAINNET_API_URL).rstrip("/")
        self._socket = SdkSocket(self.base_url)
        # The watched mids last recorded: none, after a (re)connect, so its first frame is.
        self._recorded: dict[str, object] | None = None

    def connect(self) -> None:
        self._recorded = None
        self._socket.open([{"type": "allMids"}], self._on_message)

    def close_stream(self) -> None:
        self._socket.close()

    def stream_lost(self) -> str | None:
        return self._socket.lost()

    def stream_up(self) -> bool:
        return self._socket.up()

    def _on_message(self, message: dict[str, Any]) -> None:
        # An exception here would end the SDK's thread: nothing may escape.
        try:
            watched = self._watched(message)
            if watched is not None and watched == self._recorded:
                return
            self._recorded = watched
            self.sink(capture_market(self.clock(), self.venue, self.account, message))
        except Exception:
            log.exception("could not hand on Hyperliquid's mids")

    def _watched(self, message: dict[str, Any]) -> dict[str, object] | None:
        """The watched coins' mids in an allMids frame; None for any other frame (kept)."""
        data = message.get("data")
        mids = data.get("mids") if isinstance(data, dict) else None
        if not isinstance(mids, dict) or not self.symbols:
            return None
        return {coin: mids.get(coin) for coin in self.symbols}
