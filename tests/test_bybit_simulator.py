"""The Bybit V5 simulator, driven by the real pybit client over 127.0.0.1.

Each test states what pybit 5.17 does with what the simulator answers: which errors raise,
which are retried, and where it gives up without a word. Keys are fake; nothing leaves
127.0.0.1 (name resolution of any other host fails the test).
"""

import itertools
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from pybit import unified_trading
from pybit._http_manager import generate_signature
from pybit.exceptions import FailedRequestError, InvalidRequestError
from websocket import create_connection

from trueup.adapters.bybit import messages, signing
from trueup.adapters.capture import decode_line
from trueup.domain.coverage import coverage_of
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    OrdersReported,
    PositionsReported,
    WalletReported,
)
from trueup_simulators.bybit.exchange_book import BookError, ExchangeBook
from trueup_simulators.bybit.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    run_scenario,
)
from trueup_simulators.bybit.simulator import BybitSimulator, real_clock

KEY = "fake-key-0001"
SECRET = "fake-secret-0001"
DEMO = Path(__file__).parent.parent / "samples" / "scenarios" / "bybit-demo.jsonl"
JSON = dict[str, Any]


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Resolving any host but 127.0.0.1 fails, and fails the test even if a client swallowed it."""
    resolve = socket.getaddrinfo
    elsewhere: list[object] = []

    def loopback_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", b"127.0.0.1"):
            elsewhere.append(host)
            raise OSError(f"test tried to resolve {host!r}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_only)
    yield
    assert elsewhere == []


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        yield simulator


def session(sim: BybitSimulator, **options: Any) -> Any:
    http = unified_trading.HTTP(api_key=KEY, api_secret=SECRET, testnet=False, **options)
    http.endpoint = sim.base_url
    assert http.endpoint.startswith("http://127.0.0.1:")
    return http


class Inbox:
    """What a pybit callback received, with a wait that never sleeps blindly."""

    def __init__(self) -> None:
        self.frames: list[JSON] = []
        self._arrived = threading.Condition()

    def __call__(self, frame: JSON) -> None:
        with self._arrived:
            self.frames.append(frame)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[JSON]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.frames) >= count, timeout), self.frames
            return list(self.frames)

    def clear(self) -> None:
        with self._arrived:
            self.frames.clear()


@contextmanager
def private_stream(sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """pybit's private WebSocket pointed at the simulator; closed (threads joined) after."""
    monkeypatch.setattr(unified_trading, "PRIVATE_WSS", sim.ws_url)
    # exit() can leave pybit's reader blocked in select() until ping_timeout (10 s by
    # default) when its own close() consumed the server's close reply: keep it short.
    ws = unified_trading.WebSocket(
        channel_type="private",
        api_key=KEY,
        api_secret=SECRET,
        testnet=False,
        ping_interval=2,
        ping_timeout=1,
    )
    try:
        yield ws
    finally:
        ws.exit()
        ws.wst.join(3)
        assert not ws.wst.is_alive()


def subscribe_all(ws: Any, inbox: Inbox) -> None:
    ws.position_stream(inbox)
    ws.order_stream(inbox)
    ws.execution_stream(inbox)
    ws.wallet_stream(inbox)


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def decoded(record: JSON) -> InputEvent:
    return decode_line(orjson.dumps(record))


def counting_clock(start: int = 1_762_199_100_000) -> Callable[[], int]:
    ticks = itertools.count(start, 7)
    return lambda: next(ticks)


# ---- signatures -------------------------------------------------------------------------------


def test_signatures_match_what_pybit_sends() -> None:
    payload = "category=linear&settleCoin=USDT"
    ours = signing.rest_signature(
        SECRET, timestamp=1672280218882, api_key=KEY, recv_window=5000, payload=payload
    )
    assert ours == generate_signature(False, SECRET, f"1672280218882{KEY}5000{payload}")
    assert signing.ws_auth_signature(SECRET, 1662350400000) == generate_signature(
        False, SECRET, "GET/realtime1662350400000"
    )


# ---- REST -------------------------------------------------------------------------------------


def test_positions_by_settle_coin_page_through_the_whole_book(sim: BybitSimulator) -> None:
    for n in range(45):
        sim.open_position(f"C{n:02d}USDT", "Buy", "1", "10")
    sim.open_position("BTCPERP", "Sell", "0.1", "100000")  # settles in USDC: not listed
    sim.place_order("FLATUSDT", "Buy", "1", price="5")  # a key with size 0: not listed
    http = session(sim)
    symbols: list[str] = []
    cursor, pages = "", 0
    while True:
        reply = http.get_positions(category="linear", settleCoin="USDT", cursor=cursor or None)
        symbols += [item["symbol"] for item in reply["result"]["list"]]
        pages += 1
        cursor = reply["result"]["nextPageCursor"]
        if not cursor:
            break
    assert pages == 3  # the documented default limit is 20
    assert symbols == [f"C{n:02d}USDT" for n in range(45)]
    whole = http.get_positions(category="linear", settleCoin="USDT", limit=200)["result"]
    assert (len(whole["list"]), whole["nextPageCursor"]) == (45, "")
    sim.set_page_size(7)
    capped = http.get_positions(category="linear", settleCoin="USDT", limit=200)
    assert len(capped["result"]["list"]) == 7
    assert capped["result"]["nextPageCursor"]


def test_positions_by_symbol_answer_even_for_a_symbol_never_traded(sim: BybitSimulator) -> None:
    reply = session(sim).get_positions(category="linear", symbol="ADAUSDT")
    assert reply["retCode"] == 0
    [item] = reply["result"]["list"]
    assert (item["symbol"], item["side"], item["size"], item["seq"]) == ("ADAUSDT", "", "0", -1)
    assert "avgPrice" in item
    assert "category" not in item
    assert reply["result"]["category"] == "linear"
    assert set(reply) == {"retCode", "retMsg", "result", "retExtInfo", "time"}


# What the book holds, by category: each list by coin below returns some of it.
HELD = {
    "linear": ["BTCUSDT", "BTCUSDT-26DEC25", "ETHUSDT", "BTCPERP", "BTC-26DEC25", "ETH-7MAR25"],
    "inverse": ["BTCUSD", "BTCUSDZ25", "ETHUSD"],
    "option": ["BTC-13FEB25-89000-P-USDT", "BTC-28FEB25-90000-C", "ETH-28FEB25-2800-C",
               "XRP-27DEC24-0.5-C"],
}  # fmt: skip
USDT_LINEAR = ["BTCUSDT", "BTCUSDT-26DEC25", "ETHUSDT"]


@pytest.mark.parametrize(
    ("params", "listed", "covered"),
    [
        # Bybit's /v5/position/list: baseCoin is "option only. Return all option positions
        # if not passed"; settleCoin asks for a settle coin's contracts.
        ({"category": "option", "baseCoin": "BTC"},
         ["BTC-13FEB25-89000-P-USDT", "BTC-28FEB25-90000-C"], None),
        ({"category": "option"}, HELD["option"], None),
        ({"category": "linear", "settleCoin": "USDT"}, USDT_LINEAR, None),
        ({"category": "linear", "settleCoin": "USDC"}, ["BTC-26DEC25", "BTCPERP", "ETH-7MAR25"],
         None),
        # A linear list reads no baseCoin, so it returns its settle coin's all; trueup, not
        # sure of that, takes it for that coin's alone: fewer than it returns, never more.
        ({"category": "linear", "settleCoin": "USDT", "baseCoin": "ETH"}, USDT_LINEAR,
         ["ETHUSDT"]),
        ({"category": "inverse", "settleCoin": "BTC"}, ["BTCUSD", "BTCUSDZ25"], None),
        ({"category": "inverse"}, HELD["inverse"], None),
    ],
)  # fmt: skip
def test_a_list_by_coin_returns_what_bybit_does_and_trueup_covers_no_more(
    sim: BybitSimulator, params: dict[str, str], listed: list[str], covered: list[str] | None
) -> None:
    for category, symbols in HELD.items():
        for symbol in symbols:
            sim.open_position(symbol, "Buy", "1", "10", category=category)
    body = session(sim).get_positions(**params)
    assert [item["symbol"] for item in body["result"]["list"]] == listed
    event = decoded(messages.capture_rest(real_clock(), "main", "/v5/position/list", params, body))
    assert isinstance(event, PositionsReported) and event.snapshot is not None
    coverage = coverage_of(event.snapshot)
    # Never one it leaves out: trueup would take a position held there for closed.
    category = params["category"]
    found = {s for s in HELD[category] if coverage.covers(category, s)}
    assert found == set(listed if covered is None else covered)


def test_linear_positions_need_a_symbol_or_a_settle_coin(sim: BybitSimulator) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        session(sim).get_positions(category="linear")
    assert raised.value.status_code == 10001
    with pytest.raises(InvalidRequestError) as raised:
        session(sim).get_positions(category="linear", settleCoin="USDT", limit=0)
    assert raised.value.status_code == 10001


def test_orders_and_executions_page_newest_first(sim: BybitSimulator) -> None:
    for n in range(5):
        sim.place_order("BTCUSDT", "Buy", "0.1", order_link_id=f"o-{n}", price="100000")
    for n in range(3):
        sim.fill(f"o-{n}", "0.05")
    sim.fill("o-0")
    http = session(sim)
    first = http.get_open_orders(category="linear", settleCoin="USDT", limit=3)
    rest = http.get_open_orders(
        category="linear", settleCoin="USDT", limit=3, cursor=first["result"]["nextPageCursor"]
    )
    open_links = [o["orderLinkId"] for o in first["result"]["list"] + rest["result"]["list"]]
    assert open_links == ["o-4", "o-3", "o-2", "o-1"]
    assert rest["result"]["nextPageCursor"] == ""
    for n in range(5, 60):
        sim.place_order("ETHUSDT", "Sell", "1", order_link_id=f"o-{n}", price="4000")
    # /v5/order/realtime documents limit [1, 50]: asking for more gets a full page of 50.
    asked_too_much = http.get_open_orders(category="linear", settleCoin="USDT", limit=200)
    assert len(asked_too_much["result"]["list"]) == 50
    assert asked_too_much["result"]["nextPageCursor"]
    history = http.get_order_history(category="linear", orderLinkId="o-0")["result"]["list"]
    assert [(o["orderStatus"], o["cumExecQty"]) for o in history] == [("Filled", "0.1")]
    executions = http.get_executions(category="linear", symbol="BTCUSDT", limit=2)
    following = http.get_executions(
        category="linear", symbol="BTCUSDT", cursor=executions["result"]["nextPageCursor"]
    )
    listed = executions["result"]["list"] + following["result"]["list"]
    assert len(listed) == len({e["execId"] for e in listed}) == 4
    assert [e["orderLinkId"] for e in listed] == ["o-0", "o-2", "o-1", "o-0"]


def test_rest_bodies_decode_through_trueups_capture_path(sim: BybitSimulator) -> None:
    sim.open_position("BTCUSDT", "Buy", "0.3", "106250")
    sim.place_order("BTCUSDT", "Sell", "0.15", order_link_id="tp1", price="107400")
    sim.fill("tp1")
    http = session(sim)
    calls: list[tuple[str, JSON, Callable[..., JSON], type[InputEvent]]] = [
        ("/v5/position/list", {"settleCoin": "USDT"}, http.get_positions, PositionsReported),
        ("/v5/order/realtime", {"settleCoin": "USDT"}, http.get_open_orders, OrdersReported),
        ("/v5/order/history", {}, http.get_order_history, OrdersReported),
        ("/v5/execution/list", {}, http.get_executions, ExecutionsReported),
    ]
    for endpoint, params, call, kind in calls:
        query = {"category": "linear", **params}
        body = call(**query)
        event = decoded(messages.capture_rest(real_clock(), "main", endpoint, query, body))
        assert isinstance(event, kind), event


def test_a_bad_signature_or_an_unknown_key_is_refused_with_the_documented_code(
    sim: BybitSimulator,
) -> None:
    wrong_secret = unified_trading.HTTP(api_key=KEY, api_secret="not-it", testnet=False)
    wrong_secret.endpoint = sim.base_url
    with pytest.raises(InvalidRequestError) as raised:
        wrong_secret.get_positions(category="linear", symbol="BTCUSDT")
    assert raised.value.status_code == 10004
    wrong_key = unified_trading.HTTP(api_key="other-key", api_secret=SECRET, testnet=False)
    wrong_key.endpoint = sim.base_url
    with pytest.raises(InvalidRequestError) as raised:
        wrong_key.get_positions(category="linear", symbol="BTCUSDT")
    assert raised.value.status_code == 10003


def test_a_stale_timestamp_is_10002_and_pybit_retries_with_a_wider_window() -> None:
    # The exchange's clock runs 6 s ahead of the client's: past pybit's 5 s recv_window.
    ahead = BybitSimulator(api_key=KEY, api_secret=SECRET, wall_clock=lambda: real_clock() + 6000)
    with ahead:
        with pytest.raises(FailedRequestError) as raised:
            session(ahead, max_retries=1, retry_delay=0).get_positions(
                category="linear", symbol="BTCUSDT"
            )
        # pybit reports "Retries exceeded" as HTTP 400; the 10002 itself never surfaces.
        assert raised.value.status_code == 400
        assert raised.value.message == "Bad Request. Retries exceeded maximum."
        # Its retry adds 2.5 s to recv_window (7.5 s > 6 s): the second attempt passes.
        reply = session(ahead, max_retries=2, retry_delay=0).get_positions(
            category="linear", symbol="BTCUSDT"
        )
        assert reply["retCode"] == 0
        assert [a.ret_code for a in ahead.rest_answers()] == [10002, 10002, 0]


def test_retcode_10006_is_slept_out_and_retried_by_pybit(sim: BybitSimulator) -> None:
    http = session(sim)
    sim.rate_limit(2)
    assert http.get_positions(category="linear", symbol="BTCUSDT")["retCode"] == 0
    sim.rate_limit(3)
    with pytest.raises(FailedRequestError) as raised:
        http.get_positions(category="linear", symbol="BTCUSDT")
    # Three 10006 in a row exhaust max_retries=3: pybit says HTTP 400, never 10006.
    assert raised.value.status_code == 400
    assert [a.ret_code for a in sim.rest_answers()] == [10006, 10006, 0, 10006, 10006, 10006]


def test_a_rate_limit_reset_in_the_clients_past_makes_pybit_raise_value_error() -> None:
    # pybit sleeps (reset - its own now): a reset it sees as past is a negative sleep.
    with BybitSimulator(api_key=KEY, api_secret=SECRET, rate_limit_reset_ms=-1000) as skewed:
        skewed.rate_limit(1)
        with pytest.raises(ValueError, match="sleep length must be non-negative"):
            session(skewed).get_positions(category="linear", symbol="BTCUSDT")


def test_http_429_and_403_raise_at_once_without_retry(sim: BybitSimulator) -> None:
    http = session(sim)
    sim.rate_limit(1, how="429")
    with pytest.raises(FailedRequestError) as raised:
        http.get_positions(category="linear", symbol="BTCUSDT")
    assert raised.value.status_code == 429
    sim.rate_limit(1, how="403")
    with pytest.raises(FailedRequestError) as raised:
        http.get_positions(category="linear", symbol="BTCUSDT")
    assert raised.value.status_code == 403
    assert [a.status for a in sim.rest_answers()] == [429, 403]


def test_other_error_codes_raise_unless_pybit_is_told_to_ignore_them(
    sim: BybitSimulator,
) -> None:
    sim.error(1, 10016)
    with pytest.raises(InvalidRequestError) as raised:
        session(sim).get_positions(category="linear", symbol="BTCUSDT")
    assert (raised.value.status_code, raised.value.message) == (10016, "Server error.")
    sim.error(1, 10016)
    body = session(sim, ignore_codes={10016}).get_positions(category="linear", symbol="BTCUSDT")
    assert body["retCode"] == 10016
    assert body["result"] == {}


# ---- the private WebSocket --------------------------------------------------------------------


def test_pybit_authenticates_subscribes_and_receives_the_pushes(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox()
    with private_stream(sim, monkeypatch) as ws:
        subscribe_all(ws, inbox)
        assert sim.wait_subscribed()
        assert eventually(lambda: bool(ws.auth))
        sim.place_order("BTCUSDT", "Buy", "0.3", order_link_id="e-1", price="106250")
        first = sim.fill("e-1", "0.1")
        second = sim.fill("e-1")
        frames = inbox.wait_for(len(sim.pushed_frames()))
    assert frames == sim.pushed_frames()
    assert [f["topic"] for f in frames] == (
        ["order", "position"] + ["execution", "order", "position", "wallet"] * 2
    )
    executions = [f["data"][0] for f in frames if f["topic"] == "execution"]
    assert [e["execId"] for e in executions] == [first, second]
    positions = [f["data"][0] for f in frames if f["topic"] == "position"]
    assert [p["size"] for p in positions] == ["0", "0.1", "0.3"]
    assert positions[0]["seq"] == -1
    assert positions[1]["seq"] < positions[2]["seq"]
    assert [p["seq"] for p in positions[1:]] == [e["seq"] for e in executions]
    assert frames[-3]["data"][0]["orderStatus"] == "Filled"
    kinds = {type(decoded(messages.capture_ws(real_clock(), "main", f))) for f in frames}
    assert kinds == {OrdersReported, PositionsReported, ExecutionsReported, WalletReported}


def test_a_dropped_stream_is_seen_and_pybit_reconnects_and_resubscribes(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inbox = Inbox()
    with private_stream(sim, monkeypatch) as ws:
        subscribe_all(ws, inbox)
        assert sim.wait_subscribed()
        first = sim.connection_ids()
        sim.drop_connections()
        assert sim.wait_for(lambda: len(sim.auth_attempts()) == 2)
        assert sim.wait_subscribed()
        assert sim.connection_ids() != first
        sim.open_position("XRPUSDT", "Buy", "60", "2.4012")
        [frame] = inbox.wait_for(1)
        assert frame["topic"] == "position"
        assert ws.is_connected()
    lost = [r for r in caplog.records if "encountered error" in r.getMessage()]
    assert lost
    assert lost[0].levelno == logging.ERROR


def test_a_clean_close_is_treated_like_a_drop(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with private_stream(sim, monkeypatch) as ws:
        ws.position_stream(Inbox())
        assert sim.wait_subscribed(("position",))
        sim.drop_connections(clean=True)
        assert sim.wait_for(lambda: len(sim.auth_attempts()) == 2)
        assert sim.wait_subscribed(("position",))


def test_a_refused_auth_ends_pybits_stream_for_good(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sim.refuse_auth(1)
    with private_stream(sim, monkeypatch) as ws:
        assert sim.wait_for(lambda: len(sim.auth_attempts()) == 1)
        assert eventually(lambda: not ws.is_connected())
        # pybit raised inside its callback: the stream is closed and never retried. (A
        # subscribe now would wait for a connection forever, so none is tried.)
        assert not sim.wait_for(lambda: len(sim.auth_attempts()) > 1, timeout=0.3)
        assert ws.exited
        assert not ws.auth
    [attempt] = sim.auth_attempts()
    assert not attempt.accepted
    assert any(
        "Authorization for Unified V5 (Auth) failed" in r.getMessage() for r in caplog.records
    )


def test_after_a_restart_rest_resumes_but_pybits_stream_has_given_up(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sim.open_position("BTCUSDT", "Buy", "0.3", "106250")
    http = session(sim)
    port = sim.port
    with private_stream(sim, monkeypatch) as ws:
        ws.position_stream(Inbox())
        assert sim.wait_subscribed(("position",))
        sim.stop()

        def gave_up() -> bool:
            return any("no longer try to reconnect" in r.getMessage() for r in caplog.records)

        # Ten reconnection attempts, back to back, in milliseconds: then silence.
        assert eventually(gave_up)
        sim.start()
        assert sim.port == port
        reply = http.get_positions(category="linear", symbol="BTCUSDT")
        assert reply["result"]["list"][0]["size"] == "0.3"
        assert not sim.wait_for(lambda: sim.connection_count() > 0, timeout=0.3)
        assert not ws.is_connected()


def test_the_raw_protocol_answers_as_bybit_documents(sim: BybitSimulator) -> None:
    conn = create_connection(sim.ws_url, timeout=5)
    try:

        def ask(request: JSON) -> JSON:
            conn.send(orjson.dumps(request).decode())
            answer: JSON = orjson.loads(conn.recv())
            return answer

        pong = ask({"req_id": "p1", "op": "ping"})
        assert (pong["op"], pong["req_id"]) == ("pong", "p1")
        assert int(pong["args"][0]) > 0
        assert pong["conn_id"]
        early = ask({"op": "subscribe", "args": ["position"]})
        assert (early["success"], early["op"]) == (False, "subscribe")
        expires = real_clock() + 1000
        bad = ask({"op": "auth", "args": [KEY, expires, "0" * 64]})
        assert bad == {
            "success": False,
            "ret_msg": "Params Error",
            "op": "auth",
            "conn_id": pong["conn_id"],
        }
        expired = real_clock() - 1
        stale = ask(
            {"op": "auth", "args": [KEY, expired, signing.ws_auth_signature(SECRET, expired)]}
        )
        assert stale["success"] is False
        good = ask(
            {
                "req_id": "a1",
                "op": "auth",
                "args": [KEY, expires, signing.ws_auth_signature(SECRET, expires)],
            }
        )
        assert good == {
            "req_id": "a1",
            "success": True,
            "ret_msg": "",
            "op": "auth",
            "conn_id": pong["conn_id"],
        }
        subscribed = ask({"req_id": "s1", "op": "subscribe", "args": ["position", "order"]})
        assert (subscribed["success"], subscribed["req_id"]) == (True, "s1")
        sim.open_position("ETHUSDT", "Sell", "2", "3421.5")
        frame = orjson.loads(conn.recv())
        assert set(frame) == {"id", "topic", "creationTime", "data"}
        assert frame["id"].startswith("100307601")
        assert frame["data"][0]["category"] == "linear"
    finally:
        conn.close()


# ---- the book ---------------------------------------------------------------------------------


def test_fills_move_the_position_as_bybit_does() -> None:
    book = ExchangeBook(clock=counting_clock())
    book.place_order("BTCUSDT", "Buy", Decimal("0.3"), order_link_id="e", price=Decimal("100"))
    book.fill("e", Decimal("0.1"), Decimal("100"))
    book.fill("e", Decimal("0.2"), Decimal("103"))
    position = book.position("BTCUSDT")
    assert (position.side, position.size, position.avg_price) == (
        "Buy",
        Decimal("0.3"),
        Decimal(102),
    )
    book.place_order("BTCUSDT", "Sell", Decimal("0.5"), order_type="Market", price=Decimal("110"))
    flip = book.fill(_last_order(book))
    assert flip.closed_size == Decimal("0.3")
    assert flip.exec_pnl == Decimal("2.4")  # (110 - 102) x 0.3
    assert (position.side, position.size, position.avg_price) == (
        "Sell",
        Decimal("0.2"),
        Decimal(110),
    )
    assert position.seq == flip.seq
    with pytest.raises(BookError):
        book.fill("e")  # already filled


def _last_order(book: ExchangeBook) -> str:
    return max(book.orders.values(), key=lambda o: o.serial).order_id


def test_a_hand_close_has_no_link_id_and_cancels_the_reduce_only_orders() -> None:
    book = ExchangeBook(clock=counting_clock())
    book.open_position("ETHUSDT", "Sell", Decimal("2"), Decimal("3421.5"))
    book.place_order(
        "ETHUSDT", "Buy", Decimal("1"), order_link_id="tp1", price=Decimal("3300"), reduce_only=True
    )
    book.take_frames()
    book.close_by_hand("ETHUSDT", price=Decimal("3410.2"))
    orders = [f["data"][0] for f in book.take_frames() if f["topic"] == "order"]
    hand = orders[0]
    assert (hand["orderLinkId"], hand["orderType"], hand["createType"]) == (
        "",
        "Market",
        "CreateByClosing",
    )
    assert (orders[-1]["orderLinkId"], orders[-1]["cancelType"]) == ("tp1", "CancelByReduceOnly")
    assert book.position("ETHUSDT").size == 0


def test_a_liquidation_is_a_bust_trade_after_a_liq_status() -> None:
    book = ExchangeBook(clock=counting_clock())
    book.open_position("SOLUSDT", "Buy", Decimal("12"), Decimal("187.3"))
    book.place_order("SOLUSDT", "Sell", Decimal("12"), order_link_id="tp", price=Decimal("200"))
    book.take_frames()
    book.liquidate("SOLUSDT", price=Decimal("170.94"))
    frames = book.take_frames()
    summary = [(f["topic"], f["data"][0]) for f in frames]
    assert summary[0][1]["cancelType"] == "CancelAllBeforeLiq"
    assert (summary[1][0], summary[1][1]["positionStatus"]) == ("position", "Liq")
    execution = next(item for topic, item in summary if topic == "execution")
    assert (execution["execType"], execution["closedSize"]) == ("BustTrade", "12")
    takeover = [i for t, i in summary if t == "order" and i["orderLinkId"] == ""]
    assert takeover[0]["createType"] == "CreateByTakeOver_PassThrough"
    final = [i for t, i in summary if t == "position"][-1]
    assert (final["size"], final["side"]) == ("0", "")


def test_auto_deleveraging_is_an_adl_trade_after_an_adl_status() -> None:
    book = ExchangeBook(clock=counting_clock())
    book.open_position("BTCUSDT", "Buy", Decimal("0.3"), Decimal("100"))
    book.take_frames()
    book.auto_deleverage("BTCUSDT", price=Decimal("150"))
    summary = [(f["topic"], f["data"][0]) for f in book.take_frames()]
    assert (summary[0][0], summary[0][1]["positionStatus"]) == ("position", "Adl")
    execution = next(item for topic, item in summary if topic == "execution")
    assert (execution["execType"], execution["createType"], execution["closedSize"]) == (
        "AdlTrade",
        "CreateByAdl_PassThrough",
        "0.3",
    )
    final = [i for t, i in summary if t == "position"][-1]
    assert (final["size"], final["positionStatus"]) == ("0", "Normal")


def test_a_position_take_profit_waits_untriggered_then_fires_when_the_mark_reaches_it() -> None:
    book = ExchangeBook(clock=counting_clock())
    book.open_position("BTCUSDT", "Buy", Decimal("0.3"), Decimal("100"))
    book.set_trading_stop("BTCUSDT", take_profit=Decimal("110"), stop_loss=Decimal("90"))
    placed = [(f["topic"], f["data"][0]) for f in book.take_frames()]
    orders = [item for topic, item in placed if topic == "order"]
    assert [(o["stopOrderType"], o["orderStatus"], o["triggerPrice"]) for o in orders] == [
        ("TakeProfit", "Untriggered", "110"),
        ("StopLoss", "Untriggered", "90"),
    ]
    assert [o["triggerDirection"] for o in orders] == [1, 2]  # a rise for TP, a fall for SL
    assert (placed[-1][1]["takeProfit"], placed[-1][1]["stopLoss"]) == ("110", "90")
    book.move_mark("BTCUSDT", Decimal("109.9"))
    assert book.take_frames() == []  # not reached: nothing moves
    book.move_mark("BTCUSDT", Decimal("110.5"))
    fired = [(f["topic"], f["data"][0]) for f in book.take_frames()]
    take_profit = orders[0]["orderId"]
    statuses = [i["orderStatus"] for t, i in fired if t == "order" and i["orderId"] == take_profit]
    assert statuses == ["Triggered", "New", "Filled"]
    execution = next(item for topic, item in fired if topic == "execution")
    assert (execution["stopOrderType"], execution["createType"], execution["execPrice"]) == (
        "TakeProfit",
        "CreateByTakeProfit",
        "110.5",
    )
    (stop_loss,) = [i for t, i in fired if t == "order" and i["orderId"] == orders[1]["orderId"]]
    assert (stop_loss["orderStatus"], stop_loss["cancelType"]) == (
        "Deactivated",
        "CancelByTpSlTsClear",
    )
    assert book.position("BTCUSDT").size == 0


def test_a_seed_and_a_clock_give_the_same_frames_byte_for_byte() -> None:
    def session_frames() -> bytes:
        book = ExchangeBook(clock=counting_clock(), seed=11)
        book.place_order("BTCUSDT", "Buy", Decimal("1"), order_link_id="x", price=Decimal("9"))
        book.fill("x", Decimal("0.4"))
        book.fill("x")
        return orjson.dumps(book.take_frames())

    assert session_frames() == session_frames()


# ---- scenarios --------------------------------------------------------------------------------


def test_the_demo_scenario_leaves_the_book_and_the_faults_it_describes(
    sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    inbox = Inbox()
    with private_stream(sim, monkeypatch) as ws:
        subscribe_all(ws, inbox)
        assert sim.wait_subscribed()
        run_scenario(sim, load_scenario(DEMO), sleep=slept.append)
        assert sim.wait_for(lambda: len(sim.auth_attempts()) == 2)  # the dropped stream
    assert 5 < sum(slept) < 15

    def sizes(book: ExchangeBook) -> dict[str, str]:
        return {p.symbol: str(p.size) for p in book.positions.values() if p.size}

    assert sim.read(sizes) == {"DOGEUSDT": "1500", "BTCUSDT": "0.15", "XRPUSDT": "60"}
    link = sim.read(lambda book: book.order("p-link-1-entry"))
    assert (link.status, link.reject_reason) == ("Rejected", "EC_PostOnlyWillTakeLiquidity")
    kinds = {e.exec_type for e in sim.read(lambda book: list(book.executions))}
    assert kinds == {"Trade", "BustTrade"}
    http = session(sim, retry_delay=0)
    with pytest.raises(FailedRequestError) as raised:  # three 10006: retries exhausted
        http.get_positions(category="linear", settleCoin="USDT")
    assert raised.value.status_code == 400
    with pytest.raises(FailedRequestError) as raised:
        http.get_positions(category="linear", settleCoin="USDT")
    assert raised.value.status_code == 429
    with pytest.raises(InvalidRequestError) as raised:
        http.get_positions(category="linear", settleCoin="USDT")
    assert raised.value.status_code == 10016
    listed = http.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    assert sorted(p["symbol"] for p in listed) == ["BTCUSDT", "DOGEUSDT", "XRPUSDT"]


def test_a_scenario_may_be_one_json_array_with_numbers_read_exactly() -> None:
    steps = parse_scenario(
        '[{"step": "open_position", "symbol": "BTCUSDT", "side": "Buy", "size": 0.3,'
        ' "avg_price": 106250.1}, {"step": "wait", "ms": 5}]'
    )
    assert steps[0].args["size"] == "0.3"
    sim = BybitSimulator()  # never started: the book works without a server
    slept: list[float] = []
    run_scenario(sim, steps, sleep=slept.append)
    assert sim.read(lambda book: book.position("BTCUSDT").avg_price) == Decimal("106250.1")
    assert slept == [0.005]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"step": "teleport"}', "line 1: step 'teleport' is not one of"),
        ('\n{"step": "fill"}', "line 2 (fill): missing ['order']"),
        ('{"step": "fill", "order": "x", "colour": "red"}', "unknown ['colour']"),
        ('{"step": "wait", "ms": -1}', "ms must be a non-negative integer"),
        ('{"step": "drop_connection", "delay_ms": 1.5}', "delay_ms must be"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_scenario_says_which_line(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(text)


def test_a_step_the_exchange_refuses_names_its_line() -> None:
    steps = parse_scenario('{"step": "fill", "order": "nobody"}\n')
    with pytest.raises(ScenarioError, match="line 1 \\(fill\\): no order"):
        run_scenario(BybitSimulator(), steps, sleep=lambda _: None)
