"""Quiet alarms: a refusal is classified by its venue's adapter (a kind the rules read), a
venue's control message is no failure, and identical failures of one account are told once
per window, the rest counted and told as one when the window ends."""

from typing import Any

import orjson
import pytest

from tests.inputs import ACCOUNT, T0
from trueup.adapters.bybit import messages as bybit
from trueup.adapters.capture import decode_line
from trueup.adapters.hyperliquid import messages as hyperliquid
from trueup.adapters.store import codec
from trueup.domain.emitted import RiskEvent
from trueup.domain.events import InputRejected, RejectionKind
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig

WINDOW_MS = RuleConfig().alarm_window_ms
USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
POSITIONS = "/v5/position/list"


def refused_page(at: int, ret_code: int = 10016, endpoint: str = POSITIONS) -> dict[str, Any]:
    body = bybit.rest_error(
        ret_code, "Server error" if ret_code != 10006 else "Too many visits!", time=at
    )
    params = {"category": "linear", "settleCoin": "USDT"}
    return bybit.capture_rest(at, ACCOUNT, endpoint, params, body)


def tick(at: int) -> dict[str, Any]:
    return {"at": at, "venue": "bybit", "account": ACCOUNT, "channel": "clock"}


def emitted_for(records: list[dict[str, Any]]) -> list[RiskEvent]:
    """The risk events the rules emit for these records (each has a reason)."""
    reconciler = Reconciler()
    emitted = [e for r in records for e in reconciler.apply(decode_line(orjson.dumps(r)))]
    assert all(isinstance(e, RiskEvent) for e in emitted)
    return [e for e in emitted if isinstance(e, RiskEvent)]


def test_an_outage_is_told_once_then_once_more_with_its_count_when_the_window_ends() -> None:
    failures = [refused_page(T0 + 500 * i) for i in range(24)]  # 12 s of refused polls
    told = emitted_for([*failures, tick(T0 + WINDOW_MS + 1_000)])
    assert [(e.type, getattr(e, "count", None)) for e in told] == [
        ("POSITION_SYNC_FAILED", 1),
        ("POSITION_SYNC_FAILED", 23),
    ]
    assert told[1].reason.endswith("(23 times since 2025-11-03T19:43:20.000Z)")


def test_failures_from_different_places_are_told_apart() -> None:
    records = [
        refused_page(T0),
        refused_page(T0 + 100, endpoint="/v5/order/realtime"),
        refused_page(T0 + 200, ret_code=10006),
        refused_page(T0 + 300),
    ]
    told = [(e.type, e.reason.split(":")[0]) for e in emitted_for(records)]
    assert told == [
        ("POSITION_SYNC_FAILED", POSITIONS),
        ("POSITION_SYNC_FAILED", "/v5/order/realtime"),
        ("RATE_LIMIT", POSITIONS),
    ]


def test_after_a_quiet_window_the_next_failure_is_told_at_once() -> None:
    told = emitted_for([refused_page(T0), refused_page(T0 + WINDOW_MS)])
    assert [e.type for e in told] == ["POSITION_SYNC_FAILED", "POSITION_SYNC_FAILED"]


@pytest.mark.parametrize(
    "record",
    [
        hyperliquid.capture_ws(T0, USER, hyperliquid.pong()),
        hyperliquid.capture_ws(
            T0, USER, hyperliquid.subscription_response("subscribe", {"type": "userFills"})
        ),
        bybit.capture_ws(T0, ACCOUNT, {"op": "subscribe", "success": True, "ret_msg": ""}),
        bybit.capture_ws(T0, ACCOUNT, {"topic": "greeks", "data": [], "creationTime": T0}),
    ],
    ids=["hyperliquid pong", "hyperliquid subscription ack", "bybit ack", "unread topic"],
)
def test_a_control_message_or_an_unread_topic_is_kept_and_alarms_no_one(
    record: dict[str, Any],
) -> None:
    event = decode_line(orjson.dumps(record))
    assert isinstance(event, InputRejected)
    assert event.kind in (RejectionKind.CONTROL, RejectionKind.UNKNOWN)
    assert emitted_for([record]) == []


def test_a_refused_key_on_the_stream_is_a_failed_sync() -> None:
    refusal = bybit.capture_ws(T0, ACCOUNT, {"op": "auth", "success": False, "ret_msg": "x"})
    event = decode_line(orjson.dumps(refusal))
    assert isinstance(event, InputRejected) and event.kind is RejectionKind.ERROR_REPLY
    assert [e.type for e in emitted_for([refusal])] == ["POSITION_SYNC_FAILED"]


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (refused_page(T0, ret_code=10006), RejectionKind.RATE_LIMITED),
        (refused_page(T0), RejectionKind.ERROR_REPLY),
        (hyperliquid.capture_ws(T0, USER, hyperliquid.pong()), RejectionKind.CONTROL),
        ({"at": T0, "channel": "fax"}, RejectionKind.MALFORMED),
    ],
    ids=["rate limit", "error reply", "control", "malformed"],
)
def test_a_refusal_stored_before_refusals_had_a_kind_is_read_with_the_kind_it_has_now(
    record: dict[str, Any], kind: RejectionKind
) -> None:
    event = decode_line(orjson.dumps(record))
    assert isinstance(event, InputRejected) and event.kind is kind
    stored = orjson.loads(codec.encode(event))
    del stored["kind"]  # as an older trueup stored it
    older = codec.decode(orjson.dumps(stored))
    assert older == event
