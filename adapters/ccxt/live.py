"""Any ccxt exchange live, by polling its unified REST methods under the supervisor.

Every (re)connect loads the markets and asks fetchPositions (the probe: a refusal of our
keys shows there), then every poll interval fetchPositions, fetchOpenOrders and
fetchMyTrades since the last trade seen. Where ccxt.pro watches the exchange's orders and
trades, its watchOrders and watchMyTrades run beside (stream.py) and are the stream the
supervisor keeps; elsewhere the stream is the REST session itself. Either way a network
error takes it down (a ``feed`` line) until the next (re)connect comes up.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from trueup.adapters.ccxt import messages
from trueup.adapters.ccxt.stream import WatchStream, watchable
from trueup.adapters.ccxt.wire import (
    FETCH_MY_TRADES,
    FETCH_OPEN_ORDERS,
    FETCH_POSITIONS,
    NETWORK_ERROR,
    PREFIX,
    RATE_LIMIT_ERRORS,
)
from trueup.adapters.feed import Clock
from trueup.adapters.supervised_feed import SupervisedFeed

log = logging.getLogger("trueup.ccxt")

AUTH_ERROR = "AuthenticationError"
TIMEOUT_MS = 10_000
# Trueup reads derivatives' positions: ask for swaps where an exchange defaults to spot.
DEFAULT_OPTIONS = {"defaultType": "swap"}


def build_exchange(
    exchange_id: str,
    credentials: Mapping[str, str],
    *,
    options: Mapping[str, Any] | None = None,
    base_url: str | None = None,
    pro: bool = False,
) -> Any:
    """ccxt's exchange of that id (synchronous; with ``pro``, ccxt.pro's, asynchronous), its
    API urls moved to ``base_url`` if given."""
    import ccxt  # the ccxt venues alone load it
    import ccxt.pro

    module: Any = ccxt.pro if pro else ccxt
    exchange_class = getattr(module, exchange_id, None)
    if exchange_id not in module.exchanges or exchange_class is None:
        raise ValueError(f"ccxt{'.pro' if pro else ''} has no exchange {exchange_id!r}")
    config = {
        **credentials,
        "options": {**DEFAULT_OPTIONS, **(options or {})},
        "enableRateLimit": True,
        "timeout": TIMEOUT_MS,
    }
    exchange = exchange_class(config)
    if base_url:
        exchange.urls["api"] = moved(exchange.urls["api"], base_url.rstrip("/"))
    return exchange


def can_watch(exchange_id: str) -> bool:
    """Whether ccxt.pro watches that exchange's orders or trades."""
    import ccxt.pro

    exchange_class: Any = getattr(ccxt.pro, exchange_id, None)
    if exchange_id not in ccxt.pro.exchanges or exchange_class is None:
        return False
    return bool(watchable(exchange_class()))


def moved(urls: Any, base_url: str) -> Any:
    """ccxt's ``urls['api']`` (a URL, or nested dicts of them) with each URL's scheme and
    host replaced by ``base_url``'s, its path kept: fapi.asterdex.com/fapi -> base/fapi; a
    WebSocket URL keeps to ws (wss with https)."""
    if isinstance(urls, str):
        url = urlsplit(urls)
        base = base_url
        if url.scheme in ("ws", "wss"):
            base = "ws" + base_url.removeprefix("http")
        return base + url.path.rstrip("/")
    if isinstance(urls, dict):
        return {name: moved(url, base_url) for name, url in urls.items()}
    return urls


class CcxtFeed(SupervisedFeed):
    """One account on a ccxt exchange, polled (and watched where ccxt.pro can), as capture
    lines of venue ``ccxt:<id>``."""

    def __init__(
        self,
        exchange: Any,
        account: str,
        *,
        clock: Clock,
        poll_interval_s: float = 5.0,
        secrets: tuple[str, ...] = (),
        watch: Callable[[], Any] | None = None,
    ) -> None:
        """``watch`` builds the ccxt.pro exchange whose watch methods are the stream; None:
        polling alone."""
        super().__init__(account, clock=clock, poll_interval_s=poll_interval_s)
        self.venue = f"{PREFIX}{exchange.id}"
        self._exchange = exchange
        self._watch = None if watch is None else WatchStream(watch, self._watched)
        self.stream = "rest" if watch is None else "ws"
        self._secrets = secrets
        self._up = False
        self._lost: str | None = None
        self._refused: str | None = None
        self._limited = False
        self._status = 0
        # fetchMyTrades: since when, per symbol ("" when the exchange answers for them all);
        # the symbols still to ask about (held, ordered, or just flat).
        self._since: dict[str, int] = {}
        self._started = clock()
        self._per_symbol: set[str] = set()  # the methods that ask for a symbol
        self._trade_symbols: set[str] = set()
        self._contract_sizes: dict[str, Decimal] = {}
        _watch_status(exchange, self._saw_status)

    def _saw_status(self, status: int) -> None:
        self._status = status

    # --- the supervisor's stream: ccxt.pro's watches, else the REST session -----------------

    def connect(self) -> None:
        self._lost = self._refused = None
        with self._sync_lock:
            self._exchange.load_markets(True)  # raises: the attempt failed, retried
            self._contract_sizes = _contract_sizes(self._exchange.markets)
            self._call(FETCH_POSITIONS, self._exchange.fetch_positions)
        self._up = self._lost is None and self._refused is None
        if self._up and self._watch is not None:
            self._watch.open()

    def close_stream(self) -> None:
        self._up = False
        if self._watch is not None:
            self._watch.close()

    def stream_lost(self) -> str | None:
        if self._lost is None and self._watch is not None and self._up:
            return self._watch.lost()
        return self._lost

    def stream_up(self) -> bool:
        watching = self._watch is None or self._watch.up()
        return self._up and self._lost is None and watching

    def _watched(self, endpoint: str, result: list[Any]) -> None:
        """Hand on one watch method's result: what changed since its last."""
        self.sink(self._line(self.clock(), endpoint, result, None))

    def auth_refused(self) -> str | None:
        return self._refused

    # --- polling ----------------------------------------------------------------------------

    def fetch_snapshots(self) -> bool:
        self._limited = False
        positions = self._call(FETCH_POSITIONS, self._exchange.fetch_positions)
        held = _symbols(positions or ())
        known = held | self._trade_symbols
        held |= self._each_symbol(FETCH_OPEN_ORDERS, self._open_orders, known)
        if not self.stopping.is_set():
            # A symbol is asked for its trades while held or ordered, and once more after,
            # so its closing trade is read; one whose ask failed is asked again.
            asked, self._trade_symbols = self._trade_symbols | held, set(held)
            self._each_symbol(FETCH_MY_TRADES, self._trades_of, asked)
        return self._limited

    def _each_symbol(
        self, endpoint: str, fetch: Callable[[str | None], list[Any] | None], symbols: set[str]
    ) -> set[str]:
        """``fetch`` for every symbol at once, or, where the exchange asks for one (ccxt's
        ArgumentsRequired: Aster's fetchMyTrades), for each of ``symbols``; the symbols its
        results name."""
        from ccxt.base.errors import ArgumentsRequired

        if endpoint not in self._per_symbol:
            try:
                return _symbols(fetch(None) or ())
            except ArgumentsRequired:
                self._per_symbol.add(endpoint)
        named: set[str] = set()
        for symbol in sorted(symbols):
            result = None if self.stopping.is_set() else fetch(symbol)
            if result is None and endpoint == FETCH_MY_TRADES:
                self._trade_symbols.add(symbol)  # not read: asked again next time
            named |= _symbols(result or ())
        return named

    def _open_orders(self, symbol: str | None) -> list[Any] | None:
        def fetch() -> list[Any]:
            return self._exchange.fetch_open_orders(symbol)  # type: ignore[no-any-return]

        params = {} if symbol is None else {"symbol": symbol}
        return self._call(FETCH_OPEN_ORDERS, fetch, params=params, reraise_arguments=True)

    def _trades_of(self, symbol: str | None) -> list[Any] | None:
        """fetchMyTrades since the last trade seen, for one symbol (or all)."""
        since = self._since.get(symbol or "", self._started)
        params: dict[str, Any] = {"since": since}
        if symbol is not None:
            params = {"symbol": symbol, "since": since}

        def fetch() -> list[Any]:
            return self._exchange.fetch_my_trades(symbol, since)  # type: ignore[no-any-return]

        trades = self._call(FETCH_MY_TRADES, fetch, params=params, reraise_arguments=True)
        times = [t["timestamp"] for t in trades or () if isinstance(t.get("timestamp"), int)]
        if times:
            # From the last one seen again, inclusive: a trade seen twice is one trade (its
            # id), one at the same millisecond is not missed.
            self._since[symbol or ""] = max(times)
        return trades

    def _call(
        self,
        endpoint: str,
        method: Callable[[], list[Any]],
        *,
        params: Mapping[str, Any] | None = None,
        reraise_arguments: bool = False,
    ) -> list[Any] | None:
        """Call one ccxt method and hand on its result, or the error it raised; the result,
        or None when it raised."""
        self._status = 0
        at = self.clock()
        try:
            result = method()
        except Exception as error:  # every failure is recorded, whatever ccxt raised
            classes = messages.error_classes(error)
            if reraise_arguments and "ArgumentsRequired" in classes:
                raise
            self._judge(endpoint, classes)
            line = messages.capture_error(
                at, self.venue, self.account, endpoint, error,
                status=self._status, secrets=self._secrets, params=params,
            )  # fmt: skip
            self.sink(line)
            return None
        if endpoint != FETCH_MY_TRADES:
            # Held or ordered: its trades are asked for (the probe's too, so a close just
            # after a (re)connect is not missed).
            self._trade_symbols |= _symbols(result)
        self.sink(self._line(at, endpoint, result, params))
        return result

    def _line(
        self, at: int, endpoint: str, result: list[Any], params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The capture line of a result, with the contract sizes its orders or trades need."""
        sizes = {s: self._contract_sizes[s] for s in _symbols(result) if s in self._contract_sizes}
        return messages.capture(
            at, self.venue, self.account, endpoint, result,
            params=params, contract_sizes=None if endpoint == FETCH_POSITIONS else sizes,
        )  # fmt: skip

    def _judge(self, endpoint: str, classes: list[str]) -> None:
        """What a failure means for the feed: back off, a refusal, or the session lost."""
        if RATE_LIMIT_ERRORS & set(classes):
            self._limited = True
        elif AUTH_ERROR in classes:
            self._refused = f"{endpoint}: {classes[0]}"
            self._lost = f"refused: {classes[0]}"
        elif NETWORK_ERROR in classes:
            self._lost = f"{endpoint}: {classes[0]}"
        log.warning("%s %s: %s", self.venue, endpoint, classes[0])


def _symbols(result: Iterable[Any]) -> set[str]:
    """The symbols a ccxt result's structures name."""
    return {
        item["symbol"]
        for item in result
        if isinstance(item, dict) and isinstance(item.get("symbol"), str)
    }


def _contract_sizes(markets: Mapping[str, Any] | None) -> dict[str, Decimal]:
    """Each contract market's contract size, where ccxt knows it."""
    sizes = {}
    for symbol, market in (markets or {}).items():
        size = market.get("contractSize") if isinstance(market, dict) else None
        if isinstance(size, int | float) and not isinstance(size, bool) and size > 0:
            sizes[symbol] = Decimal(repr(size))
    return sizes


def _watch_status(exchange: Any, saw: Callable[[int], None]) -> None:
    """Have ``saw`` told the HTTP status of each reply ccxt receives (its exceptions do not
    carry it)."""
    original = exchange.on_rest_response

    def on_rest_response(code: Any, *args: Any) -> Any:
        if isinstance(code, int):
            saw(code)
        return original(code, *args)

    exchange.on_rest_response = on_rest_response
