"""Orders placed on the Hyperliquid simulator through the SDK's Exchange, as trueup's
execution client places them: signed actions, cloid idempotency, reduce-only refusals, the
user channels' frames, and exactly-once under many concurrent placements."""

import queue
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from hyperliquid.websocket_manager import WebsocketManager

from tests.placement_burst import assert_each_id_accepted_once, placed_in_a_burst
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.hyperliquid.orders import HyperliquidOrders
from trueup.adapters.orders import OrderRequest, OrderType, Side
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

KEY = "0x" + "11" * 32
USER = Account.from_key(KEY).address
STRANGER = "0x" + "22" * 32
JSON = dict[str, Any]


@pytest.fixture
def sim() -> Iterator[HyperliquidSimulator]:
    with HyperliquidSimulator() as simulator:
        simulator.authorize(USER)
        simulator.move_mark("BTC", "100000")
        yield simulator


def client(sim: HyperliquidSimulator, key: str = KEY) -> HyperliquidOrders:
    return HyperliquidOrders(key, base_url=sim.base_url)


def market(decision: str, side: Side = Side.BUY, qty: str = "0.01", **extra: Any) -> OrderRequest:
    price = Decimal("105000") if side is Side.BUY else Decimal("95000")
    extra.setdefault("price", price)
    return OrderRequest(client_order_id(decision), "BTC", side, Decimal(qty), **extra)


def test_a_market_order_fills_and_the_user_channels_say_so(sim: HyperliquidSimulator) -> None:
    frames: queue.Queue[JSON] = queue.Queue()
    ws = WebsocketManager(sim.base_url)
    ws.daemon = True
    ws.start()
    try:
        for channel in ("userFills", "orderUpdates", "userEvents"):
            ws.subscribe({"type": channel, "user": USER}, frames.put)
            sim.wait_subscribed(channel, USER)
        placed = client(sim).place(market("decision-1", qty="0.02"))
        got: list[JSON] = []
        while len({f["channel"] for f in got} - {"userFills"}) < 2 or len(got) < 4:
            got.append(frames.get(timeout=5))
    finally:
        ws.stop()

    assert placed.outcome is PlacementOutcome.ACCEPTED and placed.venue_order_id
    cloid = client_order_id("decision-1").cloid
    fills = [f for f in got if f["channel"] == "userFills" and not f["data"].get("isSnapshot")]
    assert fills[0]["data"]["fills"][0]["cloid"] == cloid
    assert fills[0]["data"]["fills"][0]["px"] == "100000.0"
    updates = [f for f in got if f["channel"] == "orderUpdates"]
    assert updates[0]["data"][0]["status"] == "filled"
    state = sim.clearinghouse_state(USER)
    assert state["assetPositions"][0]["position"]["szi"] == "0.02"


def test_the_same_cloid_twice_places_one_order(sim: HyperliquidSimulator) -> None:
    orders = client(sim)
    first = orders.place(market("decision-2"))
    second = orders.place(market("decision-2"))

    assert first.outcome is PlacementOutcome.ACCEPTED
    assert second.outcome is PlacementOutcome.ALREADY_PLACED and second.placed
    assert len(sim.user_fills(USER)) == 1


def test_an_order_is_found_by_its_cloid_whatever_its_status(sim: HyperliquidSimulator) -> None:
    """What an executor too late to send asks: the order one that died placed (filled)."""
    orders = client(sim)
    placed = orders.place(market("decision-found"))
    found = orders.find(market("decision-found"))
    assert found is not None and found.outcome is PlacementOutcome.ALREADY_PLACED
    assert found.venue_order_id == placed.venue_order_id
    assert found.reason == "an order of this cloid is filled"
    assert orders.find(market("never-placed")) is None


def test_a_reduce_only_order_beyond_the_position_is_refused(sim: HyperliquidSimulator) -> None:
    orders = client(sim)
    orders.place(market("open"))
    refused = orders.place(market("too-much", Side.SELL, qty="0.02", reduce_only=True))

    assert (refused.outcome, refused.refusal) == (PlacementOutcome.REFUSED, RefusalKind.REDUCE_ONLY)
    assert refused.reason == "Reduce only order would increase position. asset=0"
    closed = orders.place(market("close", Side.SELL, qty="0.01", reduce_only=True))
    assert closed.outcome is PlacementOutcome.ACCEPTED
    assert sim.clearinghouse_state(USER)["assetPositions"] == []


def test_an_unknown_signer_is_refused_and_places_nothing(sim: HyperliquidSimulator) -> None:
    refused = client(sim, STRANGER).place(market("decision-3"))

    assert (refused.outcome, refused.refusal) == (PlacementOutcome.REFUSED, RefusalKind.AUTH)
    assert "does not exist" in refused.reason
    assert sim.user_fills(USER) == []


def test_an_agent_wallet_trades_for_its_account(sim: HyperliquidSimulator) -> None:
    agent = Account.from_key(STRANGER).address
    sim.authorize(agent, USER)
    orders = HyperliquidOrders(STRANGER, account_address=USER, base_url=sim.base_url)
    assert orders.place(market("by-agent")).outcome is PlacementOutcome.ACCEPTED
    assert len(sim.user_fills(USER)) == 1


def test_a_limit_order_rests_until_the_mark_crosses_and_cancels_by_cloid(
    sim: HyperliquidSimulator,
) -> None:
    orders = client(sim)
    resting = market("rest", order_type=OrderType.LIMIT, price=Decimal("99000"))
    assert orders.place(resting).outcome is PlacementOutcome.ACCEPTED
    assert len(sim.open_orders(USER)) == 1
    sim.move_mark("BTC", "98000")
    assert sim.open_orders(USER) == []
    assert sim.user_fills(USER)[0]["px"] == "99000.0"

    other = market("cancel-me", order_type=OrderType.LIMIT, price=Decimal("90000"))
    orders.place(other)
    assert orders.cancel("BTC", other.client_order_id.cloid).outcome is PlacementOutcome.ACCEPTED
    again = orders.cancel("BTC", other.client_order_id.cloid)
    assert again.outcome is PlacementOutcome.REFUSED
    assert again.reason == "Order was never placed, already canceled, or filled."


def test_an_ioc_order_that_cannot_fill_is_refused(sim: HyperliquidSimulator) -> None:
    refused = client(sim).place(market("far", price=Decimal("90000")))
    assert (refused.outcome, refused.refusal) == (PlacementOutcome.REFUSED, RefusalKind.NOT_MATCHED)


def _place_many(base_url: str, decisions: list[str]) -> list[str]:
    orders = HyperliquidOrders(KEY, base_url=base_url)
    return [str(orders.place(market(d)).outcome) for d in decisions]


@pytest.mark.parametrize("ids", [100, 10])
def test_concurrent_placements_place_each_cloid_exactly_once(
    sim: HyperliquidSimulator, ids: int
) -> None:
    orders = client(sim)
    outcomes = placed_in_a_burst(
        _place_many, lambda d: str(orders.place(market(d)).outcome), sim.base_url, ids
    )

    fills = sim.user_fills(USER)
    assert len(fills) == ids
    assert len({f["cloid"] for f in fills}) == ids
    assert_each_id_accepted_once(outcomes, ids)
