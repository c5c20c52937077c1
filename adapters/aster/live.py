"""Aster live: the user data stream and signed REST v1, supervised, as capture records.

The client is ours (rest.py says why): httpx for REST, and for the stream websocket-client,
which pybit and the Hyperliquid SDK already bring. A listenKey is POSTed at every
(re)connect (Aster answers the active key, extended, or a new one once the old expired),
kept alive by a PUT every 30 minutes, and the connection rebuilt on ``listenKeyExpired``
and before Aster cuts it at 24 h. After each (re)connect and every poll interval, REST:
positionRisk of every symbol (the complete position snapshot), openOrders, userTrades of
each symbol held or traded since the last trade seen, funding fees (income FUNDING_FEE)
since the last seen, and the account. After a reconnect, and on a run's first sync, what
nobody heard pushed meanwhile too: the symbols traded since (income COMMISSION, the one
list of the account's trades that needs no symbol: each trade pays one), and, for every
symbol held or traded, its recent orders (allOrders) and trades since (userTrades),
so a position opened and closed wholly while the stream was down is seen, orders and all.
Every event and reply is recorded verbatim; a reply's params without timestamp, recvWindow
and signature. The listenKey's own replies are not recorded: the key reads the account's
stream. Nor is it ever DELETEd: it is the account's one key, shared with any other reader
(the bot's own).
"""

import logging
import threading
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from trueup.adapters.aster import messages, wire
from trueup.adapters.aster.rest import MAINNET_REST_URL, AsterRest, Reply
from trueup.adapters.aster.user_stream import UserStream
from trueup.adapters.capture import decode_record
from trueup.adapters.feed import Clock, Sink
from trueup.adapters.resume_point import ResumePoint
from trueup.adapters.supervised_feed import AUTH_REFUSALS, SupervisedFeed
from trueup.adapters.wire_errors import ErrorReply
from trueup.domain.events import InputRejected

log = logging.getLogger("trueup.aster")

MAINNET_STREAM_URL = "wss://fstream.asterdex.com"
POSITION_RISK = "/fapi/v2/positionRisk"
OPEN_ORDERS = "/fapi/v1/openOrders"
ALL_ORDERS = "/fapi/v1/allOrders"
USER_TRADES = "/fapi/v1/userTrades"
INCOME = "/fapi/v1/income"
ACCOUNT = "/fapi/v4/account"
# A listenKey lives 60 minutes past its last keep-alive; the docs suggest one every 30.
KEEPALIVE_S = 30 * 60.0
# Aster cuts a connection at 24 h: ours is rebuilt a little before, on our terms.
MAX_CONNECTION_S = 24 * 3600.0 - 300.0
INVALID_LISTEN_KEY = -1125
LISTEN_KEY_EXPIRED = "listenKeyExpired"
# Both lists' largest page; each sync goes on from where the last one stopped.
LIST_LIMIT = 1000
# Pages of commissions asked in one sync, at most, for the symbols traded while unheard.
MAX_PAGES = 10
# userTrades and income look back at most 7 days from their startTime.
LOOKBACK_MS = 7 * 24 * 3600 * 1000 - 3600 * 1000


def stream_base(base_url: str | None) -> str:
    """The WebSocket base of the REST ``base_url``: the simulator serves both on one port,
    Aster on two hosts."""
    if not base_url:
        return MAINNET_STREAM_URL
    return "ws" + base_url.rstrip("/").removeprefix("http")


class NoListenKey(RuntimeError):
    """Aster gave no listenKey: the stream cannot be opened this time."""


class _SyncEnded(Exception):
    """A reply after which this sync asks nothing more (rate limited, refused, no reply)."""

    def __init__(self, limited: bool) -> None:
        super().__init__()
        self.limited = limited


class AsterFeed(SupervisedFeed):
    """One Aster account's user data stream and REST fallback, as capture records."""

    venue = "aster"
    stream = wire.STREAM

    def __init__(
        self,
        account: str,
        api_key: str,
        api_secret: str,
        *,
        clock: Clock,
        base_url: str | None = None,
        poll_interval_s: float = 5.0,
        keepalive_s: float = KEEPALIVE_S,
        max_connection_s: float = MAX_CONNECTION_S,
    ) -> None:
        super().__init__(account, clock=clock, poll_interval_s=poll_interval_s)
        rest_url = (base_url or MAINNET_REST_URL).rstrip("/")
        self.stream_url = stream_base(base_url)
        self.keepalive_s = keepalive_s
        self._rest = AsterRest(api_key, api_secret, base_url=rest_url, clock=clock)
        self._stream = UserStream(max_age_s=max_connection_s)
        self._started_at = clock()
        self._symbols: set[str] = set()  # held or traded: whose trades are asked
        self._last_trade: dict[str, int] = {}  # symbol -> the last trade id seen by REST
        self._funding_since = self._started_at
        # After a reconnect, or on a run's first sync, the orders and trades since.
        self._resume = ResumePoint()
        self._refusals = 0
        self._key_accepted = False  # in this run: then no refusal gives up (AUTH_REFUSALS)
        self._refusals_lock = threading.Lock()

    # --- the user data stream -------------------------------------------------------------

    def start(self, sink: Sink, gave_up: Callable[[str], object] = lambda _why: None) -> None:
        super().start(sink, gave_up)
        thread = threading.Thread(target=self._keep_alive, name="aster-keepalive", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        super().stop()
        self._rest.close()

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """The first sync asks for the orders and trades since ``at`` (less a margin), of
        every symbol traded since and of ``symbols``: what filled or ended while no trueup
        listened (an order the journal knew open, cancelled meanwhile with no trade)."""
        self._resume.resume_after(at)
        self._watch(symbols)

    def connect(self) -> None:
        self._resume.reconnecting(self.clock())
        reply = self._rest.listen_key("POST")
        key = reply.body.get("listenKey") if reply.ok and isinstance(reply.body, dict) else None
        if not isinstance(key, str) or not key:
            if reply.refused_key:
                self._refused(_said(reply))
            raise NoListenKey(f"no listenKey: {_said(reply)}")
        self._accepted()
        self._stream.open(f"{self.stream_url}/ws/{key}", self._on_text)

    def close_stream(self) -> None:
        self._stream.close()

    def stream_lost(self) -> str | None:
        return self._stream.lost()

    def stream_up(self) -> bool:
        return self._stream.up()

    def down_said_by_venue(self) -> bool:
        # listenKeyExpired is journaled as it came, and reads as the StreamDown itself.
        return self._stream.lost() == LISTEN_KEY_EXPIRED

    def _on_text(self, text: str) -> None:
        # An exception here would end websocket-client's thread: nothing may escape.
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            log.warning("Aster user stream: a frame that is not JSON (%d chars)", len(text))
            return
        try:
            self.sink(messages.capture_ws(self.clock(), self.account, event))
            if isinstance(event, dict):
                self._note(event)
        except Exception:
            log.exception("could not hand on an Aster event")

    def _note(self, event: dict[str, Any]) -> None:
        """What the feed itself takes from an event: the end of the listenKey, and the
        symbols traded, whose trades the next syncs ask for."""
        kind = event.get("e")
        if kind == LISTEN_KEY_EXPIRED:
            # Nothing more comes on it: a new connection, with a new key, is needed.
            self._stream.end(LISTEN_KEY_EXPIRED)
        elif kind == "ORDER_TRADE_UPDATE" and isinstance(event.get("o"), dict):
            self._watch([event["o"].get("s")])
        elif kind == "ACCOUNT_UPDATE" and isinstance(event.get("a"), dict):
            positions = event["a"].get("P")
            if isinstance(positions, list):
                self._watch([p.get("s") for p in positions if isinstance(p, dict)])

    def _keep_alive(self) -> None:
        while not self.stopping.wait(self.keepalive_s):
            if self._stream.lost() is not None:
                continue  # the next connect POSTs, which extends the key
            reply = self._rest.listen_key("PUT")
            if reply.ok:
                self._accepted()
                continue
            log.warning("Aster listenKey keep-alive failed: %s", _said(reply))
            if reply.refused_key:
                self._refused(_said(reply))
            elif reply.code == INVALID_LISTEN_KEY:
                self._stream.end("listenKey gone")

    # --- refused keys ---------------------------------------------------------------------

    def _refused(self, why: str) -> None:
        """One more refusal of our key in a row, by any request; the last one gives up, if
        the key never got in."""
        with self._refusals_lock:
            self._refusals += 1
            count, accepted = self._refusals, self._key_accepted
        log.warning("Aster refused our key: %s (%d in a row)", why, count)
        if count >= AUTH_REFUSALS and not accepted and self.failure is None:
            self._give_up(f"the venue refused our credentials {count} times in a row ({why})")

    def _accepted(self, *, signed: bool = False) -> None:
        """A request of ours taken: the refusals in a row end. A signed one proves key and
        secret right (a listenKey is asked with the key alone)."""
        with self._refusals_lock:
            self._refusals = 0
            self._key_accepted = self._key_accepted or signed

    # --- REST -----------------------------------------------------------------------------

    def fetch_snapshots(self) -> bool:
        try:
            self._sync()
        except _SyncEnded as ended:
            return ended.limited
        return False

    def _sync(self) -> None:
        began = self.clock()
        since = self._resume.since
        # Whether every reply of what was missed came and was accepted.
        complete = since is None or self._traded_since(since)
        # The fills missed on the symbols known so far before the positions: a position
        # closed while nobody listened is then explained by its fill (a close by hand is
        # MANUAL), not by the rule for a close no fill explains.
        caught_up = set(self._symbols)
        complete &= self._catch_up(sorted(caught_up), since)
        legs = self._ask(POSITION_RISK, {})
        self._watch(item.get("symbol") for item in _items(legs) if _held(item))
        orders = self._ask(OPEN_ORDERS, {})
        self._watch(item.get("symbol") for item in _items(orders))
        complete &= self._catch_up(sorted(self._symbols - caught_up), since)
        self._fundings()
        self._ask(ACCOUNT, {})
        if complete:
            self._resume.synced(began, since)

    def _catch_up(self, symbols: list[str], since: int | None) -> bool:
        """Each symbol's orders (after a gap) and trades since the last seen; whether every
        order list came."""
        complete = True
        for symbol in symbols:
            if since is not None:
                # No startTime: it is an order's creation time, and an order placed long
                # before (a resting entry) may have ended meanwhile. Without one, Aster
                # answers the symbol's most recent orders of the last seven days.
                params = {"symbol": symbol, "limit": LIST_LIMIT}
                complete &= self._ask(ALL_ORDERS, params) is not None
            self._trades(symbol, since)
        return complete

    def _traded_since(self, since: int) -> bool:
        """Watch every symbol traded from ``since`` on: each trade pays a commission, and
        the income list, unlike the trade and order lists, names them without a symbol.
        Whether the list came."""
        start = self._lookback(since)
        for _ in range(MAX_PAGES):
            params = {"incomeType": "COMMISSION", "startTime": start, "limit": LIST_LIMIT}
            body = self._ask(INCOME, params)
            items = _items(body)
            self._watch(item.get("symbol") for item in items)
            times = [t for t in (item.get("time") for item in items) if isinstance(t, int)]
            if body is None or len(items) < LIST_LIMIT or not times:
                return body is not None
            # A full page: the next from its last time (that millisecond asked again).
            start = max(times)
        return False

    def _trades(self, symbol: str, since: int | None) -> None:
        last = self._last_trade.get(symbol)
        params: dict[str, Any] = {"symbol": symbol}
        if last is None:
            start = self._started_at if since is None else min(since, self._started_at)
            params["startTime"] = self._lookback(start)
        else:
            params["fromId"] = last + 1
        params["limit"] = LIST_LIMIT
        ids = [item.get("id") for item in _items(self._ask(USER_TRADES, params))]
        seen = [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]
        if seen:
            self._last_trade[symbol] = max(seen)

    def _fundings(self) -> None:
        params = {
            "incomeType": "FUNDING_FEE",
            "startTime": self._lookback(self._funding_since),
            "limit": LIST_LIMIT,
        }
        items = _items(self._ask(INCOME, params))
        times = [t for t in (item.get("time") for item in items) if isinstance(t, int)]
        if times:
            # A page cut at the limit may end inside one millisecond: ask from it again.
            self._funding_since = max(times) + (0 if len(items) >= LIST_LIMIT else 1)

    def _lookback(self, since: int) -> int:
        """``since``, or the oldest instant these lists still reach back to from now."""
        return max(since, self.clock() - LOOKBACK_MS)

    def _ask(self, endpoint: str, params: dict[str, Any]) -> Any:
        """GET and record one reply; its body if trueup accepted it, else None."""
        if self.stopping.is_set():
            raise _SyncEnded(limited=False)
        at = self.clock()
        reply = self._rest.get(endpoint, params)
        status = None if reply.status == 200 else reply.status
        body = reply.body
        record = messages.capture_rest(at, self.account, endpoint, params, body, status=status)
        self.sink(record)
        if reply.refused_key:
            self._refused(_said(reply))
            raise _SyncEnded(limited=False)
        error = ErrorReply("", ret_code=reply.code, http_status=reply.status)
        if wire.rate_limited(error):
            raise _SyncEnded(limited=True)
        if reply.status == 0:
            log.warning("Aster %s unreachable", endpoint)
            raise _SyncEnded(limited=False)
        if reply.ok:
            self._accepted(signed=True)
        if isinstance(decode_record(record), InputRejected):
            return None
        return reply.body

    def _watch(self, symbols: Iterable[object]) -> None:
        self._symbols.update(s for s in symbols if isinstance(s, str) and s)


def _said(reply: Reply) -> str:
    """What Aster said, for a log line or the run's last line: status, code and message."""
    if reply.status == 0:
        return "no reply"
    msg = reply.body.get("msg") if isinstance(reply.body, dict) else None
    return f"HTTP {reply.status}" + (f", code {reply.code}: {msg}" if reply.code else "")


def _items(body: Any) -> list[dict[str, Any]]:
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []


def _held(leg: dict[str, Any]) -> bool:
    try:
        return Decimal(str(leg.get("positionAmt", "0"))) != 0
    except InvalidOperation:
        return False
