"""Aster capture lines become the domain's events; bad ones are kept rejected, never read flat.

The golden cases decode Aster's own documented examples (tests/fixtures/aster-documented.json,
each citing its section of venue-docs/aster/); the others are built in the same formats by
trueup.adapters.aster.messages.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trueup.adapters.aster import messages
from trueup.adapters.capture import decode_line
from trueup.adapters.market_data import capture_market
from trueup.domain.book import fold
from trueup.domain.emitted import PositionClosed, PositionSyncFailed, RateLimit
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    InputRejected,
    OrdersReported,
    PositionsReported,
    PricesReported,
    RejectionKind,
    StreamDown,
    WalletReported,
)
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.position import ABSENT
from trueup.domain.reconciler import Reconciler, reconcile
from trueup.domain.rules.can_open_facts import can_open
from trueup.domain.vocabulary import (
    ExecutionKind,
    MarginMode,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionSide,
)

JSON = dict[str, Any]
ACCOUNT = "main"
T0 = 1_762_199_100_000
RISK = "/fapi/v2/positionRisk"
DOCUMENTED: JSON = json.loads(
    (Path(__file__).parent / "fixtures" / "aster-documented.json").read_text()
)


def documented(name: str) -> Any:
    return DOCUMENTED[name]["payload"]


def key(symbol: str = "BTCUSDT", idx: int = 0) -> PositionKey:
    return PositionKey("aster", ACCOUNT, "perp", symbol, idx)


def decode(record: JSON) -> InputEvent:
    return decode_line(orjson.dumps(record))


def rejected(record: JSON) -> InputRejected:
    event = decode(record)
    assert isinstance(event, InputRejected), event
    return event


def ws(at: int, event: JSON) -> JSON:
    return messages.capture_ws(at, ACCOUNT, event)


def rest(at: int, endpoint: str, body: Any, **params: Any) -> JSON:
    return messages.capture_rest(at, ACCOUNT, endpoint, params, body)


def risk_line(at: int, *entries: JSON) -> JSON:
    return rest(at, RISK, list(entries))


def btc_risk(amount: str, update_time: int, side: str = "BOTH") -> JSON:
    return messages.position_risk(
        symbol="BTCUSDT",
        position_amt=amount,
        update_time=update_time,
        position_side=side,
        entry_price="65000.0" if amount.strip("-0.") else "0.00000",
        mark_price="65100.0",
    )


def position_update(event_time: int, amount: str, side: str = "BOTH", **fields: Any) -> JSON:
    position = messages.account_position(
        symbol="BTCUSDT", amount=amount, entry_price="65000.0", position_side=side
    )
    return messages.account_update(
        event_time=event_time,
        transaction_time=fields.pop("transaction_time", event_time - 1),
        reason="ORDER",
        balances=[messages.balance("USDT", "1000.0")],
        positions=[position | fields],
    )


def trade_update(at: int, **fields: Any) -> JSON:
    defaults: JSON = {
        "event_time": at,
        "transaction_time": at - 1,
        "symbol": "BTCUSDT",
        "order_id": 7,
        "side": "BUY",
        "qty": "0.5",
        "execution_type": "TRADE",
        "status": "FILLED",
        "last_qty": "0.5",
        "last_price": "65000.0",
        "filled_qty": "0.5",
        "avg_price": "65000.0",
        "commission": "13.0",
        "trade_id": 70,
        "realized_profit": "0",
    }
    return messages.order_trade_update(**(defaults | fields))


def opened(at: int, qty: str = "0.5", side: str = "Buy", idx: int = 0) -> JSON:
    intent = {
        "kind": "position_opened",
        "position_id": "p-1",
        "category": "perp",
        "symbol": "BTCUSDT",
        "position_idx": idx,
        "side": side,
        "qty": qty,
        "mode": "LIVE",
    }
    return messages.capture_intent(at, ACCOUNT, intent)


# --- the user data stream: Aster's documented events ---------------------------------------


def test_a_balance_and_position_update_reports_each_leg_as_of_its_transaction_time() -> None:
    event = decode(ws(T0, documented("account_update")))
    assert isinstance(event, PositionsReported) and event.snapshot is None
    assert event.source == "ws" and event.wallet is None
    both, long, short = event.reports
    assert [(r.position_idx, r.side, r.size) for r in event.reports] == [
        (0, PositionSide.FLAT, Decimal(0)),
        (1, PositionSide.LONG, Decimal(20)),
        (2, PositionSide.SHORT, Decimal(10)),
    ]
    assert (short.seq, short.updated_time) == (None, 1564745798938)
    assert short.entry_price == Decimal("6563.86000")
    # "cr" (-45.04) is before fees: not the fees-and-funding figure PNL_MISMATCH checks.
    assert short.cum_realised_pnl is None
    assert short.unrealised_pnl == Decimal("-1423.15600")
    assert long.margin_mode is MarginMode.ISOLATED
    assert long.initial_margin == Decimal("13200.70726908")
    assert both.symbol == "BTCUSDT" and both.category == "perp"


def test_an_order_update_reports_the_order_and_a_trailing_stop_waits_for_its_trigger() -> None:
    event = decode(ws(T0, documented("order_trade_update")))
    assert isinstance(event, OrdersReported)
    (order,) = event.orders
    assert (order.venue_order_id, order.client_order_id) == ("8886774", "TEST")
    assert (order.side, order.position_idx) == (OrderSide.SELL, 1)
    assert order.status is OrderStatus.PENDING_TRIGGER
    assert order.origin is OrderOrigin.TRAILING_STOP
    assert (order.qty, order.trigger_price, order.price) == (
        Decimal("0.001"),
        Decimal("7103.04"),
        None,
    )
    assert order.updated_time == 1568879465650


def test_a_trade_update_carries_the_fill_and_the_orders_new_status_together() -> None:
    event = decode(ws(T0 + 5, trade_update(T0 + 5, client_order_id="bot-1")))
    assert isinstance(event, ExecutionsReported)
    (fill,) = event.fills
    (order,) = event.orders
    assert (fill.trade_id, fill.venue_order_id, fill.client_order_id) == ("70", "7", "bot-1")
    assert (fill.side, fill.kind, fill.position_idx) == (OrderSide.BUY, ExecutionKind.TRADE, 0)
    assert (fill.exec_qty, fill.exec_price, fill.exec_fee) == (
        Decimal("0.5"),
        Decimal("65000.0"),
        Decimal("13.0"),
    )
    assert fill.realised_pnl == Decimal(0) and fill.exec_time == T0 + 4
    assert order.status is OrderStatus.FILLED and order.cum_exec_qty == Decimal("0.5")
    book = fold("aster", ACCOUNT, [event, event])
    held = book.orders[OrderKey("perp", "BTCUSDT", "7")]
    assert held.is_terminal and held.filled_qty == Decimal("0.5") and len(held.fills) == 1


def test_a_partial_fill_then_the_rest_counts_each_trade_once_and_ends_the_order() -> None:
    first = trade_update(T0 + 1, status="PARTIALLY_FILLED", last_qty="0.2", filled_qty="0.2")
    second = trade_update(T0 + 2, trade_id=71, last_qty="0.3", filled_qty="0.5")
    events = [decode(ws(T0 + 2, second)), decode(ws(T0 + 1, first)), decode(ws(T0 + 3, first))]
    held = fold("aster", ACCOUNT, events).orders[OrderKey("perp", "BTCUSDT", "7")]
    assert held.status is OrderStatus.FILLED
    assert held.filled_qty == Decimal("0.5") and sorted(held.fills) == ["70", "71"]


@pytest.mark.parametrize(
    ("client_order_id", "execution", "origin", "kind"),
    [
        ("autoclose-1596107620040000020", "TRADE", OrderOrigin.LIQUIDATION, ExecutionKind.TRADE),
        ("adl_autoclose", "TRADE", OrderOrigin.ADL, ExecutionKind.TRADE),
        ("autoclose-1", "CALCULATED", OrderOrigin.LIQUIDATION, ExecutionKind.LIQUIDATION),
        ("adl_autoclose", "CALCULATED", OrderOrigin.ADL, ExecutionKind.ADL),
        ("bot-1", "TRADE", OrderOrigin.CLIENT, ExecutionKind.TRADE),
    ],
)
def test_the_liquidation_and_adl_engines_orders_are_known_by_their_client_order_ids(
    client_order_id: str, execution: str, origin: OrderOrigin, kind: ExecutionKind
) -> None:
    update = trade_update(T0, client_order_id=client_order_id, execution_type=execution)
    event = decode(ws(T0, update))
    assert isinstance(event, ExecutionsReported)
    assert (event.fills[0].origin, event.fills[0].kind) == (origin, kind)
    assert event.orders[0].origin is origin


@pytest.mark.parametrize(
    ("client_order_id", "exit_reason"),
    [("autoclose-1596107620040000020", "LIQUIDATION"), ("adl_autoclose", "ADL"), ("", "MANUAL")],
)
def test_a_close_by_the_venues_engines_is_reported_with_their_exit_reason(
    client_order_id: str, exit_reason: str
) -> None:
    close = trade_update(
        T0 + 3, side="SELL", client_order_id=client_order_id, realized_profit="-40.0"
    )
    events = [
        decode(opened(T0)),
        decode(ws(T0 + 1, position_update(T0 + 1, "0.5"))),
        decode(ws(T0 + 3, close)),
        decode(ws(T0 + 4, position_update(T0 + 4, "0"))),
    ]
    closed = [e for e in reconcile(events) if isinstance(e, PositionClosed)]
    assert [(e.position_id, e.exit_reason) for e in closed] == [("p-1", exit_reason)]


def test_an_older_update_arriving_late_never_overwrites_a_newer_one() -> None:
    newer = decode(ws(T0 + 2, position_update(T0 + 20, "0.3")))
    older = decode(ws(T0 + 3, position_update(T0 + 10, "0.5")))
    for events in ([newer, older], [older, newer]):
        assert fold("aster", ACCOUNT, events).positions[key()].exchange_qty == Decimal("0.3")


def test_a_push_delayed_is_ordered_by_its_transaction_not_by_when_it_was_pushed() -> None:
    newer = decode(ws(T0 + 2, position_update(T0 + 21, "0.3", transaction_time=T0 + 20)))
    delayed = decode(ws(T0 + 3, position_update(T0 + 30, "0.5", transaction_time=T0 + 10)))
    for events in ([newer, delayed], [delayed, newer]):
        assert fold("aster", ACCOUNT, events).positions[key()].exchange_qty == Decimal("0.3")


def test_a_funding_update_without_positions_reports_none() -> None:
    update = messages.account_update(
        event_time=T0,
        transaction_time=T0,
        reason="FUNDING_FEE",
        balances=[messages.balance("USDT", "999.5", "-0.5")],
        positions=[],
    )
    event = decode(ws(T0, update))
    assert isinstance(event, PositionsReported) and event.reports == ()


def test_a_margin_call_gives_the_mark_price_and_never_a_position_size() -> None:
    event = decode(ws(T0, documented("margin_call")))
    assert isinstance(event, PricesReported)
    (quote,) = event.quotes
    assert (quote.symbol, quote.mark, quote.venue_time) == (
        "ETHUSDT",
        Decimal("187.17127"),
        1587727187525,
    )
    book = fold("aster", ACCOUNT, [event])
    assert book.positions == {}


def test_a_close_all_order_names_no_quantity_and_fills_whatever_is_held() -> None:
    update = _frame_with(trade_update(T0, reduce_only=True), "o", q="0", z="0.5", cp=True)
    event = decode(ws(T0, update))
    assert isinstance(event, ExecutionsReported)
    ((order,), (fill,)) = event.orders, event.fills
    assert (order.qty, order.cum_exec_qty, fill.exec_qty) == (
        Decimal(0),
        Decimal("0.5"),
        Decimal("0.5"),
    )


def test_an_expired_listen_key_is_the_stream_going_down_not_a_position_fact() -> None:
    event = decode(ws(T0, documented("listen_key_expired")))
    assert isinstance(event, StreamDown)
    assert (event.stream, event.reason) == ("private", "listenKeyExpired")
    reconciler = Reconciler()
    assert reconciler.apply(event) == []
    book = reconciler.book("aster", ACCOUNT)
    assert book.stream_down == (T0, "listenKeyExpired") and book.positions == {}


# --- REST replies --------------------------------------------------------------------------


def test_position_risk_is_a_complete_snapshot_of_every_leg_it_lists() -> None:
    event = decode(rest(T0, RISK, documented("position_risk_one_way")))
    assert isinstance(event, PositionsReported) and event.snapshot is not None
    (flat,) = event.reports
    assert (flat.side, flat.size, flat.position_idx) == (PositionSide.FLAT, Decimal(0), 0)
    assert flat.mark_price == Decimal("6679.50671178") and flat.liq_price is None
    page = event.snapshot
    assert (page.category, page.symbol, page.cursor, page.next_cursor) == ("perp", None, "", "")
    assert page.server_time == T0


def test_hedge_mode_legs_are_position_idx_1_and_2_as_bybits() -> None:
    event = decode(rest(T0, "/fapi/v3/positionRisk", documented("position_risk_hedge")))
    assert isinstance(event, PositionsReported)
    long, short = event.reports
    assert (long.position_idx, long.side, long.size) == (1, PositionSide.LONG, Decimal("20.000"))
    assert (short.position_idx, short.side, short.signed_size) == (
        2,
        PositionSide.SHORT,
        Decimal("-10.000"),
    )
    assert long.updated_time == 1625474304765
    # The page shows updateTime 0 on a held leg: taken as of the reply.
    assert short.updated_time == T0
    assert long.liq_price == Decimal("5930.78") and long.leverage == Decimal(10)
    assert long.position_value == Decimal("20.000") * Decimal("6679.50671178")


def test_a_leg_a_complete_snapshot_leaves_out_is_folded_flat() -> None:
    events = [
        decode(ws(T0 + 1, position_update(T0 + 1, "0.5", side="LONG"))),
        decode(risk_line(T0 + 10_000, btc_risk("0", T0 + 5))),
    ]
    book = fold("aster", ACCOUNT, events)
    assert book.positions[key(idx=1)].exchange_qty == 0
    assert book.positions[key(idx=1)].exchange.status == ABSENT  # type: ignore[union-attr]


def test_a_leg_left_out_of_a_list_served_just_after_its_push_is_still_held() -> None:
    # positionRisk is served apart from the user stream: 150 ms after the push of a leg, its
    # omission may be its lag behind the push, not a close.
    events = [
        decode(ws(T0 + 1, position_update(T0 + 1, "0.5", side="LONG"))),
        decode(risk_line(T0 + 151, btc_risk("0", T0 + 5))),
    ]
    assert fold("aster", ACCOUNT, events).positions[key(idx=1)].exchange_qty == Decimal("0.5")


def test_a_leg_left_out_just_after_its_push_is_held_whatever_the_clocks_say() -> None:
    # positionRisk names no server time: its receipt is weighed against the push's receipt,
    # not against the push's time on Aster's clock, here 6 s behind the local one.
    events = [
        decode(ws(T0 + 6_001, position_update(T0 + 1, "0.5", side="LONG"))),
        decode(risk_line(T0 + 6_151, btc_risk("0", T0 + 5))),
    ]
    assert fold("aster", ACCOUNT, events).positions[key(idx=1)].exchange_qty == Decimal("0.5")


def test_a_fill_left_out_of_a_list_received_just_after_it_is_held_whatever_the_clocks_say() -> None:
    # positionRisk names no server time, so its receipt stands for when it was served: 6.15 s
    # after the fill by Aster's clock, 6 s behind the local one, yet 150 ms by receipt. The
    # position trueup's fills opened, its push lost, is still held: can-open says no.
    reconciler = Reconciler()
    for event in (
        decode(risk_line(T0, btc_risk("0", 0))),
        decode(ws(T0 + 6_001, trade_update(T0 + 1))),
        decode(risk_line(T0 + 6_151, btc_risk("0", 0))),
    ):
        reconciler.apply(event)
    book, detectors = reconciler.book("aster", ACCOUNT), reconciler.detectors("aster", ACCOUNT)
    verdict = can_open(book, detectors, "BTCUSDT", T0 + 6_200)
    assert not verdict.allowed
    assert verdict.reasons[0].startswith("trueup's fills opened LONG 0.5 BTCUSDT")


def test_a_manual_close_seen_only_in_a_snapshot_closes_the_position() -> None:
    events = [
        decode(opened(T0)),
        decode(ws(T0 + 1, position_update(T0 + 1, "0.5"))),
        decode(risk_line(T0 + 60_000, btc_risk("0", T0 + 30_000))),
        # No fill says why: reported once close_cause_grace_ms is over.
        decode({"at": T0 + 63_000, "venue": "aster", "account": ACCOUNT, "channel": "clock"}),
    ]
    closed = [e for e in reconcile(events) if isinstance(e, PositionClosed)]
    assert [e.position_id for e in closed] == ["p-1"]


def test_a_snapshot_older_than_the_streams_word_does_not_undo_it() -> None:
    # The reply was served before the fill the stream already told: its updateTime says so.
    events = [
        decode(ws(T0 + 5, position_update(T0 + 5, "0.5", transaction_time=T0 + 4))),
        decode(risk_line(T0 + 6, btc_risk("0.2", T0 + 1))),
    ]
    assert fold("aster", ACCOUNT, events).positions[key()].exchange_qty == Decimal("0.5")


def test_the_same_change_told_by_stream_and_snapshot_keeps_the_snapshots_figures() -> None:
    stream = decode(ws(T0 + 5, position_update(T0 + 5, "0.5", transaction_time=T0 + 4)))
    snapshot = decode(risk_line(T0 + 9, btc_risk("0.5", T0 + 4) | {"liquidationPrice": "52000.0"}))
    for events in ([stream, snapshot], [snapshot, stream]):
        held = fold("aster", ACCOUNT, events).positions[key()].exchange
        assert held is not None and held.size == Decimal("0.5")
        assert (held.mark_price, held.liq_price) == (Decimal("65100.0"), Decimal("52000.0"))


def test_a_never_traded_leg_in_a_snapshot_never_undoes_the_streams_first_fill() -> None:
    # Served before the first fill, received after its push: the leg shows updateTime 0.
    events = [
        decode(ws(T0 + 5, position_update(T0 + 5, "0.5", transaction_time=T0 + 4))),
        decode(risk_line(T0 + 9, btc_risk("0", 0))),
    ]
    assert fold("aster", ACCOUNT, events).positions[key()].exchange_qty == Decimal("0.5")


def test_a_snapshot_of_one_symbol_flattens_nothing_else() -> None:
    eth = messages.account_position(symbol="ETHUSDT", amount="-2", entry_price="3000.0")
    update = messages.account_update(
        event_time=T0, transaction_time=T0, reason="ORDER", balances=[], positions=[eth]
    )
    events = [decode(ws(T0, update)), decode(rest(T0 + 5, RISK, [], symbol="BTCUSDT"))]
    assert fold("aster", ACCOUNT, events).positions[key("ETHUSDT")].exchange_qty == Decimal(-2)


def test_open_orders_are_reported_with_their_trigger_and_leg() -> None:
    event = decode(rest(T0, "/fapi/v1/openOrders", documented("open_orders")))
    assert isinstance(event, OrdersReported) and event.source == "rest"
    (order,) = event.orders
    assert (order.venue_order_id, order.client_order_id, order.side) == (
        "1917641",
        "abc",
        OrderSide.BUY,
    )
    assert (order.position_idx, order.status) == (2, OrderStatus.PENDING_TRIGGER)
    assert (order.origin, order.trigger_price) == (OrderOrigin.TRAILING_STOP, Decimal("9300"))
    assert (order.created_time, order.updated_time) == (1579276756075, 1579276756075)


def test_all_orders_report_each_order_in_its_status_now_and_end_one_known_open() -> None:
    listed = documented("all_orders")
    event = decode(rest(T0, "/fapi/v1/allOrders", listed, symbol="BTCUSDT", startTime=T0))
    assert isinstance(event, OrdersReported) and event.source == "rest"
    (order,) = event.orders
    assert (order.venue_order_id, order.client_order_id, order.status) == (
        "1917641",
        "abc",
        OrderStatus.PENDING_TRIGGER,
    )
    # The same order, cancelled while nobody listened: allOrders ends it.
    cancelled = [listed[0] | {"status": "CANCELED", "updateTime": 1579276760000}]
    events = [
        decode(rest(T0, "/fapi/v1/openOrders", listed)),
        decode(rest(T0 + 1, "/fapi/v3/allOrders", cancelled, symbol="BTCUSDT")),
    ]
    book = fold("aster", ACCOUNT, events)
    (held,) = book.orders.values()
    assert held.report is not None and held.report.status is OrderStatus.CANCELED


def test_force_orders_in_the_order_form_name_the_liquidation_and_adl_engines() -> None:
    event = decode(rest(T0, "/fapi/v1/openOrders", documented("force_orders")))
    assert isinstance(event, OrdersReported)
    assert [(o.origin, o.status) for o in event.orders] == [
        (OrderOrigin.LIQUIDATION, OrderStatus.FILLED),
        (OrderOrigin.ADL, OrderStatus.FILLED),
    ]


def test_user_trades_are_fills_on_their_leg_with_the_venues_realised_profit() -> None:
    event = decode(rest(T0, "/fapi/v1/userTrades", documented("user_trades"), symbol="BTCUSDT"))
    assert isinstance(event, ExecutionsReported)
    (fill,) = event.fills
    assert (fill.trade_id, fill.venue_order_id, fill.position_idx) == ("698759", "25851813", 2)
    assert (fill.side, fill.exec_qty, fill.exec_price) == (
        OrderSide.SELL,
        Decimal("0.002"),
        Decimal("7819.01"),
    )
    assert fill.realised_pnl == Decimal("-0.91539999") and fill.exec_time == 1569514978020


def test_a_trade_told_by_the_stream_and_listed_by_rest_counts_once() -> None:
    trade = messages.user_trade(
        symbol="BTCUSDT", trade_id=70, order_id=7, side="BUY", price="65000.0", qty="0.5", time=T0
    )
    events = [
        decode(ws(T0, trade_update(T0))),
        decode(rest(T0 + 1, "/fapi/v1/userTrades", [trade])),
    ]
    held = fold("aster", ACCOUNT, events).orders[OrderKey("perp", "BTCUSDT", "7")]
    assert held.filled_qty == Decimal("0.5") and list(held.fills) == ["70"]


def test_funding_fees_from_the_income_history_are_funding_of_no_order() -> None:
    event = decode(rest(T0, "/fapi/v1/income", documented("income")))
    assert isinstance(event, ExecutionsReported)
    (funding,) = event.fills  # the transfer and the commission are not funding
    assert (funding.kind, funding.symbol, funding.trade_id) == (
        ExecutionKind.FUNDING,
        "BTCUSDT",
        "funding:9689322393",
    )
    assert funding.exec_fee == Decimal("0.02500000") and funding.venue_order_id == ""


def test_funding_reaches_the_pnl_ledger_of_the_leg_held() -> None:
    fee = messages.income(
        symbol="BTCUSDT", income_type="FUNDING_FEE", amount="-0.5", time=T0 + 3, tran_id="9"
    )
    events = [
        decode(ws(T0 + 1, trade_update(T0 + 1))),
        decode(ws(T0 + 2, position_update(T0 + 2, "0.5"))),
        decode(rest(T0 + 3, "/fapi/v3/income", [fee], incomeType="FUNDING_FEE")),
    ]
    ledger = fold("aster", ACCOUNT, events).pnl.keys[key()]
    assert ledger.funding == Decimal("-0.5")


def test_the_account_reply_is_the_accounts_wallet() -> None:
    event = decode(rest(T0, "/fapi/v4/account", documented("account")))
    assert isinstance(event, WalletReported)
    (wallet,) = event.wallets
    assert wallet.total_equity == Decimal("23.72469206")
    assert wallet.total_available_balance == Decimal("23.72469206")
    assert [c.coin for c in wallet.coins] == ["USDT", "BUSD"]
    summary = fold("aster", ACCOUNT, [event]).wallet.summary()
    assert summary is not None and summary.wallet_balance == Decimal("23.72469206")


# --- errors: rate-limited, refused, malformed -----------------------------------------------


@pytest.mark.parametrize(
    ("record", "kind", "ret_code", "http_status"),
    [
        (rest(T0, RISK, documented("error")), RejectionKind.ERROR_REPLY, -1121, None),
        (rest(T0, RISK, documented("error_nonce_expired")), RejectionKind.ERROR_REPLY, -4225, None),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, documented("error"), status=400),
            RejectionKind.ERROR_REPLY,
            -1121,
            400,
        ),
        (
            messages.capture_rest(
                T0, ACCOUNT, RISK, {}, documented("error_too_many_requests"), status=429
            ),
            RejectionKind.RATE_LIMITED,
            -1003,
            429,
        ),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, None, status=429),
            RejectionKind.RATE_LIMITED,
            None,
            429,
        ),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, None, status=418),
            RejectionKind.RATE_LIMITED,
            None,
            418,
        ),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, "<html>", status=403),
            RejectionKind.RATE_LIMITED,
            None,
            403,
        ),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, None, status=503),
            RejectionKind.ERROR_REPLY,
            None,
            503,
        ),
        (
            messages.capture_rest(T0, ACCOUNT, RISK, {}, None, status=0),
            RejectionKind.UNREACHABLE,
            None,
            0,
        ),
        (rest(T0, RISK, {"positions": []}), RejectionKind.MALFORMED, None, None),
    ],
    ids=[
        "code-1121",
        "code-4225",
        "http-400-with-code",
        "http-429-with-code-1003",
        "http-429",
        "http-418-banned",
        "http-403-waf",
        "http-503",
        "no-reply",
        "not-an-array",
    ],
)
def test_an_error_is_classified_and_never_read_as_flat(
    record: JSON, kind: RejectionKind, ret_code: int | None, http_status: int | None
) -> None:
    result = rejected(record)
    assert (result.kind, result.ret_code, result.http_status) == (kind, ret_code, http_status)
    assert result.position_snapshot and result.venue == "aster"
    before = decode(ws(T0 - 1, position_update(T0 - 1, "0.5")))
    emitted = reconcile([before, result])
    assert not [e for e in emitted if isinstance(e, PositionClosed)]
    wanted = RateLimit if kind is RejectionKind.RATE_LIMITED else PositionSyncFailed
    assert [type(e) for e in emitted if isinstance(e, RateLimit | PositionSyncFailed)] == [wanted]


def margin_call_marked(mark: str) -> JSON:
    """The documented margin call, its mark price ``mark``."""
    call: JSON = documented("margin_call")
    return call | {"p": [call["p"][0] | {"mp": mark}]}


def _frame_with(event: JSON, part: str, **fields: Any) -> JSON:
    if part == "o":
        return event | {"o": event["o"] | fields}
    return event | {"a": event["a"] | {"P": [event["a"]["P"][0] | fields]}}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (
            ws(T0, _frame_with(trade_update(T0), "o", X="HALF_FILLED")),
            "line.data.o.X: 'HALF_FILLED'",
        ),
        (ws(T0, _frame_with(trade_update(T0), "o", S="BID")), "line.data.o.S: 'BID'"),
        (ws(T0, _frame_with(trade_update(T0), "o", ps="NET")), "line.data.o.ps: 'NET'"),
        (ws(T0, _frame_with(trade_update(T0), "o", x="REPLACED")), "line.data.o.x: 'REPLACED'"),
        (
            ws(T0, _frame_with(trade_update(T0), "o", l="-0.5")),
            "line.data.o.l: a quantity cannot be negative",
        ),
        (
            ws(T0, _frame_with(trade_update(T0), "o", L=65000.5)),
            "line.data.o.L: expected a decimal",
        ),
        (
            ws(T0, _frame_with(position_update(T0, "1"), "a", ps="HEDGE")),
            "line.data.a.P[0].ps: 'HEDGE'",
        ),
        (
            ws(T0, _frame_with(position_update(T0, "1", side="LONG"), "a", pa="-1")),
            "line.data.a.P[0].pa: -1 on the LONG leg",
        ),
        (
            ws(T0, _frame_with(position_update(T0, "1"), "a", mt="portfolio")),
            "line.data.a.P[0].mt: 'portfolio'",
        ),
        (
            ws(T0, position_update(T0, "1") | {"E": "soon"}),
            "line.data.E: expected epoch milliseconds",
        ),
        (
            ws(T0, _frame_with(trade_update(T0), "o", q="0.5", z="5", l="5")),
            "line.data.o.z: 5 filled of an order of 0.5 (q)",
        ),
        (
            ws(T0, margin_call_marked("-5")),
            "line.data.p[0].mp: a price must be positive, got -5",
        ),
        (risk_line(T0, btc_risk("1", T0), btc_risk("2", T0)), "a position is listed twice"),
        (
            rest(T0, RISK, [btc_risk("1", T0) | {"positionSide": "BOTH_"}]),
            "line.data[0].positionSide",
        ),
        (
            rest(
                T0,
                "/fapi/v1/income",
                [
                    {
                        "incomeType": "FUNDING_FEE",
                        "symbol": "",
                        "income": "1",
                        "time": T0,
                        "tranId": "1",
                    }
                ],
            ),
            "symbol: '' is empty",
        ),
    ],
    ids=[
        "unknown-status",
        "unknown-side",
        "unknown-position-side",
        "unknown-execution-type",
        "negative-last-qty",
        "price-a-float",
        "position-side-hedge",
        "long-leg-negative",
        "unknown-margin-type",
        "event-time-text",
        "filled-beyond-the-order",
        "margin-call-mark-not-positive",
        "leg-listed-twice",
        "risk-position-side",
        "funding-of-no-symbol",
    ],
)
def test_what_is_not_understood_is_refused_with_a_reason(record: JSON, reason: str) -> None:
    result = rejected(record)
    assert reason in result.reason and result.kind is RejectionKind.MALFORMED


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (
            ws(
                T0,
                {"e": "ACCOUNT_CONFIG_UPDATE", "E": T0, "T": T0, "ac": {"s": "BTCUSDT", "l": 25}},
            ),
            RejectionKind.UNKNOWN,
        ),
        (ws(T0, {"e": "announcement", "en": {}, "zh": {}}), RejectionKind.UNKNOWN),
        (rest(T0, "/fapi/v1/adlQuantile", []), RejectionKind.UNKNOWN),
        (
            capture_market(T0, "aster", ACCOUNT, {"e": "bookTicker", "E": T0, "s": "BTCUSDT"}),
            RejectionKind.UNKNOWN,
        ),
    ],
    ids=["account-config-update", "announcement", "adl-quantile", "market-book-ticker"],
)
def test_what_trueup_does_not_read_is_kept_as_unknown_and_emits_nothing(
    record: JSON, kind: RejectionKind
) -> None:
    result = rejected(record)
    assert result.kind is kind
    assert reconcile([result]) == []


def test_unknown_fields_are_tolerated_and_unknown_order_types_say_nothing_of_the_origin() -> None:
    update = trade_update(T0, execution_type="NEW", status="NEW", order_type="TWAP")
    event = decode(ws(T0, _frame_with(update, "o", surprise={"x": [1]}) | {"extra": True}))
    assert isinstance(event, OrdersReported)
    assert event.orders[0].origin is None and event.orders[0].status is OrderStatus.ACCEPTED


def test_a_combined_streams_wrapper_is_read_as_its_event() -> None:
    wrapped = {"stream": "listenkey", "data": position_update(T0, "0.5")}
    event = decode(ws(T0, wrapped))
    assert isinstance(event, PositionsReported) and event.reports[0].size == Decimal("0.5")
