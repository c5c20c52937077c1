"""Aster's public mark prices (``<symbol>@markPrice``) over websocket-client, supervised.

One connection: opened on the first symbol's stream, which then SUBSCRIBEs every symbol's
(futures-api-v1.md, "Live Subscribing"). Aster pushes each update every 3 s whether or not
it moved: an update is recorded, verbatim, only when it moves the mark or index price of
its symbol, so the journal grows with the prices, not with Aster's timer.
"""

import logging
from typing import Any

import orjson

from trueup.adapters.aster.live import MAX_CONNECTION_S, stream_base
from trueup.adapters.aster.mark_prices import PRICES_READ, stream_name
from trueup.adapters.aster.user_stream import UserStream
from trueup.adapters.feed import Clock
from trueup.adapters.market_data import capture_market
from trueup.adapters.price_feed import PriceFeed

log = logging.getLogger("trueup.aster")
SUBSCRIBE_ID = 1


class AsterPriceFeed(PriceFeed):
    """The mark prices of ``symbols`` on Aster's public market streams."""

    venue = "aster"

    def __init__(
        self,
        account: str,
        symbols: tuple[str, ...],
        *,
        clock: Clock,
        base_url: str | None = None,
    ) -> None:
        super().__init__(account, symbols, clock=clock)
        self.stream_url = stream_base(base_url)
        self._stream = UserStream(max_age_s=MAX_CONNECTION_S)

    def connect(self) -> None:
        self.recorded.clear()
        names = [stream_name(symbol) for symbol in self.symbols]
        subscribe = {"method": "SUBSCRIBE", "params": names, "id": SUBSCRIBE_ID}
        self._stream.open(
            f"{self.stream_url}/ws/{names[0]}",
            self._on_text,
            on_open_send=orjson.dumps(subscribe).decode(),
        )

    def close_stream(self) -> None:
        self._stream.close()

    def stream_lost(self) -> str | None:
        return self._stream.lost()

    def stream_up(self) -> bool:
        return self._stream.up()

    def _on_text(self, text: str) -> None:
        # An exception here would end websocket-client's thread: nothing may escape.
        try:
            frame: Any = orjson.loads(text)
        except orjson.JSONDecodeError:
            log.warning("Aster market stream: a frame that is not JSON (%d chars)", len(text))
            return
        try:
            if isinstance(frame, dict) and not self._moved(frame):
                return
            self.sink(capture_market(self.clock(), self.venue, self.account, frame))
        except Exception:
            log.exception("could not hand on an Aster mark price")

    def _moved(self, frame: dict[str, Any]) -> bool:
        """Whether an update moves a price read here (any other frame is kept)."""
        update = frame.get("data") if "stream" in frame and "e" not in frame else frame
        if not isinstance(update, dict) or "e" not in update:
            return True
        prices = tuple(update.get(name) for name in PRICES_READ)
        return self.moved(update.get("s"), prices)
