"""The simulated Bybit account: positions, orders, executions, and the pushes each change causes.

Not thread-safe: the simulator serialises every call. Each operation queues the private-stream
frames Bybit would push for it (in Bybit's usual order: execution, order, position, wallet);
``take_frames`` hands them over. The REST views read the same state, so a snapshot always agrees
with the last frame pushed.
"""

import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from trueup.adapters.bybit import messages
from trueup.adapters.bybit.messages import JSON
from trueup_simulators.amounts import plain as text

Clock = Callable[[], int]
OPEN_STATUSES = ("New", "PartiallyFilled", "Untriggered")
# A position's own take-profit and stop-loss (Set Trading Stop): stopOrderType -> createType.
POSITION_STOPS = {"TakeProfit": "CreateByTakeProfit", "StopLoss": "CreateByStopLoss"}
TAKER_FEE = Decimal("0.00055")
MAKER_FEE = Decimal("0.0002")
# The account's uid prefixes Bybit's message ids; the sample capture uses the same one.
DEFAULT_UID = "100307601"
ZERO = Decimal(0)
# What follows the base coin in a perpetual's or a future's name: its quote (an inverse
# future's quarter and year after it, BTCUSDZ25).
_LINEAR_QUOTE = re.compile(r"(?:USDT|USDC|PERP)$")
_INVERSE_QUOTE = re.compile(r"USD(?:[HMUZ][0-9]{2})?$")


class BookError(ValueError):
    """An operation the simulated exchange cannot perform (unknown order, bad quantity...)."""


def settle_coin(category: str, symbol: str) -> str:
    """The coin a contract settles in, by Bybit's names (enum symbol): USDT for BTCUSDT and
    BTCUSDT-26DEC25, USDC for BTCPERP, ETHUSDC and BTC-26DEC25, BTC for BTCUSD and BTCUSDZ25;
    an option's USDT where its name ends -USDT (BTC-13FEB25-89000-P-USDT), else USDC."""
    if category == "option":
        return "USDT" if symbol.endswith("-USDT") else "USDC"
    if category == "linear":
        return "USDT" if symbol.partition("-")[0].endswith("USDT") else "USDC"
    return base_coin(category, symbol)


def base_coin(category: str, symbol: str) -> str:
    """The coin a contract is on: BTC for BTCUSDT, BTCPERP, BTC-26DEC25, BTCUSDZ25 and the
    option BTC-28FEB25-90000-C (its name's first part)."""
    head = symbol.partition("-")[0]
    if category == "option":
        return head
    if category == "inverse":
        return _INVERSE_QUOTE.sub("", head)
    return _LINEAR_QUOTE.sub("", head)


@dataclass
class Position:
    """One position by (category, symbol, positionIdx); size is never negative."""

    category: str
    symbol: str
    position_idx: int
    created_time: int
    updated_time: int
    side: str = ""
    size: Decimal = ZERO
    avg_price: Decimal = ZERO
    mark_price: Decimal = ZERO
    cum_realised_pnl: Decimal = ZERO
    cur_realised_pnl: Decimal = ZERO
    seq: int = -1  # Bybit's value for a symbol never traded
    status: str = "Normal"
    take_profit: Decimal = ZERO  # the trigger prices of its own TP and SL (0: none)
    stop_loss: Decimal = ZERO

    @property
    def unrealised_pnl(self) -> Decimal:
        if self.size == 0 or self.mark_price == 0:
            return ZERO
        direction = 1 if self.side == "Buy" else -1
        return (self.mark_price - self.avg_price) * self.size * direction

    def item(self, *, rest: bool) -> JSON:
        built = messages.position_item(
            symbol=self.symbol,
            side=self.side,
            size=text(self.size),
            seq=self.seq,
            updated_time=self.updated_time,
            category=self.category,
            position_idx=self.position_idx,
            entry_price=text(self.avg_price),
            mark_price=text(self.mark_price),
            unrealised_pnl=text(self.unrealised_pnl),
            cum_realised_pnl=text(self.cum_realised_pnl),
            cur_realised_pnl=text(self.cur_realised_pnl),
            status=self.status,
            created_time=self.created_time,
            rest=rest,
        )
        built["positionValue"] = text(self.size * self.avg_price)
        built["takeProfit"] = text(self.take_profit)
        built["stopLoss"] = text(self.stop_loss)
        return built


@dataclass
class Order:
    """One order; ``serial`` orders orders by creation, newest highest."""

    serial: int
    category: str
    symbol: str
    order_id: str
    order_link_id: str
    side: str
    order_type: str
    qty: Decimal
    price: Decimal
    position_idx: int
    reduce_only: bool
    time_in_force: str
    created_time: int
    updated_time: int
    create_type: str = "CreateByUser"
    status: str = "New"
    cum_exec_qty: Decimal = ZERO
    cum_exec_value: Decimal = ZERO
    cum_exec_fee: Decimal = ZERO
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    stop_order_type: str = ""  # TakeProfit, StopLoss ... for a conditional order
    trigger_price: Decimal = ZERO
    trigger_direction: int = 0  # 1: triggers when the mark rises to it, 2: when it falls

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves_qty(self) -> Decimal:
        return self.qty - self.cum_exec_qty if self.is_open else ZERO

    def item(self, *, rest: bool) -> JSON:
        avg = self.cum_exec_value / self.cum_exec_qty if self.cum_exec_qty else None
        built = messages.order_item(
            symbol=self.symbol,
            order_id=self.order_id,
            side=self.side,
            qty=text(self.qty),
            status=self.status,
            updated_time=self.updated_time,
            category=self.category,
            order_link_id=self.order_link_id,
            price=text(self.price),
            order_type=self.order_type,
            cum_exec_qty=text(self.cum_exec_qty),
            avg_price="" if avg is None else text(avg.quantize(Decimal("1e-8"))),
            cum_exec_fee=text(self.cum_exec_fee),
            position_idx=self.position_idx,
            reduce_only=self.reduce_only,
            cancel_type=self.cancel_type,
            reject_reason=self.reject_reason,
            created_time=self.created_time,
            stop_order_type=self.stop_order_type,
            trigger_price=text(self.trigger_price) if self.stop_order_type else "",
            rest=rest,
        )
        if self.stop_order_type:
            built["triggerDirection"] = self.trigger_direction
            built["triggerBy"] = "MarkPrice"
            built["tpslMode"] = "Full"
            built["closeOnTrigger"] = True
        built["timeInForce"] = self.time_in_force
        built["leavesQty"] = text(self.leaves_qty)
        built["leavesValue"] = text(self.leaves_qty * self.price)
        built["cumExecValue"] = text(self.cum_exec_value)
        built["createType"] = self.create_type
        built["isLeverage"] = ""
        return built


@dataclass(frozen=True)
class Execution:
    """One fill of an order; ``serial`` orders executions by time, newest highest."""

    serial: int
    order: Order
    exec_id: str
    exec_type: str
    price: Decimal
    qty: Decimal
    fee_rate: Decimal
    closed_size: Decimal
    exec_pnl: Decimal
    leaves_qty: Decimal
    mark_price: Decimal
    time: int
    seq: int

    @property
    def symbol(self) -> str:
        return self.order.symbol

    def item(self, *, rest: bool) -> JSON:
        order = self.order
        built = messages.execution_item(
            symbol=order.symbol,
            exec_id=self.exec_id,
            order_id=order.order_id,
            side=order.side,
            exec_price=text(self.price),
            exec_qty=text(self.qty),
            exec_time=self.time,
            seq=self.seq,
            category=order.category,
            order_link_id=order.order_link_id,
            order_qty=text(order.qty),
            leaves_qty=text(self.leaves_qty),
            exec_fee=text(self.fee),
            exec_type=self.exec_type,
            closed_size=text(self.closed_size),
            order_type=order.order_type,
            # Bybit's execution says UNKNOWN where the order was no stop order.
            stop_order_type=order.stop_order_type or "UNKNOWN",
            create_type=order.create_type,
            rest=rest,
        )
        built["execValue"] = text(self.price * self.qty)
        built["feeRate"] = text(self.fee_rate)
        built["orderPrice"] = text(order.price)
        built["markPrice"] = text(self.mark_price)
        built["execPnl"] = text(self.exec_pnl)
        return built

    @property
    def fee(self) -> Decimal:
        return self.price * self.qty * self.fee_rate


@dataclass(frozen=True)
class Instrument:
    """A symbol's trading rules, as /v5/market/instruments-info gives them."""

    qty_step: Decimal
    min_qty: Decimal
    tick_size: Decimal

    def listing(self, category: str, symbol: str) -> JSON:
        """One item of instruments-info's list (the fields a client reads, and their kin)."""
        return {
            "symbol": symbol,
            "contractType": "LinearPerpetual" if category == "linear" else "InversePerpetual",
            "status": "Trading",
            "priceFilter": {"minPrice": str(self.tick_size), "tickSize": str(self.tick_size)},
            "lotSizeFilter": {
                "minOrderQty": str(self.min_qty),
                "qtyStep": str(self.qty_step),
                "maxOrderQty": "1000000",
            },
        }


# What a symbol no test set rules for answers (and is not held to): fine enough for any
# quantity or price the tests use.
ANY_GRID = Instrument(Decimal("0.0001"), Decimal("0.0001"), Decimal("0.0001"))


@dataclass
class ExchangeBook:
    """One unified account's derivatives book, as the exchange holds it."""

    clock: Clock
    uid: str = DEFAULT_UID
    seed: int = 7
    wallet_balance: Decimal = Decimal("10000")
    positions: dict[tuple[str, str, int], Position] = field(init=False, default_factory=dict)
    orders: dict[str, Order] = field(init=False, default_factory=dict)
    executions: list[Execution] = field(init=False, default_factory=list)
    # Trading rules per symbol, where a test set them: orders off their grid are refused.
    instruments: dict[str, "Instrument"] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        # Seeded so that ids and seqs repeat run after run: a scenario gives the same bytes.
        self._rng = random.Random(self.seed)
        self._seqs: dict[tuple[str, str], int] = {}
        self._frames: list[JSON] = []
        self._serial = 0

    # ---- identities -------------------------------------------------------------------------

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _next_seq(self, category: str, symbol: str) -> int:
        # Bybit's cross sequence is per symbol and large; a fill and its position share it.
        key = (category, symbol)
        current = self._seqs.get(key)
        if current is None:
            current = self._rng.randrange(1_000_000_000, 9_000_000_000)
        self._seqs[key] = current + self._rng.randrange(1, 50)
        return self._seqs[key]

    # ---- frames -----------------------------------------------------------------------------

    def _push(self, topic: str, items: list[JSON], message_id: str | None = None) -> None:
        frame_id = message_id or f"{self.uid}{self._uuid()}"
        self._frames.append(
            messages.ws_frame(topic, items, message_id=frame_id, creation_time=self.clock())
        )

    def _push_position(self, position: Position) -> None:
        self._push("position", [position.item(rest=False)])

    def _push_order(self, order: Order) -> None:
        self._push("order", [order.item(rest=False)])

    def _push_execution(self, execution: Execution) -> None:
        # Bybit's execution message id is uid_symbol_seq, unlike the other topics' uuids.
        message_id = f"{self.uid}_{execution.symbol}_{execution.seq}"
        self._push("execution", [execution.item(rest=False)], message_id)

    def push_wallet(self) -> None:
        """Queue a ``wallet`` frame with the balance and unrealised PnL as they stand."""
        self._push("wallet", [self.wallet_item()])

    def wallet_item(self) -> JSON:
        """The unified account as it stands: the wallet topic's item, and
        /v5/account/wallet-balance's."""
        upl = sum((p.unrealised_pnl for p in self.positions.values()), ZERO)
        equity = self.wallet_balance + upl
        item = messages.wallet_item(
            total_equity=text(equity),
            total_wallet_balance=text(self.wallet_balance),
            available=text(equity),
        )
        item["totalPerpUPL"] = text(upl)
        item["coin"][0]["unrealisedPnl"] = text(upl)
        return item

    def take_frames(self) -> list[JSON]:
        """The frames queued since the last call, oldest first."""
        frames, self._frames = self._frames, []
        return frames

    # ---- lookups ----------------------------------------------------------------------------

    def position(self, symbol: str, position_idx: int = 0, category: str = "linear") -> Position:
        """The position at this key, created flat (never traded) if the book has none."""
        key = (category, symbol, position_idx)
        if key not in self.positions:
            now = self.clock()
            self.positions[key] = Position(category, symbol, position_idx, now, now)
        return self.positions[key]

    def order(self, ref: str) -> Order:
        """An order by orderId, or by orderLinkId (the newest order carrying it)."""
        if ref in self.orders:
            return self.orders[ref]
        linked = [o for o in self.orders.values() if ref and o.order_link_id == ref]
        if not linked:
            raise BookError(f"no order with orderId or orderLinkId {ref!r}")
        return max(linked, key=lambda o: o.serial)

    def symbol_keys(self, category: str, symbol: str) -> list[Position]:
        return sorted(
            (p for p in self.positions.values() if (p.category, p.symbol) == (category, symbol)),
            key=lambda p: p.position_idx,
        )

    # ---- operations -------------------------------------------------------------------------

    def place_order(
        self,
        symbol: str,
        side: str,
        qty: Decimal,
        *,
        order_link_id: str = "",
        order_type: str = "Limit",
        price: Decimal | None = None,
        reduce_only: bool = False,
        position_idx: int = 0,
        category: str = "linear",
        time_in_force: str | None = None,
        reject_reason: str | None = None,
        create_type: str = "CreateByUser",
    ) -> Order:
        """A new order (status New), or Rejected with ``reject_reason``; pushes order, position."""
        if side not in ("Buy", "Sell"):
            raise BookError(f"side must be Buy or Sell, not {side!r}")
        if order_type not in ("Limit", "Market"):
            raise BookError(f"orderType must be Limit or Market, not {order_type!r}")
        if qty <= 0:
            raise BookError(f"qty must be positive, not {qty}")
        if order_type == "Limit" and (price is None or price <= 0):
            raise BookError("a Limit order needs a positive price")
        if order_link_id and any(
            o.order_link_id == order_link_id and o.is_open for o in self.orders.values()
        ):
            raise BookError(f"orderLinkId {order_link_id!r} is already on an open order")
        position = self.position(symbol, position_idx, category)
        now = self.clock()
        order = Order(
            serial=self._next_serial(),
            category=category,
            symbol=symbol,
            order_id=self._uuid(),
            order_link_id=order_link_id,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price if price is not None else position.mark_price,
            position_idx=position_idx,
            reduce_only=reduce_only,
            time_in_force=time_in_force or ("IOC" if order_type == "Market" else "GTC"),
            created_time=now,
            updated_time=now,
            create_type=create_type,
        )
        if reject_reason:
            order.status = "Rejected"
            order.reject_reason = reject_reason
        self.orders[order.order_id] = order
        self._push_order(order)
        # Bybit pushes the position on every order create, amend and cancel, changed or not.
        self._push_position(position)
        return order

    def cancel(self, ref: str, cancel_type: str = "CancelByUser") -> Order:
        """Cancel an open order (executed quantity kept); pushes order, position."""
        order = self.order(ref)
        if not order.is_open:
            raise BookError(f"order {ref!r} is {order.status}, not open")
        self._cancel(order, cancel_type)
        self._push_position(self.position(order.symbol, order.position_idx, order.category))
        return order

    def amend(self, ref: str, qty: Decimal | None, price: Decimal | None) -> Order:
        """Change an open order's quantity and/or price; pushes order, position."""
        order = self.order(ref)
        if not order.is_open:
            raise BookError(f"order {ref!r} is {order.status}, not open")
        if qty is not None:
            order.qty = qty
        if price is not None:
            order.price = price
        order.updated_time = self.clock()
        self._push_order(order)
        self._push_position(self.position(order.symbol, order.position_idx, order.category))
        return order

    def _cancel(self, order: Order, cancel_type: str) -> None:
        # A conditional order cancelled before its trigger is Deactivated, as Bybit says.
        order.status = "Deactivated" if order.status == "Untriggered" else "Cancelled"
        order.cancel_type = cancel_type
        order.updated_time = self.clock()
        self._push_order(order)

    def fill(
        self,
        ref: str,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        *,
        exec_type: str = "Trade",
    ) -> Execution:
        """Execute ``qty`` (default: all that is left) of an open order at ``price``."""
        order = self.order(ref)
        if not order.is_open:
            raise BookError(f"order {ref!r} is {order.status}, not open")
        position = self.position(order.symbol, order.position_idx, order.category)
        amount = order.leaves_qty if qty is None else qty
        if order.reduce_only:
            # A reduce-only order never grows or flips a position: Bybit clips it.
            held = position.size if position.side and position.side != order.side else ZERO
            amount = min(amount, held)
        if amount <= 0 or amount > order.leaves_qty:
            raise BookError(f"cannot fill {amount} of order {ref!r} ({order.leaves_qty} left)")
        at = price if price is not None else (order.price or position.mark_price)
        if at <= 0:
            raise BookError(f"no price to fill order {ref!r} at: give one or move_mark first")
        return self._execute(order, position, amount, at, exec_type)

    def _execute(
        self, order: Order, position: Position, qty: Decimal, price: Decimal, exec_type: str
    ) -> Execution:
        now = self.clock()
        closed, pnl = self._apply_to_position(position, order.side, qty, price)
        seq = self._next_seq(order.category, order.symbol)
        position.seq = seq
        position.updated_time = now
        fee_rate = MAKER_FEE if order.order_type == "Limit" else TAKER_FEE
        order.cum_exec_qty += qty
        order.cum_exec_value += qty * price
        order.cum_exec_fee += qty * price * fee_rate
        order.status = "Filled" if order.cum_exec_qty == order.qty else "PartiallyFilled"
        order.updated_time = now
        execution = Execution(
            serial=self._next_serial(),
            order=order,
            exec_id=self._uuid(),
            exec_type=exec_type,
            price=price,
            qty=qty,
            fee_rate=fee_rate,
            closed_size=closed,
            exec_pnl=pnl,
            leaves_qty=order.leaves_qty,
            mark_price=position.mark_price or price,
            time=now,
            seq=seq,
        )
        self.executions.append(execution)
        self.wallet_balance += pnl - execution.fee
        position.cum_realised_pnl += pnl - execution.fee
        position.cur_realised_pnl += pnl - execution.fee
        self._push_execution(execution)
        self._push_order(order)
        self._push_position(position)
        if position.size == 0:
            self._cancel_reduce_only(position)
        self.push_wallet()
        return execution

    def _apply_to_position(
        self, position: Position, side: str, qty: Decimal, price: Decimal
    ) -> tuple[Decimal, Decimal]:
        """Move the position by a fill; returns (closed size, realised PnL before fees)."""
        if position.mark_price == 0:
            position.mark_price = price
        if position.size == 0 or position.side == side:
            if position.size == 0:
                position.cur_realised_pnl = ZERO
            total = position.size + qty
            average = (position.avg_price * position.size + price * qty) / total
            position.avg_price = average.quantize(Decimal("1e-8"))
            position.size = total
            position.side = side
            return ZERO, ZERO
        closed = min(qty, position.size)
        direction = 1 if position.side == "Buy" else -1
        pnl = (price - position.avg_price) * closed * direction
        position.size -= closed
        rest = qty - closed
        if position.size == 0:
            position.side = ""
            position.avg_price = ZERO
            position.take_profit = position.stop_loss = ZERO
        if rest > 0:
            # One-way mode: the rest of the fill opens the other side at the fill price.
            position.side, position.size, position.avg_price = side, rest, price
        return closed, pnl

    def _cancel_reduce_only(self, position: Position) -> None:
        for order in self._open_orders_of(position):
            if order.stop_order_type in POSITION_STOPS:
                self._cancel(order, "CancelByTpSlTsClear")  # the position's TP/SL, cleared
            elif order.reduce_only:
                self._cancel(order, "CancelByReduceOnly")

    def _open_orders_of(self, position: Position) -> Iterable[Order]:
        key = (position.category, position.symbol, position.position_idx)
        return [
            o
            for o in self.orders.values()
            if o.is_open and (o.category, o.symbol, o.position_idx) == key
        ]

    def close_by_hand(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Decimal | None = None,
    ) -> Execution:
        """What closing in Bybit's app does: a reduce-only Market order, empty orderLinkId."""
        position = self.position(symbol, position_idx, category)
        if position.size == 0:
            raise BookError(f"{symbol} positionIdx {position_idx} is flat: nothing to close")
        order = self.place_order(
            symbol,
            "Sell" if position.side == "Buy" else "Buy",
            position.size,
            order_type="Market",
            price=price,
            reduce_only=True,
            position_idx=position_idx,
            category=category,
            create_type="CreateByClosing",
        )
        return self.fill(order.order_id, price=price)

    def liquidate(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Decimal | None = None,
    ) -> Execution:
        """The liquidation engine takes the position over and closes it (execType BustTrade)."""
        position = self._held(symbol, position_idx, category, "liquidate")
        return self._take_over(
            position,
            price,
            status="Liq",
            cancel_type="CancelAllBeforeLiq",
            create_type="CreateByTakeOver_PassThrough",
            exec_type="BustTrade",
        )

    def auto_deleverage(
        self,
        symbol: str,
        *,
        position_idx: int = 0,
        category: str = "linear",
        price: Decimal | None = None,
    ) -> Execution:
        """Auto-deleveraging closes the position against another account's liquidation
        (positionStatus Adl, createType CreateByAdl_PassThrough, execType AdlTrade)."""
        position = self._held(symbol, position_idx, category, "deleverage")
        return self._take_over(
            position,
            price,
            status="Adl",
            cancel_type="CancelAllBeforeAdl",
            create_type="CreateByAdl_PassThrough",
            exec_type="AdlTrade",
        )

    def _held(self, symbol: str, position_idx: int, category: str, what: str) -> Position:
        position = self.position(symbol, position_idx, category)
        if position.size == 0:
            raise BookError(f"{symbol} positionIdx {position_idx} is flat: nothing to {what}")
        return position

    def _take_over(
        self,
        position: Position,
        price: Decimal | None,
        *,
        status: str,
        cancel_type: str,
        create_type: str,
        exec_type: str,
    ) -> Execution:
        """The venue's engine closes the whole position: its open orders cancelled, the
        position shown in ``status`` while it happens, then one fill of the engine's order."""
        for order in self._open_orders_of(position):
            self._cancel(order, cancel_type)
        position.status = status
        position.updated_time = self.clock()
        self._push_position(position)
        at = price if price is not None else position.mark_price
        order = self._closing_order(position, create_type=create_type, price=at)
        position.status = "Normal"
        return self._execute(order, position, order.qty, at, exec_type)

    def _closing_order(
        self,
        position: Position,
        *,
        create_type: str,
        price: Decimal,
        status: str = "New",
        stop_order_type: str = "",
        trigger_price: Decimal = ZERO,
        trigger_direction: int = 0,
    ) -> Order:
        """A reduce-only Market order for the whole position that the venue placed itself."""
        now = self.clock()
        order = Order(
            serial=self._next_serial(),
            category=position.category,
            symbol=position.symbol,
            order_id=self._uuid(),
            order_link_id="",
            side="Sell" if position.side == "Buy" else "Buy",
            order_type="Market",
            qty=position.size,
            price=price,
            position_idx=position.position_idx,
            reduce_only=True,
            time_in_force="IOC",
            created_time=now,
            updated_time=now,
            create_type=create_type,
            status=status,
            stop_order_type=stop_order_type,
            trigger_price=trigger_price,
            trigger_direction=trigger_direction,
        )
        self.orders[order.order_id] = order
        return order

    def set_trading_stop(
        self,
        symbol: str,
        *,
        take_profit: Decimal | None = None,
        stop_loss: Decimal | None = None,
        position_idx: int = 0,
        category: str = "linear",
    ) -> list[Order]:
        """The position's own TP and SL (Bybit's Set Trading Stop): conditional Market orders
        (stopOrderType TakeProfit, StopLoss), Untriggered until the mark reaches them."""
        position = self._held(symbol, position_idx, category, "protect")
        placed: list[Order] = []
        for stop_order_type, trigger in (("TakeProfit", take_profit), ("StopLoss", stop_loss)):
            if trigger is None:
                continue
            if trigger <= 0:
                raise BookError(f"a {stop_order_type} trigger price must be positive")
            for old in self._open_orders_of(position):
                if old.stop_order_type == stop_order_type:  # a new one replaces it
                    self._cancel(old, "CancelByUser")
            # A long's take-profit waits for a rise, its stop-loss for a fall; a short's the
            # opposite.
            rises = (stop_order_type == "TakeProfit") == (position.side == "Buy")
            order = self._closing_order(
                position,
                create_type=POSITION_STOPS[stop_order_type],
                price=ZERO,
                status="Untriggered",
                stop_order_type=stop_order_type,
                trigger_price=trigger,
                trigger_direction=1 if rises else 2,
            )
            if stop_order_type == "TakeProfit":
                position.take_profit = trigger
            else:
                position.stop_loss = trigger
            self._push_order(order)
            placed.append(order)
        position.updated_time = self.clock()
        self._push_position(position)
        return placed

    def move_mark(self, symbol: str, price: Decimal, category: str = "linear") -> None:
        """Set the mark price of every position of ``symbol``: REST sees it, nothing is pushed
        for the mark itself (the private position topic pushes on trades and orders, not on
        mark moves); a conditional order whose trigger it reaches fires."""
        if price <= 0:
            raise BookError(f"mark price must be positive, not {price}")
        for position in self.symbol_keys(category, symbol) or [self.position(symbol, 0, category)]:
            position.mark_price = price
        waiting = [
            o
            for o in self.orders.values()
            if (o.category, o.symbol, o.status) == (category, symbol, "Untriggered")
        ]
        for order in sorted(waiting, key=lambda o: o.serial):
            reached = (
                price >= order.trigger_price
                if order.trigger_direction == 1
                else (price <= order.trigger_price)
            )
            # An earlier trigger may have closed the position and deactivated this one.
            if reached and order.status == "Untriggered":
                self._trigger(order, price)

    def _trigger(self, order: Order, price: Decimal) -> None:
        """A conditional order fires: Triggered (an instant), New, then filled at the mark."""
        position = self.position(order.symbol, order.position_idx, order.category)
        for status in ("Triggered", "New"):
            order.status, order.updated_time = status, self.clock()
            self._push_order(order)
        if position.size == 0 or position.side == order.side:
            self._cancel(order, "CancelByReduceOnly")  # nothing left for it to close
            return
        order.qty = position.size  # tpslMode Full: the whole position, as it stands now
        self._execute(order, position, order.qty, price, "Trade")

    def open_position(
        self,
        symbol: str,
        side: str,
        size: Decimal,
        avg_price: Decimal,
        *,
        position_idx: int = 0,
        category: str = "linear",
        mark_price: Decimal | None = None,
    ) -> Position:
        """Set a position outright (held before the session began); pushes position."""
        if side not in ("Buy", "Sell") or size <= 0 or avg_price <= 0:
            raise BookError("open_position needs side Buy or Sell and positive size and price")
        position = self.position(symbol, position_idx, category)
        position.side, position.size, position.avg_price = side, size, avg_price
        position.mark_price = mark_price or avg_price
        position.seq = self._next_seq(category, symbol)
        position.updated_time = self.clock()
        self._push_position(position)
        return position
