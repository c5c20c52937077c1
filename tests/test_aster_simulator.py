"""The Aster futures simulator, through real clients over 127.0.0.1: httpx signing requests as
futures-api-v1.md says ("SIGNED Endpoint Security"), websocket-client on the streams.

Each test states what an Aster v1 client meets: which requests are refused with which code,
what each order and scripted operation pushes on the user data stream, and what the REST
reads show afterwards. The signer here is written from the docs, not taken from the simulator.
"""

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from websocket import WebSocket, WebSocketBadStatusException, create_connection

from trueup.adapters.clock import wall_clock
from trueup_simulators.aster import signing
from trueup_simulators.aster.scenario import (
    ScenarioError,
    load_scenario,
    parse_scenario,
    run_scenario,
)
from trueup_simulators.aster.simulator import AsterSimulator

KEY = "fake-aster-key-0001"
SECRET = "fake-aster-secret-0001"
JSON = dict[str, Any]
DEMO = Path(__file__).parent.parent / "samples" / "scenarios" / "aster-demo.jsonl"


@pytest.fixture
def sim() -> Iterator[AsterSimulator]:
    with AsterSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.move_mark("BTCUSDT", "100000")
        simulator.move_mark("ETHUSDT", "4000")
        yield simulator


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Client:
    """A minimal Aster v1 client: X-MBX-APIKEY, timestamp, signature last."""

    def __init__(self, sim: AsterSimulator, key: str = KEY, secret: str = SECRET) -> None:
        self.http = httpx.Client(base_url=sim.base_url, timeout=5)
        self.key, self.secret = key, secret

    def signed(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        *,
        in_body: bool = False,
        timestamp: int | None = None,
    ) -> httpx.Response:
        fields = {**(params or {}), "timestamp": str(timestamp or wall_clock())}
        payload = urlencode(fields)
        signed = f"{payload}&signature={hmac_hex(self.secret, payload)}"
        headers = {"X-MBX-APIKEY": self.key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.http.request(method, path, content=signed, headers=headers)
        return self.http.request(method, f"{path}?{signed}", headers=headers)

    def ok(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        response = self.signed(method, path, params, in_body=method != "GET")
        assert response.status_code == 200, response.text
        return response.json()

    def listen_key(self, method: str = "POST") -> httpx.Response:
        return self.http.request(method, "/fapi/v1/listenKey", headers={"X-MBX-APIKEY": self.key})


def refused(response: httpx.Response, status: int, code: int) -> str:
    """The message of an error payload, after checking its status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "msg"}
    return str(body["msg"])


@pytest.fixture
def client(sim: AsterSimulator) -> Iterator[Client]:
    c = Client(sim)
    yield c
    c.http.close()


@pytest.fixture
def stream(sim: AsterSimulator, client: Client) -> Iterator[WebSocket]:
    key = client.listen_key().json()["listenKey"]
    ws = create_connection(sim.user_stream_url(key), timeout=5)
    assert sim.wait_readers(1)
    yield ws
    ws.close()


def read_events(ws: WebSocket, until: Callable[[JSON], bool]) -> list[JSON]:
    """Events from the stream up to and including the first that ``until`` accepts."""
    events: list[JSON] = []
    while True:
        event = orjson.loads(ws.recv())
        events.append(event)
        if until(event):
            return events


def order_updates(events: list[JSON]) -> list[JSON]:
    return [e["o"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"]


def closed(event: JSON) -> bool:
    """Whether ``event`` is the ACCOUNT_UPDATE of a position going flat."""
    return bool(event["e"] == "ACCOUNT_UPDATE" and event["a"]["P"][0]["pa"] == "0")


def position(client: Client, symbol: str, side: str = "BOTH") -> JSON:
    rows = client.ok("GET", "/fapi/v2/positionRisk", {"symbol": symbol})
    (row,) = [r for r in rows if r["positionSide"] == side]
    return dict(row)


# ---- signing and authentication ---------------------------------------------------------------


def test_the_signature_is_the_documented_hmac_of_query_string_and_body() -> None:
    # futures-api-v1.md, "Example 1: As a query string": the documented key and its result.
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    query = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    expected = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    assert signing.sign(secret, query) == expected
    # Example 3: query string and body are concatenated with no "&" between them.
    unsigned, signature = signing.signed_part(
        "symbol=BTCUSDT&timeInForce=GTC", "quantity=1&timestamp=1&signature=AB"
    ) or ("", "")
    assert (unsigned, signature) == ("symbol=BTCUSDT&timeInForce=GTCquantity=1&timestamp=1", "AB")


def test_signed_requests_are_accepted_from_query_string_body_or_both(
    sim: AsterSimulator, client: Client
) -> None:
    assert client.signed("GET", "/fapi/v2/positionRisk").status_code == 200
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    order |= {"quantity": "0.1", "price": "90000", "newClientOrderId": "body-1"}
    assert client.signed("POST", "/fapi/v1/order", order, in_body=True).status_code == 200
    # Example 3's mixed form: part in the query string, the rest and the signature in the body.
    query = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.1&price=90000&newClientOrderId=mixed-1&timestamp={wall_clock()}"
    signature = hmac_hex(SECRET, query + body).upper()  # not case sensitive
    response = client.http.post(
        f"/fapi/v1/order?{query}",
        content=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["clientOrderId"] == "mixed-1"
    assert response.headers["X-MBX-USED-WEIGHT-1M"] == "3"


def test_bad_credentials_and_stale_requests_get_asters_codes(
    sim: AsterSimulator, client: Client
) -> None:
    path = "/fapi/v2/positionRisk"
    assert refused(Client(sim, secret="wrong").signed("GET", path), 400, -1022)
    assert refused(Client(sim, key="someone-else").signed("GET", path), 401, -2015)
    missing_key = client.http.get(f"{path}?timestamp={wall_clock()}&signature=00")
    refused(missing_key, 401, -2014)
    old = wall_clock() - 6000  # past the default recvWindow of 5000 ms
    assert "recvWindow" in refused(client.signed("GET", path, timestamp=old), 400, -1021)
    ahead = wall_clock() + 5000
    refused(client.signed("GET", path, timestamp=ahead), 400, -1021)
    refused(client.signed("GET", path, {"recvWindow": "60001"}), 400, -1130)
    unsigned = client.http.get(f"{path}?timestamp={wall_clock()}", headers={"X-MBX-APIKEY": KEY})
    assert "'signature'" in refused(unsigned, 400, -1102)
    assert refused(client.signed("GET", path, {"symbol": "NOPEUSDT"}), 400, -1121)
    assert client.signed("GET", path, {"recvWindow": "60000"}).status_code == 200


def test_public_endpoints_answer_without_a_key(sim: AsterSimulator, client: Client) -> None:
    assert client.http.get("/fapi/v1/ping").json() == {}
    server_time = client.http.get("/fapi/v1/time").json()["serverTime"]
    assert abs(server_time - wall_clock()) < 5000
    info = client.http.get("/fapi/v1/exchangeInfo").json()
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    mark = client.http.get("/fapi/v1/premiumIndex", params={"symbol": "BTCUSDT"}).json()
    assert mark["markPrice"] == "100000"
    brackets = client.ok("GET", "/fapi/v1/leverageBracket", {"symbol": "ETHUSDT"})
    assert brackets["symbol"] == "ETHUSDT" and brackets["brackets"][0]["initialLeverage"] == 20
    assert len(client.ok("GET", "/fapi/v1/leverageBracket")) == 2


# v3 (futures-api-v3.md, "Example of POST /fapi/v3/order"): the docs' demonstration wallets.
USER = "0x63DD5aCC6b1aa0f563956C0e534DD30B6dcF7C4e"
SIGNER = "0x21cF8Ae13Bb72632562c6Fff438652Ba1a151bb0"
SIGNER_KEY = "0x4fd0a42218f3eae43a6ce26d22544e986139a01e5b34a62db53757ffca81bae1"
TYPED_DATA: JSON = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Message": [{"name": "msg", "type": "string"}],
    },
    "primaryType": "Message",
    "domain": {
        "name": "AsterSignTransaction",
        "version": "1",
        "chainId": 1666,
        "verifyingContract": "0x0000000000000000000000000000000000000000",
    },
}


def v3_request(
    client: Client,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    *,
    key: str = SIGNER_KEY,
    nonce: int | None = None,
) -> httpx.Response:
    """As the docs' send_by_url does: nonce and signer added, the EIP-712 signature last."""
    fields = {**(params or {}), "nonce": str(nonce or time.time_ns() // 1000), "signer": SIGNER}
    fields["user"] = USER
    param = urlencode(fields)
    message = encode_typed_data(full_message={**TYPED_DATA, "message": {"msg": param}})
    signature = Account.sign_message(message, private_key=key).signature.hex()
    return client.http.request(method, f"{path}?{param}&signature={signature}")


def test_v3_requests_signed_by_an_approved_api_wallet_are_served(
    sim: AsterSimulator, client: Client
) -> None:
    refused(v3_request(client, "GET", "/fapi/v3/positionRisk"), 401, -2015)  # not approved yet
    sim.approve_agent(SIGNER)
    sim.open_position("BTCUSDT", "0.25", "98000")
    rows = v3_request(client, "GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}).json()
    assert [(r["positionSide"], r["positionAmt"]) for r in rows] == [("BOTH", "0.25")]
    order = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC"}
    order |= {"quantity": "0.25", "price": "105000", "newClientOrderId": "v3-tp"}
    assert v3_request(client, "POST", "/fapi/v3/order", order).status_code == 200
    (listed,) = client.ok("GET", "/fapi/v1/openOrders")  # one account, whichever API asks
    assert listed["clientOrderId"] == "v3-tp"
    account = v3_request(client, "GET", "/fapi/v3/accountWithJoinMargin").json()
    assert account["totalWalletBalance"] == "10000"
    assert len(v3_request(client, "POST", "/fapi/v3/listenKey").json()["listenKey"]) == 64


def test_v3_refuses_other_keys_and_stale_or_replayed_nonces(
    sim: AsterSimulator, client: Client
) -> None:
    sim.approve_agent(SIGNER)
    other_key = "0x" + "11" * 32
    wrong = v3_request(client, "GET", "/fapi/v3/openOrders", key=other_key)
    refused(wrong, 400, -1022)
    stale = time.time_ns() // 1000 - 11_000_000  # 11 s ago: past the 10 s window
    assert refused(v3_request(client, "GET", "/fapi/v3/openOrders", nonce=stale), 400, -4225)
    nonce = time.time_ns() // 1000
    assert v3_request(client, "GET", "/fapi/v3/openOrders", nonce=nonce).status_code == 200
    refused(v3_request(client, "GET", "/fapi/v3/openOrders", nonce=nonce), 400, -4225)
    assert client.http.get("/fapi/v3/time").status_code == 200  # NONE: no signature asked


# ---- faults -----------------------------------------------------------------------------------


def test_rate_limit_faults_answer_429_then_418_with_retry_after(
    sim: AsterSimulator, client: Client
) -> None:
    sim.rate_limit(1)
    sim.rate_limit(1, status=418)
    first = client.signed("GET", "/fapi/v1/openOrders")
    assert "Too many requests" in refused(first, 429, -1003)
    assert first.headers["Retry-After"] == "1"
    assert "IP banned until" in refused(client.http.get("/fapi/v1/time"), 418, -1003)
    assert client.signed("GET", "/fapi/v1/openOrders").status_code == 200
    statuses = [a.status for a in sim.rest_answers()]
    assert statuses == [429, 418, 200]


def test_armed_errors_and_refused_keys_pass_after_their_count(
    sim: AsterSimulator, client: Client
) -> None:
    sim.error(1, code=-1001, status=503)
    refused(client.signed("GET", "/fapi/v2/account"), 503, -1001)
    sim.refuse_auth(2)
    refused(client.signed("GET", "/fapi/v2/account"), 401, -2015)
    refused(client.listen_key(), 401, -2015)
    account = client.ok("GET", "/fapi/v4/account")
    assert account["totalWalletBalance"] == "10000"
    assert client.ok("GET", "/fapi/v2/balance")[0]["balance"] == "10000"


# ---- orders -----------------------------------------------------------------------------------


def test_a_market_order_fills_at_the_mark_and_pushes_order_then_account_updates(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    placed = client.ok(
        "POST",
        "/fapi/v1/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.5"},
    )
    assert placed["status"] == "NEW"  # newOrderRespType ACK: the order as accepted
    events = read_events(stream, lambda e: e["e"] == "ACCOUNT_UPDATE")
    new, trade = order_updates(events)
    assert (new["x"], new["X"], new["c"]) == ("NEW", "NEW", placed["clientOrderId"])
    assert (trade["x"], trade["X"], trade["l"], trade["L"]) == ("TRADE", "FILLED", "0.5", "100000")
    assert trade["n"] == "17.5" and trade["N"] == "USDT" and trade["m"] is False
    update = events[-1]
    assert update["E"] >= update["T"] > 0
    assert update["a"]["m"] == "ORDER"
    assert update["a"]["P"] == [
        {
            "s": "BTCUSDT",
            "pa": "0.5",
            "ep": "100000",
            "cr": "0",
            "up": "0",
            "mt": "cross",
            "iw": "0",
            "ps": "BOTH",
        }
    ]
    assert update["a"]["B"][0] == {"a": "USDT", "wb": "9982.5", "cw": "9982.5", "bc": "0"}
    row = position(client, "BTCUSDT")
    assert (row["positionAmt"], row["entryPrice"], row["markPrice"]) == ("0.5", "100000", "100000")
    (fill,) = client.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert (fill["id"], fill["orderId"], fill["qty"]) == (trade["t"], placed["orderId"], "0.5")
    incomes = client.ok("GET", "/fapi/v1/income", {"incomeType": "COMMISSION"})
    assert [i["income"] for i in incomes] == ["-17.5"]


def test_an_averaged_entry_is_written_to_five_decimals_as_aster_writes_it(
    sim: AsterSimulator, client: Client
) -> None:
    """1 at 100000, then 2 more at 100050: an entry of 100033.333..., which Aster writes
    "100033.33333" (its documented "6563.66500"), not the 28 digits of a division, which
    trueup refuses as no plain decimal."""
    sim.fill(sim.place_order("BTCUSDT", "BUY", "1", price="100000"), price="100000")
    sim.fill(sim.place_order("BTCUSDT", "BUY", "2", price="100050"), price="100050")
    row = position(client, "BTCUSDT")
    assert (row["positionAmt"], row["entryPrice"]) == ("3", "100033.33333")


def test_a_resting_limit_order_fills_at_its_price_when_the_mark_crosses_it(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    order |= {"quantity": "0.2", "price": "99000", "newClientOrderId": "dip-1"}
    placed = client.ok("POST", "/fapi/v1/order", {**order, "newOrderRespType": "RESULT"})
    assert placed["status"] == "NEW"
    (listed,) = client.ok("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
    assert (listed["clientOrderId"], listed["price"], listed["origQty"]) == (
        "dip-1",
        "99000",
        "0.2",
    )
    sim.move_mark("BTCUSDT", "98500")
    events = read_events(stream, lambda e: e.get("o", {}).get("X") == "FILLED")
    filled = order_updates(events)[-1]
    assert (filled["L"], filled["m"], filled["c"]) == ("99000", True, "dip-1")
    assert client.ok("GET", "/fapi/v1/openOrders") == []
    done = client.ok("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "dip-1"})
    assert (done["status"], done["executedQty"], done["avgPrice"]) == ("FILLED", "0.2", "99000")
    gone = client.signed("GET", "/fapi/v1/openOrder", {"symbol": "BTCUSDT", "orderId": "1"})
    refused(gone, 400, -2013)


def test_a_client_order_id_on_an_open_order_is_refused_until_that_order_ends(
    sim: AsterSimulator, client: Client
) -> None:
    order = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC"}
    order |= {"quantity": "0.1", "price": "110000", "newClientOrderId": "tp-1"}
    first = client.ok("POST", "/fapi/v1/order", order)
    again = client.signed("POST", "/fapi/v1/order", order, in_body=True)
    assert refused(again, 400, -4116) == "ClientOrderId is duplicated."
    assert len(client.ok("GET", "/fapi/v1/openOrders")) == 1
    cancelled = client.ok(
        "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": "tp-1"}
    )
    assert (cancelled["orderId"], cancelled["status"]) == (first["orderId"], "CANCELED")
    assert client.ok("POST", "/fapi/v1/order", order)["clientOrderId"] == "tp-1"
    bad_id = {**order, "newClientOrderId": "has space"}
    refused(client.signed("POST", "/fapi/v1/order", bad_id, in_body=True), 400, -4015)


def test_orders_cancel_by_order_id_and_unknown_ones_are_refused(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    order = {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    placed = client.ok("POST", "/fapi/v1/order", {**order, "quantity": "1", "price": "3900"})
    order_id = str(placed["orderId"])
    client.ok("DELETE", "/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": order_id})
    events = read_events(stream, lambda e: e["o"]["x"] == "CANCELED")
    assert [(o["x"], o["X"]) for o in order_updates(events)] == [
        ("NEW", "NEW"),
        ("CANCELED", "CANCELED"),
    ]
    twice = client.signed("DELETE", "/fapi/v1/order", {"symbol": "ETHUSDT", "orderId": order_id})
    refused(twice, 400, -2011)
    neither = client.signed("DELETE", "/fapi/v1/order", {"symbol": "ETHUSDT"})
    refused(neither, 400, -1102)


def test_orders_the_docs_refuse_are_refused_and_nothing_is_placed(
    sim: AsterSimulator, client: Client
) -> None:
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    base |= {"quantity": "0.1", "price": "90000"}

    def refusal(change: dict[str, str], status: int, code: int) -> None:
        refused(client.signed("POST", "/fapi/v1/order", {**base, **change}), status, code)

    refusal({"side": "HOLD"}, 400, -1117)
    refusal({"type": "STOP"}, 400, -1116)
    refusal({"timeInForce": "DAY"}, 400, -1115)
    refusal({"quantity": "0"}, 400, -4003)
    refusal({"quantity": "lots"}, 400, -1102)
    refusal({"price": "-1"}, 400, -4001)
    refusal({"positionSide": "LONG"}, 400, -4061)  # one-way mode takes BOTH only
    # The filters exchangeInfo lists: LOT_SIZE, MARKET_LOT_SIZE, PRICE_FILTER, MIN_NOTIONAL.
    refusal({"quantity": "0.0105"}, 400, -1111)
    refusal({"quantity": "0.0005"}, 400, -4004)
    refusal({"quantity": "1000.001"}, 400, -4005)
    refusal({"type": "MARKET", "quantity": "100.001"}, 400, -4005)
    refusal({"price": "90000.005"}, 400, -4014)
    refusal({"price": "2000000"}, 400, -4002)
    refusal({"quantity": "0.001", "price": "4999"}, 400, -4164)  # worth 4.999
    refusal({"symbol": "ETHUSDT", "type": "MARKET", "quantity": "0.001"}, 400, -4164)  # at 4000
    refusal({"positionSide": "UP"}, 400, -4060)
    refusal({"symbol": "DOGEUSDT"}, 400, -1121)
    assert client.ok("GET", "/fapi/v1/openOrders") == []
    assert sim.pushed_events() == []


def test_a_reduce_only_order_larger_than_the_position_is_refused(
    sim: AsterSimulator, client: Client
) -> None:
    sim.open_position("BTCUSDT", "0.3", "95000")
    order = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "reduceOnly": "true"}
    refused(client.signed("POST", "/fapi/v1/order", {**order, "quantity": "0.4"}), 400, -2022)
    assert position(client, "BTCUSDT")["positionAmt"] == "0.3"
    client.ok("POST", "/fapi/v1/order", {**order, "quantity": "0.3"})
    row = position(client, "BTCUSDT")
    assert (row["positionAmt"], row["entryPrice"]) == ("0", "0")
    (fill,) = client.ok("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"})
    assert fill["realizedPnl"] == "1500"  # 0.3 * (100000 - 95000)
    pnl = client.ok("GET", "/fapi/v1/income", {"symbol": "BTCUSDT", "incomeType": "REALIZED_PNL"})
    assert [i["income"] for i in pnl] == ["1500"]


def test_hedge_mode_holds_long_and_short_apart(sim: AsterSimulator, client: Client) -> None:
    assert client.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}
    switched = client.ok("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    assert switched == {"code": 200, "msg": "success"}
    assert client.ok("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": True}
    again = client.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    refused(again, 400, -4059)
    market = {"symbol": "BTCUSDT", "type": "MARKET", "quantity": "0.2"}
    refused(client.signed("POST", "/fapi/v1/order", {**market, "side": "BUY"}), 400, -4061)
    client.ok("POST", "/fapi/v1/order", {**market, "side": "BUY", "positionSide": "LONG"})
    client.ok("POST", "/fapi/v1/order", {**market, "side": "SELL", "positionSide": "SHORT"})
    assert position(client, "BTCUSDT", "LONG")["positionAmt"] == "0.2"
    assert position(client, "BTCUSDT", "SHORT")["positionAmt"] == "-0.2"
    too_much = {**market, "side": "SELL", "positionSide": "LONG", "quantity": "0.3"}
    refused(client.signed("POST", "/fapi/v1/order", too_much), 400, -2022)
    with_flag = {**market, "side": "SELL", "positionSide": "LONG", "reduceOnly": "true"}
    refused(client.signed("POST", "/fapi/v1/order", with_flag), 400, -1106)
    back = client.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
    refused(back, 400, -4068)


def test_a_resting_close_in_hedge_mode_expires_rather_than_flip_the_position(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    client.ok("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    sim.open_position("BTCUSDT", "0.2", "100000")
    take_profit = {"symbol": "BTCUSDT", "side": "SELL", "positionSide": "LONG", "type": "LIMIT"}
    take_profit |= {"timeInForce": "GTC", "quantity": "0.2", "price": "105000"}
    client.ok("POST", "/fapi/v1/order", {**take_profit, "newClientOrderId": "tp-long"})
    sim.close_by_hand("BTCUSDT", position_side="LONG")
    sim.move_mark("BTCUSDT", "106000")
    events = read_events(
        stream, lambda e: e.get("o", {}).get("c") == "tp-long" and e["o"]["x"] != "NEW"
    )
    assert order_updates(events)[-1]["X"] == "EXPIRED"
    assert position(client, "BTCUSDT", "LONG")["positionAmt"] == "0"
    assert position(client, "BTCUSDT", "SHORT")["positionAmt"] == "0"


def test_unreadable_requests_get_a_clear_error_and_the_server_goes_on(
    sim: AsterSimulator, client: Client
) -> None:
    garbage = client.http.post(
        "/fapi/v1/order",
        content=b"symbol=\xff\xfe",
        headers={"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    refused(garbage, 400, -1100)
    payload = f"symbol=BTCUSDT&symbol=ETHUSDT&timestamp={wall_clock()}"
    twice = client.http.get(
        f"/fapi/v1/openOrders?{payload}&signature={hmac_hex(SECRET, payload)}",
        headers={"X-MBX-APIKEY": KEY},
    )
    refused(twice, 400, -1101)
    response_type = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"}
    response_type["newOrderRespType"] = "FULL"
    refused(client.signed("POST", "/fapi/v1/order", response_type), 400, -1136)
    refused(client.http.get("/fapi/v9/nothing"), 404, -1000)
    ws = create_connection(f"{sim.stream_url}/ws/btcusdt@markPrice", timeout=5)
    assert orjson.loads(ws.recv())["p"] == "100000"  # the current mark, on subscribing
    ws.send("not json")
    assert orjson.loads(ws.recv())["code"] == 3
    ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": []}))
    assert orjson.loads(ws.recv())["code"] == 2
    sim.move_mark("BTCUSDT", "100500")
    assert orjson.loads(ws.recv())["p"] == "100500"
    ws.close()
    assert client.http.get("/fapi/v1/ping").status_code == 200


# ---- scripted operations ----------------------------------------------------------------------


def test_a_position_closed_by_hand_shows_a_web_market_order(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    sim.open_position("ETHUSDT", "-2", "4100")
    trade_id = sim.close_by_hand("ETHUSDT")
    events = read_events(stream, closed)
    new, fill = order_updates(events)
    assert new["c"].startswith("web_") and fill["c"] == new["c"]
    assert (fill["S"], fill["o"], fill["R"], fill["x"], fill["t"]) == (
        "BUY",
        "MARKET",
        True,
        "TRADE",
        trade_id,
    )
    assert fill["rp"] == "200"  # short 2 from 4100, bought back at 4000
    assert position(client, "ETHUSDT")["positionAmt"] == "0"


def test_a_liquidation_expires_open_orders_and_fills_an_autoclose_order(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    sim.open_position("BTCUSDT", "1", "110000")
    sim.place_order("BTCUSDT", "SELL", "1", price="120000", client_order_id="tp-9")
    sim.margin_call("BTCUSDT")
    sim.liquidate("BTCUSDT", price="99000")
    events = read_events(stream, closed)
    (call,) = [e for e in events if e["e"] == "MARGIN_CALL"]
    assert call["p"][0] | {"mm": ""} == {
        "s": "BTCUSDT",
        "ps": "BOTH",
        "pa": "1",
        "mt": "CROSSED",
        "iw": "0",
        "mp": "100000",
        "up": "-10000",
        "mm": "",
    }
    updates = order_updates(events)
    assert [(o["c"], o["x"], o["X"]) for o in updates[1:]] == [
        ("tp-9", "EXPIRED", "EXPIRED"),
        (updates[-1]["c"], "CALCULATED", "FILLED"),
    ]
    liquidation = updates[-1]
    assert liquidation["c"].startswith("autoclose-")
    assert (liquidation["o"], liquidation["f"], liquidation["L"]) == ("LIQUIDATION", "IOC", "99000")
    assert client.ok("GET", "/fapi/v1/openOrders") == []


def test_auto_deleveraging_fills_an_adl_autoclose_order(
    sim: AsterSimulator, stream: WebSocket
) -> None:
    sim.open_position("BTCUSDT", "-0.4", "100000")
    sim.auto_deleverage("BTCUSDT")
    events = read_events(stream, closed)
    (adl,) = order_updates(events)
    assert (adl["c"], adl["S"], adl["q"], adl["X"]) == ("adl_autoclose", "BUY", "0.4", "FILLED")


def test_a_funding_payment_pushes_a_balance_only_update_and_an_income_row(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    sim.open_position("BTCUSDT", "0.5", "100000")
    paid = sim.pay_funding("BTCUSDT", "0.0001")
    assert paid == Decimal("-5")  # a long pays 0.0001 of 0.5 * 100000
    events = read_events(stream, lambda e: e["a"]["m"] == "FUNDING_FEE")
    funding = events[-1]
    assert funding["a"] == {
        "m": "FUNDING_FEE",
        "B": [{"a": "USDT", "wb": "9995", "cw": "9995", "bc": "-5"}],
    }
    (row,) = client.ok("GET", "/fapi/v1/income", {"incomeType": "FUNDING_FEE"})
    assert (row["symbol"], row["income"], row["asset"], row["tradeId"]) == (
        "BTCUSDT",
        "-5",
        "USDT",
        "",
    )
    assert isinstance(row["tranId"], str) and row["time"] == funding["E"]


# ---- the user data stream's listenKey ---------------------------------------------------------


def test_listen_keys_start_extend_and_close(sim: AsterSimulator, client: Client) -> None:
    key = client.listen_key().json()["listenKey"]
    assert len(key) == 64
    assert client.listen_key().json() == {"listenKey": key}  # the active one, extended
    assert client.listen_key("PUT").json() == {}
    ws = create_connection(sim.user_stream_url(key), timeout=5)
    assert sim.wait_readers(1)
    assert client.listen_key("DELETE").json() == {}
    assert sim.wait_for(lambda: sim.user_stream.reader_count() == 0)
    refused(client.listen_key("PUT"), 400, -1125)
    with pytest.raises(WebSocketBadStatusException):
        create_connection(sim.user_stream_url(key), timeout=5)
    ws.close()
    refused(client.http.post("/fapi/v1/listenKey"), 401, -2014)


def test_a_lapsed_listen_key_says_listen_key_expired_and_closes() -> None:
    offset = [0]
    with AsterSimulator(
        api_key=KEY,
        api_secret=SECRET,
        wall_clock=lambda: wall_clock() + offset[0],
        listen_key_validity_ms=60_000,
    ) as sim:
        client = Client(sim)
        key = client.listen_key().json()["listenKey"]
        ws = create_connection(sim.user_stream_url(key), timeout=5)
        assert sim.wait_readers(1)
        offset[0] = 50_000
        assert client.listen_key("PUT").status_code == 200  # valid until +110 s now
        offset[0] = 100_000
        time.sleep(0.2)  # the expiry check runs every 50 ms
        assert sim.listen_key == key
        offset[0] = 111_000
        expired = orjson.loads(ws.recv())
        assert expired["e"] == "listenKeyExpired" and expired["E"] > 0
        assert sim.wait_for(lambda: sim.user_stream.reader_count() == 0)
        assert sim.listen_key is None
        new_key = client.listen_key().json()["listenKey"]
        assert new_key != key
        ws.close()
        client.http.close()


def test_expire_listen_key_cuts_the_readers_at_once(sim: AsterSimulator, stream: WebSocket) -> None:
    sim.expire_listen_key()
    assert orjson.loads(stream.recv())["e"] == "listenKeyExpired"
    assert sim.wait_for(lambda: sim.user_stream.reader_count() == 0)


def test_dropped_connections_and_a_restart_keep_the_account(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    sim.open_position("BTCUSDT", "0.1", "100000")
    port = sim.port
    sim.drop_connections()
    assert sim.wait_for(lambda: sim.user_stream.reader_count() == 0)
    sim.restart()
    assert sim.port == port
    assert position(client, "BTCUSDT")["positionAmt"] == "0.1"
    key = client.listen_key().json()["listenKey"]
    ws = create_connection(sim.user_stream_url(key), timeout=5)
    assert sim.wait_readers(1)
    sim.close_by_hand("BTCUSDT")
    events = read_events(ws, lambda e: e["e"] == "ACCOUNT_UPDATE")
    assert events[-1]["a"]["P"][0]["pa"] == "0"
    ws.close()


# ---- the mark price stream --------------------------------------------------------------------


def test_the_mark_price_stream_pushes_the_mark_then_each_move_and_takes_subscriptions(
    sim: AsterSimulator,
) -> None:
    ws = create_connection(f"{sim.stream_url}/ws/btcusdt@markPrice", timeout=5)
    assert sim.wait_for(lambda: sim.mark_stream.subscriber_count("BTCUSDT") == 1)
    current = orjson.loads(ws.recv())  # what Aster's timer pushes within its 3 s
    assert (current["e"], current["s"], current["p"]) == ("markPriceUpdate", "BTCUSDT", "100000")
    sim.move_mark("BTCUSDT", "101000")
    update = orjson.loads(ws.recv())
    assert (update["e"], update["s"], update["p"]) == ("markPriceUpdate", "BTCUSDT", "101000")
    assert set(update) == {"e", "E", "s", "p", "i", "P", "r", "T"}
    ws.send(orjson.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice"], "id": 1}))
    assert orjson.loads(ws.recv()) == {"result": None, "id": 1}
    assert orjson.loads(ws.recv())["p"] == "4000"
    sim.move_mark("ETHUSDT", "4050")
    assert orjson.loads(ws.recv())["p"] == "4050"
    ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
    listed = orjson.loads(ws.recv())
    assert listed == {"result": ["btcusdt@markPrice", "ethusdt@markPrice"], "id": 2}
    ws.close()


# ---- scenario files ---------------------------------------------------------------------------


def test_a_scenario_scripts_the_exchange_step_by_step(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    steps = parse_scenario(
        b'{"step": "open_position", "symbol": "BTCUSDT", "amount": "0.2", "entry_price": "99000"}\n'
        b'{"step": "move_mark", "symbol": "BTCUSDT", "price": "98000", "delay_ms": 1}\n'
        b'{"step": "pay_funding", "symbol": "BTCUSDT", "rate": "0.0002"}\n'
        b'{"step": "liquidate", "symbol": "BTCUSDT", "note": "the engine takes over"}\n'
        b'{"step": "rate_limit", "n": 1, "status": 418}\n'
    )
    results = run_scenario(sim, steps, sleep=lambda _s: None)
    assert results[2] == Decimal("-3.92")
    events = read_events(stream, lambda e: e.get("o", {}).get("X") == "FILLED")
    assert order_updates(events)[-1]["c"].startswith("autoclose-")
    refused(client.http.get("/fapi/v1/time"), 418, -1003)
    with pytest.raises(ScenarioError, match=r"line 1 .*unknown"):
        parse_scenario(b'{"step": "liquidate", "symbol": "BTCUSDT", "size": "1"}')


def test_the_sample_scenario_plays_to_the_end(
    sim: AsterSimulator, client: Client, stream: WebSocket
) -> None:
    waited: list[float] = []
    run_scenario(sim, load_scenario(DEMO), sleep=waited.append)
    assert sum(waited) == pytest.approx(1.7)
    events = read_events(stream, lambda e: e["e"] == "listenKeyExpired")
    clients = [o["c"] for o in order_updates(events) if o["x"] in ("TRADE", "CALCULATED")]
    assert clients[0] == "p-btc-1-tp1"
    assert clients[1].startswith("web_") and clients[2].startswith("autoclose-")
    assert [e["a"]["m"] for e in events if e["e"] == "ACCOUNT_UPDATE"].count("FUNDING_FEE") == 1
    refused(client.http.get("/fapi/v1/time"), 429, -1003)
