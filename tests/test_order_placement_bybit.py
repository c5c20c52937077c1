"""Orders placed on the Bybit simulator through pybit, as trueup's execution client places
them: fills and their private frames, orderLinkId idempotency, reduce-only refusals, bad
signatures, and exactly-once under many concurrent placements."""

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pybit import unified_trading

from tests.live_harness import live_ingest, wait_for
from tests.placement_burst import assert_each_id_accepted_once, placed_in_a_burst
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.clock import wall_clock
from trueup.adapters.orders import OrderRequest, OrderType, Side
from trueup.adapters.store.journal import Journal
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup.projections.reconciliation import replay
from trueup_simulators.bybit.simulator import BybitSimulator

KEY = "fake-key-0001"
SECRET = "fake-secret-0001"
JSON = dict[str, Any]


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.move_mark("BTCUSDT", "100000")
        yield simulator


def client(sim: BybitSimulator, secret: str = SECRET) -> BybitOrders:
    return BybitOrders(KEY, secret, base_url=sim.base_url)


def market(decision: str, side: Side = Side.BUY, qty: str = "0.01", **extra: Any) -> OrderRequest:
    return OrderRequest(client_order_id(decision), "BTCUSDT", side, Decimal(qty), **extra)


def topics(frames: list[JSON]) -> list[str]:
    return [str(f["topic"]) for f in frames]


def orders_of(sim: BybitSimulator) -> list[Any]:
    return sim.read(lambda book: list(book.orders.values()))


def test_a_market_order_fills_at_the_price_and_pushes_its_frames(sim: BybitSimulator) -> None:
    placed = client(sim).place(market("decision-1", qty="0.02"))

    assert placed.outcome is PlacementOutcome.ACCEPTED and placed.venue_order_id
    [order] = orders_of(sim)
    assert (order.status, order.order_link_id) == (
        "Filled",
        client_order_id("decision-1").order_link_id,
    )
    frames = sim.pushed_frames()
    assert topics(frames) == ["order", "position", "execution", "order", "position", "wallet"]
    execution = next(f for f in frames if f["topic"] == "execution")["data"][0]
    assert (execution["execPrice"], execution["execQty"]) == ("100000", "0.02")
    assert execution["orderLinkId"] == client_order_id("decision-1").order_link_id
    position = sim.read(lambda book: book.position("BTCUSDT"))
    assert (position.side, position.size) == ("Buy", Decimal("0.02"))


def test_the_frames_reach_a_subscribed_private_stream(sim: BybitSimulator) -> None:
    received: list[JSON] = []
    got_execution = threading.Event()

    def on_message(message: JSON) -> None:
        received.append(message)
        if message.get("topic") == "execution":
            got_execution.set()

    default = unified_trading.PRIVATE_WSS
    unified_trading.PRIVATE_WSS = sim.ws_url
    try:
        ws = unified_trading.WebSocket(
            channel_type="private", testnet=False, api_key=KEY, api_secret=SECRET
        )
    finally:
        unified_trading.PRIVATE_WSS = default
    try:
        ws.execution_stream(on_message)
        ws.order_stream(on_message)
        assert sim.wait_subscribed(("execution", "order"))
        client(sim).place(market("decision-ws"))
        assert got_execution.wait(5)
    finally:
        ws.exit()
    link = client_order_id("decision-ws").order_link_id
    assert any(m["topic"] == "order" and m["data"][0]["orderLinkId"] == link for m in received)


def test_the_same_client_order_id_twice_places_one_order(sim: BybitSimulator) -> None:
    orders = client(sim)
    first = orders.place(market("decision-2"))
    second = orders.place(market("decision-2"))

    assert first.outcome is PlacementOutcome.ACCEPTED
    assert second.outcome is PlacementOutcome.ALREADY_PLACED and second.placed
    assert (second.code, second.reason) == ("110072", "OrderLinkedID is duplicate")
    assert len(orders_of(sim)) == 1


def test_an_order_is_found_by_its_client_order_id_whatever_its_status(
    sim: BybitSimulator,
) -> None:
    """What an executor too late to send asks: the order one that died placed (filled)."""
    orders = client(sim)
    placed = orders.place(market("decision-found"))
    found = orders.find(market("decision-found"))
    assert found is not None and found.outcome is PlacementOutcome.ALREADY_PLACED
    assert (found.venue_order_id, found.reason) == (
        placed.venue_order_id,
        "an order of this orderLinkId is Filled",
    )
    assert orders.find(market("never-placed")) is None


def test_a_server_error_is_asked_again_under_the_same_id_and_places_once(
    sim: BybitSimulator,
) -> None:
    """10016, "internal server error; service is restarting": the venue did not judge the
    order, so it is worth asking again (under the same id, so it is never placed twice)."""
    orders = client(sim)
    sim.error(1, ret_code=10016)

    failed = orders.place(market("decision-5"))
    assert failed.outcome is PlacementOutcome.REFUSED and not failed.placed
    assert failed.refusal is RefusalKind.UNREACHABLE and failed.refusal.retryable
    assert orders.place(market("decision-5")).outcome is PlacementOutcome.ACCEPTED
    assert orders.place(market("decision-5")).outcome is PlacementOutcome.ALREADY_PLACED
    assert len(orders_of(sim)) == 1


def test_a_reduce_only_order_beyond_the_position_is_refused(sim: BybitSimulator) -> None:
    sim.open_position("BTCUSDT", "Buy", "0.1", "99000")
    orders = client(sim)

    refused = orders.place(market("decision-3", Side.SELL, qty="0.2", reduce_only=True))
    assert refused.outcome is PlacementOutcome.REFUSED and not refused.placed
    assert (refused.refusal, refused.code) == (RefusalKind.REDUCE_ONLY, "110017")
    assert refused.reason == "Reduce-only rule not satisfied"
    assert orders_of(sim) == []

    closed = orders.place(market("decision-4", Side.SELL, qty="0.1", reduce_only=True))
    assert closed.outcome is PlacementOutcome.ACCEPTED
    assert sim.read(lambda book: book.position("BTCUSDT").size) == 0


def test_hedge_mode_legs_are_kept_apart(sim: BybitSimulator) -> None:
    orders = client(sim)
    assert orders.place(market("long", position_idx=1)).outcome is PlacementOutcome.ACCEPTED
    assert (
        orders.place(market("short", Side.SELL, position_idx=2)).outcome
        is PlacementOutcome.ACCEPTED
    )
    wrong = orders.place(market("wrong-leg", Side.SELL, position_idx=1))
    assert (wrong.refusal, wrong.code) == (RefusalKind.INVALID, "10001")
    legs = sim.read(lambda book: [(p.side, p.size) for p in book.symbol_keys("linear", "BTCUSDT")])
    assert legs == [("", 0), ("Buy", Decimal("0.01")), ("Sell", Decimal("0.01"))]


def test_a_bad_signature_is_refused_and_places_nothing(sim: BybitSimulator) -> None:
    refused = client(sim, secret="not-the-secret").place(market("decision-5"))

    assert (refused.outcome, refused.refusal, refused.code) == (
        PlacementOutcome.REFUSED,
        RefusalKind.AUTH,
        "10004",
    )
    assert orders_of(sim) == []


def test_a_limit_order_rests_until_the_price_crosses_it(sim: BybitSimulator) -> None:
    orders = client(sim)
    request = market("decision-6", order_type=OrderType.LIMIT, price=Decimal("99000"))
    assert orders.place(request).outcome is PlacementOutcome.ACCEPTED
    assert [o.status for o in orders_of(sim)] == ["New"]

    sim.move_mark("BTCUSDT", "99500")
    assert [o.status for o in orders_of(sim)] == ["New"]
    sim.move_mark("BTCUSDT", "98900")
    [order] = orders_of(sim)
    assert (order.status, order.cum_exec_value / order.cum_exec_qty) == ("Filled", Decimal(99000))


def test_amend_and_cancel_by_order_link_id(sim: BybitSimulator) -> None:
    http = unified_trading.HTTP(api_key=KEY, api_secret=SECRET, testnet=False)
    http.endpoint = sim.base_url
    cid = client_order_id("decision-7")
    orders = client(sim)
    orders.place(market("decision-7", order_type=OrderType.LIMIT, price=Decimal("90000")))

    amended = http.amend_order(
        category="linear", symbol="BTCUSDT", orderLinkId=cid.order_link_id, price="91000"
    )
    assert amended["result"]["orderLinkId"] == cid.order_link_id
    assert orders.cancel("BTCUSDT", cid.order_link_id).outcome is PlacementOutcome.ACCEPTED
    [order] = orders_of(sim)
    assert (order.status, order.price) == ("Cancelled", Decimal(91000))
    again = orders.cancel("BTCUSDT", cid.order_link_id)
    assert (again.outcome, again.code) == (PlacementOutcome.REFUSED, "110008")
    # An orderLinkId stays used after its order ended: placing it again places nothing.
    assert orders.place(market("decision-7")).outcome is PlacementOutcome.ALREADY_PLACED


def _place_many(base_url: str, decisions: list[str]) -> list[str]:
    orders = BybitOrders(KEY, SECRET, base_url=base_url)
    return [str(orders.place(market(d)).outcome) for d in decisions]


@pytest.mark.parametrize("ids", [100, 10])
def test_concurrent_placements_place_each_id_exactly_once(sim: BybitSimulator, ids: int) -> None:
    outcomes = placed_in_a_burst(
        _place_many, lambda d: str(client(sim).place(market(d)).outcome), sim.base_url, ids
    )

    assert len(orders_of(sim)) == ids
    assert len({o.order_link_id for o in orders_of(sim)}) == ids
    assert_each_id_accepted_once(outcomes, ids)


def test_the_live_feed_records_what_an_order_placed(sim: BybitSimulator, tmp_path: Any) -> None:
    store = str(tmp_path / "live.db")
    feed = BybitFeed("main", KEY, SECRET, clock=wall_clock, base_url=sim.base_url)
    with live_ingest(store, feed):
        assert sim.wait_subscribed(timeout=10)
        assert client(sim).place(market("decision-live", qty="0.3")).placed

        def journaled() -> Decimal:
            with Journal.open(store) as journal:
                book = replay(journal).book("bybit", "main")
            return sum((p.exchange_qty for p in book.positions.values()), Decimal(0))

        wait_for("the journal to hold the filled order", lambda: journaled() == Decimal("0.3"))
