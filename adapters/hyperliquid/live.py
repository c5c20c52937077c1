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
# Hyperliquid pays funding every hour: the first sync asks for the last payment again, since
# the journal may hold it already (folded once) or not at all (paid while trueup was down).
FUNDING_INTERVAL_MS = 3_600_000


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
        self._funding_since: int | None = None  # the time of the newest payment recorded

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
            limited |= self._ask(endpoint, {"user": self.account})[1]
        return self._fetch_funding() or limited

    def _fetch_funding(self) -> bool:
        """The funding paid since the newest payment recorded (on the first sync, since one
        funding interval ago): user events push it to nobody while the stream is down. The
        newest is asked for again (startTime is inclusive); the ledger folds it once."""
        if self.stopping.is_set():
            return False
        if self._funding_since is None:
            self._funding_since = self.clock() - FUNDING_INTERVAL_MS
        params = {"user": self.account, "startTime": self._funding_since}
        body, limited = self._ask(wire.FUNDING_HISTORY, params)
        if isinstance(body, list):
            times = [item.get("time") for item in body if isinstance(item, dict)]
            newest = max((t for t in times if isinstance(t, int)), default=None)
            if newest is not None:
                self._funding_since = max(self._funding_since, newest)
        return limited

    def _ask(self, endpoint: str, params: dict[str, Any]) -> tuple[Any, bool]:
        """One info request, its reply handed on as a capture (an HTTP error as its status):
        the body (None when there was none) and whether the venue said we ask too often."""
        at = self.clock()
        try:
            body = self._api.post("/info", {"type": endpoint, **params})
        except (ClientError, ServerError) as error:
            status = int(error.status_code)
            self.sink(
                messages.capture_rest(at, self.account, endpoint, params, None, status=status)
            )
            return None, status in wire.RATE_LIMIT_HTTP_STATUSES
        except requests.RequestException as error:
            log.warning("Hyperliquid %s unreachable: %s", endpoint, type(error).__name__)
            self.sink(messages.capture_rest(at, self.account, endpoint, params, None, status=0))
            return None, False
        self.sink(messages.capture_rest(at, self.account, endpoint, params, body))
        return body, False
