"""Random exchange activity on a simulator, live-ingested through the venue's real client:
after every step the reconciled exchange side must come to equal the simulator's book."""

import shutil
import tempfile
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.live_harness import live_ingest, wait_for
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.projections.reconciliation import replay
from trueup_simulators.bybit.exchange_book import ExchangeBook
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
COINS = ("BTC", "ETH", "SOL")
sizes = st.sampled_from(["0.5", "1", "2.5"])


class LiveHyperliquidBook(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="trueup-state-")
        self.store = f"{self.folder}/live.db"
        self.sim = HyperliquidSimulator()
        self.sim.start()
        feed = HyperliquidFeed(
            USER, clock=wall_clock, base_url=self.sim.base_url, poll_interval_s=0.1
        )
        self.running = live_ingest(self.store, feed)
        self.running.__enter__()
        self.sim.wait_subscribed("userFills", USER)

    def teardown(self) -> None:
        self.running.__exit__(None, None, None)
        self.sim.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def held(self) -> dict[str, Decimal]:
        state = self.sim.clearinghouse_state(USER)
        return {
            p["position"]["coin"]: Decimal(p["position"]["szi"])
            for p in state["assetPositions"]
            if Decimal(p["position"]["szi"]) != 0
        }

    def journaled(self) -> dict[str, Decimal]:
        with Journal.open(self.store) as journal:
            book = replay(journal).book("hyperliquid", USER)
        return {k.symbol: p.exchange_qty for k, p in book.positions.items() if p.exchange_qty}

    @rule(coin=st.sampled_from(COINS), buy=st.booleans(), size=sizes)
    def trade(self, coin: str, buy: bool, size: str) -> None:
        oid = self.sim.open_order(USER, coin, is_buy=buy, sz=size, limit_px="100")
        self.sim.fill(USER, oid)

    @precondition(lambda self: bool(self.held()))
    @rule(data=st.data())
    def close_by_hand(self, data: st.DataObject) -> None:
        self.sim.close_by_hand(USER, data.draw(st.sampled_from(sorted(self.held()))))

    @precondition(lambda self: bool(self.held()))
    @rule(data=st.data())
    def liquidate(self, data: st.DataObject) -> None:
        self.sim.liquidate(USER, data.draw(st.sampled_from(sorted(self.held()))))

    @rule()
    def drop_the_stream(self) -> None:
        self.sim.drop_connections()

    @rule(answers=st.integers(1, 3))
    def rate_limit(self, answers: int) -> None:
        self.sim.set_rate_limit(answers)

    @invariant()
    def the_journal_comes_to_equal_the_simulator(self) -> None:
        wait_for("the journal to catch up", lambda: self.journaled() == self.held(), timeout=20)


LiveHyperliquidBook.TestCase.settings = settings(
    max_examples=6, stateful_step_count=10, deadline=None
)
test_live_ingest_tracks_the_exchange_book = LiveHyperliquidBook.TestCase


class LiveBybitBook(RuleBasedStateMachine):
    """The same, on Bybit through pybit: random fills, hand closes, liquidations, drops,
    rate limits and errors."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="trueup-state-")
        self.store = f"{self.folder}/live.db"
        self.sim = BybitSimulator(api_key="state-key", api_secret="state-secret")
        self.sim.start()
        feed = BybitFeed(
            "main",
            "state-key",
            "state-secret",
            clock=wall_clock,
            base_url=self.sim.base_url,
            poll_interval_s=0.2,
        )
        self.running = live_ingest(self.store, feed)
        self.running.__enter__()
        assert self.sim.wait_subscribed(timeout=10)

    def teardown(self) -> None:
        self.running.__exit__(None, None, None)
        self.sim.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def held(self) -> dict[str, Decimal]:
        def sizes(book: ExchangeBook) -> dict[str, Decimal]:
            return {
                p.symbol: -p.size if p.side == "Sell" else p.size
                for p in book.positions.values()
                if p.size
            }

        return self.sim.read(sizes)

    def journaled(self) -> dict[str, Decimal]:
        with Journal.open(self.store) as journal:
            book = replay(journal).book("bybit", "main")
        return {k.symbol: p.exchange_qty for k, p in book.positions.items() if p.exchange_qty}

    @rule(
        symbol=st.sampled_from(("BTCUSDT", "ETHUSDT")),
        side=st.sampled_from(("Buy", "Sell")),
        size=sizes,
    )
    def trade(self, symbol: str, side: str, size: str) -> None:
        self.sim.fill(self.sim.place_order(symbol, side, size, order_type="Market"), price="100")

    @precondition(lambda self: bool(self.held()))
    @rule(data=st.data())
    def close_by_hand(self, data: st.DataObject) -> None:
        symbol = data.draw(st.sampled_from(sorted(self.held())))
        self.sim.close_by_hand(symbol, price="101")

    @precondition(lambda self: bool(self.held()))
    @rule(data=st.data())
    def liquidate(self, data: st.DataObject) -> None:
        symbol = data.draw(st.sampled_from(sorted(self.held())))
        self.sim.liquidate(symbol, price="50")

    @rule()
    def drop_the_stream(self) -> None:
        self.sim.drop_connections()

    @rule(answers=st.integers(1, 3), how=st.sampled_from(("retCode", "429", "403")))
    def rate_limit(self, answers: int, how: str) -> None:
        self.sim.rate_limit(answers, how=how)  # type: ignore[arg-type]

    @rule()
    def error(self) -> None:
        self.sim.error(1, ret_code=10016)

    @invariant()
    def the_journal_comes_to_equal_the_simulator(self) -> None:
        wait_for("the journal to catch up", lambda: self.journaled() == self.held(), timeout=20)


LiveBybitBook.TestCase.settings = settings(max_examples=5, stateful_step_count=10, deadline=None)
test_live_ingest_tracks_the_bybit_book = LiveBybitBook.TestCase
