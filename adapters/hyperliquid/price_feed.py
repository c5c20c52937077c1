"""Hyperliquid's marks through the SDK's WebSocket, supervised (the SDK never reconnects).

One ``activeAssetCtx`` subscription per coin watched: it carries the coin's mark (markPx,
what Hyperliquid values positions and fires TP/SL triggers at), its oracle price (the index)
and its mid. allMids is not used: it gives mids only, and a mid is no mark (on a thin book it
strays from it). A frame is recorded, verbatim, only when it moves one of the coin's three
prices, so the journal grows with the prices that matter here.
"""

import logging
from typing import Any

from hyperliquid.utils.constants import MAINNET_API_URL

from trueup.adapters.feed import Clock
from trueup.adapters.hyperliquid.socket import SdkSocket
from trueup.adapters.market_data import capture_market
from trueup.adapters.price_feed import PriceFeed

log = logging.getLogger("trueup.hyperliquid")

SUBSCRIPTION = "activeAssetCtx"
PRICES = ("markPx", "oraclePx", "midPx")


class HyperliquidPriceFeed(PriceFeed):
    """The marks, oracle prices and mids of ``symbols`` (perp coins) from activeAssetCtx."""

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

    def connect(self) -> None:
        self.recorded.clear()
        subscriptions = [{"type": SUBSCRIPTION, "coin": coin} for coin in self.symbols]
        self._socket.open(subscriptions, self._on_message)

    def close_stream(self) -> None:
        self._socket.close()

    def stream_lost(self) -> str | None:
        return self._socket.lost()

    def stream_up(self) -> bool:
        return self._socket.up()

    def _on_message(self, message: dict[str, Any]) -> None:
        # An exception here would end the SDK's thread: nothing may escape.
        try:
            moved = _prices(message)
            if moved is not None and not self.moved(*moved):
                return
            self.sink(capture_market(self.clock(), self.venue, self.account, message))
        except Exception:
            log.exception("could not hand on Hyperliquid's prices")


def _prices(message: dict[str, Any]) -> tuple[str, tuple[object, ...]] | None:
    """The coin and its three prices in an activeAssetCtx frame; None for any other frame
    (kept, whatever it is)."""
    data = message.get("data")
    if message.get("channel") != SUBSCRIPTION or not isinstance(data, dict):
        return None
    ctx = data.get("ctx")
    if not isinstance(ctx, dict):
        return None
    return str(data.get("coin")), tuple(ctx.get(name) for name in PRICES)
