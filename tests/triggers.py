"""Capture lines for trigger tests: positions, prices and trigger commands on one account."""

from decimal import Decimal
from typing import Any

import msgspec
import orjson

from trueup.adapters.bybit.messages import order_item
from trueup.adapters.capture import decode_line
from trueup.adapters.client_order_id import client_order_id
from trueup.domain.emitted import Emitted, TriggerEvent
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.reconciler import Reconciler

T0 = 1_762_199_000_000
SYMBOL = "BTCUSDT"
ACCOUNT = {"venue": "bybit", "account": "main"}


def accepted(record: dict[str, Any]) -> InputEvent:
    event = decode_line(orjson.dumps(record))
    assert not isinstance(event, InputRejected), event.reason
    return event


def price(at: int, mark: Decimal | int | str, symbol: str = SYMBOL) -> dict[str, Any]:
    """A Bybit ticker snapshot on the market channel, giving only the mark."""
    ticker = {"symbol": symbol, "markPrice": str(mark)}
    frame = {"topic": f"tickers.{symbol}", "type": "snapshot", "data": ticker, "cs": 1, "ts": at}
    return {"at": at, **ACCOUNT, "channel": "market", "data": frame}


def position(
    at: int, side: str, size: Decimal | int | str, idx: int = 0, **more: str
) -> dict[str, Any]:
    """A Bybit position push: side Buy (long), Sell (short) or "" (flat)."""
    item = {
        "category": "linear", "symbol": SYMBOL, "positionIdx": idx, "side": side,
        "size": str(size), "entryPrice": "100", "seq": at, "updatedTime": str(at), **more,
    }  # fmt: skip
    frame = {"topic": "position", "creationTime": at, "data": [item]}
    return {"at": at, **ACCOUNT, "channel": "ws", "data": frame}


def command(at: int, command: str, trigger_id: str = "t1", **data: Any) -> dict[str, Any]:
    body = {"command": command, "trigger_id": trigger_id, "operator": "alice", **data}
    return {"at": at, **ACCOUNT, "channel": "trigger", "data": body}


def add(at: int, trigger_id: str = "t1", **spec: Any) -> dict[str, Any]:
    """An add with sensible defaults: a long price trigger reducing half (a trailing one
    takes no level)."""
    fields = {
        "symbol": SYMBOL, "direction": "long", "kind": "price", "level": "110",
        "ratio": "0.5", "action": "reduce", **spec,
    }  # fmt: skip
    if fields["kind"] == "trailing" and "level" not in spec:
        del fields["level"]
    return command(at, "add", trigger_id, **fields)


def tick(at: int) -> dict[str, Any]:
    return {"at": at, **ACCOUNT, "channel": "clock"}


def run(records: list[dict[str, Any]], reconciler: Reconciler | None = None) -> list[Emitted]:
    reconciler = reconciler or Reconciler()
    return [e for record in records for e in reconciler.apply(accepted(record))]


def of(emitted: list[Emitted], kind: str) -> list[Emitted]:
    return [e for e in emitted if e.type == kind]


def placement(
    at: int,
    fired: TriggerEvent,
    outcome: str = "accepted",
    *,
    requested: Emitted | None = None,
    **more: str,
) -> dict[str, Any]:
    """The executor's report that the order ``fired`` (a TRIGGER_FIRED) decided was placed;
    with the ``opens`` of its ORDER_REQUESTED (``requested``), as the executor copies it."""
    body: dict[str, Any] = {
        "trigger_id": fired.trigger_id, "decision_id": fired.event_id,
        "symbol": SYMBOL, "client_order_id": link_id(fired), "outcome": outcome, **more,
    }  # fmt: skip
    opens = getattr(requested, "opens", None)
    if opens is not None:
        body["opens"] = orjson.loads(msgspec.json.encode(opens))
    return {"at": at, **ACCOUNT, "channel": "placement", "data": body}


def link_id(fired: Emitted) -> str:
    return client_order_id(fired.event_id).order_link_id


def order(
    at: int, fired: Emitted, status: str, qty: str, filled: str = "0", **more: Any
) -> dict[str, Any]:
    """A Bybit order push for the order ``fired`` decided (a market sell, reduce-only)."""
    item = order_item(
        symbol=SYMBOL, order_id=f"o-{fired.event_id[:8]}", order_link_id=link_id(fired),
        side="Sell", qty=qty, status=status, updated_time=at, cum_exec_qty=filled,
        avg_price="110" if filled != "0" else "", reduce_only=True, **more,
    )  # fmt: skip
    frame = {"topic": "order", "creationTime": at, "data": [item]}
    return {"at": at, **ACCOUNT, "channel": "ws", "data": frame}


def placement_of(
    decided: Emitted,
    client_order_id: str,
    *,
    outcome: str = "accepted",
    action: str = "place",
    at: int | None = None,
) -> dict[str, Any]:
    """The executor's report on what ``decided`` asked (an ORDER_REQUESTED's order, or the
    cancel of an entry step), under ``client_order_id``."""
    decision_id = getattr(decided, "decision_id", decided.event_id)
    body = {
        "decision_id": decision_id, "symbol": SYMBOL, "client_order_id": client_order_id,
        "outcome": outcome, "action": action,
    }  # fmt: skip
    if outcome == "refused":
        body |= {"reason": "order not exists or too late to cancel", "refusal": "invalid"}
    when = decided.at + 1 if at is None else at
    return {"at": when, **ACCOUNT, "channel": "placement", "data": body}
