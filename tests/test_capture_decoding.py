"""Capture lines become domain events; bad input becomes a rejected-input event, never a crash."""

import json
from decimal import Decimal

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.inputs import T0, event, intent, line, position_frame
from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.domain.events import (
    ClockTicked,
    InputRejected,
    LocalPositionOpened,
    OrdersReported,
    PositionsReported,
)
from trueup.domain.keys import input_id


def rejected(raw: str | bytes) -> InputRejected:
    result = decode_line(raw)
    assert isinstance(result, InputRejected), result
    return result


def test_a_position_frame_keeps_the_verbatim_line_beside_decimal_fields() -> None:
    raw = line(
        position_frame(
            T0 + 1000,
            symbol="BTCUSDT",
            side="Buy",
            size="0.30",
            seq=9,
            updated_time=T0 + 999,
            entry_price="65000.5",
        )
    )
    result = decode_line(raw)
    assert isinstance(result, PositionsReported)
    assert result.raw == raw.decode()
    (report,) = result.reports
    assert report.size == Decimal("0.30") and report.entry_price == Decimal("65000.5")
    assert (result.venue, result.account, result.at, report.seq) == ("bybit", "main", T0 + 1000, 9)


def test_the_same_input_always_gets_the_same_id_whatever_its_key_order() -> None:
    record = position_frame(
        T0 + 1000, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0
    )
    reordered = dict(reversed(list(record.items())))
    assert event(record).input_id == decode_line(orjson.dumps(reordered)).input_id
    other = position_frame(
        T0 + 1001, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0
    )
    assert event(record).input_id != event(other).input_id


@pytest.mark.parametrize(
    ("spelling", "respelling"),
    [
        (b"0.1", b"0.10"),
        (b"1e2", b"100.0"),
        (b" -2.5", b"-2.50"),
        (b"123456789012345678901", b"123456789012345678901 "),
        (b"123456789012345678901", b"123456789012345678902"),
        # Below -2**63, orjson reads nineteen digits as a double too: both as -9.223372036854776e18.
        (b"-9223372036854775809", b"-9223372036854775810"),
    ],
)
def test_respellings_of_a_number_a_double_cannot_carry_stay_two_inputs(
    spelling: bytes, respelling: bytes
) -> None:
    line = b'{"at":%d,"venue":"bybit","account":"main","channel":"ws","extra":[%s]}'
    first, second = (decode_line(line % (T0, number)) for number in (spelling, respelling))
    assert first.input_id != second.input_id


@pytest.mark.parametrize(
    "field", [b'"extra":%s', b'"extra": %s', b'"extra":[1,%s]', b'"extra":[1, %s]', b'"extra":[%s]']
)
def test_an_inexact_number_keeps_its_spelling_after_a_colon_a_comma_or_a_bracket(
    field: bytes,
) -> None:
    line = b'{"at":%d,"venue":"bybit","account":"main","channel":"ws",' + field + b"}"
    first, second = (decode_line(line % (T0, n)) for n in (b"0.1", b"0.10"))
    assert first.input_id != second.input_id


@pytest.mark.parametrize("text", [b"a: -1.5", b"a,-2e3", b"a[  12345678901234567890", b"a:7E1"])
def test_what_looks_like_an_inexact_number_inside_a_string_keeps_the_line_as_spelt(
    text: bytes,
) -> None:
    line = b'{"at":%d,"venue":"bybit","account":"main","channel":"ws","note":"%s","n":%s}'
    first, second = (decode_line(line % (T0, text, n)) for n in (b"1", b" 1"))
    assert first.input_id != second.input_id


def test_respellings_of_exact_numbers_are_one_input() -> None:
    line = b'{"at":%d,"venue":"bybit","account":"main","channel":"ws","extra":[%s]}'
    first, second = (
        decode_line(line % (T0, n)) for n in (b"1234567890123456789", b" 1234567890123456789")
    )
    assert first.input_id == second.input_id
    assert (
        decode_line(line % (T0, b'"0.1"')).input_id == decode_line(line % (T0, b' "0.1"')).input_id
    )


# JSON values as a line may hold them: integers to both ends of 64 bits and past them (which
# orjson reads as doubles), doubles, any text.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=12,
)


def _may_be_inexact(value: object) -> bool:
    """Whether ``value`` holds a number the line's identity takes for one a double may carry:
    a double, or an integer of twenty digits or more, which capture.py's scan cannot tell
    from a longer one (those up to 2**64 - 1 orjson reads exactly, all the same)."""
    if isinstance(value, dict):
        return any(_may_be_inexact(v) for v in value.values())
    if isinstance(value, list):
        return any(_may_be_inexact(v) for v in value)
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and abs(value) >= 10**19)


@given(value=_values, spaced=st.booleans(), ascii_only=st.booleans())
@example(value={"0": None, "": 10**19}, spaced=False, ascii_only=False)
def test_an_input_id_is_the_one_trueup_has_always_given_its_line(
    value: object, spaced: bool, ascii_only: bool
) -> None:
    """A journal keys its inputs by these ids, so a capture ingested again by a later trueup
    stores nothing twice: the canonical form orjson writes (keys sorted, compact), or the
    line's own bytes when a number in it may be one a double cannot carry."""
    separators = (", ", ": ") if spaced else (",", ":")
    spelt = json.dumps(value, separators=separators, ensure_ascii=ascii_only).encode()
    parsed = orjson.loads(spelt)
    canonical = input_id(orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS))
    given_id = decode_line(spelt).input_id
    if _may_be_inexact(parsed):
        assert given_id in (canonical, input_id(spelt))
    else:
        assert given_id == canonical


@pytest.mark.parametrize(("depth", "refused"), [(254, False), (255, True), (300, True)])
def test_a_line_nested_deeper_than_orjson_writes_is_refused_as_before(
    depth: int, refused: bool
) -> None:
    inner = b"[" * (depth - 1) + b"]" * (depth - 1)  # in the line's object: ``depth`` deep
    result = decode_line(b'{"at":%d,"channel":"ws","extra":%s}' % (T0, inner))
    said = result.reason if isinstance(result, InputRejected) else ""
    assert ("nested too deeply" in said) == refused


def test_rest_order_lists_take_their_category_from_the_response() -> None:
    body = messages.rest_ok(
        "linear",
        [
            messages.order_item(
                symbol="BTCUSDT",
                order_id="o-1",
                side="Buy",
                qty="1",
                status="New",
                updated_time=T0 + 5,
                rest=True,
            )
        ],
        time=T0 + 6,
    )
    record = messages.capture_rest(
        T0 + 10, "main", "/v5/order/realtime", {"category": "linear"}, body
    )
    result = event(record)
    assert isinstance(result, OrdersReported)
    assert result.orders[0].category == "linear" and result.source == "rest"


def test_intents_become_local_claims() -> None:
    result = event(
        intent(
            T0 + 5,
            kind="position_opened",
            position_id="p-1",
            category="linear",
            symbol="BTCUSDT",
            position_idx=0,
            side="Buy",
            qty="0.3",
            mode="LIVE",
            timeframe="1h",
        )
    )
    assert isinstance(result, LocalPositionOpened)
    assert (result.qty, result.mode, result.timeframe) == (Decimal("0.3"), "LIVE", "1h")


def test_a_clock_line_is_time_passing() -> None:
    ticked = decode_line(f'{{"at": {T0 + 5}, "channel": "clock"}}')
    assert isinstance(ticked, ClockTicked) and ticked.at == T0 + 5


def test_an_error_reply_is_kept_with_its_code_and_says_nothing_about_positions() -> None:
    body = messages.rest_error(10006, "Too many visits!", time=T0 + 6)
    record = messages.capture_rest(
        T0 + 10, "main", "/v5/position/list", {"category": "linear"}, body
    )
    result = rejected(line(record))
    assert result.ret_code == 10006
    assert "Too many visits!" in result.reason
    assert (result.venue, result.account, result.endpoint) == ("bybit", "main", "/v5/position/list")


BYBIT_LINE = {"at": T0, "venue": "bybit", "account": "a"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "not JSON"),
        ('{"channel": "clock"}', "line.at: missing"),
        ({"at": 1, "channel": "clock"}, "line.at: 1 is not between 946684800000 (2000-01-01)"),
        # Parsed as a double, whose digits would not be the line's.
        (
            '{"at": 18446744073709551616, "channel": "clock"}',
            "line.at: expected epoch milliseconds, got a whole number past 64 bits",
        ),
        (
            '{"at": 1762199000000, "venue": "bybit", "account": "a", "channel": "rest", '
            '"endpoint": "/v5/position/list", "status": 18446744073709551616, "data": {}}',
            "line.status: expected an integer, got a whole number past 64 bits",
        ),
        ({"at": T0, "channel": "fax"}, "line.channel: 'fax' is not one of"),
        (
            {"at": T0, "channel": "ws", "venue": "kraken", "account": "a", "data": {}},
            "line.venue: 'kraken'",
        ),
        (
            BYBIT_LINE | {"channel": "ws", "data": {"topic": "orderbook.50.BTCUSDT", "data": []}},
            "not a topic trueup reads",
        ),
        (
            BYBIT_LINE | {"channel": "ws", "data": {"op": "pong", "success": True}},
            "control message",
        ),
        (
            BYBIT_LINE | {"channel": "rest", "endpoint": "/v5/market/tickers", "data": {}},
            "not an endpoint trueup reads",
        ),
        (
            BYBIT_LINE | {"channel": "intent", "data": {"kind": "position_teleported"}},
            "data.kind: 'position_teleported'",
        ),
        (
            BYBIT_LINE
            | {
                "channel": "intent",
                "data": {"kind": "position_resized", "position_id": "p", "qty": "-1"},
            },
            "must be positive",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_reason(raw: str | dict[str, object], reason: str) -> None:
    assert reason in rejected(raw if isinstance(raw, str) else line(raw)).reason


def test_an_intents_quantity_may_be_a_json_integer_which_is_exact() -> None:
    claim = {"kind": "position_resized", "position_id": "p", "qty": 3}

    result = decode_line(line(BYBIT_LINE | {"channel": "intent", "data": claim}))

    assert getattr(result, "qty", None) == Decimal(3)


@pytest.mark.parametrize("qty", [0.3, 3.0])
def test_an_intents_quantity_as_a_json_number_with_a_fraction_or_exponent_is_refused(
    qty: float,
) -> None:
    claim = {"kind": "position_resized", "position_id": "p", "qty": qty}

    result = rejected(line(BYBIT_LINE | {"channel": "intent", "data": claim}))

    assert f"line.data.qty: expected a decimal string or an integer, got {qty}" in result.reason


OPENED = {
    "kind": "position_opened",
    "position_id": "p-1",
    "category": "linear",
    "symbol": "BTCUSDT",
    "side": "Buy",
    "qty": "0.3",
    "mode": "LIVE",
}


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (intent(T0, **OPENED) | {"account": ""}, "line.account: '' is empty"),
        (
            intent(T0, **OPENED) | {"account": "ma\x00in"},
            "line.account: 'ma\\x00in' holds a control character ('\\x00') at offset 2",
        ),
        (
            intent(T0, **OPENED) | {"account": "main\u202e"},
            "line.account: 'main\\u202e' holds a bidirectional control character (U+202E) at"
            " offset 4, which would reorder how it reads",
        ),
        (intent(T0, **OPENED | {"symbol": ""}), "line.data.symbol: '' is empty"),
        (
            intent(T0, **OPENED | {"symbol": "BTC\nUSDT"}),
            "line.data.symbol: 'BTC\\nUSDT' holds a control character ('\\n') at offset 3",
        ),
        (intent(T0, **OPENED | {"symbol": "X" * 201}), "is 201 characters long, more than 200"),
        (intent(T0, **OPENED | {"position_id": ""}), "line.data.position_id: '' is empty"),
        (
            intent(T0, kind="position_closed", position_id="\x7f"),
            "line.data.position_id: '\\x7f' holds a control character",
        ),
        (
            intent(T0, kind="order_cancelled", order_link_id=""),
            "line.data.order_link_id: '' is empty",
        ),
        (
            position_frame(T0, symbol="", side="Buy", size="1", seq=1, updated_time=T0),
            "data.data[0].symbol: '' is empty",
        ),
        ({"at": T0, "channel": "clock", "venue": "bybit", "account": ""}, "line.account: '' is"),
    ],
)
def test_a_name_that_could_never_be_asked_for_again_is_rejected(
    record: dict[str, object], reason: str
) -> None:
    # An empty, overlong or control-character account, symbol or id: the HTTP API (422) and
    # the schemas refuse them, so a position under one could never be queried.
    result = rejected(line(record))
    assert reason in result.reason
    if record["account"] != "main":
        assert (result.venue, result.account) == ("", "")  # no account made to linger


@pytest.mark.parametrize("venue", ["binance", "ccxt", "Bybit", ""])
def test_an_intent_for_a_venue_trueup_does_not_read_is_rejected(venue: str) -> None:
    # No exchange report can come for it (any exchange ccxt knows is ccxt:<exchange-id>),
    # so its positions could never be reconciled and its account never fresh.
    result = rejected(line(intent(T0, **OPENED) | {"venue": venue}))
    assert f"line.venue: {venue!r} is not one of" in result.reason
    assert "ccxt:<exchange-id>" in result.reason
    assert (result.venue, result.account) == ("", "")


@pytest.mark.parametrize("venue", ["bybit", "ccxt:binanceusdm", "ccxt:kraken"])
def test_an_intent_for_any_venue_trueup_reads_is_taken(venue: str) -> None:
    result = decode_line(line(intent(T0, **OPENED) | {"venue": venue}))
    assert isinstance(result, LocalPositionOpened)
    assert (result.venue, result.account, result.symbol) == (venue, "main", "BTCUSDT")


def test_a_malformed_decimal_names_the_field() -> None:
    record = position_frame(T0, symbol="BTCUSDT", side="Buy", size="abc", seq=1, updated_time=T0)
    result = rejected(line(record))
    assert (
        "data.data[0].size: not a plain decimal of at most 15 digits before the point "
        "and 12 after: 'abc'"
    ) in result.reason
    assert result.venue == "bybit" and result.account == "main"


def test_an_http_error_with_an_html_body_is_kept_with_its_status() -> None:
    record = messages.capture_rest(T0 + 10, "main", "/v5/position/list", {"category": "linear"}, {})
    record["status"] = 403
    record["data"] = "<html><body>403 Forbidden</body></html>"
    result = rejected(line(record))
    assert (result.http_status, result.ret_code, result.reason) == (403, None, "HTTP 403")


@pytest.mark.parametrize(
    ("venue", "channel", "data", "reason"),
    [
        ("bybit", "feed", {"event": "reconnected", "stream": "private", "reason": "closed",
                           "attempt": 0}, "line.data.attempt: counted from 1, got 0"),
        ("bybit", "feed", {"event": "down", "stream": "bogus", "reason": "closed"},
         "line.data.stream: 'bogus' is not one of ['private', 'ws', 'rest', 'prices']"),
        # A market line has no endpoint: it was refused for that, not for its venue.
        ("ccxt:okx", "market", {},
         "line.channel: 'market' is not read of ccxt's venues: only rest and ws"),
    ],
)  # fmt: skip
def test_a_line_outside_its_channels_domain_is_refused_saying_what_is_wrong(
    venue: str, channel: str, data: dict[str, object], reason: str
) -> None:
    """Each of these was stored as it came, or refused for another reason (a walkthrough)."""
    record = {"at": T0, "venue": venue, "account": "main", "channel": channel, "data": data}
    assert rejected(orjson.dumps(record)).reason == reason
