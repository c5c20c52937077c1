"""Hyperliquid live: the SDK's WebSocket and info API, as they are, supervised.

The SDK's WebsocketManager never reconnects; SupervisedFeed rebuilds it. Positions come
by REST (clearinghouseState) after every (re)connect and every poll interval, since no
stream sends them; a coin missing from a successful reply is flat. After a reconnect, and on
a run's first sync, the recent orders' fates (historicalOrders) and the fills since
(userFillsByTime) first: an order that filled or ended while nobody listened is on no list
of open orders, its frames went to nobody, and a close it made is explained by its fill.
"""

import logging
from typing import Any

import requests
from hyperliquid.api import API
from hyperliquid.utils.constants import MAINNET_API_URL
from hyperliquid.utils.error import ClientError, ServerError

from trueup.adapters.capture import decode_record
from trueup.adapters.feed import Clock
from trueup.adapters.hyperliquid import messages, wire
from trueup.adapters.hyperliquid.socket import SdkSocket
from trueup.adapters.last_reply import LastReply
from trueup.adapters.resume_point import ResumePoint
from trueup.adapters.supervised_feed import SupervisedFeed
from trueup.domain.events import InputRejected

log = logging.getLogger("trueup.hyperliquid")

STREAMS = ("userFills", "orderUpdates", "userEvents")
# frontendOpenOrders rather than openOrders: only it says which open orders are the venue's
# own TP and SL (orderType, isTrigger), and neither orderUpdates nor a fill says it later, so
# a close by one of them shows its cause only if a snapshot saw the order while it waited.
SNAPSHOTS = ("clearinghouseState", "frontendOpenOrders")
# userFillsByTime's largest reply: a full one goes on from its last fill's time.
FILLS_PAGE = 2000
MAX_FILL_PAGES = 10
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
        self._reply = LastReply(self._api.session)
        self._socket = SdkSocket(self.base_url)
        self._resume = ResumePoint()
        self._funding_since: int | None = None  # the time of the newest payment recorded

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """The first sync asks for the fills, orders' fates and funding since ``at`` (less a
        margin): what filled, ended or was paid while no trueup listened."""
        self._resume.resume_after(at)

    def connect(self) -> None:
        self._resume.reconnecting(self.clock())
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
        began = self.clock()
        since = self._resume.since
        limited, complete = False, True
        if since is not None:
            # Before the positions: a position closed while nobody listened is then judged
            # by the fill that closed it (a close by hand is MANUAL), not by the rule for a
            # close no fill explains (domain/rules/manual_close.py).
            body, refused = self._ask("historicalOrders", {})
            limited |= refused
            complete &= body is not None
            whole, refused = self._fills_since(since)
            complete &= whole
            limited |= refused
        for endpoint in SNAPSHOTS:
            body, refused = self._ask(endpoint, {})
            limited |= refused
            complete &= body is not None
        if complete:
            self._resume.synced(began, since)
        return self._fetch_funding() or limited

    def _fetch_funding(self) -> bool:
        """The funding paid since the newest payment recorded (on the first sync, since one
        funding interval ago, or since the journal last heard if longer): user events push it
        to nobody while the stream is down. The newest is asked for again (startTime is
        inclusive); the ledger folds it once."""
        if self._funding_since is None:
            start = self.clock() - FUNDING_INTERVAL_MS
            resumed = self._resume.since
            self._funding_since = start if resumed is None else min(start, resumed)
        body, limited = self._ask(wire.FUNDING_HISTORY, {"startTime": self._funding_since})
        if isinstance(body, list):
            times = [item.get("time") for item in body if isinstance(item, dict)]
            newest = max((t for t in times if isinstance(t, int)), default=None)
            if newest is not None:
                self._funding_since = max(self._funding_since, newest)
        return limited

    def _fills_since(self, since: int) -> tuple[bool, bool]:
        """Every fill from ``since`` on, page by page; whether all came, and whether a page
        was refused for asking too often."""
        start = since
        for _ in range(MAX_FILL_PAGES):
            body, limited = self._ask("userFillsByTime", {"startTime": start})
            if not isinstance(body, list):
                return False, limited
            times = [t for t in (f.get("time") for f in body) if isinstance(t, int)]
            if len(body) < FILLS_PAGE or not times:
                return True, False
            # The next page from the last fill's time: that block again, counted once by tid.
            start = max(times)
        return False, False

    def _ask(self, endpoint: str, extra: dict[str, Any]) -> tuple[Any, bool]:
        """Ask one info request and hand its reply on; its body (None if none came) and
        whether it was refused for asking too often."""
        if self.stopping.is_set():
            return None, False
        params = {"user": self.account, **extra}
        at = self.clock()
        self._reply.forget()
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
        except Exception as error:  # the SDK could not read an error reply: not {code, msg}
            status, body = self._reply.status_and_body()
            log.warning(
                "Hyperliquid %s: HTTP %d, a reply the SDK could not read (%s)",
                endpoint,
                status,
                type(error).__name__,
            )
            self.sink(
                messages.capture_rest(at, self.account, endpoint, params, body, status=status)
            )
            return None, status in wire.RATE_LIMIT_HTTP_STATUSES
        record = messages.capture_rest(at, self.account, endpoint, params, body)
        self.sink(record)
        # A reply trueup refused (malformed, an error) proves nothing was missed.
        return (None if isinstance(decode_record(record), InputRejected) else body), False
