"""Live Hyperliquid ingest through the real SDK against the simulator: rules fire end to end."""

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests import live_harness
from tests.live_harness import emitted, live_ingest, wait_for, wait_for_emitted
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.domain.events import ExecutionsReported
from trueup.domain.pnl import KeyLedger
from trueup.projections.reconciliation import replay
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


@pytest.fixture
def sim() -> Iterator[HyperliquidSimulator]:
    with HyperliquidSimulator() as simulator:
        yield simulator


def feed_for(sim: HyperliquidSimulator) -> HyperliquidFeed:
    return HyperliquidFeed(USER, clock=wall_clock, base_url=sim.base_url, poll_interval_s=0.3)


def opened(position_id: str, coin: str, qty: str) -> dict[str, object]:
    return live_harness.opened("hyperliquid", USER, position_id, coin, qty, category="perp")


def exchange_qty(store_url: str, coin: str) -> Decimal | None:
    """What the journal says the exchange holds of ``coin`` (None: never seen)."""
    with Journal.open(store_url) as journal:
        book = replay(journal).book("hyperliquid", USER)
    position = book.positions.get(book.key("perp", coin, 0))
    return position.exchange_qty if position else None


def test_a_position_closed_by_hand_on_hyperliquid_is_reported_closed(
    sim: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim)) as live:
        sim.wait_subscribed("userFills", USER)
        live.put(opened("p-1", "BTC", "0.5"))
        oid = sim.open_order(USER, "BTC", is_buy=True, sz="0.5", limit_px="60000")
        sim.fill(USER, oid)
        wait_for("the exchange to show BTC", lambda: exchange_qty(store, "BTC") == Decimal("0.5"))
        sim.close_by_hand(USER, "BTC")
        (closed,) = wait_for_emitted(store, "POSITION_CLOSED")
    assert (closed.symbol, getattr(closed, "position_id", None)) == ("BTC", "p-1")
    assert exchange_qty(store, "BTC") == 0


def test_a_dropped_stream_is_rebuilt_and_reported(
    sim: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim)):
        sim.wait_subscribed("userFills", USER)
        sim.drop_connections()
        (reconnect,) = wait_for_emitted(store, "WS_RECONNECT")
        sim.wait_subscribed("userFills", USER)
        oid = sim.open_order(USER, "ETH", is_buy=False, sz="2", limit_px="3000")
        sim.fill(USER, oid)
        wait_for("ETH after the reconnect", lambda: exchange_qty(store, "ETH") == -2)
    assert "stream closed" in getattr(reconnect, "reason", "")


def test_a_burst_of_rate_limits_is_reported_and_closes_nothing(
    sim: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim)) as live:
        sim.wait_subscribed("userFills", USER)
        live.put(opened("p-1", "SOL", "10"))
        oid = sim.open_order(USER, "SOL", is_buy=True, sz="10", limit_px="150")
        sim.fill(USER, oid)
        wait_for("SOL", lambda: exchange_qty(store, "SOL") == 10)
        sim.set_rate_limit(4)
        wait_for_emitted(store, "RATE_LIMIT")
        wait_for(
            "the poller to get through again",
            lambda: len([e for e in emitted(store) if e.type == "RATE_LIMIT"]) >= 2,
        )
    kinds = {e.type for e in emitted(store)}
    assert "POSITION_CLOSED" not in kinds
    assert exchange_qty(store, "SOL") == 10


def test_a_simulator_restart_ends_with_the_journal_in_step(
    sim: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim)):
        sim.wait_subscribed("userFills", USER)
        sim.fill(USER, sim.open_order(USER, "BTC", is_buy=True, sz="1", limit_px="100"))
        wait_for("BTC", lambda: exchange_qty(store, "BTC") == 1)
        sim.stop()
        sim.start()  # same port, same book
        sim.fill(USER, sim.open_order(USER, "ETH", is_buy=False, sz="3", limit_px="10"))
        wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        wait_for("ETH after the restart", lambda: exchange_qty(store, "ETH") == -3)
        assert exchange_qty(store, "BTC") == 1


def test_a_host_never_reached_is_never_reported_as_reconnected(tmp_path: Path) -> None:
    store = str(tmp_path / "live.db")
    with HyperliquidSimulator() as gone:
        base_url = gone.base_url  # a port nothing listens on, once it is closed
    feed = HyperliquidFeed(USER, clock=wall_clock, base_url=base_url, poll_interval_s=0.3)
    with live_ingest(store, feed):
        wait_for("a few attempts", lambda: feed.stream_lost() is not None, timeout=5)
        time.sleep(3)  # attempts 1, 2 and 3, with their backoff
    assert [e.type for e in emitted(store) if e.type == "WS_RECONNECT"] == []
    with Journal.open(store) as journal:
        reconnects = [e for _, e in journal.all_events() if e.type == "StreamReconnected"]
    assert reconnects == []


def eth_ledger(store_url: str) -> KeyLedger | None:
    with Journal.open(store_url) as journal:
        book = replay(journal).book("hyperliquid", USER)
    return book.pnl.keys.get(book.key("perp", "ETH", 0))


def funding_listed(store_url: str, trade_id: str) -> bool:
    """Whether a userFunding reply (a REST input of Funding executions) listed the payment."""
    with Journal.open(store_url) as journal:
        return any(
            isinstance(e, ExecutionsReported)
            and e.source == "rest"
            and trade_id in {f.trade_id for f in e.fills}
            for _, e in journal.all_events()
        )


def test_funding_paid_while_the_stream_was_down_counts_once(
    sim: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    sim.move_mark("ETH", "3000")
    with live_ingest(store, feed_for(sim)):
        sim.wait_subscribed("userEvents", USER)
        sim.fill(USER, sim.open_order(USER, "ETH", is_buy=True, sz="2", limit_px="3000"))
        wait_for("ETH", lambda: exchange_qty(store, "ETH") == 2)
        fees = eth_ledger(store).net  # type: ignore[union-attr]
        sim.refuse_streams(True)
        sim.drop_connections()
        sim.pay_funding("ETH", "0.0001")  # 2 x 3000 x 0.0001 paid, pushed to nobody
        sim.refuse_streams(False)
        wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        wait_for("the funding paid while down", lambda: eth_ledger(store).funding != 0)  # type: ignore[union-attr]
        sim.wait_subscribed("userEvents", USER)
        sim.pay_funding("ETH", "-0.00005")  # received, pushed, and listed by the next sync
        (second,) = sim.user_funding(USER)[1:]
        wait_for(
            "a sync to list it", lambda: funding_listed(store, f"funding:ETH:{second['time']}")
        )
    ledger = eth_ledger(store)
    assert ledger is not None and ledger.open is not None
    assert (ledger.funding, ledger.net) == (Decimal("-0.3"), fees - Decimal("0.3"))
