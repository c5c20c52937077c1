"""Hyperliquid capture lines become domain events; bad ones are kept rejected, never read flat."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages
from trueup.domain.book import fold
from trueup.domain.emitted import PositionClosed, PositionSyncFailed, RateLimit
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    InputRejected,
    OrdersReported,
    PositionsReported,
)
from trueup.domain.keys import PositionKey
from trueup.domain.position import ABSENT
from trueup.domain.reconciler import reconcile
from trueup.domain.vocabulary import (
    ExecutionKind,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PositionSide,
)

JSON = dict[str, Any]
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
OTHER = "0x0000000000000000000000000000000000000bad"
T0 = 1_762_199_100_000


def key(coin: str, category: str = "perp") -> PositionKey:
    return PositionKey("hyperliquid", USER, category, coin, 0)


def decode(record: JSON) -> InputEvent:
    return decode_line(orjson.dumps(record))


def rejected(record: JSON) -> InputRejected:
    event = decode(record)
    assert isinstance(event, InputRejected), event
    return event


def state_line(at: int, *positions: JSON, time: int | None = None, user: str = USER) -> JSON:
    body = messages.clearinghouse_state(list(positions), time=time, account_value="1000.0")
    return messages.capture_rest(at, USER, "clearinghouseState", {"user": user, "dex": ""}, body)


def btc(szi: str, entry_px: str | None = "65000.0") -> JSON:
    return messages.asset_position(coin="BTC", szi=szi, entry_px=entry_px)


def eth(szi: str) -> JSON:
    return messages.asset_position(coin="ETH", szi=szi, entry_px="3000.0")


def fill_item(tid: int, oid: int = 7, **changes: Any) -> JSON:
    fields: JSON = {
        "coin": "BTC",
        "px": "65000.0",
        "sz": "0.1",
        "side": "B",
        "time": T0,
        "oid": oid,
        "tid": tid,
        "fee": "2.925",
    }
    return messages.user_fill(**(fields | changes))


def order_item(oid: int = 7, sz: str = "0.5", orig_sz: str = "0.5", **changes: Any) -> JSON:
    fields: JSON = {"coin": "BTC", "side": "B", "limit_px": "64000.0", "timestamp": T0}
    return messages.open_order(oid=oid, sz=sz, orig_sz=orig_sz, **(fields | changes))


def ws(at: int, frame: JSON) -> JSON:
    return messages.capture_ws(at, USER, frame)


# --- positions: clearinghouseState ---------------------------------------------------------


def test_a_short_position_is_negative_and_ordered_by_the_replys_time() -> None:
    event = decode(state_line(T0 + 5, btc("-0.25"), time=T0))
    assert isinstance(event, PositionsReported) and event.source == "rest"
    (report,) = event.reports
    assert (report.category, report.symbol, report.position_idx) == ("perp", "BTC", 0)
    assert (report.side, report.size, report.signed_size) == (
        PositionSide.SHORT,
        Decimal("0.25"),
        -Decimal("0.25"),
    )
    assert report.entry_price == Decimal("65000.0") and report.mark_price is None
    assert (report.seq, report.updated_time) == (T0, T0)


def test_without_a_server_time_the_receive_time_orders_the_report() -> None:
    event = decode(state_line(T0 + 5, btc("1.0"), time=None))
    assert isinstance(event, PositionsReported)
    assert event.reports[0].seq == T0 + 5 and event.snapshot is not None
    assert event.snapshot.server_time == T0 + 5


def test_a_coin_absent_from_a_complete_clearinghouse_state_is_folded_flat() -> None:
    events = [
        decode(state_line(T0 + 1, btc("0.5"), eth("-2.0"), time=T0)),
        decode(state_line(T0 + 1001, eth("-2.0"), time=T0 + 1000)),
    ]
    book = fold("hyperliquid", USER, events)
    gone = book.positions[key("BTC")].exchange
    assert gone is not None and gone.size == 0 and gone.status == ABSENT
    assert book.positions[key("ETH")].exchange_qty == Decimal("-2.0")


def test_an_empty_clearinghouse_state_flattens_every_perp_but_no_spot_key() -> None:
    spot_order = messages.order_updates_frame(
        [messages.order_update(order_item(oid=9, coin="@107"), "open", T0)]
    )
    events = [
        decode(state_line(T0 + 1, btc("0.5"), time=T0)),
        decode(ws(T0 + 2, spot_order)),
        decode(state_line(T0 + 1001, time=T0 + 1000)),
    ]
    book = fold("hyperliquid", USER, events)
    assert book.positions[key("BTC")].exchange_qty == 0
    assert isinstance(events[2], PositionsReported)
    assert book.covered_keys(events[2]) == [key("BTC")]
    assert book.positions[key("@107", "spot")].exchange is None


def test_an_older_state_arriving_late_does_not_overwrite_a_newer_one() -> None:
    newer = decode(state_line(T0 + 2000, btc("0.7"), time=T0 + 1000))
    older = decode(state_line(T0 + 2001, btc("0.5"), time=T0))
    book = fold("hyperliquid", USER, [newer, older])
    assert book.positions[key("BTC")].exchange_qty == Decimal("0.7")


def test_a_flat_entry_with_null_entry_price_reads_as_flat() -> None:
    event = decode(state_line(T0, btc("0.0", entry_px=None), time=T0))
    assert isinstance(event, PositionsReported)
    (report,) = event.reports
    assert (report.side, report.size, report.entry_price) == (PositionSide.FLAT, Decimal(0), None)


# --- errors are never facts ----------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500])
def test_an_http_error_is_kept_rejected_and_flattens_nothing(status: int) -> None:
    failed = messages.capture_rest(
        T0 + 1001, USER, "clearinghouseState", {"user": USER}, None, status=status
    )
    result = rejected(failed)
    assert result.http_status == status and result.endpoint == "clearinghouseState"
    emitted = reconcile([decode(state_line(T0 + 1, btc("0.5"), time=T0)), result])
    book = fold("hyperliquid", USER, [decode(state_line(T0 + 1, btc("0.5"), time=T0)), result])
    assert book.positions[key("BTC")].exchange_qty == Decimal("0.5")
    kind = RateLimit if status == 429 else PositionSyncFailed
    assert [type(e) for e in emitted] == [kind]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({}, "line.data.marginSummary: missing", id="empty-object"),
        pytest.param(None, "line.data: expected an object", id="null"),
        pytest.param([], "line.data: expected an object", id="an-array"),
        pytest.param({"error": "bad user"}, "missing", id="an-error-body"),
        pytest.param(
            {"assetPositions": []}, "line.data.marginSummary: missing", id="no-margin-summary"
        ),
        pytest.param(
            messages.clearinghouse_state([btc("abc")], time=T0),
            "szi: not a plain decimal of at most 15 digits before the point and 12 after: 'abc'",
            id="szi-not-a-decimal",
        ),
        pytest.param(
            messages.clearinghouse_state([btc("0.5") | {"type": "hedge"}], time=T0),
            "type: 'hedge' is not one of",
            id="not-one-way",
        ),
        pytest.param(
            messages.clearinghouse_state([btc("0.5"), btc("0.1")], time=T0),
            "a coin is listed twice",
            id="a-coin-twice",
        ),
    ],
)
def test_a_reply_not_of_the_documented_shape_is_rejected_and_never_read_as_flat(
    body: Any, reason: str
) -> None:
    bad = messages.capture_rest(T0 + 1001, USER, "clearinghouseState", {"user": USER}, body)
    result = rejected(bad)
    assert reason in result.reason
    before = decode(state_line(T0 + 1, btc("0.5"), time=T0))
    assert fold("hyperliquid", USER, [before, result]).positions[
        key("BTC")
    ].exchange_qty == Decimal("0.5")
    assert not [e for e in reconcile([before, result]) if isinstance(e, PositionClosed)]


def test_another_users_state_is_never_folded_into_this_account() -> None:
    result = rejected(state_line(T0, time=T0, user=OTHER))
    assert "is not the line's account" in result.reason


def test_the_account_address_is_compared_without_regard_to_case() -> None:
    assert isinstance(decode(state_line(T0, time=T0, user=USER.upper())), PositionsReported)


def test_another_perp_dexs_state_is_not_read() -> None:
    body = messages.clearinghouse_state([], time=T0)
    line = messages.capture_rest(T0, USER, "clearinghouseState", {"user": USER, "dex": "xyz"}, body)
    assert "only the main perp dex" in rejected(line).reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        pytest.param(
            messages.capture_rest(T0, USER, "l2Book", {"coin": "BTC"}, {}),
            "not an info request trueup reads",
            id="unknown-endpoint",
        ),
        pytest.param(
            ws(T0, messages.subscription_response("subscribe", {"type": "userFills"})),
            "control message",
            id="subscription-response",
        ),
        pytest.param(ws(T0, messages.pong()), "control message", id="pong"),
        pytest.param(
            ws(T0, messages.ws_frame("l2Book", {"coin": "BTC"})),
            "not a channel trueup reads",
            id="unknown-channel",
        ),
        pytest.param(
            ws(T0, messages.ws_frame("error", "Invalid subscription")),
            "websocket error",
            id="error-frame",
        ),
        pytest.param(ws(T0, {"data": {}}), "line.data.channel: missing", id="no-channel"),
        pytest.param(
            ws(T0, messages.ws_frame("user", {"twapHistory": []})),
            "a user event of none of the kinds",
            id="unknown-user-event",
        ),
        pytest.param(
            ws(T0, messages.user_fills_frame(OTHER, [fill_item(1)])),
            "is not the line's account",
            id="another-users-fills",
        ),
        pytest.param(
            messages.capture_rest(T0, USER, "userFills", {"user": USER}, [fill_item(1, side="S")]),
            "side: 'S' is not one of",
            id="unknown-side",
        ),
        pytest.param(
            messages.capture_rest(T0, USER, "openOrders", {"user": USER}, {"orders": []}),
            "line.data: expected an array",
            id="orders-not-an-array",
        ),
        pytest.param(
            messages.capture_rest(
                T0, USER, "openOrders", {"user": USER}, [order_item(sz="2.0", orig_sz="1.0")]
            ),
            "is not within origSz",
            id="more-left-than-ordered",
        ),
        pytest.param(
            messages.capture_rest(
                T0, USER, "orderStatus", {"user": USER, "oid": 7}, messages.order_status_unknown()
            ),
            "unknownOid",
            id="unknown-oid",
        ),
        pytest.param(
            messages.capture_rest(
                T0,
                USER,
                "orderStatus",
                {"user": USER, "oid": 7},
                messages.order_status(order_item(), "teleported", T0),
            ),
            "'teleported' is not an order status trueup knows",
            id="unknown-order-status",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_reason(record: JSON, reason: str) -> None:
    assert reason in rejected(record).reason


# --- orders --------------------------------------------------------------------------------


def test_open_orders_are_reported_new_or_partially_filled_with_their_cloid() -> None:
    cloid = "0x" + "ab" * 16
    body = [order_item(oid=7, cloid=cloid), order_item(oid=8, side="A", sz="0.2", orig_sz="0.5")]
    event = decode(messages.capture_rest(T0 + 5, USER, "openOrders", {"user": USER}, body))
    assert isinstance(event, OrdersReported) and event.source == "rest"
    new, partial = event.orders
    assert (new.venue_order_id, new.client_order_id, new.side, new.status) == (
        "7",
        cloid,
        OrderSide.BUY,
        OrderStatus.ACCEPTED,
    )
    assert (new.qty, new.cum_exec_qty, new.price) == (
        Decimal("0.5"),
        Decimal(0),
        Decimal("64000.0"),
    )
    assert (partial.client_order_id, partial.side, partial.status) == (
        "",
        OrderSide.SELL,
        OrderStatus.PARTIALLY_FILLED,
    )
    assert (partial.qty, partial.cum_exec_qty) == (Decimal("0.5"), Decimal("0.3"))
    assert new.updated_time == new.created_time == T0


@pytest.mark.parametrize(
    ("status", "domain_status", "cancel_type", "reject_reason"),
    [
        ("open", OrderStatus.ACCEPTED, "", ""),
        ("filled", OrderStatus.FILLED, "", ""),
        ("canceled", OrderStatus.CANCELED, "canceled", ""),
        ("marginCanceled", OrderStatus.CANCELED, "marginCanceled", ""),
        ("reduceOnlyCanceled", OrderStatus.CANCELED, "reduceOnlyCanceled", ""),
        ("scheduledCancel", OrderStatus.CANCELED, "scheduledCancel", ""),
        ("triggered", OrderStatus.TRIGGERED, "", ""),
        ("rejected", OrderStatus.REJECTED, "", "rejected"),
        ("perpMarginRejected", OrderStatus.REJECTED, "", "perpMarginRejected"),
    ],
)
def test_order_status_is_mapped_to_the_domains_names(
    status: str, domain_status: OrderStatus, cancel_type: str, reject_reason: str
) -> None:
    remaining = "0.0" if status == "filled" else "0.5"
    order = messages.frontend_order(
        coin="BTC", oid=7, side="B", limit_px="64000.0", sz=remaining, orig_sz="0.5", timestamp=T0
    )
    body = messages.order_status(order, status, T0 + 9)
    event = decode(
        messages.capture_rest(T0 + 10, USER, "orderStatus", {"user": USER, "oid": 7}, body)
    )
    assert isinstance(event, OrdersReported)
    (report,) = event.orders
    assert (report.status, report.cancel_type, report.reject_reason) == (
        domain_status,
        cancel_type,
        reject_reason,
    )
    assert (report.created_time, report.updated_time) == (T0, T0 + 9)


def test_a_position_stop_loss_is_a_stop_loss_with_its_trigger_price() -> None:
    order = messages.frontend_order(
        coin="BTC",
        oid=11,
        side="A",
        limit_px="60000.0",
        sz="0.5",
        timestamp=T0,
        order_type="Stop Market",
        tif=None,
        reduce_only=True,
        trigger_px="61000.0",
        is_position_tpsl=True,
    )
    body = messages.order_status(order, "open", T0)
    event = decode(messages.capture_rest(T0, USER, "orderStatus", {"user": USER, "oid": 11}, body))
    assert isinstance(event, OrdersReported)
    (report,) = event.orders
    assert (report.origin, report.trigger_price) == (OrderOrigin.STOP_LOSS, Decimal("61000.0"))
    assert report.reduce_only and report.order_type == "Stop Market"


def test_order_updates_end_an_order_whatever_order_they_arrive_in() -> None:
    opened = messages.order_update(order_item(), "open", T0)
    filled = messages.order_update(order_item(sz="0.0"), "filled", T0 + 5)
    events = [
        decode(ws(T0 + 6, messages.order_updates_frame([filled]))),
        decode(ws(T0 + 7, messages.order_updates_frame([opened]))),
    ]
    assert all(isinstance(e, OrdersReported) and e.source == "ws" for e in events)
    book = fold("hyperliquid", USER, events)
    order = book.orders[next(iter(book.orders))]
    assert order.status is OrderStatus.FILLED and order.filled_qty == Decimal("0.5")
    assert book.open_orders_for(key("BTC")) == []


# --- fills ---------------------------------------------------------------------------------


def test_fills_are_counted_once_by_tid_wherever_they_arrive() -> None:
    first, second = fill_item(101), fill_item(102, time=T0 + 1)
    events = [
        decode(messages.capture_rest(T0 + 2, USER, "userFills", {"user": USER}, [second, first])),
        decode(ws(T0 + 3, messages.user_fills_frame(USER, [first, second], is_snapshot=True))),
        decode(ws(T0 + 4, messages.user_fills_event([second]))),
        decode(ws(T0 + 5, messages.user_fills_frame(USER, [first]))),
    ]
    assert all(isinstance(e, ExecutionsReported) for e in events)
    book = fold("hyperliquid", USER, events)
    (order,) = book.orders.values()
    assert sorted(order.fills) == ["101", "102"]
    assert order.filled_qty == Decimal("0.2")


def test_a_fill_keeps_its_ids_price_fee_and_time() -> None:
    cloid = "0x" + "cd" * 16
    event = decode(ws(T0, messages.user_fills_event([fill_item(5, oid=9, side="A", cloid=cloid)])))
    assert isinstance(event, ExecutionsReported) and event.source == "ws"
    (fill,) = event.fills
    assert (fill.trade_id, fill.venue_order_id, fill.client_order_id) == ("5", "9", cloid)
    assert (fill.side, fill.kind, fill.exec_price, fill.exec_qty) == (
        OrderSide.SELL,
        ExecutionKind.TRADE,
        Decimal("65000.0"),
        Decimal("0.1"),
    )
    assert (fill.exec_fee, fill.closed_size, fill.exec_time, fill.seq) == (
        Decimal("2.925"),
        Decimal(0),  # a Sell from flat (startPosition 0.0) closed nothing
        T0,
        None,
    )


@pytest.mark.parametrize(
    ("side", "start", "sz", "closed"),
    [
        ("A", "1.0", "3.0", "1.0"),  # "Long > Short": only the long of 1 closed
        ("A", "1.0", "0.4", "0.4"),  # "Close Long", part of it
        ("B", "-2.0", "2.0", "2.0"),  # "Close Short", all of it
        ("B", "1.0", "0.5", "0"),  # "Open Long", adding
        ("A", "-1.0", "0.5", "0"),  # "Open Short", adding
    ],
)
def test_a_fills_start_position_says_how_much_of_it_closed(
    side: str, start: str, sz: str, closed: str
) -> None:
    item = fill_item(5, side=side, sz=sz, start_position=start)
    event = decode(ws(T0, messages.user_fills_event([item])))
    assert isinstance(event, ExecutionsReported)
    assert event.fills[0].closed_size == Decimal(closed)


def test_a_fill_without_a_start_position_says_nothing_of_what_it_closed() -> None:
    item = fill_item(5, side="A")
    del item["startPosition"]
    event = decode(ws(T0, messages.user_fills_event([item])))
    assert isinstance(event, ExecutionsReported) and event.fills[0].closed_size is None


def test_a_liquidations_fill_is_a_bust_trade_and_a_spot_fill_is_spot() -> None:
    marker = messages.liquidation_marker(liquidated_user=USER, mark_px="60000.0")
    body = [fill_item(1, liquidation=marker), fill_item(2, coin="@107")]
    event = decode(messages.capture_rest(T0, USER, "userFills", {"user": USER}, body))
    assert isinstance(event, ExecutionsReported)
    assert [(f.kind, f.category) for f in event.fills] == [
        (ExecutionKind.LIQUIDATION, "perp"),
        (ExecutionKind.TRADE, "spot"),
    ]


@pytest.mark.parametrize(
    ("direction", "kind"),
    [
        ("Close Long", ExecutionKind.TRADE),
        ("Liquidated Cross Long", ExecutionKind.LIQUIDATION),
        ("Liquidated Isolated Short", ExecutionKind.LIQUIDATION),
        ("Auto-Deleveraging", ExecutionKind.ADL),
        ("Settlement", ExecutionKind.SETTLEMENT),
    ],
)
def test_a_fills_dir_tells_a_liquidation_an_adl_and_a_settlement(
    direction: str, kind: ExecutionKind
) -> None:
    body = [fill_item(1, direction=direction)]
    event = decode(messages.capture_rest(T0, USER, "userFills", {"user": USER}, body))
    assert isinstance(event, ExecutionsReported)
    assert [f.kind for f in event.fills] == [kind]


# --- user events and webData2 --------------------------------------------------------------


def test_funding_is_kept_as_a_funding_execution_of_no_order() -> None:
    frame = messages.funding_event(
        time=T0, coin="ETH", usdc="-1.25", szi="-2.0", funding_rate="0.0000125"
    )
    event = decode(ws(T0 + 1, frame))
    assert isinstance(event, ExecutionsReported)
    (fill,) = event.fills
    assert (fill.kind, fill.venue_order_id, fill.side, fill.exec_qty, fill.exec_fee) == (
        ExecutionKind.FUNDING,
        "",
        None,
        Decimal("2.0"),
        Decimal("1.25"),
    )
    assert fold("hyperliquid", USER, [event]).orders == {}


USER_FUNDING = orjson.loads(
    (Path(__file__).parent / "fixtures" / "hyperliquid-user-funding.json").read_text()
)


def funding_reply_line(at: int, reply: list[JSON]) -> JSON:
    return messages.capture_rest(at, USER, "userFunding", USER_FUNDING["request"], reply)


def test_the_documented_user_funding_reply_is_one_funding_execution_per_entry() -> None:
    event = decode(funding_reply_line(T0 + 5, USER_FUNDING["reply"]))
    assert isinstance(event, ExecutionsReported) and event.source == "rest"
    assert [(f.kind, f.symbol, f.exec_qty, f.exec_fee, f.exec_time) for f in event.fills] == [
        (ExecutionKind.FUNDING, "ETH", Decimal("49.1477"), Decimal("3.625312"), 1762200000000),
        (ExecutionKind.FUNDING, "BTC", Decimal("0.5"), Decimal("-0.812"), 1762200000000),
    ]


def test_a_funding_payment_listed_by_user_funding_is_the_one_user_events_pushed() -> None:
    entry = USER_FUNDING["reply"][0]
    payment = entry["delta"]
    pushed = messages.funding_event(
        time=entry["time"],
        coin=payment["coin"],
        usdc=payment["usdc"],
        szi=payment["szi"],
        funding_rate=payment["fundingRate"],
    )
    by_stream = decode(ws(T0 + 1, pushed))
    by_rest = decode(funding_reply_line(T0 + 5, [entry]))
    assert isinstance(by_stream, ExecutionsReported) and isinstance(by_rest, ExecutionsReported)
    assert by_stream.fills == by_rest.fills


def test_a_user_funding_entry_of_another_kind_is_rejected() -> None:
    entry = messages.user_funding_item(
        time=T0, coin="ETH", usdc="1.0", szi="1.0", funding_rate="0.0001"
    )
    entry["delta"]["type"] = "deposit"
    assert "delta.type" in rejected(funding_reply_line(T0 + 5, [entry])).reason


def test_a_liquidation_notice_and_a_non_user_cancel_are_kept_and_change_nothing() -> None:
    notice = messages.liquidation_event(
        lid=1,
        liquidator="0x" + "0" * 39 + "1",
        liquidated_user=USER,
        liquidated_ntl_pos="32500.0",
        liquidated_account_value="900.0",
    )
    cancels = messages.non_user_cancel_event([("BTC", 7)])
    events = [decode(ws(T0, notice)), decode(ws(T0 + 1, cancels))]
    assert isinstance(events[0], ExecutionsReported) and events[0].fills == ()
    assert isinstance(events[1], OrdersReported) and events[1].orders == ()
    assert reconcile(events) == []
    book = fold("hyperliquid", USER, [decode(state_line(T0 - 1, btc("0.5"), time=T0 - 2))])
    assert [book.apply(e) for e in events] == [frozenset(), frozenset()]


def test_web_data2_is_a_complete_snapshot_from_the_stream() -> None:
    state = messages.clearinghouse_state([eth("1.5")], time=T0 + 1000)
    frame = messages.web_data2_frame(USER, state, [order_item()], server_time=T0 + 1000)
    events = [decode(state_line(T0 + 1, btc("0.5"), time=T0)), decode(ws(T0 + 1001, frame))]
    snapshot = events[1]
    assert isinstance(snapshot, PositionsReported) and snapshot.source == "ws"
    assert snapshot.snapshot is not None and snapshot.snapshot.server_time == T0 + 1000
    book = fold("hyperliquid", USER, events)
    assert book.positions[key("BTC")].exchange_qty == 0
    assert book.positions[key("ETH")].exchange_qty == Decimal("1.5")
    assert book.orders == {}  # its openOrders are not read


def test_another_users_web_data2_is_rejected() -> None:
    frame = messages.web_data2_frame(
        OTHER, messages.clearinghouse_state([], time=T0), [], server_time=T0
    )
    assert "is not the line's account" in rejected(ws(T0, frame)).reason


def test_a_listed_take_profit_closes_as_one_though_no_order_update_says_what_it_is() -> None:
    intent = {
        "kind": "position_opened",
        "position_id": "p-1",
        "category": "perp",
        "symbol": "BTC",
        "position_idx": 0,
        "side": "Buy",
        "qty": "0.5",
        "mode": "LIVE",
    }
    take_profit = messages.frontend_order(
        coin="BTC",
        oid=11,
        side="A",
        limit_px="66000.0",
        sz="0.5",
        timestamp=T0,
        order_type="Take Profit Market",
        tif=None,
        reduce_only=True,
        trigger_px="66000.0",
        is_position_tpsl=True,
    )
    # orderUpdates carry the basic form: no orderType, no isTrigger.
    basic = order_item(oid=11, side="A", limit_px="66000.0", sz="0.0")
    closing = fill_item(1, oid=11, side="A", sz="0.5", time=T0 + 4, direction="Close Long")
    closing["startPosition"] = "0.5"  # the long it closes, as Hyperliquid's fills say
    frontend = {"user": USER}
    events = [
        decode(messages.capture_intent(T0, USER, intent)),
        decode(state_line(T0 + 1, btc("0.5"), time=T0 + 1)),
        decode(messages.capture_rest(T0 + 2, USER, "frontendOpenOrders", frontend, [take_profit])),
        decode(
            ws(
                T0 + 3,
                messages.order_updates_frame([messages.order_update(basic, "triggered", T0 + 3)]),
            )
        ),
        decode(
            ws(
                T0 + 4,
                messages.user_fills_frame(
                    USER,
                    [closing],
                ),
            )
        ),
        decode(
            ws(
                T0 + 5,
                messages.order_updates_frame([messages.order_update(basic, "filled", T0 + 4)]),
            )
        ),
        decode(state_line(T0 + 6, time=T0 + 6)),
    ]
    closed = [e for e in reconcile(events) if isinstance(e, PositionClosed)]
    assert [(e.position_id, e.exit_reason) for e in closed] == [("p-1", "TAKE_PROFIT")]


# --- what was missed while nobody listened: userFillsByTime, historicalOrders --------------

# Hyperliquid's info-endpoint page, "Retrieve a user's fills by time" and "Retrieve a user's
# historical orders": their example entries, as documented.
DOCUMENTED_FILL_BY_TIME: JSON = {
    "closedPnl": "0.0",
    "coin": "AVAX",
    "crossed": False,
    "dir": "Open Long",
    "hash": "0xa166e3fa63c25663024b03f2e0da011a00307e4017e5c69a0f5b4e2c3dfb7c8f",
    "oid": 90542681,
    "px": "18.435",
    "side": "B",
    "startPosition": "26.86",
    "sz": "93.53",
    "time": 1681222254710,
    "fee": "0.01",
    "feeToken": "USDC",
    "builderFee": "0.01",
    "tid": 118906512037719,
}
DOCUMENTED_HISTORICAL_ORDER: JSON = {
    "order": {
        "coin": "ETH",
        "side": "A",
        "limitPx": "2412.7",
        "sz": "0.0",
        "oid": 1,
        "timestamp": 1724361546645,
        "triggerCondition": "N/A",
        "isTrigger": False,
        "triggerPx": "0.0",
        "children": [],
        "isPositionTpsl": False,
        "reduceOnly": True,
        "orderType": "Market",
        "origSz": "0.0076",
        "tif": "FrontendMarket",
        "cloid": None,
    },
    "status": "filled",
    "statusTimestamp": 1724361546645,
}


def test_fills_asked_by_time_are_the_documented_fills_counted_once_by_tid() -> None:
    params = {"user": USER, "startTime": 1681222254710 - 60_000}
    by_time = decode(
        messages.capture_rest(T0, USER, "userFillsByTime", params, [DOCUMENTED_FILL_BY_TIME])
    )
    assert isinstance(by_time, ExecutionsReported) and by_time.source == "rest"
    (fill,) = by_time.fills
    assert (fill.symbol, fill.trade_id, fill.venue_order_id, fill.side) == (
        "AVAX",
        "118906512037719",
        "90542681",
        OrderSide.BUY,
    )
    assert (fill.exec_price, fill.exec_qty, fill.exec_fee, fill.exec_time) == (
        Decimal("18.435"),
        Decimal("93.53"),
        Decimal("0.01"),
        1681222254710,
    )
    pushed = decode(ws(T0 + 1, messages.user_fills_event([DOCUMENTED_FILL_BY_TIME])))
    (order,) = fold("hyperliquid", USER, [by_time, pushed]).orders.values()
    assert order.filled_qty == Decimal("93.53")


def test_a_historical_order_ends_an_order_the_journal_knew_open() -> None:
    listed = messages.frontend_order(
        coin="ETH", oid=1, side="A", limit_px="2412.7", sz="0.0076", timestamp=1724361546645
    )
    opened = decode(messages.capture_rest(T0, USER, "frontendOpenOrders", {"user": USER}, [listed]))
    history = decode(
        messages.capture_rest(
            T0 + 1, USER, "historicalOrders", {"user": USER}, [DOCUMENTED_HISTORICAL_ORDER]
        )
    )
    assert isinstance(history, OrdersReported) and history.source == "rest"
    (report,) = history.orders
    assert (report.venue_order_id, report.status, report.qty, report.cum_exec_qty) == (
        "1",
        OrderStatus.FILLED,
        Decimal("0.0076"),
        Decimal("0.0076"),
    )
    assert (report.order_type, report.reduce_only, report.updated_time) == (
        "Market",
        True,
        1724361546645,
    )
    book = fold("hyperliquid", USER, [opened, history])
    assert book.open_orders_for(key("ETH")) == []


def test_a_historical_order_in_a_status_trueup_does_not_know_rejects_the_reply() -> None:
    entry = DOCUMENTED_HISTORICAL_ORDER | {"status": "teleported"}
    reason = rejected(
        messages.capture_rest(T0, USER, "historicalOrders", {"user": USER}, [entry])
    ).reason
    assert "teleported" in reason
