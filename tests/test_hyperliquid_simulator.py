"""The Hyperliquid simulator speaks the venue's wire protocol: the real SDK works against it,
and what it answers decodes through trueup's own path into the book it holds."""

import itertools
import json
import queue
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
import websocket
from hyperliquid.info import Info
from hyperliquid.utils.error import ClientError, ServerError
from hyperliquid.utils.types import Cloid

from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages
from trueup.domain.book import fold
from trueup.domain.emitted import PositionClosed
from trueup.domain.events import ExecutionsReported, InputEvent, OrdersReported
from trueup.domain.keys import PositionKey
from trueup.domain.reconciler import reconcile
from trueup.domain.vocabulary import ExecutionKind, OrderStatus
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

JSON = dict[str, Any]
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
CLOID = "0x" + "0a" * 16
T0 = 1_762_199_100_000
WAIT = 3.0  # seconds: how long a frame may take on the loopback before the test fails
META = messages.meta({"BTC": 5, "ETH": 4})


class Frames:
    """What an SDK subscription's callback received, in order."""

    def __init__(self) -> None:
        self._frames: queue.Queue[JSON] = queue.Queue()

    def __call__(self, frame: JSON) -> None:
        self._frames.put(frame)

    def next(self) -> JSON:
        return self._frames.get(timeout=WAIT)


@pytest.fixture
def sim() -> Iterator[HyperliquidSimulator]:
    ticks = itertools.count(T0, 1000)
    with HyperliquidSimulator(clock=lambda: next(ticks)) as simulator:
        yield simulator


@pytest.fixture
def info(sim: HyperliquidSimulator) -> Iterator[Info]:
    """The SDK's Info with its WebSocket, on the simulator; disconnected after the test."""
    client = Info(base_url=sim.base_url, skip_ws=False, meta=META, spot_meta=messages.spot_meta())
    yield client
    client.disconnect_websocket()


def rest_only(sim: HyperliquidSimulator) -> Info:
    return Info(base_url=sim.base_url, skip_ws=True, meta=META, spot_meta=messages.spot_meta())


def decoded(record: JSON) -> InputEvent:
    return decode_line(orjson.dumps(record))


def state_line(at: int, state: JSON) -> JSON:
    return messages.capture_rest(at, USER, "clearinghouseState", {"user": USER, "dex": ""}, state)


def btc_key() -> PositionKey:
    return PositionKey("hyperliquid", USER, "perp", "BTC", 0)


def hold(sim: HyperliquidSimulator, coin: str, *, is_buy: bool, sz: str, px: str) -> int:
    oid = sim.open_order(USER, coin, is_buy=is_buy, sz=sz, limit_px=px, cloid=CLOID)
    sim.fill(USER, oid)
    return oid


# --- POST /info ----------------------------------------------------------------------------


def test_user_state_through_the_sdk_equals_the_simulators_book(sim: HyperliquidSimulator) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    hold(sim, "ETH", is_buy=False, sz="2", px="3000")
    state = rest_only(sim).user_state(USER)
    assert state == sim.clearinghouse_state(USER)
    szis = {p["position"]["coin"]: p["position"]["szi"] for p in state["assetPositions"]}
    assert szis == {"BTC": "0.5", "ETH": "-2.0"}
    book = fold("hyperliquid", USER, [decoded(state_line(T0 + 10**6, state))])
    assert {k.symbol: p.exchange_qty for k, p in book.positions.items()} == {
        "BTC": Decimal("0.5"),
        "ETH": Decimal("-2.0"),
    }


def test_without_meta_the_sdk_reads_it_from_the_simulator(sim: HyperliquidSimulator) -> None:
    client = Info(base_url=sim.base_url, skip_ws=True)
    assert client.name_to_asset("BTC") == 0 and client.name_to_asset("ETH") == 1


def test_open_orders_fills_and_order_status_through_the_sdk(sim: HyperliquidSimulator) -> None:
    filled = hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    resting = sim.open_order(USER, "BTC", is_buy=False, sz="0.5", limit_px="70000")
    sim.fill(USER, resting, sz="0.2")
    client = rest_only(sim)
    (order,) = client.open_orders(USER)
    assert (order["oid"], order["side"], order["sz"], order["origSz"]) == (
        resting,
        "A",
        "0.3",
        "0.5",
    )
    assert [f["oid"] for f in client.user_fills(USER)] == [resting, filled]  # newest first
    status = client.query_order_by_cloid(USER, Cloid(CLOID))
    assert (status["order"]["status"], status["order"]["order"]["oid"]) == ("filled", filled)
    assert client.query_order_by_oid(USER, 1) == {"status": "unknownOid"}
    for endpoint, body in [("openOrders", [order]), ("orderStatus", status)]:
        event = decoded(messages.capture_rest(T0, USER, endpoint, {"user": USER}, body))
        assert event.type == "OrdersReported"


def test_rate_limits_and_errors_reach_the_sdk_as_http_statuses(sim: HyperliquidSimulator) -> None:
    client = rest_only(sim)
    sim.set_rate_limit(1)
    with pytest.raises(ClientError) as limited:
        client.user_state(USER)
    assert limited.value.status_code == 429
    sim.set_error(1)
    with pytest.raises(ServerError) as failed:
        client.user_state(USER)
    assert failed.value.status_code == 500
    assert client.user_state(USER)["assetPositions"] == []


# --- GET /ws -------------------------------------------------------------------------------


def test_user_fills_start_with_a_snapshot_then_carry_live_fills(
    sim: HyperliquidSimulator, info: Info
) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    frames = Frames()
    info.subscribe({"type": "userFills", "user": USER}, frames)
    snapshot = frames.next()
    assert snapshot["data"]["isSnapshot"] is True and len(snapshot["data"]["fills"]) == 1
    live = sim.fill(USER, sim.open_order(USER, "BTC", is_buy=False, sz="0.2", limit_px="66000"))
    frame = frames.next()
    assert "isSnapshot" not in frame["data"] and frame["data"]["fills"] == [live]
    assert live["dir"] == "Close Long" and live["closedPnl"] == "200.0"
    events = [decoded(messages.capture_ws(T0 + 10**6, USER, f)) for f in (snapshot, frame, frame)]
    book = fold("hyperliquid", USER, events)
    assert sorted(len(o.fills) for o in book.orders.values()) == [1, 1]  # a repeat counts once


def test_order_updates_report_an_order_opening_and_filling(
    sim: HyperliquidSimulator, info: Info
) -> None:
    frames = Frames()
    info.subscribe({"type": "orderUpdates", "user": USER}, frames)
    sim.wait_subscribed("orderUpdates", USER)
    oid = sim.open_order(USER, "ETH", is_buy=True, sz="1", limit_px="3000", cloid=CLOID)
    sim.fill(USER, oid)
    opened, filled = frames.next(), frames.next()
    assert [u["status"] for u in opened["data"] + filled["data"]] == ["open", "filled"]
    assert filled["data"][0]["order"]["cloid"] == CLOID
    book = fold("hyperliquid", USER, [decoded(messages.capture_ws(T0, USER, opened))])
    assert book.order_by_client_id(CLOID) is not None


def test_a_venue_cancel_comes_as_an_order_update_and_a_non_user_cancel(
    sim: HyperliquidSimulator, info: Info
) -> None:
    updates, events = Frames(), Frames()
    info.subscribe({"type": "orderUpdates", "user": USER}, updates)
    info.subscribe({"type": "userEvents", "user": USER}, events)
    sim.wait_subscribed("userEvents", USER)
    oid = sim.open_order(USER, "BTC", is_buy=True, sz="0.1", limit_px="60000")
    sim.cancel(USER, oid, status="marginCanceled")
    assert updates.next()["data"][0]["status"] == "open"
    assert updates.next()["data"][0]["status"] == "marginCanceled"
    assert events.next()["data"] == {"nonUserCancel": [{"coin": "BTC", "oid": oid}]}


def test_a_liquidation_is_announced_then_filled_and_leaves_the_position_flat(
    sim: HyperliquidSimulator, info: Info
) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    frames = Frames()
    info.subscribe({"type": "userEvents", "user": USER}, frames)
    sim.wait_subscribed("userEvents", USER)
    sim.move_mark("BTC", "52000")
    sim.liquidate(USER, "BTC")
    notice, fills = frames.next(), frames.next()
    assert notice["channel"] == "user" and notice["data"]["liquidation"]["liquidated_user"] == USER
    (fill,) = fills["data"]["fills"]
    assert (fill["side"], fill["sz"], fill["px"]) == ("A", "0.5", "52000.0")
    assert fill["liquidation"]["liquidatedUser"] == USER
    assert fill["dir"] == "Liquidated Cross Long"
    assert info.user_state(USER)["assetPositions"] == []
    executions = decoded(messages.capture_ws(T0, USER, fills))
    assert isinstance(executions, ExecutionsReported)
    assert [f.kind for f in executions.fills] == [ExecutionKind.LIQUIDATION]


def test_auto_deleveraging_is_a_fill_that_names_itself_in_dir(sim: HyperliquidSimulator) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    fill = sim.auto_deleverage(USER, "BTC", px="70000")
    assert (fill["dir"], fill["side"], "liquidation" in fill) == ("Auto-Deleveraging", "A", False)
    executions = decoded(messages.capture_rest(T0, USER, "userFills", {"user": USER}, [fill]))
    assert isinstance(executions, ExecutionsReported)
    assert [f.kind for f in executions.fills] == [ExecutionKind.ADL]
    assert rest_only(sim).user_state(USER)["assetPositions"] == []


def test_a_position_take_profit_fires_when_the_mark_reaches_it(
    sim: HyperliquidSimulator, info: Info
) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="60000")
    updates = Frames()
    info.subscribe({"type": "orderUpdates", "user": USER}, updates)
    sim.wait_subscribed("orderUpdates", USER)
    take_profit = sim.place_tpsl(USER, "BTC", "tp", "66000")
    stop_loss = sim.place_tpsl(USER, "BTC", "sl", "54000")
    listed = rest_only(sim).post("/info", {"type": "frontendOpenOrders", "user": USER})
    assert [(o["orderType"], o["isTrigger"], o["triggerPx"], o["reduceOnly"]) for o in listed] == [
        ("Stop Market", True, "54000.0", True),
        ("Take Profit Market", True, "66000.0", True),
    ]
    assert [o["triggerCondition"] for o in listed] == ["Price below 54000.0", "Price above 66000.0"]
    sim.move_mark("BTC", "66500")
    said = [(u["order"]["oid"], u["status"]) for _ in range(5) for u in updates.next()["data"]]
    assert said == [
        (take_profit, "open"),
        (stop_loss, "open"),
        (take_profit, "triggered"),
        (take_profit, "filled"),
        (stop_loss, "reduceOnlyCanceled"),
    ]
    (fill,) = sim.user_fills(USER)[:1]
    assert (fill["oid"], fill["px"], fill["dir"]) == (take_profit, "66500.0", "Close Long")
    assert rest_only(sim).user_state(USER)["assetPositions"] == []


def test_web_data2_sends_the_state_then_every_change_to_it(
    sim: HyperliquidSimulator, info: Info
) -> None:
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    frames = Frames()
    info.subscribe({"type": "webData2", "user": USER}, frames)
    first = frames.next()["data"]["clearinghouseState"]
    assert first == sim.clearinghouse_state(USER)
    sim.move_mark("BTC", "66000")
    moved = frames.next()
    (position,) = moved["data"]["clearinghouseState"]["assetPositions"]
    assert position["position"]["unrealizedPnl"] == "500.0"
    assert decoded(messages.capture_ws(T0, USER, moved)).type == "PositionsReported"


def test_a_dropped_connection_ends_the_sdks_websocket(
    sim: HyperliquidSimulator, info: Info
) -> None:
    frames = Frames()
    info.subscribe({"type": "userFills", "user": USER}, frames)
    frames.next()
    assert sim.drop_connections() == 1
    info.ws_manager.join(WAIT)
    assert not info.ws_manager.is_alive()  # and it never reconnects


def test_ping_is_answered_by_pong_and_a_bad_request_by_an_error() -> None:
    with HyperliquidSimulator() as sim:
        client = websocket.create_connection(sim.ws_url, timeout=WAIT)
        try:
            assert client.recv() == "Websocket connection established."
            client.send(json.dumps({"method": "ping"}))
            assert json.loads(client.recv()) == {"channel": "pong"}
            client.send(json.dumps({"method": "subscribe", "subscription": {"type": "l2Book"}}))
            assert json.loads(client.recv())["channel"] == "error"
            subscription = {"type": "userFills", "user": USER}
            client.send(json.dumps({"method": "subscribe", "subscription": subscription}))
            response = json.loads(client.recv())
            assert response == messages.subscription_response("subscribe", subscription)
        finally:
            client.close()


# --- end to end: a position closed by hand -------------------------------------------------


def test_a_position_closed_by_hand_is_reported_closed_by_trueup(sim: HyperliquidSimulator) -> None:
    client = rest_only(sim)
    hold(sim, "BTC", is_buy=True, sz="0.5", px="65000")
    opened = {
        "kind": "position_opened",
        "position_id": "p-1",
        "category": "perp",
        "symbol": "BTC",
        "position_idx": 0,
        "side": "Buy",
        "qty": "0.5",
        "mode": "LIVE",
    }
    lines = [
        messages.capture_intent(T0, USER, {"kind": "account_mode", "mode": "LIVE"}),
        messages.capture_intent(T0 + 1, USER, opened),
        state_line(T0 + 2, client.user_state(USER)),
    ]
    closing = sim.close_by_hand(USER, "BTC", px="64000")
    assert "cloid" not in closing and closing["dir"] == "Close Long"
    lines.append(state_line(T0 + 10**7, client.user_state(USER)))
    # No fill read (REST state alone): reported on the tick past close_cause_grace_ms.
    lines.append({"at": T0 + 10**7 + 3_000, "venue": "hyperliquid", "account": USER,
                  "channel": "clock"})  # fmt: skip
    events = [decoded(line) for line in lines]
    assert fold("hyperliquid", USER, events).positions[btc_key()].exchange_qty == 0
    closed = [e for e in reconcile(events) if isinstance(e, PositionClosed)]
    assert [(e.position_id, e.symbol) for e in closed] == [("p-1", "BTC")]


def test_fills_by_time_and_historical_orders_answer_what_happened_since(
    sim: HyperliquidSimulator,
) -> None:
    client = rest_only(sim)
    first = sim.open_order(USER, "BTC", is_buy=True, sz="0.1", limit_px="60000")
    sim.fill(USER, first)
    later = client.user_fills(USER)[0]["time"] + 1
    second = sim.open_order(USER, "ETH", is_buy=False, sz="1", limit_px="3000", cloid=CLOID)
    sim.fill(USER, second, sz="0.4")
    sim.cancel(USER, second)
    since = client.post("/info", {"type": "userFillsByTime", "user": USER, "startTime": later})
    assert [(f["coin"], f["sz"]) for f in since] == [("ETH", "0.4")]  # oldest first, from then
    everything = client.user_fills_by_time(USER, T0)
    assert [f["coin"] for f in everything] == ["BTC", "ETH"]
    history = client.post("/info", {"type": "historicalOrders", "user": USER})
    assert [(h["order"]["oid"], h["status"]) for h in history] == [
        (second, "canceled"),
        (first, "filled"),
    ]  # newest first, each in its status now
    event = decoded(messages.capture_rest(T0, USER, "historicalOrders", {"user": USER}, history))
    assert isinstance(event, OrdersReported)
    assert [o.status for o in event.orders] == [OrderStatus.CANCELED, OrderStatus.FILLED]
