"""Bybit V5 live: the private WebSocket and REST through pybit, as they are, supervised.

Every message and response is handed on verbatim as a capture record; keys never are.
"""

import logging
import threading
from collections.abc import Generator
from enum import Enum
from typing import Any

import requests
from pybit import unified_trading
from pybit.exceptions import FailedRequestError

from trueup.adapters import rest_capture
from trueup.adapters.bybit import messages, wire
from trueup.adapters.capture import decode_record
from trueup.adapters.feed import Clock, Record
from trueup.adapters.last_reply import LastReply
from trueup.adapters.resume_point import ResumePoint
from trueup.adapters.supervised_feed import NOT_CONNECTED, SupervisedFeed, close_quietly
from trueup.domain.events import InputRejected

log = logging.getLogger("trueup.bybit")

TOPICS = ("position", "order", "execution", "wallet")

MAX_PAGES = 50
RUN_ATTEMPTS = 3
AUTH_REFUSED = "auth refused"
# pybit's WebSocket reads its URL from a module global at construction.
_PRIVATE_WSS_LOCK = threading.Lock()


class _EveryCode:
    """pybit's ``ignore_codes``: return every error reply instead of raising, so that the
    verbatim body is journaled (an error is kept as the fact it is, never as "flat")."""

    def __contains__(self, _code: object) -> bool:
        return True

    def __bool__(self) -> bool:
        return True


class BybitFeed(SupervisedFeed):
    """One Bybit account's private stream and REST fallback, as capture records."""

    venue = "bybit"
    stream = "private"

    def __init__(
        self,
        account: str,
        api_key: str,
        api_secret: str,
        *,
        clock: Clock,
        base_url: str | None = None,
        poll_interval_s: float = 5.0,
        category: str = "linear",
        settle_coin: str = "USDT",
    ) -> None:
        super().__init__(account, clock=clock, poll_interval_s=poll_interval_s)
        self._api_key = api_key
        self._api_secret = api_secret
        self.base_url = base_url
        self.category = category
        self.settle_coin = settle_coin
        self._ws: Any = None
        self._ws_lost: str | None = None
        self._authenticated = False
        # After a reconnect, or on a run's first sync, the orders and fills since.
        self._resume = ResumePoint()
        self._http = unified_trading.HTTP(
            testnet=False,
            api_key=api_key,
            api_secret=api_secret,
            ignore_codes=_EveryCode(),
            # Not empty (pybit would put its defaults back) yet matching no code: a rate
            # limit is reported, not slept through inside pybit.
            retry_codes={-1},
            max_retries=1,
            timeout=10,
        )
        if base_url:
            self._http.endpoint = base_url.rstrip("/")
        self._reply = LastReply(self._http.client)

    # --- the private stream ---------------------------------------------------------------

    def _ws_url(self) -> str:
        if not self.base_url:
            return str(unified_trading.PRIVATE_WSS)
        return "ws" + self.base_url.rstrip("/").removeprefix("http") + "/v5/private"

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """The first sync asks for the orders and fills since ``at`` (less a margin): what
        filled while no trueup listened (a trigger's order placed just before a restart)."""
        self._resume.resume_after(at)

    def connect(self) -> None:
        self._resume.reconnecting(self.clock())
        # Before the stream opens: its auth reply may come before the constructor returns.
        self._ws_lost = None
        self._authenticated = False
        with _PRIVATE_WSS_LOCK:
            default = unified_trading.PRIVATE_WSS
            unified_trading.PRIVATE_WSS = self._ws_url()
            try:
                ws = unified_trading.WebSocket(
                    channel_type="private",
                    testnet=False,
                    api_key=self._api_key,
                    api_secret=self._api_secret,
                    retries=2,
                    restart_on_error=False,  # the supervisor rebuilds, with backoff
                    callback_function=self._on_message,
                )
            finally:
                unified_trading.PRIVATE_WSS = default
        self._ws = ws
        for topic in TOPICS:
            getattr(ws, f"{topic}_stream")(self._on_message)

    def close_stream(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            close_quietly(ws.exit)

    def stream_lost(self) -> str | None:
        if self._ws is None:
            return NOT_CONNECTED
        if self._ws_lost is not None:
            return self._ws_lost
        if not self._ws.is_connected():
            return "stream closed"
        return None

    def stream_up(self) -> bool:
        # Connected is not enough on a private stream: Bybit must have taken our key.
        return self._authenticated and self.stream_lost() is None

    def auth_refused(self) -> str | None:
        lost = self._ws_lost
        return lost if lost is not None and lost.startswith(AUTH_REFUSED) else None

    def signed_in(self) -> bool:
        return self._authenticated

    def _on_message(self, message: dict[str, Any]) -> None:
        # pybit ends the stream for good if a callback raises: nothing may escape.
        try:
            if "topic" in message:
                self.sink(messages.capture_ws(self.clock(), self.account, message))
            elif message.get("op") == "auth" and message.get("success") is True:
                self._authenticated = True
            elif message.get("op") == "auth":
                self._ws_lost = f"{AUTH_REFUSED}: {message.get('ret_msg', '')}"
                self.sink(messages.capture_ws(self.clock(), self.account, message))
        except Exception:
            log.exception("could not hand on a Bybit message")

    # --- REST -----------------------------------------------------------------------------

    def fetch_snapshots(self) -> bool:
        """Positions and open orders, every page; after a reconnect, first the fills the
        stream did not carry (an order that filled while it was down: a trigger's, say)."""
        began = self.clock()
        scope = {"category": self.category, "settleCoin": self.settle_coin}
        runs: list[tuple[str, Any, dict[str, Any]]] = []
        fills_since = self._resume.since
        if fills_since is not None:
            since = {"category": self.category, "startTime": fills_since}
            # Before the positions: a position closed while the stream was down is then
            # judged by the fill that closed it (a close by hand is MANUAL), not by the
            # rule for a close no fill explains (domain/rules/manual_close.py).
            runs += [
                # Orders made and ended while the stream was down, and every fill since.
                ("/v5/order/history", self._http.get_order_history, {**since, "limit": 50}),
                ("/v5/execution/list", self._http.get_executions, {**since, "limit": 100}),
            ]
        runs += [
            # Each at its documented largest page: 200 positions, 50 open orders.
            ("/v5/position/list", self._http.get_positions, {**scope, "limit": 200}),
            ("/v5/order/realtime", self._http.get_open_orders, {**scope, "limit": 50}),
            # The wallet, as the wallet topic pushes it: one push lost (the stream down, the
            # run killed) left the equity and balance of before until the next trade.
            (wire.WALLET_BALANCE, self._http.get_wallet_balance, {"accountType": "UNIFIED"}),
        ]
        limited, complete = False, True
        for endpoint, call, params in runs:
            pages = self._pages(endpoint, call, params)
            while True:
                try:
                    limited |= not next(pages)
                except StopIteration as ended:
                    complete &= ended.value is _Run.COMPLETE
                    break
        if complete:
            self._resume.synced(began, fills_since)
        return limited

    def _pages(
        self, endpoint: str, call: Any, params: dict[str, Any]
    ) -> Generator[bool, None, "_Run"]:
        """Fetch and hand on every page of one run; yields False for a rate-limited page,
        and ends with how the run ended.

        A page trueup refuses (malformed, or an error reply that is no rate limit) ends the
        run, since its cursor proves nothing: the run starts again from page 1.
        """
        for attempt in range(1, RUN_ATTEMPTS + 1):
            outcome = yield from self._run(endpoint, call, params)
            if outcome is not _Run.REFUSED:
                return outcome
            log.warning("Bybit %s: a page was refused; run %d starts again", endpoint, attempt)
        return _Run.REFUSED

    def _run(
        self, endpoint: str, call: Any, params: dict[str, Any]
    ) -> Generator[bool, None, "_Run"]:
        cursor = ""
        for _ in range(MAX_PAGES):
            if self.stopping.is_set():
                return _Run.STOPPED
            query = {**params, "cursor": cursor} if cursor else dict(params)
            at = self.clock()
            self._reply.forget()
            try:
                body = call(**query)
            except FailedRequestError as error:  # HTTP status other than 200, or no JSON
                # pybit says 409 of a 200 whose body is no JSON: the status is the reply's.
                status = self._reply.status_and_body()[0] or error.status_code
                self.sink(_http_error(at, self.account, endpoint, query, status))
                yield status not in (403, 429)
                return _Run.STOPPED
            except requests.RequestException as error:
                log.warning("Bybit %s unreachable: %s", endpoint, type(error).__name__)
                self.sink(_http_error(at, self.account, endpoint, query, 0))
                yield True
                return _Run.STOPPED
            except Exception as error:  # pybit could not read the body (null, a list)
                status, body = self._reply.status_and_body()
                log.warning(
                    "Bybit %s: HTTP %d, a reply pybit could not read (%s)",
                    endpoint,
                    status,
                    type(error).__name__,
                )
                self.sink(
                    rest_capture.capture_rest(
                        at, "bybit", self.account, endpoint, params=query, body=body, status=status
                    )
                )
                yield status not in (403, 429)
                return _Run.STOPPED
            record = messages.capture_rest(at, self.account, endpoint, query, body)
            self.sink(record)
            if isinstance(body, dict) and body.get("retCode") in wire.RATE_LIMIT_RET_CODES:
                yield False
                return _Run.STOPPED
            yield True
            if isinstance(decode_record(record), InputRejected):
                return _Run.REFUSED
            cursor = body["result"].get("nextPageCursor") or ""
            if not cursor:
                return _Run.COMPLETE
        return _Run.REFUSED


class _Run(Enum):
    """How one pagination run ended."""

    COMPLETE = "complete"
    REFUSED = "refused"  # a page trueup did not accept: start again from page 1
    STOPPED = "stopped"  # rate limited, unreachable or stopping: wait for the next sync


def _http_error(
    at: int, account: str, endpoint: str, params: dict[str, Any], status: int
) -> Record:
    """A REST reply with no usable body: the capture keeps its status (0: no reply at all)."""
    record = messages.capture_rest(at, account, endpoint, params, {})
    record["status"] = status
    record["data"] = None
    return record
