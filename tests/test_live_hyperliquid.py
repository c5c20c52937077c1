"""Live Hyperliquid ingest through the real SDK against the simulator: what only Hyperliquid's
feed does. What every venue's feed does is in the venues' common suite
(test_venue_conformance.py)."""

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live_harness import emitted, exchange_sizes, live_ingest, wait_for, wait_for_emitted
from tests.venue_harness import OnHyperliquid
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup.domain.events import ExecutionsReported
from trueup.domain.pnl import KeyLedger
from trueup.projections.reconciliation import replay
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


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


@pytest.fixture
def hyperliquid() -> Iterator[OnHyperliquid]:
    with OnHyperliquid.started() as venue:
        yield venue


def test_funding_paid_while_the_stream_was_down_counts_once(
    hyperliquid: OnHyperliquid, tmp_path: Path
) -> None:
    store, sim = str(tmp_path / "live.db"), hyperliquid.sim
    sim.move_mark("ETH", "3000")
    with live_ingest(store, hyperliquid.feed()):
        sim.wait_subscribed("userEvents", USER)
        sim.fill(USER, sim.open_order(USER, "ETH", is_buy=True, sz="2", limit_px="3000"))
        wait_for("ETH", lambda: exchange_sizes(store, "hyperliquid", USER).get("ETH") == 2)
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
