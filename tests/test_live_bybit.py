"""Live Bybit ingest through the real pybit client against the simulator: what only Bybit's
feed does (fills asked for after a reconnect, paginated snapshots). What every venue's feed
does, every failure of the connection ending with the journal agreeing with the exchange, is
in the venues' common suite (test_venue_conformance.py)."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests import live_harness
from tests.live_harness import emitted, live_ingest, wait_for, wait_for_emitted
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.store.journal import Journal
from trueup_simulators.bybit.exchange_book import ExchangeBook
from trueup_simulators.bybit.simulator import BybitSimulator

KEY, SECRET = "test-key-not-real", "test-secret-not-real"


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        yield simulator


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


def feed_for(sim: BybitSimulator) -> BybitFeed:
    return BybitFeed(
        "main", KEY, SECRET, clock=wall_clock, base_url=sim.base_url, poll_interval_s=0.3
    )


def opened(position_id: str, symbol: str, qty: str) -> dict[str, object]:
    return live_harness.opened("bybit", "main", position_id, symbol, qty, category="linear")


def held(sim: BybitSimulator) -> dict[str, Decimal]:
    def sizes(book: ExchangeBook) -> dict[str, Decimal]:
        return {
            p.symbol: (-p.size if p.side == "Sell" else p.size)
            for p in book.positions.values()
            if p.size
        }

    return sim.read(sizes)


def journaled(store: str) -> dict[str, Decimal]:
    return live_harness.exchange_sizes(store, "bybit", "main")


def agree(sim: BybitSimulator, store: str) -> None:
    wait_for("the journal to agree with the exchange", lambda: journaled(store) == held(sim))


def subscribed(sim: BybitSimulator, timeout: float = 10.0) -> None:
    assert sim.wait_subscribed(timeout=timeout), "the feed never subscribed"


def buy(sim: BybitSimulator, symbol: str, qty: str) -> None:
    sim.fill(sim.place_order(symbol, "Buy", qty, order_type="Market"), price="100")


def test_an_order_that_fills_while_the_stream_is_down_is_seen_after_the_reconnect(
    sim: BybitSimulator, store: str
) -> None:
    placed = {
        "kind": "order_placed", "position_id": "p-ada", "order_link_id": "p-ada-entry",
        "category": "linear", "symbol": "ADAUSDT", "purpose": "ENTRY", "side": "Buy",
        "qty": "100", "price": "0.7",
    }  # fmt: skip
    with live_ingest(store, feed_for(sim)) as live:
        subscribed(sim)
        wait_for("a first sync", lambda: bool(sim.rest_answers()))
        live.put(live_harness.intent("bybit", "main", placed))
        sim.drop_connections()
        # Placed and filled while nobody listens: its frames are pushed to no one, and it
        # is on no list of open orders: only the fills asked for after the reconnect tell.
        sim.fill(sim.place_order("ADAUSDT", "Buy", "100", order_link_id="p-ada-entry", price="0.7"))
        (filled,) = wait_for_emitted(store, "ENTRY_FILLED")
    assert getattr(filled, "client_order_id", None) == "p-ada-entry"
    asked = [a.path for a in sim.rest_answers()]
    assert "/v5/execution/list" in asked and "/v5/order/history" in asked


def test_a_refused_first_page_restarts_the_run_and_closes_nothing(
    sim: BybitSimulator, store: str
) -> None:
    sim.set_page_size(1)  # BTCUSDT on page 1, ETHUSDT on page 2
    with live_ingest(store, feed_for(sim)) as live:
        subscribed(sim)
        live.put(opened("p-1", "BTCUSDT", "0.3"))
        buy(sim, "BTCUSDT", "0.3")
        buy(sim, "ETHUSDT", "2")
        agree(sim, store)
        sim.malform(1)  # the next page 1 lists BTCUSDT but lacks its size
        wait_for("the page after the refused one", lambda: _page_after_refused(store) is not None)
        agree(sim, store)
    assert _page_after_refused(store) == "", "the run did not start again from page 1"
    assert "POSITION_CLOSED" not in {e.type for e in emitted(store)}


def _page_after_refused(store: str) -> str | None:
    """The cursor of the first position-list page stored after a refused one, if any."""
    with Journal.open(store) as journal:
        events = [e for _, e in journal.all_events()]
    refused = [i for i, e in enumerate(events) if getattr(e, "position_snapshot", False)]
    if not refused:
        return None
    for later in events[refused[0] + 1 :]:
        page = getattr(later, "snapshot", None)
        if page is not None:
            return str(page.cursor)
    return None
