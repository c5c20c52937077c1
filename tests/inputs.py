"""Capture lines for tests, in Bybit's documented formats, decoded through the real path."""

import itertools
from typing import Any

import orjson

from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.domain.events import InputEvent, InputRejected

ACCOUNT = "main"

# The instant test times are written from: 2025-11-03T19:43:20Z in epoch milliseconds.
# trueup takes only instants between 2000 and 2200 (trueup.domain.bounds), and its rules read
# only the gaps between them, so a test writes ``T0 + 1_000`` and every grace period, window
# and timeout measures exactly what it would from 1_000.
T0 = 1_762_199_000_000
_ids = itertools.count(1)


def line(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def event(record: dict[str, Any]) -> InputEvent:
    return decode_line(line(record))


def accepted(record: dict[str, Any]) -> InputEvent:
    """``event`` for an input meant to be taken: a rejection fails the test, loudly, rather
    than leaving it to pass on an input trueup never read."""
    decoded = event(record)
    assert not isinstance(decoded, InputRejected), decoded.reason
    return decoded


def tick(at: int, venue: str = "bybit", account: str = ACCOUNT) -> dict[str, Any]:
    """A clock tick for one account, as `trueup run` appends every second: what ends the
    grace a close no fill explains waits for its cause (rules/manual_close.py)."""
    return {"at": at, "venue": venue, "account": account, "channel": "clock"}


def position_frame(at: int, **item: Any) -> dict[str, Any]:
    frame = messages.ws_frame(
        "position", [messages.position_item(**item)], message_id=f"pos-{at}", creation_time=at
    )
    return messages.capture_ws(at, ACCOUNT, frame)


def order_frame(at: int, **item: Any) -> dict[str, Any]:
    frame = messages.ws_frame(
        "order", [messages.order_item(**item)], message_id=f"ord-{at}", creation_time=at
    )
    return messages.capture_ws(at, ACCOUNT, frame)


def execution_frame(at: int, *items: dict[str, Any]) -> dict[str, Any]:
    frame = messages.ws_frame(
        "execution",
        [messages.execution_item(**item) for item in items],
        message_id=f"exe-{at}-{next(_ids)}",
        creation_time=at,
    )
    return messages.capture_ws(at, ACCOUNT, frame)


def position_snapshot(
    at: int, *items: dict[str, Any], cursor: str = "", next_cursor: str = ""
) -> dict[str, Any]:
    params: dict[str, Any] = {"category": "linear", "settleCoin": "USDT"}
    if cursor:
        params["cursor"] = cursor
    body = messages.rest_ok(
        "linear",
        [messages.position_item(**item, rest=True) for item in items],
        time=at,
        next_page_cursor=next_cursor,
    )
    return messages.capture_rest(at, ACCOUNT, "/v5/position/list", params, body)


def intent(at: int, **fields: Any) -> dict[str, Any]:
    return messages.capture_intent(at, ACCOUNT, fields)


def opened(
    at: int,
    position_id: str,
    symbol: str,
    qty: str,
    *,
    side: str = "Buy",
    mode: str = "LIVE",
    position_idx: int = 0,
) -> dict[str, Any]:
    """The trading system's claim that it opened a linear position."""
    return intent(
        at,
        kind="position_opened",
        position_id=position_id,
        category="linear",
        symbol=symbol,
        position_idx=position_idx,
        side=side,
        qty=qty,
        mode=mode,
    )
