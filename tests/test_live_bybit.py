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
from tests.venue_harness import OnBybit, agree, opened
from trueup.adapters.store.journal import Journal
from trueup.domain.events import WalletReported


@pytest.fixture
def bybit() -> Iterator[OnBybit]:
    with OnBybit.started() as harness:
        yield harness


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


def test_an_order_that_fills_while_the_stream_is_down_is_seen_after_the_reconnect(
    bybit: OnBybit, store: str
) -> None:
    sim = bybit.sim
    placed = {
        "kind": "order_placed", "position_id": "p-ada", "order_link_id": "p-ada-entry",
        "category": "linear", "symbol": "ADAUSDT", "purpose": "ENTRY", "side": "Buy",
        "qty": "100", "price": "0.7",
    }  # fmt: skip
    with live_ingest(store, bybit.feed()) as live:
        bybit.subscribed()
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
    bybit: OnBybit, store: str
) -> None:
    bybit.sim.set_page_size(1)  # BTCUSDT on page 1, ETHUSDT on page 2
    with live_ingest(store, bybit.feed()) as live:
        bybit.subscribed()
        live.put(opened(bybit, "p-1", "BTCUSDT", "0.3"))
        bybit.buy("BTCUSDT", "0.3")
        bybit.buy("ETHUSDT", "2")
        agree(bybit, store)
        bybit.sim.malform(1)  # the next page 1 lists BTCUSDT but lacks its size
        wait_for("the page after the refused one", lambda: _page_after_refused(store) is not None)
        agree(bybit, store)
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


def test_a_wallet_push_lost_while_the_stream_is_down_is_made_good_by_the_resync(
    bybit: OnBybit, store: str
) -> None:
    """The wallet came only on its topic: a push lost (the stream down, the run killed) left
    the equity and balance of before, shown as current, until the next trade (a
    walkthrough's summary, off by a closed position's profit). /v5/account/wallet-balance
    is asked at every sync."""
    sim = bybit.sim
    with live_ingest(store, bybit.feed()):
        bybit.subscribed()
        wait_for("a first sync", lambda: bool(sim.rest_answers()))
        sim.drop_connections()
        # A round trip at a profit while nobody listens: its wallet push goes to no one.
        bybit.buy("BTCUSDT", "0.3")
        sim.move_mark("BTCUSDT", "110")
        bybit.sell("BTCUSDT", "0.3")
        balance = sim.read(lambda book: book.wallet_balance)
        wait_for("the wallet as it stands", lambda: _wallet_balance(store) == balance)
    assert "/v5/account/wallet-balance" in {a.path for a in sim.rest_answers()}


def _wallet_balance(store: str) -> Decimal | None:
    with Journal.open(store) as journal:
        wallets = [e for _, e in journal.all_events() if isinstance(e, WalletReported)]
    return wallets[-1].wallets[0].total_wallet_balance if wallets else None
