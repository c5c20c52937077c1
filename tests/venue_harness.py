"""The simulator half of a venue's template (docs/venues.md): a harness per venue that starts
its simulator and drives it through what the conformance suite asks of every venue
(tests/test_venue_conformance.py). The simulators are a distribution of their own, which
trueup never imports: so this half lives with the tests.

A case a venue cannot play is named in its harness's ``cannot``, with the reason; the suite
then leaves that venue out of that case.
"""

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, ClassVar, Protocol, runtime_checkable

from tests import live_harness
from tests.live_harness import wait_for
from trueup.adapters.aster.live import AsterFeed
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.adapters.supervised_feed import SupervisedFeed
from trueup.domain.keys import OrderKey
from trueup.domain.vocabulary import OrderOrigin
from trueup.projections.reconciliation import replay
from trueup_simulators.aster.account import Account
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.exchange_book import ExchangeBook
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

JSON = dict[str, Any]
KEY, SECRET = "harness-key-not-real", "harness-secret-not-real"
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


class Case(StrEnum):
    """What the suite asks of every venue; a venue may be unable to play some."""

    CONNECT = "connect"
    MANUAL_CLOSE = "manual_close"
    DROPPED_STREAM = "dropped_stream"
    REFUSED_AUTH = "refused_auth"
    RATE_LIMIT_BURST = "rate_limit_burst"
    RESTART = "restart"
    UNREADABLE_REPLIES = "unreadable_replies"
    # How the exchange itself closes a position: each exit reason POSITION_CLOSED gives.
    LIQUIDATION = "liquidation"
    ADL = "adl"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


EXIT_CAUSES = (Case.LIQUIDATION, Case.ADL, Case.TAKE_PROFIT, Case.STOP_LOSS)


class VenueHarness(Protocol):
    """A simulated venue, one account on it, and the ways the suite drives it."""

    venue: str
    account: str
    category: str
    symbol: str  # the long the cases open, of size ``qty``
    qty: str
    other: str  # a second symbol, for what happens beside the long
    # Every symbol its simulator trades (``symbol`` and ``other`` among them), at its price.
    PRICES: ClassVar[dict[str, str]]
    # What the WS_RECONNECT after a dropped stream says of the cause: one of these.
    dropped_reasons: tuple[str, ...]
    # The cases it cannot play, each with the reason.
    cannot: ClassVar[dict[Case, str]]

    def feed(self, poll_interval_s: float = 0.3) -> SupervisedFeed: ...

    def subscribed(self, timeout: float = 10.0) -> None:
        """Block until the feed listens to the account's private stream."""
        ...

    def buy(self, symbol: str, qty: str) -> None:
        """A buy of ``qty`` at the symbol's price, filled on the exchange."""
        ...

    def sell(self, symbol: str, qty: str) -> None:
        """A sell of ``qty`` at the symbol's price, filled on the exchange."""
        ...

    def hold_short(self, symbol: str, qty: str) -> None:
        """A short the exchange holds, none of the bot's, from before the feed started."""
        ...

    def held(self) -> dict[str, Decimal]:
        """What the exchange holds, by symbol, signed (flat ones left out)."""
        ...

    def close_by_hand(self, symbol: str) -> None: ...

    def liquidate(self, symbol: str) -> None:
        """The exchange liquidates the whole position, at a loss to a long."""
        ...

    def close(self, cause: Case, store: str) -> None:
        """The exchange closes the long itself, by ``cause`` (one of EXIT_CAUSES)."""
        ...

    def arm(self, cause: Case, store: str) -> None:
        """What the close by ``cause`` needs in place first (a TP/SL order, listed by
        trueup), while trueup listens."""
        ...

    def fire(self, cause: Case) -> None:
        """The exchange closes the long by ``cause``, once armed: whoever listens then."""
        ...

    def drop_stream(self) -> None:
        """Cut the private stream, as the venue does."""
        ...

    def rate_limit_burst(self) -> int:
        """The next answers refused as too many; says how many."""
        ...

    def restart(self) -> None:
        """The venue goes away and comes back: same port, same books."""
        ...

    def unreadable_replies(self) -> int:
        """The next REST answers in a shape the venue's client library cannot read (a body
        of ``null``, an error that is not the venue's); says how many."""
        ...


@runtime_checkable
class RefusesAuth(Protocol):
    """A venue whose feed signs in, and the simulator's refusals of it."""

    def refuse_auth(self, times: int) -> None: ...

    def refused_auths(self) -> int:
        """How many sign-ins it refused so far."""
        ...


@runtime_checkable
class RestsOrders(Protocol):
    """A venue whose simulator rests an order with a client order id, and fills or cancels
    it at will: orders someone else makes while trueup may not be listening."""

    def client_id(self, name: str) -> str:
        """The venue's form of a client order id named ``name``."""
        ...

    def entry_placed(self, symbol: str, client_order_id: str) -> int | str:
        """A buy limit with this client id, resting; the venue's id of it."""
        ...

    def fill_order(self, order: int | str) -> None:
        """The order wholly filled."""
        ...

    def cancel_order(self, order: int | str) -> None:
        """The order cancelled unfilled."""
        ...


def journaled(store: str, harness: VenueHarness) -> dict[str, Decimal]:
    return live_harness.exchange_sizes(store, harness.venue, harness.account)


def agree(harness: VenueHarness, store: str) -> None:
    wait_for(
        "the journal to agree with the exchange",
        lambda: journaled(store, harness) == harness.held(),
    )


def liquidation_price(harness: VenueHarness, symbol: str) -> str:
    """Well below what the harness trades ``symbol`` at: a long's loss."""
    return str(Decimal(harness.PRICES[symbol]) * Decimal("0.6"))


def opened(harness: VenueHarness, position_id: str, symbol: str, qty: str) -> JSON:
    """The bot's intent: a LIVE long of ``qty``."""
    return live_harness.opened(
        harness.venue, harness.account, position_id, symbol, qty, category=harness.category
    )


class OnBybit:
    """BTCUSDT 0.3 long at 100 on the Bybit simulator."""

    venue, account, category = "bybit", "main", "linear"
    symbol, qty, other = "BTCUSDT", "0.3", "ETHUSDT"
    PRICES: ClassVar[dict[str, str]] = {"BTCUSDT": "100", "ETHUSDT": "100"}
    dropped_reasons: tuple[str, ...] = ("stream closed",)
    cannot: ClassVar[dict[Case, str]] = {}

    def __init__(self, sim: BybitSimulator) -> None:
        self.sim = sim
        for symbol, price in self.PRICES.items():
            sim.move_mark(symbol, price)

    @classmethod
    @contextmanager
    def started(cls) -> Iterator["OnBybit"]:
        with BybitSimulator(api_key=KEY, api_secret=SECRET) as sim:
            yield cls(sim)

    def feed(self, poll_interval_s: float = 0.3) -> SupervisedFeed:
        return BybitFeed(
            self.account,
            KEY,
            SECRET,
            clock=wall_clock,
            base_url=self.sim.base_url,
            poll_interval_s=poll_interval_s,
        )

    def subscribed(self, timeout: float = 10.0) -> None:
        assert self.sim.wait_subscribed(timeout=timeout), "the feed never subscribed"

    def buy(self, symbol: str, qty: str) -> None:
        self._filled(symbol, "Buy", qty)

    def sell(self, symbol: str, qty: str) -> None:
        self._filled(symbol, "Sell", qty)

    def _filled(self, symbol: str, side: str, qty: str) -> None:
        order = self.sim.place_order(symbol, side, qty, order_type="Market")
        self.sim.fill(order, price=self.PRICES[symbol])

    def hold_short(self, symbol: str, qty: str) -> None:
        self.sim.open_position(symbol, "Sell", qty, "100")

    def held(self) -> dict[str, Decimal]:
        def sizes(book: ExchangeBook) -> dict[str, Decimal]:
            return {
                p.symbol: (-p.size if p.side == "Sell" else p.size)
                for p in book.positions.values()
                if p.size
            }

        return self.sim.read(sizes)

    def close_by_hand(self, symbol: str) -> None:
        self.sim.close_by_hand(symbol)

    def liquidate(self, symbol: str) -> None:
        self.sim.liquidate(symbol, price=liquidation_price(self, symbol))

    def close(self, cause: Case, store: str) -> None:
        self.arm(cause, store)
        self.fire(cause)

    def arm(self, cause: Case, store: str) -> None:
        if cause in (Case.TAKE_PROFIT, Case.STOP_LOSS):
            self.sim.set_trading_stop(self.symbol, take_profit="110", stop_loss="90")

    def fire(self, cause: Case) -> None:
        sim, symbol = self.sim, self.symbol
        if cause is Case.LIQUIDATION:
            self.liquidate(symbol)
        elif cause is Case.ADL:
            sim.auto_deleverage(symbol, price="150")
        else:
            sim.move_mark(symbol, "110.5" if cause is Case.TAKE_PROFIT else "89.5")

    def drop_stream(self) -> None:
        self.sim.drop_connections()

    def rate_limit_burst(self) -> int:
        self.sim.rate_limit(3, how="retCode")
        self.sim.rate_limit(2, how="429")
        return 5

    def unreadable_replies(self) -> int:
        self.sim.answer_raw(200, "null")
        self.sim.answer_raw(200, "[]")
        return 2

    def restart(self) -> None:
        self.sim.stop()
        time.sleep(0.5)
        self.sim.start()

    def refuse_auth(self, times: int) -> None:
        self.sim.refuse_auth(times)

    def refused_auths(self) -> int:
        return sum(1 for a in self.sim.auth_attempts() if not a.accepted)

    def client_id(self, name: str) -> str:
        return name

    def entry_placed(self, symbol: str, client_order_id: str) -> int | str:
        return self.sim.place_order(symbol, "Buy", "1", order_link_id=client_order_id, price="90")

    def fill_order(self, order: int | str) -> None:
        self.sim.fill(str(order))

    def cancel_order(self, order: int | str) -> None:
        self.sim.cancel(str(order))


class OnHyperliquid:
    """BTC 0.5 long at 60000 on the Hyperliquid simulator."""

    venue, account, category = "hyperliquid", USER, "perp"
    symbol, qty, other = "BTC", "0.5", "ETH"
    dropped_reasons: tuple[str, ...] = ("stream closed",)
    cannot: ClassVar[dict[Case, str]] = {
        Case.REFUSED_AUTH: "its reads are public: an account is an address, read with no key",
    }
    PRICES: ClassVar[dict[str, str]] = {"BTC": "60000", "ETH": "3000", "SOL": "150"}

    def __init__(self, sim: HyperliquidSimulator) -> None:
        self.sim = sim

    @classmethod
    @contextmanager
    def started(cls) -> Iterator["OnHyperliquid"]:
        with HyperliquidSimulator() as sim:
            yield cls(sim)

    def feed(self, poll_interval_s: float = 0.3) -> SupervisedFeed:
        return HyperliquidFeed(
            self.account,
            clock=wall_clock,
            base_url=self.sim.base_url,
            poll_interval_s=poll_interval_s,
        )

    def subscribed(self, timeout: float = 10.0) -> None:
        self.sim.wait_subscribed("userFills", self.account, timeout=timeout)

    def buy(self, symbol: str, qty: str) -> None:
        self._filled(symbol, qty, is_buy=True)

    def sell(self, symbol: str, qty: str) -> None:
        self._filled(symbol, qty, is_buy=False)

    def hold_short(self, symbol: str, qty: str) -> None:
        self._filled(symbol, qty, is_buy=False)  # before the feed: only a snapshot tells

    def _filled(self, coin: str, qty: str, *, is_buy: bool) -> None:
        price = self.PRICES[coin]
        self.sim.fill(USER, self.sim.open_order(USER, coin, is_buy=is_buy, sz=qty, limit_px=price))

    def held(self) -> dict[str, Decimal]:
        state = self.sim.clearinghouse_state(USER)
        sizes = {
            p["position"]["coin"]: Decimal(p["position"]["szi"]) for p in state["assetPositions"]
        }
        return {coin: size for coin, size in sizes.items() if size}

    def close_by_hand(self, symbol: str) -> None:
        self.sim.close_by_hand(USER, symbol)

    def liquidate(self, symbol: str) -> None:
        self.sim.liquidate(USER, symbol, px=liquidation_price(self, symbol))

    def close(self, cause: Case, store: str) -> None:
        self.arm(cause, store)
        self.fire(cause)

    def arm(self, cause: Case, store: str) -> None:
        if cause not in (Case.TAKE_PROFIT, Case.STOP_LOSS):
            return
        take_profit = self.sim.place_tpsl(USER, self.symbol, "tp", "66000")
        stop_loss = self.sim.place_tpsl(USER, self.symbol, "sl", "54000")
        # Only frontendOpenOrders says what they are: a trigger that fires before trueup
        # has listed it closes the position with no cause shown (see live.py).
        listed = ((take_profit, OrderOrigin.TAKE_PROFIT), (stop_loss, OrderOrigin.STOP_LOSS))
        for oid, origin in listed:
            what = f"trueup to list {oid} as the position's {origin}"
            wait_for(what, partial(self._listed_as, store, oid, origin))

    def fire(self, cause: Case) -> None:
        sim, coin = self.sim, self.symbol
        if cause is Case.LIQUIDATION:
            self.liquidate(coin)
        elif cause is Case.ADL:
            sim.auto_deleverage(USER, coin, px="70000")
        else:
            sim.move_mark(coin, "66500" if cause is Case.TAKE_PROFIT else "53500")

    def _listed_as(self, store: str, oid: int, origin: OrderOrigin) -> bool:
        """Whether trueup's book has order ``oid`` as placed by ``origin``."""
        with Journal.open(store) as journal:
            book = replay(journal).book(self.venue, self.account)
        order = book.orders.get(OrderKey(self.category, self.symbol, str(oid)))
        return order is not None and order.origin is origin

    def drop_stream(self) -> None:
        self.sim.drop_connections()

    def rate_limit_burst(self) -> int:
        self.sim.set_rate_limit(4)
        return 4

    def unreadable_replies(self) -> int:
        self.sim.answer_raw(429, '{"error": "too many requests"}')
        return 1

    def restart(self) -> None:
        self.sim.stop()
        self.sim.start()

    def client_id(self, name: str) -> str:
        # A cloid is 16 bytes in hex: the name's, padded.
        return "0x" + name.encode().hex().ljust(32, "0")[:32]

    def entry_placed(self, symbol: str, client_order_id: str) -> int | str:
        price = self.PRICES[symbol]
        return self.sim.open_order(
            self.account, symbol, is_buy=True, sz="2", limit_px=price, cloid=client_order_id
        )

    def fill_order(self, order: int | str) -> None:
        self.sim.fill(self.account, int(order))

    def cancel_order(self, order: int | str) -> None:
        self.sim.cancel(self.account, int(order))


class OnAster:
    """BTCUSDT 0.3 long at the mark, 100000, on the Aster simulator."""

    venue, account, category = "aster", "main", "perp"
    symbol, qty, other = "BTCUSDT", "0.3", "ETHUSDT"
    PRICES: ClassVar[dict[str, str]] = {"BTCUSDT": "100000", "ETHUSDT": "4000"}
    # websocket-client says the cut by its error callback or by its close one, which
    # ever comes first.
    dropped_reasons: tuple[str, ...] = (
        "stream error: WebSocketConnectionClosedException",
        "stream closed",
    )
    cannot: ClassVar[dict[Case, str]] = {
        Case.TAKE_PROFIT: "its simulator takes no TP/SL orders",
        Case.STOP_LOSS: "its simulator takes no TP/SL orders",
        Case.UNREADABLE_REPLIES: "no client library reads its replies: trueup's own code does",
    }

    def __init__(self, sim: AsterSimulator) -> None:
        self.sim = sim
        for symbol, price in self.PRICES.items():
            sim.move_mark(symbol, price)

    @classmethod
    @contextmanager
    def started(cls) -> Iterator["OnAster"]:
        with AsterSimulator(api_key=KEY, api_secret=SECRET) as sim:
            yield cls(sim)

    def feed(self, poll_interval_s: float = 0.3) -> SupervisedFeed:
        return AsterFeed(
            self.account,
            KEY,
            SECRET,
            clock=wall_clock,
            base_url=self.sim.base_url,
            poll_interval_s=poll_interval_s,
        )

    def subscribed(self, timeout: float = 10.0) -> None:
        assert self.sim.wait_readers(1, timeout=timeout), "the feed never read the user stream"

    def buy(self, symbol: str, qty: str) -> None:
        self.sim.fill(self.sim.place_order(symbol, "BUY", qty, order_type="MARKET"))

    def sell(self, symbol: str, qty: str) -> None:
        self.sim.fill(self.sim.place_order(symbol, "SELL", qty, order_type="MARKET"))

    def hold_short(self, symbol: str, qty: str) -> None:
        self.sim.open_position(symbol, f"-{qty}", self.PRICES[symbol])

    def held(self) -> dict[str, Decimal]:
        return held_on_aster(self.sim)

    def close_by_hand(self, symbol: str) -> None:
        self.sim.close_by_hand(symbol)

    def liquidate(self, symbol: str) -> None:
        self.sim.liquidate(symbol, price=liquidation_price(self, symbol))

    def close(self, cause: Case, store: str) -> None:
        self.fire(cause)

    def arm(self, cause: Case, store: str) -> None:
        return None  # its closes need nothing in place

    def fire(self, cause: Case) -> None:
        if cause is Case.LIQUIDATION:
            self.liquidate(self.symbol)
        else:
            self.sim.auto_deleverage(self.symbol, price="110000")

    def drop_stream(self) -> None:
        self.sim.drop_connections()

    def rate_limit_burst(self) -> int:
        self.sim.rate_limit(3)
        self.sim.rate_limit(2, status=418)
        return 5

    def unreadable_replies(self) -> int:
        raise NotImplementedError(self.cannot[Case.UNREADABLE_REPLIES])

    def restart(self) -> None:
        self.sim.stop()
        time.sleep(0.5)
        self.sim.start()  # same port, same account, same listenKey

    def refuse_auth(self, times: int) -> None:
        self.sim.refuse_auth(times)

    def refused_auths(self) -> int:
        return sum(1 for a in self.sim.rest_answers() if a.code == -2015)

    def client_id(self, name: str) -> str:
        return name

    def entry_placed(self, symbol: str, client_order_id: str) -> int | str:
        price = self.PRICES[symbol]
        return self.sim.place_order(
            symbol, "BUY", "2", price=price, client_order_id=client_order_id
        )

    def fill_order(self, order: int | str) -> None:
        self.sim.fill(int(order))

    def cancel_order(self, order: int | str) -> None:
        self.sim.cancel(int(order))


def held_on_aster(sim: AsterSimulator) -> dict[str, Decimal]:
    """What the Aster simulator's account holds, by symbol, signed (flat ones left out)."""

    def amounts(account: Account) -> dict[str, Decimal]:
        return {p.symbol: p.amount for p in account.positions.values() if p.amount}

    return sim.read(amounts)


# Every venue's harness, each under the name trueup knows the venue by (adapters/venues.py).
HARNESSES = {h.venue: h for h in (OnBybit, OnHyperliquid, OnAster)}


def started(venue: str) -> AbstractContextManager[VenueHarness]:
    """The venue's simulator, started, in its harness; stopped on leaving."""
    return HARNESSES[venue].started()


def playing(case: Case) -> list[str]:
    """The venues whose harness can play ``case`` (each other one says why not)."""
    return [venue for venue, harness in HARNESSES.items() if case not in harness.cannot]
