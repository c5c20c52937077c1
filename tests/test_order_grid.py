"""Orders on the venue's grid: a decided quantity is rounded down to the lot step (never
more than decided, which a reduce-only order could not take), refused below the minimum;
a limit price rounded away from the market's side of it, a market order's worst price
towards it; an order worth less than the venue's minimum value refused unsent (but for a
reduce-only one); through the Bybit client against instruments-info, and the Hyperliquid
client against the meta, each venue's simulator refusing what the venue refuses."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange

from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.hyperliquid.orders import HyperliquidOrders
from trueup.adapters.orders import Grid, OrderRequest, OrderType, Side
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

D = Decimal
BTC = Grid(D("0.001"), D("0.001"), D("0.1"))
HL_BTC = Grid(D("0.00001"), D("0.00001"), D("0.1"), price_figures=5, min_value=D(10))
HL_KEY = "0x" + "33" * 32
HL_USER = Account.from_key(HL_KEY).address


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


def test_a_minimum_value_holds_an_order_that_may_open_not_one_against_its_hedge_leg() -> None:
    aster = Grid(D("0.001"), D("0.001"), D("0.01"), min_value=D(5))
    cheap = {"order_type": OrderType.LIMIT, "price": D("1000")}  # 0.004 at 1000: worth 4
    assert aster.fit(request("0.004", Side.BUY, **cheap)) == (
        "0.004 BTCUSDT at 1000 is worth 4, below the venue's minimum order value of 5"
    )
    for reducing in ({"reduce_only": True}, {"position_idx": 1}):  # a sell of the long leg
        assert isinstance(aster.fit(request("0.004", Side.SELL, **cheap, **reducing)), OrderRequest)
    assert isinstance(aster.fit(request("0.004", Side.SELL, **cheap, position_idx=2)), str)
    assert isinstance(aster.fit(request("0.005", Side.BUY, **cheap)), OrderRequest)


def test_significant_figures_count_where_the_venue_counts_them() -> None:
    found = HL_BTC.fit(request("0.5", Side.SELL, price=D("95123.45")))
    assert isinstance(found, OrderRequest) and found.price == D("95123")
    # Never coarser than a whole number: an integer price is valid whatever its figures.
    whole = HL_BTC.fit(request("0.5", Side.BUY, price=D("123456.2")))
    assert isinstance(whole, OrderRequest) and whole.price == D("123457")  # a buy's worst: up


def test_an_order_worth_less_than_the_minimum_value_is_refused_unless_reduce_only() -> None:
    refused = HL_BTC.fit(request("0.0001", Side.BUY, order_type=OrderType.LIMIT, price=D("95000")))
    assert refused == (
        "0.0001 BTCUSDT at 95000 is worth 9.5, below the venue's minimum order value of 10"
    )
    worth_ten = HL_BTC.fit(request("0.0001", Side.BUY, price=D("100000")))
    assert isinstance(worth_ten, OrderRequest)
    closing = HL_BTC.fit(request("0.0001", Side.SELL, price=D("95000"), reduce_only=True))
    assert isinstance(closing, OrderRequest) and closing.qty == D("0.0001")


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
    assert too_small.refusal is RefusalKind.UNSENDABLE and "below its minimum" in too_small.reason
    assert len(sim.read(lambda book: list(book.orders.values()))) == 1  # never sent


@pytest.fixture
def hl() -> Iterator[HyperliquidSimulator]:
    with HyperliquidSimulator() as simulator:
        simulator.authorize(HL_USER)
        simulator.move_mark("BTC", "95000")
        yield simulator


def test_the_hyperliquid_client_refuses_unsent_an_order_below_ten_dollars(
    hl: HyperliquidSimulator,
) -> None:
    orders = HyperliquidOrders(HL_KEY, base_url=hl.base_url)
    too_small = orders.place(
        OrderRequest(client_order_id("f"), "BTC", Side.BUY, D("0.0001"), price=D("96000"))
    )
    assert too_small.refusal is RefusalKind.UNSENDABLE
    assert "below the venue's minimum order value of 10" in too_small.reason
    assert hl.open_orders(HL_USER) == [] and hl.user_fills(HL_USER) == []  # never sent
    placed = orders.place(
        OrderRequest(client_order_id("g"), "BTC", Side.BUY, D("0.0002"), price=D("96000.37"))
    )
    assert (placed.outcome, placed.qty) == (PlacementOutcome.ACCEPTED, D("0.0002"))
    (fill,) = hl.user_fills(HL_USER)
    assert fill["sz"] == "0.0002"


@pytest.mark.parametrize(
    ("size", "price", "error"),
    [
        (0.0001, 95000.0, "Order must have minimum value of $10. asset=0"),
        (0.001, 95000.5, "Price must be divisible by tick size. asset=0"),  # 6 figures
        (0.001, 9500.25, "Price must be divisible by tick size. asset=0"),  # 2 > 6 - 5 decimals
    ],
)
def test_the_hyperliquid_simulator_refuses_what_hyperliquid_refuses(
    hl: HyperliquidSimulator, size: float, price: float, error: str
) -> None:
    exchange = Exchange(Account.from_key(HL_KEY), base_url=hl.base_url)
    answer = exchange.order("BTC", True, size, price, {"limit": {"tif": "Gtc"}})
    assert answer["response"]["data"]["statuses"] == [{"error": error}]
    assert hl.open_orders(HL_USER) == []
