"""What the benchmark feeds trueup: a bot's trading session as raw capture lines.

Each trade cycle is what one local position goes through on a one-way Bybit account: the
intents the trading system sends (open, entry, TP1, SL, resize, TP2, cancel, close) and the
private WebSocket frames Bybit pushes back (order, execution and position topics), all in
Bybit's documented formats (adapters/bybit/messages.py). Every line is unique (its own
``at``, ids and ``seq``), so the journal stores every one of them.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.persistence import StoredEvent

from trueup.adapters.bybit import messages

ACCOUNT = "main"
VENUE = "bybit"
START_MS = 1_762_199_126_030
STEP_MS = 250
JSON = dict[str, Any]


@dataclass
class Session:
    """The running counters of one account's session: receive time and Bybit's position seq."""

    at: int = START_MS
    seq: int = 1_000

    def tick(self) -> int:
        self.at += STEP_MS
        return self.at

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


def stop_loss_fill(at: int, account: str, symbol: str, qty: str, seq: int) -> JSON:
    """The venue's own stop-loss selling the ``qty`` held, as the execution topic sends it:
    the fill that explains the close before the position frame shows the key flat (a flat
    no fill explains would wait ``close_cause_grace_ms`` for one, rules/manual_close.py)."""
    item = messages.execution_item(
        symbol=symbol,
        exec_id=f"sl-{symbol}-{seq}",
        order_id=f"sl-order-{symbol}-{seq}",
        side="Sell",
        exec_price="64000",
        exec_qty=qty,
        exec_time=at - 3,
        seq=seq,
        closed_size=qty,
        stop_order_type="StopLoss",
        create_type="CreateByStopLoss",
    )
    frame = messages.ws_frame("execution", [item], message_id=f"exe-{at}", creation_time=at - 2)
    return messages.capture_ws(at, account, frame)


def capture_lines(
    count: int, symbols: tuple[str, ...] = ("BTCUSDT",), *, clock: bool = True
) -> Iterator[bytes]:
    """``count`` capture lines of trade cycles, round-robin over ``symbols``, made lazily.

    Without ``clock``, no clock ticks: every line is then one of the account's events.
    """
    session = Session()
    cycles = itertools.chain.from_iterable(
        trade_cycle(session, number, symbols[number % len(symbols)])
        for number in itertools.count(1)
    )
    records = (r for r in cycles if clock or r.get("channel") != "clock")
    return _lines(session, records, count)


def holding_lines(count: int, symbol: str = "BTCUSDT") -> Iterator[bytes]:
    """``count`` capture lines of ONE local position held throughout, scaled in and out,
    with the exchange's position, order and execution pushes along the way."""
    session = Session()
    opened = _position_opened(session, HELD, symbol, "Buy", timeframe="4h")
    adjustments = itertools.chain.from_iterable(
        scale_cycle(session, number, symbol) for number in itertools.count(1)
    )
    return _lines(session, itertools.chain([opened], adjustments), count)


HELD = "p-hold"


def _lines(session: Session, records: Iterator[JSON], count: int) -> Iterator[bytes]:
    first = _intent(session, {"kind": "account_mode", "mode": "LIVE"})
    for record in itertools.islice(itertools.chain([first], records), count):
        yield orjson.dumps(record)


@dataclass(frozen=True)
class Order:
    """An order the trading system places for one of its positions, and Bybit's id for it."""

    position_id: str
    purpose: str
    symbol: str
    side: str
    qty: str
    price: int
    order_type: str = "Market"
    link_suffix: str = ""

    @property
    def link(self) -> str:
        return f"{self.position_id}-{self.link_suffix or self.purpose.lower()}"

    @property
    def order_id(self) -> str:
        return str(uuid5(NAMESPACE_URL, f"order:{self.link}"))


def trade_cycle(session: Session, number: int, symbol: str) -> Iterator[JSON]:
    """One local position from open to close, with the exchange's word on each step."""
    position_id = f"p-{number}"
    side, exit_side = ("Buy", "Sell") if number % 2 else ("Sell", "Buy")
    price = 65_000 + number % 500
    away = 1 if side == "Buy" else -1  # take profit above a long, below a short
    entry = Order(position_id, "ENTRY", symbol, side, "0.3", price)
    take1 = Order(position_id, "TP1", symbol, exit_side, "0.15", price + 400 * away, "Limit")
    stop = Order(position_id, "SL", symbol, exit_side, "0.3", price - 600 * away)
    take2 = Order(position_id, "TP2", symbol, exit_side, "0.15", price + 800 * away, "Limit")
    yield _position_opened(session, position_id, symbol, side, timeframe="1h")
    yield _order_placed(session, entry)
    yield _order_frame(session, entry, "New")
    yield _execution_frame(session, entry)
    yield _order_frame(session, entry, "Filled", cum=entry.qty)
    yield _position_frame(session, symbol, side=side, size="0.3", entry=price, mark=price)
    yield _order_placed(session, take1)
    yield _order_placed(session, stop)
    yield _order_frame(session, take1, "New")
    yield _order_frame(session, stop, "Untriggered")
    mark = (price + take1.price) // 2
    yield _position_frame(session, symbol, side=side, size="0.3", entry=price, mark=mark)
    yield _execution_frame(session, take1)
    yield _order_frame(session, take1, "Filled", cum=take1.qty)
    yield _position_frame(session, symbol, side=side, size="0.15", entry=price, mark=take1.price)
    yield _intent(session, {"kind": "position_resized", "position_id": position_id, "qty": "0.15"})
    yield {"at": session.tick(), "channel": "clock"}
    yield _order_placed(session, take2)
    yield _order_frame(session, take2, "New")
    yield _execution_frame(session, take2)
    yield _order_frame(session, take2, "Filled", cum=take2.qty)
    yield _intent(session, {"kind": "order_cancelled", "order_link_id": stop.link})
    yield _order_frame(session, stop, "Deactivated")
    yield _position_frame(session, symbol, side="", size="0", entry=0, mark=take2.price)
    closed = {"kind": "position_closed", "position_id": position_id, "exit_reason": "TP2"}
    yield _intent(session, closed)


def scale_cycle(session: Session, number: int, symbol: str) -> Iterator[JSON]:
    """The held long scaled from 0.3 to 0.45 or back, the mark moving in between."""
    price = 65_000 + number % 500
    before, after, side = ("0.3", "0.45", "Buy") if number % 2 else ("0.45", "0.3", "Sell")
    for step in range(4):
        yield _position_frame(
            session, symbol, side="Buy", size=before, entry=65_000, mark=price + step
        )
    scale = Order(HELD, "ENTRY", symbol, side, "0.15", price, "Limit", f"scale-{number}")
    yield _order_placed(session, scale)
    yield _order_frame(session, scale, "New")
    yield _execution_frame(session, scale)
    yield _order_frame(session, scale, "Filled", cum=scale.qty)
    yield _position_frame(session, symbol, side="Buy", size=after, entry=65_000, mark=price)
    yield _intent(session, {"kind": "position_resized", "position_id": HELD, "qty": after})


def _intent(session: Session, intent: JSON) -> JSON:
    return messages.capture_intent(session.tick(), ACCOUNT, intent)


def _position_opened(
    session: Session, position_id: str, symbol: str, side: str, *, timeframe: str
) -> JSON:
    intent = {
        "kind": "position_opened",
        "position_id": position_id,
        "category": "linear",
        "symbol": symbol,
        "position_idx": 0,
        "side": side,
        "qty": "0.3",
        "mode": "LIVE",
        "timeframe": timeframe,
    }
    return _intent(session, intent)


def _order_placed(session: Session, order: Order) -> JSON:
    intent = {
        "kind": "order_placed",
        "position_id": order.position_id,
        "order_link_id": order.link,
        "category": "linear",
        "symbol": order.symbol,
        "purpose": order.purpose,
        "side": order.side,
        "qty": order.qty,
        "price": str(order.price),
    }
    return _intent(session, intent)


def _order_frame(session: Session, order: Order, status: str, cum: str = "0") -> JSON:
    at = session.tick()
    item = messages.order_item(
        symbol=order.symbol,
        order_id=order.order_id,
        order_link_id=order.link,
        side=order.side,
        qty=order.qty,
        price=str(order.price),
        order_type=order.order_type,
        status=status,
        cum_exec_qty=cum,
        avg_price=str(order.price) if cum != "0" else "",
        reduce_only=order.purpose != "ENTRY",
        stop_order_type="StopLoss" if order.purpose == "SL" else "",
        updated_time=at - 3,
    )
    frame = messages.ws_frame("order", [item], message_id=f"ord-{at}", creation_time=at - 2)
    return messages.capture_ws(at, ACCOUNT, frame)


def _execution_frame(session: Session, order: Order) -> JSON:
    """The whole order filled in one execution."""
    at = session.tick()
    item = messages.execution_item(
        symbol=order.symbol,
        exec_id=str(uuid5(NAMESPACE_URL, f"exec:{order.order_id}:{at}")),
        order_id=order.order_id,
        order_link_id=order.link,
        side=order.side,
        exec_price=str(order.price),
        exec_qty=order.qty,
        order_qty=order.qty,
        exec_fee="0.5",
        exec_time=at - 3,
        seq=session.next_seq(),
        order_type=order.order_type,
    )
    frame = messages.ws_frame("execution", [item], message_id=f"exe-{at}", creation_time=at - 2)
    return messages.capture_ws(at, ACCOUNT, frame)


def _position_frame(
    session: Session, symbol: str, *, side: str, size: str, entry: int, mark: int
) -> JSON:
    at = session.tick()
    item = messages.position_item(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=str(entry),
        mark_price=str(mark),
        seq=session.next_seq(),
        updated_time=at - 3,
    )
    frame = messages.ws_frame("position", [item], message_id=f"pos-{at}", creation_time=at - 2)
    return messages.capture_ws(at, ACCOUNT, frame)


# --- the baseline: bare events for eventsourcing's recorder ---------------------------------


BASELINE_STREAM = UUID("0b5e11e0-0000-5000-8000-000000000001")
BASELINE_TOPIC = "bench.bare-event"


def bare_events(count: int) -> list[StoredEvent]:
    """``count`` stored events of one originator stream, each with a small state."""
    return [
        StoredEvent(BASELINE_STREAM, version, BASELINE_TOPIC, b'{"n":%d}' % version)
        for version in range(1, count + 1)
    ]
