"""Hyperliquid live: the SDK's WebSocket and info API, as they are, supervised.

The SDK's WebsocketManager never reconnects; SupervisedFeed rebuilds it. Positions come
by REST (clearinghouseState) after every (re)connect and every poll interval, since no
stream sends them; a coin missing from a successful reply is flat.
"""

import logging
from typing import Any

import requests
from hyperliquid.api import API
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.error import ClientError, ServerError

from trueup.adapters.feed import Clock
from trueup.adapters.hyperliquid import messages, wire
from trueup.adapters.hyperliquid.socket import SdkSocket
from trueup.adapters.supervised_feed import SupervisedFeed

log = logging.getLogger("trueup.hyperliquid")

STREAMS = ("userFills", "orderUpdates", "userEvents")
# frontendOpenOrders rather than openOrders: only it says which open orders are the venue's
# own TP and SL (orderType, isTrigger), and neither orderUpdates nor a fill says it later, so
# a close by one of them shows its cause only if a snapshot saw the order while it waited.
SNAPSHOTS = ("clearinghouseState", "frontendOpenOrders")


class HyperliquidFeed(SupervisedFeed):
    """One Hyperliquid address's streams and info snapshots, as capture records."""

    venue = "hyperliquid"
    stream = "ws"

    def __init__(
        self,
        address: str,
        *,
        clock: Clock,
        base_url: str | None = None,
        poll_interval_s: float = 5.0,
    ) -> None:
        super().__init__(address, clock=clock, poll_interval_s=poll_interval_s)
        self.base_url = (base_url or MAINNET_API_URL).rstrip("/")
        self._api = API(self.base_url, timeout=10)
        self._socket = SdkSocket(self.base_url)

    def connect(self) -> None:
        subscriptions = [{"type": stream, "user": self.account} for stream in STREAMS]
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
            self.sink(messages.capture_ws(self.clock(), self.account, message))
        except Exception:
            log.exception("could not hand on a Hyperliquid message")

    def fetch_snapshots(self) -> bool:
        limited = False
        for endpoint in SNAPSHOTS:
            if self.stopping.is_set():
                break
            params = {"user": self.account}
            at = self.clock()
            try:
                body = self._api.post("/info", {"type": endpoint, **params})
            except (ClientError, ServerError) as error:
                status = int(error.status_code)
                self.sink(
                    messages.capture_rest(at, self.account, endpoint, params, None, status=status)
                )
                limited |= status in wire.RATE_LIMIT_HTTP_STATUSES
                continue
            except requests.RequestException as error:
                log.warning("Hyperliquid %s unreachable: %s", endpoint, type(error).__name__)
                self.sink(messages.capture_rest(at, self.account, endpoint, params, None, status=0))
                continue
            self.sink(messages.capture_rest(at, self.account, endpoint, params, body))
        return limited
