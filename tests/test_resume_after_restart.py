"""What nobody heard is asked for: an order that fills while the stream is down, or while
``trueup run`` restarts, is seen once the feed is back, on every venue whose stream pushes
a fill or an order's end only once, to whoever listens then. Through each venue's real
client against its simulator, driven by its harness (tests/venue_harness.py), which also
rests, fills and cancels orders there as someone else would."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Protocol, cast

import pytest
from eth_account import Account

from tests import live_harness
from tests.live_harness import live_ingest, wait_for, wait_for_emitted
from tests.test_executor_live import TRUEUP, add_triggers, stop_cleanly
from tests.venue_harness import (
    HARNESSES,
    KEY,
    SECRET,
    OnAster,
    RestsOrders,
    VenueHarness,
    started,
)
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import OrderRequested, TriggerOutcome
from trueup.domain.vocabulary import OrderStatus
from trueup.projections.reconciliation import replay
from trueup.projections.view_reader import ViewReader
from trueup.runners.live import LiveIngest
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

# Stream back, first sync done: a loaded machine's supervisor may take a few attempts.
BACK_S = 30.0


class Resumable(VenueHarness, RestsOrders, Protocol):
    """A venue harness whose simulator also rests, fills and cancels others' orders."""


RESTING = sorted(v for v, harness in HARNESSES.items() if issubclass(harness, RestsOrders))


@pytest.fixture(params=RESTING)
def rig(request: pytest.FixtureRequest) -> Iterator[Resumable]:
    with started(request.param) as venue:
        assert isinstance(venue, RestsOrders)
        yield cast(Resumable, venue)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


@contextmanager
def trueup_run(store: str, feed: Feed) -> Iterator[LiveIngest]:
    """``trueup run`` in a thread; on leaving, stopped as it stops, its leases let go so
    that the next run takes up the projection at once."""
    with live_ingest(store, feed, release=True) as live:
        yield live


def entry(rig: VenueHarness, client_order_id: str) -> dict[str, object]:
    """The bot's intent line: it placed an entry with this client id."""
    placed = {
        "kind": "order_placed", "position_id": "p-1", "order_link_id": client_order_id,
        "category": rig.category, "symbol": rig.other, "purpose": "ENTRY", "side": "Buy",
        "qty": "2", "price": "1",
    }  # fmt: skip
    return live_harness.intent(rig.venue, rig.account, placed)


def heard(store: str, rig: VenueHarness) -> bool:
    """Whether the journal's views say when it last heard from the account."""
    with Journal.open(store) as journal:
        reader = ViewReader(journal)
        scope = (rig.venue, rig.account)
        view = reader.account(*scope) if reader.answer_for(scope) else None
    return view is not None and bool(view.freshness.exchange_seen_at)


def order_status(store: str, rig: VenueHarness, client_order_id: str) -> OrderStatus | None:
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
    rig: Resumable, store: str
) -> None:
    cloid = rig.client_id("entry-1")
    with live_ingest(store, rig.feed()) as live:
        rig.subscribed(BACK_S)
        wait_for("a first sync", lambda: heard(store, rig), timeout=BACK_S)
        live.put(entry(rig, cloid))
        rig.drop_stream()
        # Placed and filled while nobody listens: its frames are pushed to no one, and it is
        # on no list of open orders; only what is asked after the reconnect tells.
        rig.fill_order(rig.entry_placed(rig.other, cloid))
        wait_for_emitted(store, "ENTRY_FILLED", timeout=BACK_S)
    assert len(filled_entries(store, cloid)) == 1


def test_an_order_cancelled_while_the_stream_is_down_is_seen_ended_after_the_reconnect(
    rig: Resumable, store: str
) -> None:
    cloid = rig.client_id("entry-2")
    with live_ingest(store, rig.feed()) as live:
        rig.subscribed(BACK_S)
        wait_for("a first sync", lambda: heard(store, rig), timeout=BACK_S)
        live.put(entry(rig, cloid))
        order = rig.entry_placed(rig.other, cloid)
        wait_for(
            "the entry open",
            lambda: order_status(store, rig, cloid) is OrderStatus.ACCEPTED,
            timeout=BACK_S,
        )
        rig.drop_stream()
        # Its cancel is pushed to no one, and an order missing from a list of open orders
        # proves nothing ended: only its fate asked after the reconnect tells.
        rig.cancel_order(order)
        wait_for(
            "the cancel",
            lambda: order_status(store, rig, cloid) is OrderStatus.CANCELED,
            timeout=BACK_S,
        )


def test_a_restarted_run_sees_an_order_filled_and_closed_while_it_was_down(
    rig: Resumable, store: str
) -> None:
    cloid = rig.client_id("entry-3")
    with trueup_run(store, rig.feed()) as live:
        rig.subscribed(BACK_S)
        live.put(entry(rig, cloid))
        wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
    # trueup run is down: a position opens and closes wholly in a symbol never reported.
    rig.fill_order(rig.entry_placed(rig.other, cloid))
    rig.close_by_hand(rig.other)
    with trueup_run(store, rig.feed()):  # the run again, its feed told from the journal
        rig.subscribed(BACK_S)
        wait_for("the entry's fill", lambda: bool(filled_entries(store, cloid)), timeout=BACK_S)
    assert order_status(store, rig, cloid) is OrderStatus.FILLED


def test_a_restarted_run_sees_an_order_cancelled_while_it_was_down(
    rig: Resumable, store: str
) -> None:
    cloid = rig.client_id("entry-4")
    with trueup_run(store, rig.feed()) as live:
        rig.subscribed(BACK_S)
        live.put(entry(rig, cloid))
        order = rig.entry_placed(rig.other, cloid)
        wait_for(
            "the entry open",
            lambda: order_status(store, rig, cloid) is OrderStatus.ACCEPTED,
            timeout=BACK_S,
        )
        wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
    # trueup run is down: the entry, in a symbol with nothing else on it, is cancelled.
    rig.cancel_order(order)
    with trueup_run(store, rig.feed()):
        rig.subscribed(BACK_S)
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
        rig = OnAster(sim)
        behind[0] = 3_600_000
        order = rig.entry_placed(rig.other, "entry-5")  # an hour ago, resting since
        behind[0] = 0
        with trueup_run(store, rig.feed()) as live:
            rig.subscribed(BACK_S)
            live.put(entry(rig, "entry-5"))
            wait_for(
                "the entry open",
                lambda: order_status(store, rig, "entry-5") is OrderStatus.ACCEPTED,
                timeout=BACK_S,
            )
            wait_for("the journal to hear the account", lambda: heard(store, rig), timeout=BACK_S)
        rig.cancel_order(order)
        with trueup_run(store, rig.feed()):
            rig.subscribed(BACK_S)
            wait_for(
                "the cancel",
                lambda: order_status(store, rig, "entry-5") is OrderStatus.CANCELED,
                timeout=BACK_S,
            )
