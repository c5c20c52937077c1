"""ccxt lines (venue ``ccxt:<exchange-id>``) decoded: ccxt's unified Position, Order and Trade
structures, as ccxt's manual documents them, into the neutral vocabulary; its exceptions
classified as the other venues' errors are."""

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.domain.events import (
    ExecutionsReported,
    InputRejected,
    OrdersReported,
    PositionsReported,
    RejectionKind,
)
from trueup.domain.vocabulary import (
    ContractKind,
    MarginMode,
    OrderSide,
    OrderStatus,
    PositionSide,
)

AT = 1_762_199_300_000
VENUE = "ccxt:binanceusdm"


def line(endpoint: str, data: Any, channel: str = "rest", **extra: Any) -> bytes:
    record = {"at": AT, "venue": VENUE, "account": "main", "channel": channel}
    return orjson.dumps({**record, "endpoint": endpoint, "params": {}, **extra, "data": data})


# The manual's Position Structure, one of each side, a contract size of 10.
POSITION = {
    "info": {"symbol": "BTCUSDT"},
    "id": "1234323",
    "symbol": "BTC/USDT:USDT",
    "timestamp": 1_762_199_200_000,
    "datetime": "2025-11-03T19:46:40.000Z",
    "isolated": True,
    "hedged": False,
    "side": "long",
    "contracts": 5,
    "contractSize": 10,
    "entryPrice": 20000.5,
    "markPrice": 20050,
    "notional": 1002500,
    "leverage": 100,
    "collateral": 5300,
    "initialMargin": 5000,
    "maintenanceMargin": 1000,
    "initialMarginPercentage": 0.05,
    "maintenanceMarginPercentage": 0.01,
    "unrealizedPnl": 2495,
    "liquidationPrice": 19850,
    "marginMode": "isolated",
    "percentage": 3.32,
}
ORDER = {
    "id": "12345-67890:09876/54321",
    "clientOrderId": "abcdef-ghijklmnop-qrstuvwxyz",
    "datetime": "2025-11-03T19:46:40.000Z",
    "timestamp": 1_762_199_200_000,
    "lastTradeTimestamp": 1_762_199_250_000,
    "status": "open",
    "symbol": "ETH/USDT:USDT",
    "type": "limit",
    "timeInForce": "GTC",
    "side": "buy",
    "price": 0.06917684,
    "average": 0.06917684,
    "amount": 1.5,
    "filled": 1.1,
    "remaining": 0.4,
    "cost": 0.076094524,
    "trades": [],
    "fee": {"currency": "USDT", "cost": 0.0009, "rate": 0.002},
    "reduceOnly": False,
    "info": {},
}
TRADE = {
    "info": {},
    "id": "12345-67890:09876/54321",
    "timestamp": 1_502_962_946_216,
    "datetime": "2017-08-17 12:42:48.000",
    "symbol": "ETH/USDT:USDT",
    "order": "12345-67890:09876/54321",
    "type": "limit",
    "side": "sell",
    "takerOrMaker": "taker",
    "price": 0.06917684,
    "amount": 1.5,
    "cost": 0.10376526,
    "fee": {"cost": 0.0015, "currency": "USDT", "rate": 0.002},
}


def test_fetch_positions_is_a_complete_snapshot_of_contracts_times_their_size() -> None:
    event = decode_line(line("fetchPositions", [POSITION]))
    assert isinstance(event, PositionsReported)
    assert event.venue == VENUE and event.source == "rest"
    assert event.snapshot is not None and event.snapshot.symbol is None  # every symbol
    (report,) = event.reports
    assert report.symbol == "BTC/USDT:USDT"
    assert (report.side, report.size, report.position_idx) == (PositionSide.LONG, Decimal(50), 0)
    assert report.entry_price == Decimal("20000.5")
    assert report.mark_price == 20050 and report.liq_price == 19850
    assert report.unrealised_pnl == 2495 and report.leverage == 100
    assert report.initial_margin == 5000 and report.maintenance_margin == 1000
    assert report.margin_mode is MarginMode.ISOLATED
    assert report.updated_time == 1_762_199_200_000 and report.seq is None


def test_a_symbol_fetch_positions_no_longer_lists_is_flat_by_omission() -> None:
    event = decode_line(line("fetchPositions", []))
    assert isinstance(event, PositionsReported)
    assert event.reports == () and event.snapshot is not None


def test_hedged_positions_are_legs_one_long_and_two_short() -> None:
    short = {**POSITION, "hedged": True, "side": "short", "contracts": 2}
    long = {**POSITION, "hedged": True}
    event = decode_line(line("fetchPositions", [long, short]))
    assert isinstance(event, PositionsReported)
    legs = {(r.position_idx, r.side, r.size) for r in event.reports}
    assert legs == {(1, PositionSide.LONG, Decimal(50)), (2, PositionSide.SHORT, Decimal(20))}


def test_a_position_without_times_is_as_of_the_line_and_a_side_left_null_is_the_info_sign() -> None:
    # ccxt's aster parser leaves side null in one-way mode; info.positionAmt says which way.
    item = {**POSITION, "side": None, "timestamp": None, "info": {"positionAmt": "-0.5"}}
    event = decode_line(line("fetchPositions", [item]))
    assert isinstance(event, PositionsReported)
    assert event.reports[0].side is PositionSide.SHORT
    assert event.reports[0].updated_time == AT


def test_open_orders_map_ccxts_unified_status_and_count_contracts() -> None:
    sizes = {"ETH/USDT:USDT": "10"}
    event = decode_line(line("fetchOpenOrders", [ORDER], contractSizes=sizes))
    assert isinstance(event, OrdersReported)
    (order,) = event.orders
    assert order.venue_order_id == ORDER["id"]
    assert order.client_order_id == ORDER["clientOrderId"]
    assert order.side is OrderSide.BUY
    assert order.status is OrderStatus.PARTIALLY_FILLED  # open, partly filled
    assert (order.qty, order.cum_exec_qty) == (Decimal(15), Decimal(11))
    assert order.price == Decimal("0.06917684") and order.cum_exec_fee == Decimal("0.0009")
    assert (order.created_time, order.updated_time) == (1_762_199_200_000, 1_762_199_250_000)


@pytest.mark.parametrize(
    ("status", "filled", "trigger", "expected"),
    [
        ("open", 0, None, OrderStatus.ACCEPTED),
        ("open", 0, 1900, OrderStatus.PENDING_TRIGGER),
        ("closed", 1.5, None, OrderStatus.FILLED),
        ("canceled", 0, None, OrderStatus.CANCELED),
        ("expired", 0, None, OrderStatus.CANCELED),
        ("rejected", 0, None, OrderStatus.REJECTED),
    ],
)
def test_each_unified_order_status(
    status: str, filled: float, trigger: int | None, expected: OrderStatus
) -> None:
    item = {**ORDER, "status": status, "filled": filled, "triggerPrice": trigger}
    event = decode_line(line("fetchOpenOrders", [item]))
    assert isinstance(event, OrdersReported)
    assert event.orders[0].status is expected


def test_an_order_status_ccxt_does_not_define_refuses_the_line() -> None:
    event = decode_line(line("fetchOpenOrders", [{**ORDER, "status": "pending"}]))
    assert isinstance(event, InputRejected) and event.kind is RejectionKind.MALFORMED


def test_my_trades_are_fills_with_their_fee() -> None:
    event = decode_line(line("fetchMyTrades", [TRADE]))
    assert isinstance(event, ExecutionsReported)
    (fill,) = event.fills
    assert fill.trade_id == TRADE["id"] and fill.venue_order_id == TRADE["order"]
    assert fill.side is OrderSide.SELL
    assert (fill.exec_price, fill.exec_qty) == (Decimal("0.06917684"), Decimal("1.5"))
    assert fill.exec_fee == Decimal("0.0015")
    assert fill.exec_time == 1_502_962_946_216
    assert fill.position_idx is None  # the ledger finds the leg


@pytest.mark.parametrize(
    ("symbol", "kind", "counted_in"),
    [
        ("BTC/USDT:USDT", ContractKind.LINEAR, "USDT"),
        ("BTC/USDT:USDT-241231", ContractKind.LINEAR, "USDT"),  # a dated future
        # Settled in its base coin: its contracts are each a number of USD.
        ("BTC/USD:BTC", ContractKind.INVERSE, "USD"),
        ("BTC/USD:BTC-241231", ContractKind.INVERSE, "USD"),
        # An option: what its premium is worth, in a coin trueup cannot tell.
        ("BTC/USD:BTC-241227-60000-C", ContractKind.OPTION, None),
        ("ETH/USDC:USDC-241227-2500.5-P", ContractKind.OPTION, None),
    ],
)
def test_a_contract_is_sized_and_counted_as_its_unified_name_says(
    symbol: str, kind: ContractKind, counted_in: str | None
) -> None:
    """ccxt's manual names contracts BASE/QUOTE:SETTLE[-YYMMDD[-STRIKE-C|P]]: a position and
    a fill on each are sized, and their notional counted, as that name says."""
    positions = decode_line(line("fetchPositions", [{**POSITION, "symbol": symbol}]))
    trades = decode_line(line("fetchMyTrades", [{**TRADE, "symbol": symbol}]))
    assert isinstance(positions, PositionsReported) and isinstance(trades, ExecutionsReported)
    (report,), (fill,) = positions.reports, trades.fills
    assert (report.contract_kind, report.notional_coin) == (kind, counted_in)
    assert (fill.contract_kind, fill.notional_coin) == (kind, counted_in)


@pytest.mark.parametrize(
    "symbol",
    ["BTC/USDT:USDT", "BTC/USDT:USDT-241231", "BTC/USD:BTC", "BTC/USD:BTC-241227-60000-C"],
)
def test_a_contract_stored_before_it_was_read_off_its_name_reads_as_one_stored_now(
    symbol: str,
) -> None:
    """Until d450c41 a contract was counted in what followed its name's colon (a dated
    future's "USDT-241231", an inverse one's base coin, an option's whole tail) and sized as
    linear: a report or fill so stored is counted again as it is read."""
    lines = [
        line("fetchPositions", [{**POSITION, "symbol": symbol}]),
        line("fetchMyTrades", [{**TRADE, "symbol": symbol}]),
    ]
    then = orjson.dumps(symbol.partition(":")[2])
    for event in map(decode_line, lines):
        stored = codec.encode(event)
        older = re.sub(rb',"contract_kind":"[a-z]+"', b"", stored)
        older = re.sub(rb'"notional_coin":(null|"[^"]*")', b'"notional_coin":' + then, older)
        assert b'"notional_coin":' + then in older and b"contract_kind" not in older
        assert codec.decode(older) == event
        assert codec.decode(stored) == event


def error(classes: list[str], status: int) -> bytes:
    failure = {"classes": classes, "message": "binanceusdm GET https://fapi.binance.com/x"}
    record = {"at": AT, "venue": VENUE, "account": "main", "channel": "rest"}
    return orjson.dumps(
        {**record, "endpoint": "fetchPositions", "status": status, "error": failure}
    )


@pytest.mark.parametrize(
    ("classes", "status", "kind"),
    [
        (["RateLimitExceeded", "NetworkError", "OperationFailed", "BaseError"], 429, "rate"),
        (["DDoSProtection", "NetworkError", "OperationFailed", "BaseError"], 403, "rate"),
        (["RequestTimeout", "NetworkError", "OperationFailed", "BaseError"], 0, "unreachable"),
        (
            ["ExchangeNotAvailable", "NetworkError", "OperationFailed", "BaseError"],
            503,
            "unreachable",
        ),
        (["AuthenticationError", "ExchangeError", "BaseError"], 401, "error_reply"),
        (["BadSymbol", "BadRequest", "ExchangeError", "BaseError"], 400, "error_reply"),
    ],
)
def test_ccxts_exceptions_are_classified_as_the_other_venues_errors(
    classes: list[str], status: int, kind: str
) -> None:
    event = decode_line(error(classes, status))
    assert isinstance(event, InputRejected)
    expected = {
        "rate": RejectionKind.RATE_LIMITED,
        "unreachable": RejectionKind.UNREACHABLE,
        "error_reply": RejectionKind.ERROR_REPLY,
    }[kind]
    assert event.kind is expected
    assert event.position_snapshot  # a refused fetchPositions proves no snapshot
    assert classes[0] in event.reason


def test_ccxt_with_no_exchange_id_and_an_unread_method_are_refused() -> None:
    bare = orjson.dumps(
        {
            "at": AT,
            "venue": "ccxt",
            "account": "a",
            "channel": "rest",
            "endpoint": "fetchPositions",
            "data": [],
        }
    )
    assert isinstance(decode_line(bare), InputRejected)
    unread = decode_line(line("fetchBalance", []))
    assert isinstance(unread, InputRejected) and unread.kind is RejectionKind.UNKNOWN


def test_the_documented_ccxt_lines_decode_as_docs_capture_format_says() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "capture-format.md").read_text()
    section = docs.split("## ws and rest: ccxt", 1)[1].split("\n## ", 1)[0]
    block = section.split("```json\n", 1)[1].split("```", 1)[0]
    positions, trades, limited = (decode_line(text) for text in block.splitlines())
    assert isinstance(positions, PositionsReported)
    assert [(r.symbol, r.side, r.size) for r in positions.reports] == [
        ("BTC/USDT:USDT", PositionSide.LONG, Decimal("0.5"))
    ]
    assert isinstance(trades, ExecutionsReported) and trades.fills[0].exec_fee == Decimal("17.5")
    assert isinstance(limited, InputRejected) and limited.kind is RejectionKind.RATE_LIMITED
