"""What nobody heard is asked for: an order that fills while the stream is down, or while
``trueup run`` restarts, is seen once the feed is back, on every venue whose stream pushes
a fill or an order's end only once, to whoever listens then. Through each venue's real
client against its simulator; one rig per venue says how it is reached and traded."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import pytest
from eth_account import Account

from tests import live_harness
from tests.live_harness import live_ingest, wait_for, wait_for_emitted
from tests.test_executor_live import TRUEUP, add_triggers, stop_cleanly
from trueup.adapters.aster.live import AsterFeed
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import OrderRequested, TriggerOutcome
from trueup.domain.vocabulary import OrderStatus
from trueup.projections.reconciliation import replay
from trueup.projections.view_reader import ViewReader
from trueup.runners.live import LiveIngest
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

KEY, SECRET = "resume-test-key-not-real", "resume-test-secret-not-real"
HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
# Stream back, first sync done: a loaded machine's supervisor may take a few attempts.
BACK_S = 30.0


class Rig(Protocol):
    """A venue's simulator, its feed, and the orders someone else makes there."""

    venue: str
    account: str
    category: str
    symbol: str  # one no report has named before the order under test

    def feed(self) -> Feed: ...

    def listening(self) -> None:
        """Block until the feed reads the account's stream."""

    def drop(self) -> None:
        """Cut every stream, as the venue does at a restart."""

    def entry_placed(self, client_order_id: str) -> int | str:
        """A buy limit entry with this client id, resting; the venue's id of it."""

    def fill(self, order: int | str) -> None:
        """The order wholly filled."""

    def cancel(self, order: int | str) -> None:
        """The order cancelled unfilled."""

    def closed(self) -> None:
        """The position the entry opened, closed by hand."""

    def client_id(self, name: str) -> str:
        """The venue's form of a client order id named ``name``."""


class BybitRig:
    venue, account, category, symbol = "bybit", "main", "linear", "ADAUSDT"

    def __init__(self, sim: BybitSimulator) -> None:
        self.sim = sim

    def feed(self) -> Feed:
        url = self.sim.base_url
        return BybitFeed("main", KEY, SECRET, clock=wall_clock, base_url=url, poll_interval_s=0.3)

    def listening(self) -> None:
        assert self.sim.wait_subscribed(timeout=BACK_S), "the feed never subscribed"

    def drop(self) -> None:
        self.sim.drop_connections()

    def entry_placed(self, client_order_id: str) -> int | str:
        return self.sim.place_order(
            self.symbol, "Buy", "100", order_link_id=client_order_id, price="0.7"
        )

    def fill(self, order: int | str) -> None:
        self.sim.fill(str(order))

    def cancel(self, order: int | str) -> None:
        self.sim.cancel(str(order))

    def closed(self) -> None:
        self.sim.close_by_hand(self.symbol)

    def client_id(self, name: str) -> str:
        return name


class HyperliquidRig:
    venue, account, category, symbol = "hyperliquid", HL_USER, "perp", "ETH"

    def __init__(self, sim: HyperliquidSimulator) -> None:
        self.sim = sim

    def feed(self) -> Feed:
        url = self.sim.base_url
        return HyperliquidFeed(HL_USER, clock=wall_clock, base_url=url, poll_interval_s=0.3)

    def listening(self) -> None:
        self.sim.wait_subscribed("orderUpdates", HL_USER, timeout=BACK_S)

    def drop(self) -> None:
        self.sim.drop_connections()

    def entry_placed(self, client_order_id: str) -> int | str:
        return self.sim.open_order(
            HL_USER, self.symbol, is_buy=True, sz="2", limit_px="3000", cloid=client_order_id
        )

    def fill(self, order: int | str) -> None:
        self.sim.fill(HL_USER, int(order))

    def cancel(self, order: int | str) -> None:
        self.sim.cancel(HL_USER, int(order))

    def closed(self) -> None:
        self.sim.close_by_hand(HL_USER, self.symbol)

    def client_id(self, name: str) -> str:
        # A cloid is 16 bytes in hex: the name's, padded.
        return "0x" + name.encode().hex().ljust(32, "0")[:32]


class AsterRig:
    venue, account, category, symbol = "aster", "main", "perp", "ETHUSDT"

    def __init__(self, sim: AsterSimulator) -> None:
        self.sim = sim

    def feed(self) -> Feed:
        url = self.sim.base_url
        return AsterFeed("main", KEY, SECRET, clock=wall_clock, base_url=url, poll_interval_s=0.3)

    def listening(self) -> None:
        assert self.sim.wait_readers(1, timeout=BACK_S), "the feed never read the stream"

    def drop(self) -> None:
        self.sim.drop_connections()

    def entry_placed(self, client_order_id: str) -> int | str:
        return self.sim.place_order(
            self.symbol, "BUY", "2", price="4000", client_order_id=client_order_id
        )

    def fill(self, order: int | str) -> None:
        self.sim.fill(int(order))

    def cancel(self, order: int | str) -> None:
        self.sim.cancel(int(order))

    def closed(self) -> None:
        self.sim.close_by_hand(self.symbol)

    def client_id(self, name: str) -> str:
        return name


@pytest.fixture(params=["bybit", "hyperliquid", "aster"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "bybit":
        with BybitSimulator(api_key=KEY, api_secret=SECRET) as bybit:
            yield BybitRig(bybit)
    elif request.param == "hyperliquid":
        with HyperliquidSimulator() as hyperliquid:
            yield HyperliquidRig(hyperliquid)
    else:
        with AsterSimulator(api_key=KEY, api_secret=SECRET) as aster:
            aster.move_mark("ETHUSDT", "4000")
            yield AsterRig(aster)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


@contextmanager
def trueup_run(store: str, feed: Feed) -> Iterator[LiveIngest]:
    """``trueup run`` in a thread; on leaving, stopped as it stops, its leases let go so
    that the next run takes up the projection at once."""
    with live_ingest(store, feed) as live:
        yield live
    if live.projection is not None:
        live.projection.release()


def entry(rig: Rig, client_order_id: str) -> dict[str, object]:
    """The bot's intent line: it placed an entry with this client id."""
    placed = {
        "kind": "order_placed", "position_id": "p-1", "order_link_id": client_order_id,
        "category": rig.category, "symbol": rig.symbol, "purpose": "ENTRY", "side": "Buy",
        "qty": "2", "price": "1",
    }  # fmt: skip
    return live_harness.intent(rig.venue, rig.account, placed)


def heard(store: str, rig: Rig) -> bool:
    """Whether the journal's views say when it last heard from the account."""
    with Journal.open(store) as journal:
        reader = ViewReader(journal)
        scope = (rig.venue, rig.account)
        view = reader.account(*scope) if reader.answer_for(scope) else None
    return view is not None and bool(view.freshness.exchange_seen_at)


def order_status(store: str, rig: Rig, client_order_id: str) -> OrderStatus | None:
    """The status the journal holds for the order with this client id (None: none known)."""
    with Journal.open(store) as journal:
        book = replay(journal).book(rig.venue, rig.account)
    for order in book.orders.values():
        report = order.report
        if report is not None and report.client_order_id == client_order_id:
            return report.status
    return None


def filled_entries(store: str, client_order_id: str) -> list[object]:
    return [
        e
        for e in live_harness.emitted(store)
        if e.type == "ENTRY_FILLED" and getattr(e, "client_order_id", None) == client_order_id
    ]


def test_an_order_that_fills_while_the_stream_is_down_is_seen_after_the_reconnect(
    rig: Rig, store: str
) -> None:
    cloid = rig.client_id("entry-1")
    with live_ingest(store, rig.feed()) as live:
        rig.listening()
        wait_for("a first sync", lambda: heard(store, rig), timeout=BACK_S)
        live.put(entry(rig, cloid))
        rig.drop()
        # Placed and filled while nobody listens: its frames are pushed to no one, and it is
        # on no list of open orders; only what is asked after the reconnect tells.
        rig.fill(rig.entry_placed(cloid))
        wait_for_emitted(store, "ENTRY_FILLED", timeout=BACK_S)
    assert len(filled_entries(store, cloid)) == 1


def test_an_order_cancelled_while_the_stream_is_down_is_seen_ended_after_the_reconnect(
    rig: Rig, store: str
) -> None:
    cloid = rig.client_id("entry-2")
    with live_ingest(store, rig.feed()) as live:
        rig.listening()
        wait_for("a first sync", lambda: heard(store, rig), timeout=BACK_S)
        live.put(entry(rig, cloid))
        order = rig.entry_placed(cloid)
        wait_for(
            "the entry open",
            lambda: order_status(store, rig, cloid) is OrderStatus.ACCEPTED,
            timeout=BACK_S,
        )
        rig.drop()
        # Its cancel is pushed to no one, and an order missing from a list of open orders
        # proves nothing ended: only its fate asked after the reconnect tells.
        rig.cancel(order)
        wait_for(
            "the cancel",
            lambda: order_status(store, rig, cloid) is OrderStatus.CANCELED,
            timeout=BACK_S,
        )


def test_a_restarted_run_sees_an_order_filled_and_closed_while_it_was_down(
    rig: Rig, store: str
) -> None:
    cloid = rig.client_id("entry-3")
    with trueup_run(store, rig.feed()) as live:
        rig.listening()
        live.put(entry(rig, cloid))
        wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
    # trueup run is down: a position opens and closes wholly in a symbol never reported.
    rig.fill(rig.entry_placed(cloid))
    rig.closed()
    with trueup_run(store, rig.feed()):  # the run again, its feed told from the journal
        rig.listening()
        wait_for("the entry's fill", lambda: bool(filled_entries(store, cloid)), timeout=BACK_S)
    assert order_status(store, rig, cloid) is OrderStatus.FILLED


def test_a_restarted_run_sees_an_order_cancelled_while_it_was_down(rig: Rig, store: str) -> None:
    cloid = rig.client_id("entry-4")
    with trueup_run(store, rig.feed()) as live:
        rig.listening()
        live.put(entry(rig, cloid))
        order = rig.entry_placed(cloid)
        wait_for(
            "the entry open",
            lambda: order_status(store, rig, cloid) is OrderStatus.ACCEPTED,
            timeout=BACK_S,
        )
        wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
    # trueup run is down: the entry, in a symbol with nothing else on it, is cancelled.
    rig.cancel(order)
    with trueup_run(store, rig.feed()):
        rig.listening()
        wait_for(
            "the cancel",
            lambda: order_status(store, rig, cloid) is OrderStatus.CANCELED,
            timeout=BACK_S,
        )


# --- a trigger's order filled while trueup run restarts: its firing ends --------------------


def test_a_hyperliquid_trigger_order_filled_while_trueup_run_restarts_ends_its_firing(
    tmp_path: Path,
) -> None:
    key = "0x" + "44" * 32
    user = Account.from_key(key).address
    store = str(tmp_path / "journal.db")
    environment = {**os.environ, "HYPERLIQUID_SECRET_KEY": key}
    with HyperliquidSimulator() as hl:
        hl.authorize(user)
        hl.move_mark("BTC", "100")
        hl.fill(user, hl.open_order(user, "BTC", is_buy=True, sz="2", limit_px="100"))
        account = ("--venue", "hyperliquid", "--account", user, "--base-url", hl.base_url)

        def trueup(*command: str) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [*TRUEUP, "--store", store, *command, *account],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

        run = ("run", "--prices", "BTC", "--poll-interval", "0.5", "--tick-ms", "100")
        processes = [trueup(*run)]
        try:
            hl.wait_subscribed("activeAssetCtx", "BTC", timeout=BACK_S)
            wait_for("the position", lambda: held(store, user) == 2, timeout=BACK_S)
            add_triggers(store, "hyperliquid", user, [("btc-half", "BTC", "0.5")])
            hl.move_mark("BTC", "110")
            wait_for("the request", lambda: bool(requested(store)), timeout=BACK_S)
            stop_cleanly(processes)  # trueup run is down (restarting) ...
            # ... while trueup execute places the trigger's order: it fills, unheard.
            processes = [trueup("execute", "--poll-ms", "20")]
            wait_for("the fill", lambda: venue_size(hl, user) == 1, timeout=BACK_S)
            stop_cleanly(processes)
            processes = [trueup(*run)]
            wait_for("the firing to end", lambda: bool(outcomes(store)), timeout=BACK_S)
        finally:
            stop_cleanly(processes)
    (outcome,) = outcomes(store)
    assert outcome.type == "TRIGGER_EXECUTED", outcome.reason
    assert outcome.filled_qty == Decimal("1.0")


def held(store: str, user: str) -> Decimal:
    with Journal.open(store) as journal:
        rows = TrueupService(journal).positions(venue="hyperliquid", account=user)
    return sum((Decimal(row["exchange_qty"]) for row in rows), Decimal(0))


def venue_size(hl: HyperliquidSimulator, user: str) -> Decimal:
    positions = hl.clearinghouse_state(user)["assetPositions"]
    return sum((Decimal(p["position"]["szi"]) for p in positions), Decimal(0))


def requested(store: str) -> list[OrderRequested]:
    return [e for e in live_harness.emitted(store) if isinstance(e, OrderRequested)]


def outcomes(store: str) -> list[TriggerOutcome]:
    return [e for e in live_harness.emitted(store) if isinstance(e, TriggerOutcome)]


def test_a_restarted_aster_run_sees_an_order_placed_long_before_cancelled_while_it_was_down(
    store: str,
) -> None:
    # The simulated account's clock, which stamps its orders, may be set back.
    behind = [0]
    with AsterSimulator(
        api_key=KEY, api_secret=SECRET, clock=lambda: wall_clock() - behind[0]
    ) as sim:
        sim.move_mark("ETHUSDT", "4000")
        rig = AsterRig(sim)
        behind[0] = 3_600_000
        order = rig.entry_placed("entry-5")  # an hour ago, resting since
        behind[0] = 0
        with trueup_run(store, rig.feed()) as live:
            rig.listening()
            live.put(entry(rig, "entry-5"))
            wait_for(
                "the entry open",
                lambda: order_status(store, rig, "entry-5") is OrderStatus.ACCEPTED,
                timeout=BACK_S,
            )
            wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
        rig.cancel(order)
        with trueup_run(store, rig.feed()):
            rig.listening()
            wait_for(
                "the cancel",
                lambda: order_status(store, rig, "entry-5") is OrderStatus.CANCELED,
                timeout=BACK_S,
            )
