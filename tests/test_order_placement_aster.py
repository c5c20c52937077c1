"""Orders placed on the Aster simulator through trueup's own v1 client (HMAC, httpx), as its
execution client places them: fills and the user-data events they push, one order per
client order id even after it filled (Aster keeps an id unique among open orders only), the
grid of exchangeInfo, reduce-only and hedge-leg refusals, faults asked again, and
exactly-once under many concurrent placements."""

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.live_harness import exchange_sizes, live_ingest, wait_for
from tests.placement_burst import assert_each_id_accepted_once, placed_in_a_burst
from trueup.adapters.aster.live import AsterFeed
from trueup.adapters.aster.orders import ORDER, AsterOrders, placement
from trueup.adapters.aster.rest import AsterRest
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.clock import wall_clock
from trueup.adapters.orders import OrderRequest, OrderType, Side
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup_simulators.aster.account import Account
from trueup_simulators.aster.records import Order, PositionSide
from trueup_simulators.aster.simulator import AsterSimulator

KEY, SECRET = "aster-orders-key-not-real", "aster-orders-secret-not-real"


@pytest.fixture
def sim() -> Iterator[AsterSimulator]:
    with AsterSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.move_mark("BTCUSDT", "100000")
        yield simulator


def client(sim: AsterSimulator, secret: str = SECRET) -> AsterOrders:
    return AsterOrders(KEY, secret, base_url=sim.base_url)


def market(decision: str, side: Side = Side.BUY, qty: str = "0.01", **extra: Any) -> OrderRequest:
    return OrderRequest(client_order_id(decision), "BTCUSDT", side, Decimal(qty), **extra)


def limit(decision: str, price: str, side: Side = Side.BUY, qty: str = "0.01") -> OrderRequest:
    return market(decision, side, qty, order_type=OrderType.LIMIT, price=Decimal(price))


def orders_of(sim: AsterSimulator) -> list[Order]:
    return sim.read(lambda account: list(account.orders.values()))


def amounts(sim: AsterSimulator) -> dict[tuple[str, PositionSide], Decimal]:
    def held(account: Account) -> dict[tuple[str, PositionSide], Decimal]:
        return {key: p.amount for key, p in account.positions.items() if p.amount}

    return sim.read(held)


def new_orders_sent(sim: AsterSimulator) -> int:
    return sum(1 for a in sim.rest_answers() if (a.method, a.path) == ("POST", ORDER))


def test_a_market_order_fills_at_the_mark_and_pushes_its_events(sim: AsterSimulator) -> None:
    placed = client(sim).place(market("decision-1", qty="0.02"))

    assert placed.outcome is PlacementOutcome.ACCEPTED and placed.venue_order_id
    [order] = orders_of(sim)
    assert (order.status, order.client_order_id) == (
        "FILLED",
        client_order_id("decision-1").order_link_id,
    )
    assert str(order.order_id) == placed.venue_order_id
    events: list[dict[str, Any]] = sim.pushed_events()
    updates = [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    fills = [update for update in updates if update["x"] == "TRADE"]
    assert [(f["c"], f["L"], f["l"]) for f in fills] == [
        (client_order_id("decision-1").order_link_id, "100000", "0.02")
    ]
    assert "ACCOUNT_UPDATE" in [e["e"] for e in events]
    assert amounts(sim) == {("BTCUSDT", PositionSide.BOTH): Decimal("0.02")}


def test_the_same_client_order_id_places_one_order_even_after_it_filled(
    sim: AsterSimulator,
) -> None:
    orders = client(sim)
    first = orders.place(market("decision-2"))
    second = orders.place(market("decision-2"))

    assert first.outcome is PlacementOutcome.ACCEPTED
    assert second.outcome is PlacementOutcome.ALREADY_PLACED and second.placed
    assert second.venue_order_id == first.venue_order_id
    assert "FILLED" in second.reason
    assert len(orders_of(sim)) == 1 and new_orders_sent(sim) == 1


class Fenced(Exception):
    pass


def fenced() -> None:
    raise Fenced


def test_the_fence_is_met_after_the_asking_and_before_the_sending(sim: AsterSimulator) -> None:
    """An executor whose lease went while it asked still learns of the order another placed
    meanwhile, or one that died placed: found, it is already placed; else nothing is sent."""
    orders = client(sim)
    orders.place(market("placed-then-died"))
    found = orders.place(market("placed-then-died"), fenced)
    assert found.outcome is PlacementOutcome.ALREADY_PLACED and "FILLED" in found.reason
    with pytest.raises(Fenced):
        orders.place(market("never-sent"), fenced)
    assert len(orders_of(sim)) == 1 and new_orders_sent(sim) == 1


def test_aster_s_duplicate_answer_for_an_open_order_reads_already_placed(
    sim: AsterSimulator,
) -> None:
    # What a client that did not ask first would hear: Aster refuses the id of an open order.
    rest = AsterRest(KEY, SECRET, base_url=sim.base_url, clock=wall_clock)
    params = {
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
        "quantity": "0.01", "price": "90000", "newClientOrderId": "tu-open",
    }  # fmt: skip
    try:
        assert placement(rest.signed("POST", ORDER, params)).outcome is PlacementOutcome.ACCEPTED
        again = placement(rest.signed("POST", ORDER, params))
    finally:
        rest.close()
    assert (again.outcome, again.code) == (PlacementOutcome.ALREADY_PLACED, "-4116")
    assert len(orders_of(sim)) == 1


def test_quantities_and_prices_are_put_on_the_exchange_info_grid(sim: AsterSimulator) -> None:
    orders = client(sim)
    placed = orders.place(limit("decision-grid", "90000.129", qty="0.0129"))

    assert (placed.outcome, placed.qty) == (PlacementOutcome.ACCEPTED, Decimal("0.012"))
    [order] = orders_of(sim)
    assert (order.orig_qty, order.price) == (Decimal("0.012"), Decimal("90000.12"))


def test_an_order_off_the_grid_is_refused_before_it_is_sent(sim: AsterSimulator) -> None:
    orders = client(sim)
    too_small = orders.place(market("tiny", qty="0.0004"))
    too_little = orders.place(limit("cheap", "1000", qty="0.001"))  # worth 1, MIN_NOTIONAL 5
    unlisted = orders.place(OrderRequest(client_order_id("x"), "DOGEUSDT", Side.BUY, Decimal(1)))

    for refused in (too_small, too_little, unlisted):
        assert (refused.outcome, refused.refusal) == (
            PlacementOutcome.REFUSED,
            RefusalKind.UNSENDABLE,
        )
    assert "below its minimum order of 0.001" in too_small.reason
    assert "below the venue's minimum order value of 5" in too_little.reason
    assert "DOGEUSDT is not listed" in unlisted.reason
    assert new_orders_sent(sim) == 0


def test_a_reduce_only_order_is_held_to_the_position_but_not_to_the_minimum_notional(
    sim: AsterSimulator,
) -> None:
    sim.open_position("BTCUSDT", "0.1", "99000")
    orders = client(sim)

    refused = orders.place(market("decision-3", Side.SELL, qty="0.2", reduce_only=True))
    assert (refused.outcome, refused.refusal, refused.code) == (
        PlacementOutcome.REFUSED,
        RefusalKind.REDUCE_ONLY,
        "-2022",
    )
    assert refused.reason == "ReduceOnly Order is rejected."
    small = orders.place(replace(limit("small-close", "10", Side.SELL, "0.001"), reduce_only=True))
    assert small.outcome is PlacementOutcome.ACCEPTED  # worth 0.01: reduce-only is exempt
    closed = orders.place(market("decision-4", Side.SELL, qty="0.099", reduce_only=True))
    assert closed.outcome is PlacementOutcome.ACCEPTED
    assert amounts(sim) == {}


def test_hedge_mode_legs_are_kept_apart(sim: AsterSimulator) -> None:
    sim.set_hedge_mode(True)
    orders = client(sim)
    assert orders.place(market("long", position_idx=1)).outcome is PlacementOutcome.ACCEPTED
    short = orders.place(market("short", Side.SELL, qty="0.02", position_idx=2))
    assert short.outcome is PlacementOutcome.ACCEPTED
    one_way = orders.place(market("one-way", Side.SELL))
    assert (one_way.refusal, one_way.code) == (RefusalKind.INVALID, "-4061")
    # Closing a leg sends no reduceOnly (Aster refuses it in hedge mode): its side says so.
    closed = orders.place(market("close-long", Side.SELL, reduce_only=True, position_idx=1))
    assert closed.outcome is PlacementOutcome.ACCEPTED
    assert amounts(sim) == {("BTCUSDT", PositionSide.SHORT): Decimal("-0.02")}


def test_a_bad_signature_is_refused_and_places_nothing(sim: AsterSimulator) -> None:
    refused = client(sim, secret="not-the-secret").place(market("decision-5"))

    assert (refused.outcome, refused.refusal, refused.code) == (
        PlacementOutcome.REFUSED,
        RefusalKind.AUTH,
        "-1022",
    )
    assert refused.reason == "Signature for this request is not valid."
    assert orders_of(sim) == []


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"rate_limit": 429}, RefusalKind.RATE_LIMITED),
        ({"rate_limit": 418}, RefusalKind.RATE_LIMITED),
        ({"error": 500}, RefusalKind.UNREACHABLE),
        ({"error": 503}, RefusalKind.UNREACHABLE),
    ],
)
def test_a_request_aster_did_not_judge_is_asked_again_and_placed_once(
    sim: AsterSimulator, fault: dict[str, int], kind: RefusalKind
) -> None:
    orders = client(sim)
    orders.place(market("warm-up"))  # exchangeInfo read: the fault falls on the order itself
    if "rate_limit" in fault:
        sim.rate_limit(2, status=fault["rate_limit"])
    else:
        sim.error(2, code=-1001, status=fault["error"])

    asked = [orders.place(market("decision-6")) for _ in range(3)]

    assert [(p.outcome, p.refusal) for p in asked[:2]] == [(PlacementOutcome.REFUSED, kind)] * 2
    assert kind.retryable and asked[2].outcome is PlacementOutcome.ACCEPTED
    assert asked[0].code == ("-1003" if kind is RefusalKind.RATE_LIMITED else "-1001")
    assert len(orders_of(sim)) == 2


def test_a_limit_order_rests_until_the_mark_crosses_and_cancels_by_client_id(
    sim: AsterSimulator,
) -> None:
    orders = client(sim)
    assert orders.place(limit("rest", "99000")).outcome is PlacementOutcome.ACCEPTED
    sim.move_mark("BTCUSDT", "99500")
    assert [o.status for o in orders_of(sim)] == ["NEW"]
    sim.move_mark("BTCUSDT", "98900")
    assert [o.status for o in orders_of(sim)] == ["FILLED"]

    other = limit("cancel-me", "90000")
    orders.place(other)
    written = orders.written(other.client_order_id)
    cancelled = orders.cancel("BTCUSDT", written)
    assert cancelled.outcome is PlacementOutcome.ACCEPTED and cancelled.venue_order_id
    again = orders.cancel("BTCUSDT", written)
    assert (again.outcome, again.code, again.reason) == (
        PlacementOutcome.REFUSED,
        "-2011",
        "Unknown order sent.",
    )
    # The id stays used once its order ended: placing it again places nothing.
    assert orders.place(other).outcome is PlacementOutcome.ALREADY_PLACED
    assert [o.status for o in orders_of(sim)] == ["FILLED", "CANCELED"]


def _place_many(base_url: str, decisions: list[str]) -> list[str]:
    orders = AsterOrders(KEY, SECRET, base_url=base_url)
    return [str(orders.place(limit(d, "90000")).outcome) for d in decisions]


@pytest.mark.parametrize("ids", [100, 10])
def test_concurrent_placements_place_each_id_exactly_once(sim: AsterSimulator, ids: int) -> None:
    # Resting orders: Aster itself refuses the id of an open one (-4116). Of an order that
    # already ended only the asking first tells, which one executor at a time does (its lease).
    orders = client(sim)
    outcomes = placed_in_a_burst(
        _place_many, lambda d: str(orders.place(limit(d, "90000")).outcome), sim.base_url, ids
    )

    assert len(orders_of(sim)) == ids
    assert len({o.client_order_id for o in orders_of(sim)}) == ids
    assert_each_id_accepted_once(outcomes, ids)


def test_the_live_feed_records_what_an_order_placed(sim: AsterSimulator, tmp_path: Path) -> None:
    store = str(tmp_path / "live.db")
    feed = AsterFeed("main", KEY, SECRET, clock=wall_clock, base_url=sim.base_url)
    with live_ingest(store, feed):
        assert sim.wait_readers(1, timeout=10)
        assert client(sim).place(market("decision-live", qty="0.3")).placed
        wait_for(
            "the journal to hold the filled order",
            lambda: exchange_sizes(store, "aster", "main") == {"BTCUSDT": Decimal("0.3")},
        )
