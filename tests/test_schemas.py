"""The JSON Schemas in schemas/ describe every input trueup reads and every event it stores.

Inputs are checked line by line on the sample capture and on Bybit's documented examples;
stored input events and emitted events in the form the journal keeps (codec.as_json). A new
event type, intent kind, endpoint or channel without its schema fails here.
"""

import json
import typing
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.inputs import T0
from trueup.adapters import (
    capture,
    feed_status,
    intents,
    notification_reports,
    rule_changes,
    trigger_commands,
    venues,
)
from trueup.adapters.aster import messages as aster_messages
from trueup.adapters.aster import wire as aster_wire
from trueup.adapters.bybit import messages, wire
from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages as hl_messages
from trueup.adapters.hyperliquid import wire as hl_wire
from trueup.adapters.market_data import capture_market
from trueup.adapters.store import codec
from trueup.adapters.store.account_clock import with_clock
from trueup.domain.emitted import (
    EMITTED_TYPES,
    Emitted,
    PositionSyncFailed,
    RateLimit,
    StalePosition,
    TriggerError,
    TriggerExpired,
    TriggerRefused,
    WsReconnect,
)
from trueup.domain.events import INPUT_EVENT_TYPES, InputRejected
from trueup.domain.keys import LegOpening
from trueup.domain.reconciler import reconcile
from trueup.domain.rules.config import RuleConfig
from trueup.domain.vocabulary import PositionSide
from trueup.runners.cli import main

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
SAMPLE = ROOT / "samples" / "bybit-session.jsonl"
BASE_URI = "https://trueup.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
LINE = "inputs/capture-line.schema.json"
# Per venue, the schema of its market data (under inputs/market/).
MARKET_SCHEMAS = {
    "aster": "aster-mark-price",
    "bybit": "bybit-tickers",
    "hyperliquid": "hyperliquid",
}
WITHOUT_MARKET_DATA = {"ccxt"}  # its public prices are not read yet
MARKET = json.loads((Path(__file__).parent / "fixtures" / "market-data.json").read_text())
BYBIT = "inputs/bybit/"
INTENTS = "inputs/intents/"
SHARED_PARTS = {"InputEvent", "records", "Emitted"}  # under schemas/events/ and emitted/
WS_TOPICS = ("position", "order", "execution", "wallet")
REST_SCHEMAS = {
    "/v5/position/list": "rest-position-list",
    "/v5/order/realtime": "rest-order-realtime",
    "/v5/order/history": "rest-order-history",
    "/v5/execution/list": "rest-execution-list",
    "/v5/account/wallet-balance": "rest-wallet-balance",
}


# --- loading -----------------------------------------------------------------------------


def schema_paths() -> list[str]:
    return sorted(p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.rglob("*.schema.json"))


@cache
def load(path: str) -> JSON:
    schema: JSON = json.loads((SCHEMAS / path).read_text())
    return schema


@cache
def registry() -> Registry[Any]:
    resources: list[tuple[str, Resource[Any]]] = [
        (load(path)["$id"], DRAFT202012.create_resource(load(path))) for path in schema_paths()
    ]
    return Registry().with_resources(resources)


@cache
def validator(path: str) -> Any:
    return Draft202012Validator(load(path), registry=registry())


def errors(path: str, instance: object) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator(path).iter_errors(instance)
    ]


def assert_valid(path: str, instance: object) -> None:
    found = errors(path, instance)
    assert not found, f"{path}:\n" + "\n".join(found)


def names_under(folder: str) -> set[str]:
    """The schema names directly in a folder of schemas/, shared parts left out."""
    return {
        Path(p).name.removesuffix(".schema.json")
        for p in schema_paths()
        if Path(p).parent.as_posix() == folder
    } - SHARED_PARTS


def specific_schema(record: JSON) -> str | None:
    """The schema of a capture line's data: by channel, then topic, endpoint (and retCode), kind
    or action; None when the capture-line schema is all there is (a clock tick, an HTTP error)."""
    channel = record["channel"]
    if channel == "clock" or record.get("status", 200) != 200:
        return None
    if channel == "intent":
        return f"{INTENTS}{record['data']['kind']}.schema.json"
    if channel == "operator":
        return f"inputs/operator/{record['data']['action']}.schema.json"
    if channel == "trigger":
        return "inputs/trigger.schema.json"
    if channel == "placement":
        return "inputs/placement.schema.json"
    if channel == "notification":
        return "inputs/notification.schema.json"
    if channel == "feed":
        return f"inputs/feed/{record['data']['event']}.schema.json"
    if channel == "rules":
        return "inputs/rules.schema.json"
    if channel == "market":
        return f"inputs/market/{MARKET_SCHEMAS[record['venue']]}.schema.json"
    if channel == "ws":
        family = record["data"]["topic"].split(".", 1)[0]
        assert family in WS_TOPICS, family
        return f"{BYBIT}ws-{family}.schema.json"
    assert channel == "rest", channel
    if record["data"].get("retCode") != 0:
        return f"{BYBIT}rest-error.schema.json"
    return f"{BYBIT}{REST_SCHEMAS[record['endpoint']]}.schema.json"


def refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


# --- the schemas themselves --------------------------------------------------------------


@pytest.mark.parametrize("path", schema_paths())
def test_every_schema_is_a_valid_draft_2020_12_schema_named_by_its_path(path: str) -> None:
    schema = load(path)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == BASE_URI + path
    assert schema.get("title") and schema.get("description")


@pytest.mark.parametrize("path", schema_paths())
def test_every_reference_points_at_a_schema_that_exists(path: str) -> None:
    resolver = registry().resolver(base_uri=load(path)["$id"])
    for ref in refs(load(path)):
        assert resolver.lookup(ref).contents is not None, ref


@pytest.mark.parametrize("path", schema_paths())
def test_the_examples_inside_a_schema_match_it(path: str) -> None:
    for example in load(path).get("examples", []):
        assert_valid(path, example)


def test_every_stored_input_event_type_has_a_schema_and_every_event_schema_a_type() -> None:
    types = {t.type for t in INPUT_EVENT_TYPES}
    assert types - names_under("events") == set(), "event types without schemas/events/<type>"
    assert names_under("events") - types == set(), "event schemas of no stored event type"


def test_every_emitted_event_type_has_a_schema_and_every_emitted_schema_a_type() -> None:
    types = {t.type for t in EMITTED_TYPES}
    assert types - names_under("emitted") == set(), "emitted types without schemas/emitted/<type>"
    assert names_under("emitted") - types == set(), "emitted schemas of no emitted type"


def test_every_channel_intent_kind_and_endpoint_the_decoder_reads_has_a_schema() -> None:
    assert load(LINE)["properties"]["channel"]["enum"] == list(capture.CHANNELS)
    assert load("inputs/intent.schema.json")["properties"]["kind"]["enum"] == list(intents.DECODERS)
    assert names_under("inputs/intents") == set(intents.DECODERS)
    assert sorted(wire.REST_ENDPOINTS) == sorted(REST_SCHEMAS)
    bybit = {f"ws-{topic}" for topic in WS_TOPICS} | set(REST_SCHEMAS.values()) | {"rest-error"}
    assert names_under("inputs/bybit") - {"common"} == bybit


# --- the sample capture ------------------------------------------------------------------

LINES = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
LINE_IDS = [f"line-{n}" for n in range(1, len(LINES) + 1)]


@pytest.mark.parametrize("line", LINES, ids=LINE_IDS)
def test_every_sample_line_is_a_capture_line(line: bytes) -> None:
    assert_valid(LINE, orjson.loads(line))


@pytest.mark.parametrize("line", LINES, ids=LINE_IDS)
def test_a_sample_line_matches_its_specific_schema_exactly_when_trueup_can_use_it(
    line: bytes,
) -> None:
    record = orjson.loads(line)
    path = specific_schema(record)
    if path is None:
        return
    event = decode_line(line)
    found = errors(path, record["data"])
    # An error reply is well-formed (it matches rest-error) though trueup keeps it rejected.
    if isinstance(event, InputRejected) and event.ret_code is None:
        assert found, f"{path} accepts a line trueup rejects: {event.reason}"
    else:
        assert not found, "\n".join(found)
    if record["channel"] == "intent":
        assert_valid("inputs/intent.schema.json", record["data"])


def test_the_sample_holds_both_an_error_reply_and_a_malformed_frame() -> None:
    rejected = [e for e in map(decode_line, LINES) if isinstance(e, InputRejected)]
    assert any(e.ret_code is None for e in rejected)
    assert any(e.ret_code is not None for e in rejected)


def test_an_error_reply_is_not_a_response_of_its_endpoint() -> None:
    (record,) = [
        r for r in map(orjson.loads, LINES) if r["channel"] == "rest" and r["data"]["retCode"]
    ]
    assert_valid(f"{BYBIT}rest-error.schema.json", record["data"])
    assert errors(f"{BYBIT}{REST_SCHEMAS[record['endpoint']]}.schema.json", record["data"])


def test_a_response_whose_retcode_is_0_spelt_as_a_string_is_one_as_the_decoder_reads_it() -> None:
    # capture-format.md: an integer may be a string of its digits; "1" is an error reply.
    record = next(r for r in map(orjson.loads, LINES) if r.get("endpoint") == "/v5/position/list")
    path = f"{BYBIT}{REST_SCHEMAS[record['endpoint']]}.schema.json"
    for spelt, success in (("0", True), ("1", False)):
        body = record["data"] | {"retCode": spelt}
        decoded = decode_line(orjson.dumps(record | {"data": body}))
        assert (not isinstance(decoded, InputRejected), not errors(path, body)) == (success,) * 2


# --- Bybit's documented examples (built by the builders that follow the V5 pages) --------


def documented_examples() -> list[tuple[str, JSON]]:
    """Field values from the stream and response examples of Bybit's V5 pages."""
    position = messages.position_item(
        symbol="BTCUSDT",
        side="",
        size="0",
        seq=8327597863,
        updated_time=1697682317038,
        position_idx=2,
        mark_price="28184.5",
        cur_realised_pnl="1.26",
        cum_realised_pnl="-25.06579337",
    )
    order = messages.order_item(
        symbol="ETH-30DEC22-1400-C",
        order_id="5cf98598-39a7-459e-97bf-76ca765ee020",
        side="Sell",
        qty="1",
        status="Filled",
        updated_time=1672364262457,
        created_time=1672364262444,
        category="option",
        price="72.5",
        cum_exec_qty="1",
        avg_price="75",
        cum_exec_fee="0.358635",
    )
    execution = messages.execution_item(
        symbol="BTCUSDT",
        exec_id="0ab1bdf7-4219-438b-b30a-32ec863018f7",
        order_id="9aac161b-8ed6-450d-9cab-c5cc67c21784",
        side="Sell",
        exec_price="95900.1",
        exec_qty="0.5",
        exec_time=1746270400353,
        seq=140612148849382,
        exec_fee="26.3725275",
        closed_size="0.5",
    )
    wallet = messages.wallet_item(
        total_equity="10262.91335023",
        total_wallet_balance="9684.46297164",
        available="9556.6056555",
    )
    rest_position = messages.position_item(
        symbol="BTCUSD",
        side="Sell",
        size="300",
        seq=5723621632,
        updated_time=1697673600012,
        entry_price="27464.50441675",
        mark_price="28224.50",
        unrealised_pnl="-0.00029413",
        cum_realised_pnl="-0.00096902",
        created_time=1676538056258,
        rest=True,
    )
    open_order = messages.order_item(
        symbol="ETHUSDT",
        order_id="fd4300ae-7847-404e-b947-b46980a4d140",
        order_link_id="test-000005",
        side="Buy",
        qty="0.10",
        status="New",
        updated_time=1684738540561,
        created_time=1684738540559,
        price="1600.00",
        order_type="Limit",
        cum_exec_qty="0.00",
        avg_price="0",
        position_idx=1,
        trigger_price="0.00",
        rest=True,
    )
    cancelled = messages.order_item(
        symbol="BTCUSDT",
        order_id="14bad3a1-6454-43d8-bcf2-5345896cf74d",
        order_link_id="YLxaWKMiHU",
        side="Buy",
        qty="0.003",
        status="Cancelled",
        updated_time=1684476068372,
        created_time=1684476068369,
        price="26864.40",
        order_type="Limit",
        cum_exec_qty="0.000",
        avg_price="0",
        position_idx=1,
        reject_reason="EC_PostOnlyWillTakeLiquidity",
        rest=True,
    )
    trade = messages.execution_item(
        symbol="ETHPERP",
        exec_id="e0cbe81d-0f18-5866-9415-cf319b5dab3b",
        order_id="8c065341-7b52-4ca9-ac2c-37e31ac55c94",
        side="Buy",
        exec_price="1190.15",
        exec_qty="0.1",
        exec_time=1672282722429,
        seq=4688002127,
        exec_fee="0.071409",
        closed_size="",
        rest=True,
    )

    def frame(topic: str, item: JSON, message_id: str, creation_time: int) -> JSON:
        return messages.ws_frame(topic, [item], message_id=message_id, creation_time=creation_time)

    return [
        (
            "inputs/bybit/ws-position.schema.json",
            frame(
                "position", position, "1003076014fb7eedb-c7e6-45d6-a8c1-270f0169171a", 1697682317044
            ),
        ),
        (
            "inputs/bybit/ws-order.schema.json",
            frame("order", order, "5923240c6880ab-c59f-420b-9adb-3639adc9dd90", 1672364262474),
        ),
        (
            "inputs/bybit/ws-execution.schema.json",
            frame("execution", execution, "386825804_BTCUSDT_140612148849382", 1746270400355),
        ),
        (
            "inputs/bybit/ws-wallet.schema.json",
            frame("wallet", wallet, "592324d2bce751-ad38-48eb-8f42-4671d1fb4d4e", 1700034722104),
        ),
        (
            "inputs/bybit/rest-position-list.schema.json",
            messages.rest_ok("inverse", [rest_position], time=1697684980172),
        ),
        (
            "inputs/bybit/rest-order-realtime.schema.json",
            messages.rest_ok(
                "linear",
                [open_order],
                time=1684765770483,
                next_page_cursor="page_args%3Dfd4300ae-7847-404e-b947-b46980a4d140%26symbol%3D6%26",
            ),
        ),
        (
            "inputs/bybit/rest-order-history.schema.json",
            messages.rest_ok(
                "linear", [cancelled], time=1684766282976, next_page_cursor="page_token%3D39380%26"
            ),
        ),
        (
            "inputs/bybit/rest-execution-list.schema.json",
            messages.rest_ok(
                "linear", [trade], time=1672283754510, next_page_cursor="132766%3A2%2C132766%3A2"
            ),
        ),
        (
            "inputs/bybit/rest-error.schema.json",
            messages.rest_error(10006, "Too many visits!", time=1672738134824),
        ),
    ]


@pytest.mark.parametrize(
    ("path", "example"), documented_examples(), ids=[p for p, _ in documented_examples()]
)
def test_bybits_documented_examples_match_the_input_schemas_and_decode(
    path: str, example: JSON
) -> None:
    assert_valid(path, example)
    endpoint = next((e for e, name in REST_SCHEMAS.items() if f"/{name}." in path), None)
    if "/ws-" in path:
        record = messages.capture_ws(T0, "main", example)
    elif endpoint is not None:
        record = messages.capture_rest(T0, "main", endpoint, {"category": "linear"}, example)
    else:
        return  # an error reply: trueup keeps it as rejected, by design
    event = decode_line(orjson.dumps(record))
    assert not isinstance(event, InputRejected), event.reason


# --- what the input schemas refuse -------------------------------------------------------


def without(record: JSON, name: str) -> JSON:
    return {k: v for k, v in record.items() if k != name}


def _frame(topic: str, item: JSON) -> JSON:
    return messages.ws_frame(topic, [item], message_id="m", creation_time=T0)


_POSITION = messages.position_item(symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0)
_ORDER = messages.order_item(
    symbol="BTCUSDT", order_id="o-1", side="Buy", qty="1", status="New", updated_time=T0
)
_OPENED: JSON = {
    "kind": "position_opened",
    "position_id": "p-1",
    "category": "linear",
    "symbol": "BTCUSDT",
    "side": "Buy",
    "qty": "1",
    "mode": "LIVE",
}
_WS_LINE: JSON = {"at": T0, "channel": "ws", "venue": "bybit", "account": "main", "data": {}}
_REST_LINE: JSON = _WS_LINE | {"channel": "rest", "endpoint": "/v5/position/list"}
_CLEAN: JSON = {
    "action": "clean_position",
    "position_id": "p-1",
    "exit_reason": "STALE_CLEANUP",
    "operator": "alice",
}


def _resized(qty: object) -> JSON:
    return {"kind": "position_resized", "position_id": "p-1", "qty": qty}


@pytest.mark.parametrize(
    ("path", "instance"),
    [
        pytest.param(
            BYBIT + "ws-position.schema.json",
            _frame("position", _POSITION | {"size": "abc"}),
            id="size-abc",
        ),
        pytest.param(
            BYBIT + "ws-position.schema.json",
            _frame("position", _POSITION | {"size": 1}),
            id="size-a-number",
        ),
        pytest.param(
            BYBIT + "ws-position.schema.json",
            _frame("position", _POSITION | {"side": "Long"}),
            id="side-long",
        ),
        pytest.param(
            BYBIT + "ws-position.schema.json",
            _frame("position", without(_POSITION, "size")),
            id="position-without-size",
        ),
        pytest.param(
            BYBIT + "ws-position.schema.json",
            _frame("order", _ORDER),
            id="order-under-position-schema",
        ),
        pytest.param(
            BYBIT + "ws-order.schema.json",
            _frame("order", _ORDER | {"orderStatus": "Done"}),
            id="unknown-order-status",
        ),
        pytest.param(
            BYBIT + "ws-order.schema.json",
            _frame("order", without(_ORDER, "category")),
            id="ws-order-without-category",
        ),
        pytest.param(
            BYBIT + "ws-wallet.schema.json", {"op": "pong", "success": True}, id="control-message"
        ),
        pytest.param(
            BYBIT + "rest-position-list.schema.json",
            {"retCode": 0, "retMsg": "OK", "result": {}, "time": T0},
            id="result-without-list",
        ),
        pytest.param(
            BYBIT + "rest-error.schema.json",
            messages.rest_ok("linear", [], time=T0),
            id="success-is-no-error",
        ),
        pytest.param(INTENTS + "position_resized.schema.json", _resized("-1"), id="negative-qty"),
        pytest.param(INTENTS + "position_resized.schema.json", _resized("0"), id="zero-qty"),
        pytest.param(INTENTS + "position_resized.schema.json", _resized(0.15), id="float-qty"),
        pytest.param(
            INTENTS + "position_opened.schema.json",
            _OPENED | {"timeFrame": "1h"},
            id="misspelt-field",
        ),
        pytest.param(
            INTENTS + "position_opened.schema.json", without(_OPENED, "mode"), id="no-mode"
        ),
        pytest.param(
            "inputs/intent.schema.json", {"kind": "position_teleported"}, id="unknown-kind"
        ),
        pytest.param(
            "inputs/intent.schema.json", {"kind": "account_mode", "mode": "DEMO"}, id="bad-mode"
        ),
        pytest.param(
            "inputs/operator/clean_position.schema.json",
            _CLEAN | {"exit_reason": "TP2"},
            id="cleanup-for-no-cleanup-reason",
        ),
        pytest.param(LINE, {"channel": "clock"}, id="line-without-at"),
        pytest.param(LINE, {"at": -1, "channel": "clock"}, id="negative-at"),
        pytest.param(LINE, _WS_LINE | {"channel": "fax"}, id="unknown-channel"),
        pytest.param(LINE, without(_WS_LINE, "data"), id="ws-line-without-data"),
        pytest.param(LINE, without(_WS_LINE, "account"), id="ws-line-without-account"),
        pytest.param(LINE, _WS_LINE | {"status": 200}, id="status-on-a-ws-line"),
        pytest.param(LINE, without(_REST_LINE, "endpoint"), id="rest-line-without-endpoint"),
        pytest.param(LINE, without(_REST_LINE, "data"), id="rest-line-without-data-or-status"),
        pytest.param(LINE, _REST_LINE | {"status": 42}, id="no-http-status"),
    ],
)
def test_the_input_schemas_reject_what_trueup_cannot_use(path: str, instance: JSON) -> None:
    assert errors(path, instance)


_INTENT_LINE: JSON = _WS_LINE | {"channel": "intent", "data": _OPENED}


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_INTENT_LINE | {"account": ""}, id="empty-account"),
        pytest.param(_INTENT_LINE | {"account": "ma\x00in"}, id="nul-in-account"),
        pytest.param(_INTENT_LINE | {"account": "m" * 201}, id="overlong-account"),
        pytest.param(_INTENT_LINE | {"venue": "binance"}, id="venue-trueup-does-not-read"),
        pytest.param(_INTENT_LINE | {"venue": "ccxt"}, id="ccxt-without-exchange"),
        pytest.param(_INTENT_LINE | {"data": _OPENED | {"symbol": ""}}, id="empty-symbol"),
        pytest.param(_INTENT_LINE | {"data": _OPENED | {"symbol": "BTC\tX"}}, id="tab-symbol"),
        pytest.param(_INTENT_LINE | {"data": _OPENED | {"position_id": ""}}, id="empty-id"),
        pytest.param(
            _WS_LINE | {"channel": "operator", "data": _CLEAN | {"position_id": "p\x1b"}},
            id="escape-in-cleaned-id",
        ),
    ],
)
def test_the_schemas_and_the_decoder_refuse_the_same_names(record: JSON) -> None:
    found = errors(LINE, record) + errors(specific_schema(record) or LINE, record["data"])
    assert found
    assert isinstance(decode_line(orjson.dumps(record)), InputRejected)


@pytest.mark.parametrize("venue", ["bybit", "hyperliquid", "aster", "ccxt:binanceusdm"])
def test_every_venue_trueup_reads_is_a_venue_of_the_schemas(venue: str) -> None:
    assert capture.reads_venue(venue)
    assert_valid(LINE, _INTENT_LINE | {"venue": venue})


def test_the_schemas_name_every_registered_venue() -> None:
    pattern = load("common.schema.json")["$defs"]["venue"]["pattern"]
    assert {v.name for v in venues.VENUES} == {
        name.removesuffix(":[a-z][a-z0-9]*") for name in pattern[2:-2].split("|")
    }


# --- stored input events -----------------------------------------------------------------


def more_inputs() -> list[JSON]:
    """Well-formed inputs the sample lacks, so every event type's stored form is checked."""
    order = messages.order_item(
        symbol="BTCUSDT",
        order_id="o-9",
        side="Sell",
        qty="0.1",
        status="Cancelled",
        updated_time=1762199400000,
        rest=True,
    )
    page = messages.rest_ok("linear", [], time=1762199400001, next_page_cursor="c%3D2")
    limited = messages.capture_rest(
        1762199400004, "main", "/v5/position/list", {"category": "linear"}, {}
    )
    limited["status"] = 429
    del limited["data"]
    return [
        messages.capture_intent(
            1762199400000, "main", {"kind": "order_cancelled", "order_link_id": "p-1-tp1"}
        ),
        messages.capture_rest(
            1762199400002,
            "main",
            "/v5/order/history",
            {"category": "linear", "symbol": "BTCUSDT"},
            messages.rest_ok("linear", [order], time=1762199400001),
        ),
        messages.capture_rest(
            1762199400003, "main", "/v5/position/list", {"category": "linear", "symbol": "X"}, page
        ),
        limited,
        {
            "at": 1762199400005,
            "venue": "bybit",
            "account": "main",
            "channel": "operator",
            "data": _CLEAN | {"position_id": "p-sol-paper-1"},
        },
        feed_status.down(1762199400006, "bybit", "main", stream="private", reason="closed"),
        feed_status.reconnected(
            1762199400006, "bybit", "main", stream="private", reason="stream closed", attempt=1
        ),
        feed_status.connected(1762199400006, "bybit", "main", stream="private"),
        rule_changes.record(1762199400007, RuleConfig(cooldown_ms=60_000), "rules.toml"),
        {"at": 1762199400008, "venue": "bybit", "account": "main", "channel": "clock"},
        capture_market(
            1762199400009, "bybit", "main", MARKET["bybit_ticker_linear_delta"]["frame"]
        ),
        *(
            trigger_commands.record(1762199400010 + n, "bybit", "main", example)
            for n, example in enumerate(load("inputs/trigger.schema.json")["examples"])
        ),
        *(
            {"at": 1762199400020 + n, "channel": "placement", "venue": "bybit"}
            | {"account": "main", "data": example}
            for n, example in enumerate(load("inputs/placement.schema.json")["examples"])
        ),
        *(
            notification_reports.record(1762199400030 + n, "bybit", "main", example)
            for n, example in enumerate(load("inputs/notification.schema.json")["examples"])
        ),
    ]


UNREADABLE = [b"{not json", orjson.dumps({"at": T0 + 5, "channel": "fax"})]
ALL_LINES = LINES + [orjson.dumps(r) for r in more_inputs()] + UNREADABLE


@pytest.mark.parametrize("record", more_inputs(), ids=lambda r: str(r["at"]))
def test_inputs_beyond_the_sample_match_their_schemas_too(record: JSON) -> None:
    assert_valid(LINE, record)
    path = specific_schema(record)
    if path is not None:
        assert_valid(path, record["data"])


@pytest.mark.parametrize("line", ALL_LINES)
def test_the_stored_form_of_every_input_event_matches_the_schema_of_its_type(line: bytes) -> None:
    stored = codec.as_json(decode_line(line))
    assert_valid(f"events/{stored['type']}.schema.json", stored)


def test_a_stored_form_keeping_the_accounts_clock_matches_the_schema_of_its_type() -> None:
    event = decode_line(LINES[0])
    stored = orjson.loads(with_clock(codec.encode(event), event.at + 60_000))
    assert_valid(f"events/{stored['type']}.schema.json", stored)


def test_every_input_event_type_is_checked_against_its_schema_on_some_input() -> None:
    seen = {decode_line(line).type for line in ALL_LINES}
    assert seen == {t.type for t in INPUT_EVENT_TYPES}


def _stored_execution() -> JSON:
    line = next(line for line in LINES if b'"topic":"execution"' in line)
    return codec.as_json(decode_line(line))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"at": "1762199112410"}, id="at-as-a-string"),
        pytest.param({"symbols": None}, id="an-execution-report-names-its-symbols"),
        pytest.param({"input_id": "not-a-uuid"}, id="input-id-not-a-uuid"),
        pytest.param({"source": "nats"}, id="unknown-source"),
        pytest.param({"surprise": 1}, id="a-field-the-codec-never-writes"),
    ],
)
def test_the_event_schemas_reject_what_the_codec_never_writes(change: JSON) -> None:
    assert errors("events/ExecutionsReported.schema.json", _stored_execution() | change)


def test_a_decimal_stored_as_a_float_is_not_a_stored_event() -> None:
    stored = _stored_execution()
    stored["fills"][0]["exec_qty"] = 0.1
    assert errors("events/ExecutionsReported.schema.json", stored)


# --- emitted events ----------------------------------------------------------------------


def test_what_the_rules_emit_for_the_sample_matches_the_emitted_schemas() -> None:
    emitted = reconcile(decode_line(line) for line in LINES)
    assert emitted, "the sample should make the rules speak"
    for event in emitted:
        stored = codec.as_json(event)
        assert_valid(f"emitted/{stored['type']}.schema.json", stored)


# --- events as `trueup events --json` lists them -------------------------------------------

LISTED = "listed-event.schema.json"


def test_the_listing_schema_names_every_input_and_emitted_event_type() -> None:
    listed = set(load(LISTED)["properties"]["type"]["enum"])
    assert listed == {t.type for t in INPUT_EVENT_TYPES} | {t.type for t in EMITTED_TYPES}
    routed = {branch["then"]["$ref"] for branch in load(LISTED)["allOf"]}
    assert routed == {f"events/{t.type}.schema.json" for t in INPUT_EVENT_TYPES} | {
        f"emitted/{t.type}.schema.json" for t in EMITTED_TYPES
    }


def test_every_line_trueup_events_json_prints_matches_the_listing_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "inputs.jsonl"
    capture.write_bytes(b"\n".join(ALL_LINES) + b"\n")
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    capsys.readouterr()
    assert main(["--store", store, "events", "--json"]) == 0
    printed = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    for line in printed:
        assert_valid(LISTED, line)
    types = {line["type"] for line in printed}
    assert {t.type for t in INPUT_EVENT_TYPES} - types <= {"NotificationAttempted"}
    assert types & {t.type for t in EMITTED_TYPES}, "the sample should make the rules speak"
    # The two fields a listing adds are what it must add, and the types stay as strict.
    first = printed[0]
    assert errors(LISTED, {k: v for k, v in first.items() if k != "position"})
    assert errors(LISTED, {k: v for k, v in first.items() if k != "symbol"})
    assert errors(LISTED, first | {"surprise": 1})


_FIELD_VALUES: JSON = {
    "venue": "bybit",
    "account": "main",
    "at": 1762199242524,
    "cause": "7f114d48-5b52-58a0-9cb9-6ab9ca482a10",
    "category": "linear",
    "symbol": "BTCUSDT",
    "position_idx": 0,
    "reason": "local 0.3 vs exchange 0.15: 50% apart for 30000 ms",
    "local_qty": Decimal("0.3"),
    "exchange_qty": Decimal("-0.15"),
    "drift_pct": Decimal("50.00"),
    "venue_order_id": "b978d3ed-ea5e-5ce5-a0b4-7285d052caa7",
    "client_order_id": "p-btc-1-tp1",
    "position_id": "p-btc-1",
    "qty": Decimal("0.15"),
    "filled_qty": Decimal("0.15"),
    "avg_price": Decimal("107400.0"),
    "trade_ids": ("5f6c1e0a-9d2b-5c8f-b7a3-2e4d6f8a0c1b",),
    "order_type": "limit",
    "limit_price": Decimal("107453.7"),
    "entry_client_order_id": "p-btc-1-entry",
    "retry": 1,
    "purpose": "TP1",
    "status": "PENDING_TRIGGER",
    "trigger_price": Decimal("104500"),
    "exit_reason": "STALE_CLEANUP",
    "until": 1762201042524,
    "mode": "PAPER",
    "operator": "alice",
    "count": 7,
    "figure": "fill_realised",
    "trade_id": "0ab1bdf7-4219-438b-b30a-32ec863018f7",
    "trueup_pnl": Decimal("1.0"),
    "venue_pnl": Decimal("3.0"),
    "tolerance": Decimal("0.0112"),
    "trigger": "LIQUIDATION_DISTANCE",
    "threshold": Decimal("0.1"),
    "score": Decimal("0.812"),
    "concentration": Decimal("1.2"),
    "leverage": Decimal("10"),
    "liquidation_distance": Decimal("0.08"),
    "liq_price": Decimal("92000"),
    "mark_price": Decimal("100000"),
    "notional": None,
    "trigger_id": "btc-tp",
    "kind": "trailing",
    "direction": "LONG",
    "arming": 1,
    "price": Decimal("104500"),
    "high_water": Decimal("110000"),
    "low_water": None,
    "level": Decimal("104500"),
    "unrealised_pnl": Decimal("12.5"),
    "exchange_size": Decimal("0.3"),
    "ratio": Decimal("0.5"),
    "quantity": Decimal("0.15"),
    "action": "reduce",
    "order_side": "SELL",
    "order_position_idx": 0,
    "reduce_only": True,
    "auto_execute": False,
    "decision_id": "0c08d3a0-cc7d-5edd-92c5-9b5c302cec97",
    "requested_by": "alice",
    "expires_at": 1762285400000,
    "command": "confirm",
    "opens": LegOpening(
        position_id="lock:btc-lock:1", category="linear", position_idx=2, side=PositionSide.SHORT
    ),
}
_ACCOUNT_WIDE: JSON = {"category": None, "symbol": None, "position_idx": None}
_OVERRIDES: dict[type[Emitted], JSON] = {
    StalePosition: {"reason": "PAPER_LEFTOVER"},
    RateLimit: _ACCOUNT_WIDE,
    PositionSyncFailed: _ACCOUNT_WIDE,
    WsReconnect: _ACCOUNT_WIDE,
    TriggerExpired: _ACCOUNT_WIDE | {"symbol": "BTCUSDT"},
    TriggerRefused: _ACCOUNT_WIDE | {"symbol": "BTCUSDT", "reason": "trigger btc-tp is expired"},
    TriggerError: _ACCOUNT_WIDE | {"symbol": "BTCUSDT", "reason": "judging it failed"},
}


@pytest.mark.parametrize("kind", EMITTED_TYPES, ids=[t.type for t in EMITTED_TYPES])
def test_every_emitted_event_type_in_its_stored_form_matches_its_schema(
    kind: type[Emitted],
) -> None:
    fields = {f.name: _FIELD_VALUES[f.name] for f in msgspec.structs.fields(kind)}
    event = kind(**(fields | _OVERRIDES.get(kind, {})))
    path = f"emitted/{kind.type}.schema.json"
    stored = codec.as_json(event)
    assert_valid(path, stored)
    assert errors(path, stored | {"at": str(event.at)})
    assert errors(path, stored | {"surprise": 1})
    for name, hint in typing.get_type_hints(kind).items():
        if hint is Decimal:
            assert errors(path, stored | {name: 0.15}), name


# --- Hyperliquid: its info replies and WebSocket frames (built by its builders) ------------

HYPERLIQUID = "inputs/hyperliquid/"
HL_USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
HL_T0 = 1762199100000


def hl_schema(record: JSON) -> str:
    """The schema of a Hyperliquid capture line's data: by endpoint, or by channel."""
    if record["channel"] == "rest":
        return f"{HYPERLIQUID}rest-{record['endpoint']}.schema.json"
    return f"{HYPERLIQUID}ws-{record['data']['channel']}.schema.json"


def hyperliquid_examples() -> list[Any]:
    """One capture line per endpoint and channel, each wrapped as a pytest param."""
    user, at = HL_USER, HL_T0
    cloid = "0x" + "0a" * 16
    position = hl_messages.asset_position(
        coin="BTC",
        szi="-0.25",
        entry_px="65000.0",
        unrealized_pnl="-12.5",
        position_value="16262.5",
        margin_used="813.125",
        liquidation_px="98000.0",
    )
    state = hl_messages.clearinghouse_state([position], time=at, account_value="10000.0")
    order = hl_messages.open_order(
        coin="ETH", oid=91, side="B", limit_px="3000.0", sz="0.6", orig_sz="1.0", timestamp=at
    )
    stop = hl_messages.frontend_order(
        coin="BTC",
        oid=92,
        side="B",
        limit_px="70000.0",
        sz="0.25",
        timestamp=at,
        cloid=cloid,
        order_type="Stop Market",
        tif=None,
        reduce_only=True,
        trigger_px="68000.0",
        is_position_tpsl=True,
    )
    fill = hl_messages.user_fill(
        coin="ETH", px="3000.0", sz="0.4", side="B", time=at, oid=91, tid=118906512037719
    )
    funding = hl_messages.funding_event(
        time=at, coin="BTC", usdc="-0.5", szi="-0.25", funding_rate="0.0000125"
    )
    listed_funding = hl_messages.user_funding_item(
        time=at, coin="BTC", usdc="-0.5", szi="-0.25", funding_rate="0.0000125"
    )
    liquidation = hl_messages.liquidation_event(
        lid=1,
        liquidator="0x" + "0" * 39 + "1",
        liquidated_user=user,
        liquidated_ntl_pos="16262.5",
        liquidated_account_value="500.0",
    )

    def rest(endpoint: str, body: Any, *marks: Any, **params: Any) -> Any:
        record = hl_messages.capture_rest(at, user, endpoint, {"user": user} | params, body)
        return pytest.param(record, marks=marks, id=f"rest-{endpoint}")

    def ws(name: str, frame: JSON) -> Any:
        return pytest.param(hl_messages.capture_ws(at, user, frame), id=f"ws-{name}")

    return [
        rest("clearinghouseState", state, dex=""),
        rest("openOrders", [order]),
        rest("frontendOpenOrders", [stop]),
        rest("userFills", [fill]),
        rest("userFillsByTime", [fill], startTime=at - 60_000),
        rest("historicalOrders", [hl_messages.order_update(stop, "filled", at)]),
        rest("userFunding", [listed_funding], startTime=at - 3_600_000),
        rest("orderStatus", hl_messages.order_status(stop, "open", at), oid=92),
        ws("userFills", hl_messages.user_fills_frame(user, [fill], is_snapshot=True)),
        ws(
            "orderUpdates",
            hl_messages.order_updates_frame([hl_messages.order_update(order, "open", at)]),
        ),
        ws("user-fills", hl_messages.user_fills_event([fill])),
        ws("user-funding", funding),
        ws("user-liquidation", liquidation),
        ws("user-nonUserCancel", hl_messages.non_user_cancel_event([("ETH", 91)])),
        ws("webData2", hl_messages.web_data2_frame(user, state, [order], server_time=at)),
    ]


def test_every_hyperliquid_endpoint_and_channel_the_decoder_reads_has_a_schema() -> None:
    rest = {f"rest-{endpoint}" for endpoint in hl_wire.REST_ENDPOINTS}
    ws = {f"ws-{channel}" for channel in hl_wire.WS_CHANNELS}
    assert names_under("inputs/hyperliquid") - {"common"} == rest | ws


@pytest.mark.parametrize("record", hyperliquid_examples())
def test_a_hyperliquid_line_is_a_capture_line(record: JSON) -> None:
    assert_valid(LINE, record)


@pytest.mark.parametrize("record", [p.values[0] for p in hyperliquid_examples()])
def test_hyperliquid_inputs_match_their_schemas_decode_and_are_stored_as_described(
    record: JSON,
) -> None:
    assert_valid(hl_schema(record), record["data"])
    event = decode_line(orjson.dumps(record))
    assert not isinstance(event, InputRejected), event.reason
    stored = codec.as_json(event)
    assert_valid(f"events/{stored['type']}.schema.json", stored)


def _hl_bad(endpoint_or_channel: str, data: Any) -> JSON:
    if endpoint_or_channel.startswith("ws-"):
        return hl_messages.capture_ws(HL_T0, HL_USER, data)
    return hl_messages.capture_rest(HL_T0, HL_USER, endpoint_or_channel, {"user": HL_USER}, data)


_HL_FILL = hl_messages.user_fill(coin="BTC", px="1.0", sz="1.0", side="B", time=HL_T0, oid=1, tid=1)
_HL_ORDER = hl_messages.open_order(
    coin="BTC", oid=1, side="A", limit_px="1.0", sz="1.0", timestamp=HL_T0
)
_HL_POSITION = hl_messages.asset_position(coin="BTC", szi="1.0", entry_px="1.0")


@pytest.mark.parametrize(
    ("where", "data"),
    [
        pytest.param(
            "clearinghouseState",
            {"assetPositions": [_HL_POSITION]},
            id="state-without-margin-summary",
        ),
        pytest.param(
            "clearinghouseState",
            hl_messages.clearinghouse_state(
                [_HL_POSITION | {"position": _HL_POSITION["position"] | {"szi": 1.0}}],
                time=HL_T0,
            ),
            id="szi-a-float",
        ),
        pytest.param(
            "clearinghouseState",
            hl_messages.clearinghouse_state([_HL_POSITION | {"type": "hedge"}], time=HL_T0),
            id="not-one-way",
        ),
        pytest.param("userFills", [_HL_FILL | {"side": "S"}], id="fill-side-s"),
        pytest.param("userFills", [{k: v for k, v in _HL_FILL.items() if k != "tid"}], id="no-tid"),
        pytest.param("openOrders", {"orders": [_HL_ORDER]}, id="orders-not-an-array"),
        pytest.param(
            "orderStatus",
            hl_messages.order_status(_HL_ORDER, "teleported", HL_T0),
            id="unknown-order-status",
        ),
        pytest.param(
            "historicalOrders",
            [{"order": _HL_ORDER, "status": "filled"}],
            id="historical-order-without-status-timestamp",
        ),
        pytest.param("userFillsByTime", {"fills": [_HL_FILL]}, id="fills-by-time-not-an-array"),
        pytest.param(
            "ws-webData2",
            hl_messages.ws_frame("webData2", {"user": HL_USER, "openOrders": []}),
            id="web-data2-without-state",
        ),
        pytest.param(
            "ws-user",
            hl_messages.ws_frame("user", {"fills": [_HL_FILL | {"px": "abc"}]}),
            id="fill-price-abc",
        ),
        pytest.param(
            "ws-orderUpdates",
            hl_messages.order_updates_frame([{"order": _HL_ORDER, "status": "open"}]),
            id="update-without-status-timestamp",
        ),
    ],
)
def test_the_hyperliquid_schemas_reject_what_the_decoder_rejects(where: str, data: Any) -> None:
    record = _hl_bad(where, data)
    path = f"{HYPERLIQUID}{where}.schema.json" if where.startswith("ws-") else hl_schema(record)
    assert errors(path, data)
    assert isinstance(decode_line(orjson.dumps(record)), InputRejected)


def test_every_venue_s_market_data_has_a_schema_that_holds_its_documented_frames() -> None:
    assert set(MARKET_SCHEMAS) == set(capture.VENUES) - WITHOUT_MARKET_DATA
    assert names_under("inputs/market") == set(MARKET_SCHEMAS.values())
    for name, fixture in MARKET.items():
        if name != "about":
            venue = name.split("_", 1)[0]
            assert_valid(f"inputs/market/{MARKET_SCHEMAS[venue]}.schema.json", fixture["frame"])


# --- Aster: its documented replies and user-data events ------------------------------------

ASTER = "inputs/aster/"
ASTER_DOCUMENTED: JSON = json.loads(
    (Path(__file__).parent / "fixtures" / "aster-documented.json").read_text()
)
# The documented examples, each as a capture line (channel and endpoint) and the schema of its
# data.
ASTER_LINES = {
    "account_update": ("ws", None),
    "order_trade_update": ("ws", None),
    "margin_call": ("ws", None),
    "listen_key_expired": ("ws", None),
    "position_risk_one_way": ("rest", "/fapi/v2/positionRisk"),
    "position_risk_hedge": ("rest", "/fapi/v3/positionRisk"),
    "open_orders": ("rest", "/fapi/v1/openOrders"),
    "all_orders": ("rest", "/fapi/v1/allOrders"),
    "force_orders": ("rest", "/fapi/v3/openOrders"),
    "user_trades": ("rest", "/fapi/v1/userTrades"),
    "income": ("rest", "/fapi/v3/income"),
    "account": ("rest", "/fapi/v4/account"),
    "error": ("rest", "/fapi/v2/positionRisk"),
    "error_too_many_requests": ("rest", "/fapi/v1/openOrders"),
    "error_nonce_expired": ("rest", "/fapi/v3/accountWithJoinMargin"),
}


def aster_line(name: str) -> JSON:
    channel, endpoint = ASTER_LINES[name]
    data = ASTER_DOCUMENTED[name]["payload"]
    if channel == "ws":
        return aster_messages.capture_ws(T0, "main", data)
    assert endpoint is not None
    return aster_messages.capture_rest(T0, "main", endpoint, {}, data)


def aster_schema(record: JSON) -> str:
    """The schema of an Aster capture line's data: by event type, or by endpoint's kind."""
    data = record["data"]
    if record["channel"] == "ws":
        return f"{ASTER}ws-{data['e']}.schema.json"
    if isinstance(data, dict) and "code" in data:
        return f"{ASTER}rest-error.schema.json"
    return f"{ASTER}rest-{aster_wire.REST_KINDS[record['endpoint']]}.schema.json"


def test_every_aster_endpoint_and_event_the_decoder_reads_has_a_schema() -> None:
    rest = {f"rest-{kind}" for kind in aster_wire.REST_KINDS.values()} | {"rest-error"}
    ws = {f"ws-{event}" for event in aster_wire.WS_EVENTS}
    assert names_under("inputs/aster") - {"common"} == rest | ws
    assert set(ASTER_LINES) == set(ASTER_DOCUMENTED) - {"about"}


@pytest.mark.parametrize("name", sorted(ASTER_LINES))
def test_asters_documented_examples_match_their_schemas_decode_and_are_stored_as_described(
    name: str,
) -> None:
    record = aster_line(name)
    assert_valid(LINE, record)
    assert_valid(aster_schema(record), record["data"])
    event = decode_line(orjson.dumps(record))
    if name.startswith("error"):
        assert isinstance(event, InputRejected) and event.ret_code is not None
    else:
        assert not isinstance(event, InputRejected), event.reason
    stored = codec.as_json(event)
    assert_valid(f"events/{stored['type']}.schema.json", stored)


def _aster_with(name: str, **fields: Any) -> JSON:
    """A documented example with some fields of its first item (or order) changed."""
    record = aster_line(name)
    data = record["data"]
    if isinstance(data, list):
        record["data"] = [data[0] | fields, *data[1:]]
    elif "o" in data:
        record["data"] = data | {"o": data["o"] | fields}
    else:
        record["data"] = data | {"a": data["a"] | {"P": [data["a"]["P"][0] | fields]}}
    return record


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_aster_with("position_risk_hedge", positionSide="NET"), id="position-side"),
        pytest.param(_aster_with("position_risk_hedge", positionAmt=20.0), id="amount-a-float"),
        pytest.param(_aster_with("open_orders", status="PENDING"), id="order-status"),
        pytest.param(_aster_with("user_trades", side="BID"), id="trade-side"),
        pytest.param(_aster_with("order_trade_update", X="DONE"), id="update-status"),
        pytest.param(_aster_with("order_trade_update", x="REPLACED"), id="execution-type"),
        pytest.param(_aster_with("account_update", ps="HEDGE"), id="update-position-side"),
        pytest.param(_aster_with("account_update", mt="portfolio"), id="margin-type"),
    ],
)
def test_the_aster_schemas_reject_what_the_decoder_rejects(record: JSON) -> None:
    assert errors(aster_schema(record), record["data"])
    assert isinstance(decode_line(orjson.dumps(record)), InputRejected)


ASTER_SAMPLE = [
    orjson.loads(line)
    for line in (ROOT / "samples" / "aster-session.jsonl").read_bytes().splitlines()
    if line.strip()
]


@pytest.mark.parametrize(
    "record", ASTER_SAMPLE, ids=[f"line-{n}" for n in range(1, len(ASTER_SAMPLE) + 1)]
)
def test_every_aster_sample_line_matches_the_capture_line_and_its_specific_schema(
    record: JSON,
) -> None:
    assert_valid(LINE, record)
    if record["channel"] in ("ws", "rest"):
        assert_valid(aster_schema(record), record["data"])
    else:
        path = specific_schema(record)
        if path is not None:
            assert_valid(path, record["data"])


@pytest.mark.parametrize(
    "kind", ["position_opened", "position_resized", "order_placed"], ids=lambda kind: kind
)
def test_an_intents_quantity_may_be_a_json_integer_as_trueup_takes_it(kind: str) -> None:
    path = f"inputs/intents/{kind}.schema.json"
    example = load(path)["examples"][0]

    assert not errors(path, example | {"qty": 3})
    assert errors(path, example | {"qty": 0.3})
    assert errors(path, example | {"qty": 0})
