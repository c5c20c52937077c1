"""Orders on the venue's grid: a decided quantity is rounded down to the lot step (never
more than decided, which a reduce-only order could not take), refused below the minimum;
a limit price rounded away from the market's side of it, a market order's worst price
towards it; through the Bybit client against instruments-info."""

from collections.abc import Iterator
from decimal import Decimal

import pytest

from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.orders import Grid, OrderRequest, OrderType, Side
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup_simulators.bybit.simulator import BybitSimulator

D = Decimal
BTC = Grid(D("0.001"), D("0.001"), D("0.1"))
HL_BTC = Grid(D("0.00001"), D("0.00001"), D("0.1"), price_figures=5)


def request(qty: str, side: Side = Side.SELL, **more: object) -> OrderRequest:
    return OrderRequest(client_order_id("d"), "BTCUSDT", side, D(qty), **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("side", "order_type", "price", "fitted"),
    [
        (Side.BUY, OrderType.LIMIT, "106250.07", "106250"),  # a buy's limit: lower
        (Side.SELL, OrderType.LIMIT, "106250.03", "106250.1"),  # a sell's limit: higher
        (Side.BUY, OrderType.MARKET, "106250.03", "106250.1"),  # a buy's worst: higher
        (Side.SELL, OrderType.MARKET, "106250.07", "106250"),  # a sell's worst: lower
    ],
)
def test_prices_round_to_the_tick_never_tighter_than_decided(
    side: Side, order_type: OrderType, price: str, fitted: str
) -> None:
    found = BTC.fit(request("0.1", side, order_type=order_type, price=D(price)))
    assert isinstance(found, OrderRequest) and found.price == D(fitted)


def test_a_quantity_rounds_down_to_the_step_and_below_the_minimum_is_refused() -> None:
    found = BTC.fit(request("0.3759"))
    assert isinstance(found, OrderRequest) and found.qty == D("0.375")
    refused = BTC.fit(request("0.0009"))
    assert refused == (
        "0.0009 BTCUSDT rounds down to 0 on the venue's step of 0.001, below its minimum "
        "order of 0.001"
    )


def test_whole_numbers_on_the_grid_are_written_with_their_digits() -> None:
    # A venue reads "10", never "1E+1" (what Decimal's normalize() would write).
    found = Grid(D(1), D(1), D(10)).fit(request("10.7", Side.BUY, price=D("1000")))
    assert isinstance(found, OrderRequest)
    assert (str(found.qty), str(found.price)) == ("10", "1000")


def test_a_minimum_notional_holds_an_order_that_may_open_not_one_that_only_reduces() -> None:
    aster = Grid(D("0.001"), D("0.001"), D("0.01"), min_notional=D(5))
    cheap = {"order_type": OrderType.LIMIT, "price": D("1000")}  # 0.004 at 1000: worth 4
    assert aster.fit(request("0.004", Side.BUY, **cheap)) == (
        "0.004 BTCUSDT at 1000 is worth 4, below the venue's minimum order of 5 "
        "(unless reduce-only)"
    )
    for reducing in ({"reduce_only": True}, {"position_idx": 1}):  # a sell of the long leg
        assert isinstance(aster.fit(request("0.004", Side.SELL, **cheap, **reducing)), OrderRequest)
    assert isinstance(aster.fit(request("0.004", Side.SELL, **cheap, position_idx=2)), str)
    assert isinstance(aster.fit(request("0.005", Side.BUY, **cheap)), OrderRequest)


def test_significant_figures_count_where_the_venue_counts_them() -> None:
    found = HL_BTC.fit(request("0.5", Side.SELL, price=D("95123.45")))
    assert isinstance(found, OrderRequest) and found.price == D("95123")


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key="grid-key-0000", api_secret="grid-secret-0000") as simulator:
        simulator.set_instrument("BTCUSDT", qty_step="0.01", min_qty="0.01", tick_size="0.5")
        simulator.move_mark("BTCUSDT", "100000")
        yield simulator


def test_the_bybit_client_fits_what_it_sends_and_says_what_it_sent(sim: BybitSimulator) -> None:
    orders = BybitOrders("grid-key-0000", "grid-secret-0000", base_url=sim.base_url)
    placed = orders.place(request("0.3759", Side.BUY))
    assert (placed.outcome, placed.qty) == (PlacementOutcome.ACCEPTED, D("0.37"))
    [order] = sim.read(lambda book: list(book.orders.values()))
    assert order.qty == D("0.37")
    too_small = orders.place(OrderRequest(client_order_id("e"), "BTCUSDT", Side.BUY, D("0.004")))
    assert too_small.refusal is RefusalKind.INVALID and "below its minimum" in too_small.reason
    assert len(sim.read(lambda book: list(book.orders.values()))) == 1  # never sent
