"""The simulated Aster futures account: its positions, orders, trades and income (``records``),
and the user-data events each change pushes.

Not thread-safe: the simulator serialises every call. Each operation queues the events Aster
would push for it (ORDER_TRADE_UPDATE, then ACCOUNT_UPDATE for a fill; ACCOUNT_UPDATE with
reason FUNDING_FEE for a funding payment; MARGIN_CALL; ACCOUNT_CONFIG_UPDATE) and
``take_events`` hands them over. The REST views read the same state, so a snapshot always
agrees with the last event pushed. Shapes follow futures-api-v1.md ("User Data Streams",
"Event: Margin Call").
"""

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from trueup_simulators.amounts import plain
from trueup_simulators.aster.records import (
    ASSET,
    JSON,
    PRICE_DECIMALS,
    ZERO,
    ExecutionType,
    Income,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Trade,
    crosses,
)

Clock = Callable[[], int]
TAKER_FEE = Decimal("0.00035")
MAKER_FEE = Decimal("0.0001")
# Client order ids Aster gives the orders its own engine places (futures-api-v1.md, "Event:
# Order Update": "starts with autoclose-: liquidation order", "adl_autoclose: ADL").
LIQUIDATION_PREFIX = "autoclose-"
ADL_CLIENT_ORDER_ID = "adl_autoclose"
# An order placed by hand on the web app: Aster fills in an id; this prefix marks the simulated one.
WEB_PREFIX = "web_"


class Closer(StrEnum):
    """Who closes a whole position outside the trading system."""

    HAND = "hand"
    LIQUIDATION = "liquidation"
    ADL = "adl"


class AccountError(ValueError):
    """An operation the simulated account cannot perform (unknown order, flat position...)."""


@dataclass
class Account:
    """One Aster futures account (USDT margined, cross margin) and the marks it is valued at."""

    clock: Clock
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
    wallet_balance: Decimal = Decimal("10000")
    seed: int = 7
    dual_side: bool = False
    marks: dict[str, Decimal] = field(init=False, default_factory=dict)
    positions: dict[tuple[str, PositionSide], Position] = field(init=False, default_factory=dict)
    orders: dict[int, Order] = field(init=False, default_factory=dict)
    trades: list[Trade] = field(init=False, default_factory=list)
    incomes: list[Income] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        # Seeded so that ids repeat run after run: a scenario gives the same bytes.
        self._rng = random.Random(self.seed)
        self._next_order_id = self._rng.randrange(10_000_000, 90_000_000)
        self._next_trade_id = self._rng.randrange(100_000, 900_000)
        self._next_tran_id = self._rng.randrange(1_000_000_000, 9_000_000_000)
        self._events: list[JSON] = []

    # ---- identities and lookups -------------------------------------------------------------

    def _order_id(self) -> int:
        self._next_order_id += self._rng.randrange(1, 20)
        return self._next_order_id

    def _trade_id(self) -> int:
        self._next_trade_id += 1
        return self._next_trade_id

    def _tran_id(self) -> int:
        self._next_tran_id += self._rng.randrange(1, 100)
        return self._next_tran_id

    def generated_client_order_id(self, prefix: str = "") -> str:
        """An id as Aster makes one for an order sent without newClientOrderId."""
        alphabet = string.ascii_letters + string.digits
        return prefix + "".join(self._rng.choice(alphabet) for _ in range(22))

    def mark(self, symbol: str) -> Decimal:
        return self.marks.get(symbol, ZERO)

    def position(self, symbol: str, side: PositionSide) -> Position:
        """The position at this key, created flat if the account has none."""
        key = (symbol, side)
        if key not in self.positions:
            self.positions[key] = Position(symbol, side)
        return self.positions[key]

    def position_sides(self) -> tuple[PositionSide, ...]:
        """The sides positions are held on in the current mode."""
        return (PositionSide.LONG, PositionSide.SHORT) if self.dual_side else (PositionSide.BOTH,)

    def order(self, order_id: int | None = None, client_order_id: str = "") -> Order:
        """An order by orderId, else the newest carrying ``client_order_id``."""
        if order_id is not None:
            if order_id in self.orders:
                return self.orders[order_id]
            raise AccountError(f"no order with orderId {order_id}")
        named = [
            o
            for o in self.orders.values()
            if client_order_id and o.client_order_id == client_order_id
        ]
        if not named:
            raise AccountError(f"no order with clientOrderId {client_order_id!r}")
        return max(named, key=lambda o: o.order_id)

    def open_orders(self, symbol: str = "") -> list[Order]:
        chosen = [
            o for o in self.orders.values() if o.is_open and (not symbol or o.symbol == symbol)
        ]
        return sorted(chosen, key=lambda o: o.order_id)

    def closable(self, symbol: str, side: Side, position_side: PositionSide) -> Decimal:
        """How much an order of ``side`` on ``position_side`` can reduce (0: it would open)."""
        amount = self.position(symbol, position_side).amount
        closes = amount < 0 if side == Side.BUY else amount > 0
        return abs(amount) if closes else ZERO

    def unrealized(self) -> Decimal:
        return sum((p.unrealized(self.mark(p.symbol)) for p in self.positions.values()), ZERO)

    # ---- events -----------------------------------------------------------------------------

    def take_events(self) -> list[JSON]:
        """The events queued since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    def _push(
        self, event_type: str, body: JSON, *, transaction_time: bool = True, at: int | None = None
    ) -> None:
        now = self.clock() if at is None else at
        event: JSON = {"e": event_type, "E": now}
        if transaction_time:
            event["T"] = now
        self._events.append({**event, **body})

    def _push_order(self, order: Order, execution: ExecutionType, trade: Trade | None) -> None:
        item: JSON = {
            "s": order.symbol,
            "c": order.client_order_id,
            "S": order.side.value,
            "o": order.order_type.value,
            "f": order.time_in_force,
            "q": plain(order.orig_qty),
            "p": plain(order.price) if order.order_type == OrderType.LIMIT else "0",
            "ap": plain(order.avg_price),
            "sp": "0",
            "x": execution.value,
            "X": order.status.value,
            "i": order.order_id,
            "l": plain(trade.qty) if trade else "0",
            "z": plain(order.executed_qty),
            "L": plain(trade.price) if trade else "0",
        }
        if trade is not None:  # "will not push if no commission"
            item["N"] = ASSET
            item["n"] = plain(trade.commission)
        bids = order.leaves_qty * order.price if order.side == Side.BUY else ZERO
        asks = order.leaves_qty * order.price if order.side == Side.SELL else ZERO
        item.update(
            {
                "T": order.update_time,
                "t": trade.trade_id if trade else 0,
                "b": plain(bids),
                "a": plain(asks),
                "m": trade.maker if trade else False,
                "R": order.reduce_only,
                "wt": "CONTRACT_PRICE",
                "ot": order.order_type.value,
                "ps": order.position_side.value,
                "cp": False,
                "rp": plain(trade.realized_pnl) if trade else "0",
            }
        )
        self._push("ORDER_TRADE_UPDATE", {"o": item})

    def _balance_item(self, change: Decimal = ZERO) -> JSON:
        wallet = plain(self.wallet_balance)
        return {"a": ASSET, "wb": wallet, "cw": wallet, "bc": plain(change)}

    def push_account(self, reason: str, positions: list[Position], change: Decimal = ZERO) -> None:
        """Queue an ACCOUNT_UPDATE with the USDT balance and ``positions`` as they stand."""
        held = [p.event_item(self.mark(p.symbol)) for p in positions]
        update = {"m": reason, "B": [self._balance_item(change)], "P": held}
        self._push("ACCOUNT_UPDATE", {"a": update})

    # ---- orders -----------------------------------------------------------------------------

    def place(
        self,
        symbol: str,
        side: Side,
        qty: Decimal,
        *,
        order_type: OrderType = OrderType.LIMIT,
        price: Decimal | None = None,
        time_in_force: str = "GTC",
        position_side: PositionSide = PositionSide.BOTH,
        reduce_only: bool = False,
        client_order_id: str = "",
    ) -> Order:
        """A new order (NEW); pushes ORDER_TRADE_UPDATE x=NEW. Checks are order entry's."""
        if symbol not in self.symbols:
            raise AccountError(f"{symbol} is not listed (listed: {', '.join(self.symbols)})")
        if qty <= 0:
            raise AccountError(f"quantity must be positive, not {qty}")
        if order_type == OrderType.LIMIT and (price is None or price <= 0):
            raise AccountError("a LIMIT order needs a positive price")
        now = self.clock()
        order = Order(
            order_id=self._order_id(),
            client_order_id=client_order_id or self.generated_client_order_id(),
            symbol=symbol,
            side=side,
            position_side=position_side,
            order_type=order_type,
            time_in_force=time_in_force,
            orig_qty=qty,
            price=price if price is not None else ZERO,
            reduce_only=reduce_only,
            time=now,
            update_time=now,
        )
        self.orders[order.order_id] = order
        if order_type != OrderType.LIQUIDATION:  # the engine's orders show only as they fill
            self._push_order(order, ExecutionType.NEW, None)
        return order

    def cancel(self, order: Order, status: OrderStatus = OrderStatus.CANCELED) -> None:
        """End an open order (CANCELED by the user, EXPIRED by the venue); pushes its update."""
        if not order.is_open:
            raise AccountError(f"order {order.order_id} is {order.status}, not open")
        order.status, order.update_time = status, self.clock()
        execution = (
            ExecutionType.CANCELED if status == OrderStatus.CANCELED else ExecutionType.EXPIRED
        )
        self._push_order(order, execution, None)

    def fill(
        self,
        order: Order,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        *,
        maker: bool = False,
    ) -> Trade:
        """Fill an open order (all that remains by default) at ``price`` (the mark by default);
        pushes ORDER_TRADE_UPDATE then ACCOUNT_UPDATE (reason ORDER)."""
        if not order.is_open:
            raise AccountError(f"order {order.order_id} is {order.status}, not open")
        qty = order.leaves_qty if qty is None else qty
        if not ZERO < qty <= order.leaves_qty:
            raise AccountError(f"fill quantity must be in (0, {order.leaves_qty}], not {qty}")
        at = price if price is not None else self.mark(order.symbol)
        if at <= 0:
            raise AccountError(f"no price for {order.symbol}: move_mark first")
        position = self.position(order.symbol, order.position_side)
        if order.closes_only and qty > self.closable(order.symbol, order.side, order.position_side):
            raise AccountError("a reduce-only order cannot increase the position")
        realized = self._apply(position, qty if order.side == Side.BUY else -qty, at)
        commission = at * qty * (MAKER_FEE if maker else TAKER_FEE)
        now = self.clock()
        trade = Trade(self._trade_id(), order, at, qty, commission, realized, maker, now)
        self.trades.append(trade)
        order.executed_qty += qty
        order.cum_quote += at * qty
        order.status = (
            OrderStatus.FILLED
            if order.executed_qty == order.orig_qty
            else OrderStatus.PARTIALLY_FILLED
        )
        order.update_time = now
        self.wallet_balance += realized - commission
        if realized:
            self._income(order.symbol, "REALIZED_PNL", realized, str(trade.trade_id))
        self._income(order.symbol, "COMMISSION", -commission, str(trade.trade_id))
        engine = order.order_type == OrderType.LIQUIDATION
        self._push_order(order, ExecutionType.CALCULATED if engine else ExecutionType.TRADE, trade)
        self.push_account("ORDER", [position])
        return trade

    def _apply(self, position: Position, delta: Decimal, price: Decimal) -> Decimal:
        """Move ``position`` by the signed ``delta`` at ``price``; the PnL it realises."""
        old = position.amount
        realized = ZERO
        if old == 0 or (old > 0) == (delta > 0):
            average = (old * position.entry_price + delta * price) / (old + delta)
            position.entry_price = average.quantize(PRICE_DECIMALS)
        else:
            closed = min(abs(delta), abs(old))
            realized = closed * (price - position.entry_price) * (1 if old > 0 else -1)
            if abs(delta) > abs(old):  # flipped: the rest opens at this price
                position.entry_price = price
        position.amount = old + delta
        if position.amount == 0:
            position.entry_price = ZERO
        position.realized += realized
        position.update_time = self.clock()
        return realized

    def _income(self, symbol: str, income_type: str, amount: Decimal, trade_id: str = "") -> Income:
        income = Income(symbol, income_type, amount, self.clock(), self._tran_id(), trade_id)
        self.incomes.append(income)
        return income

    def match(self, symbol: str) -> None:
        """Fill the resting LIMIT orders of ``symbol`` its mark now crosses, oldest first, at
        their own price (makers); a reduce-only one with nothing left to reduce expires."""
        mark = self.mark(symbol)
        for order in self.open_orders(symbol):
            if order.order_type != OrderType.LIMIT or not crosses(order.side, order.price, mark):
                continue
            if order.closes_only and order.leaves_qty > self.closable(
                symbol, order.side, order.position_side
            ):
                self.cancel(order, OrderStatus.EXPIRED)
                continue
            self.fill(order, price=order.price, maker=True)

    # ---- what happens on the venue's side -----------------------------------------------------

    def move_mark(self, symbol: str, price: Decimal) -> None:
        """Set the mark of ``symbol``: REST values positions at it, orders fill at it, and a
        resting limit order it crosses fills."""
        if symbol not in self.symbols:
            raise AccountError(f"{symbol} is not listed")
        if price <= 0:
            raise AccountError(f"mark price must be positive, not {price}")
        self.marks[symbol] = price
        self.match(symbol)

    def open_position(
        self, symbol: str, amount: Decimal, entry_price: Decimal, side: PositionSide | None = None
    ) -> Position:
        """Set a position outright (held before anyone watched); pushes ACCOUNT_UPDATE."""
        if amount == 0 or entry_price <= 0:
            raise AccountError("open_position needs a non-zero amount and a positive price")
        side = side or (
            (PositionSide.LONG if amount > 0 else PositionSide.SHORT)
            if self.dual_side
            else PositionSide.BOTH
        )
        wrong_sign = (side == PositionSide.LONG and amount < 0) or (
            side == PositionSide.SHORT and amount > 0
        )
        if side not in self.position_sides() or wrong_sign:
            raise AccountError(f"a {side} position cannot hold {amount} in this position mode")
        position = self.position(symbol, side)
        position.amount, position.entry_price = amount, entry_price
        position.update_time = self.clock()
        self.marks.setdefault(symbol, entry_price)
        self.push_account("ORDER", [position])
        return position

    def close_whole(
        self,
        symbol: str,
        closer: Closer,
        side: PositionSide | None = None,
        price: Decimal | None = None,
    ) -> Trade:
        """Close a whole position outside the trading system: by hand on the web app (a MARKET
        reduce-only order), by liquidation (``autoclose-…``) or by ADL (``adl_autoclose``)."""
        position = self._held(symbol, side)
        closing = Side.SELL if position.amount > 0 else Side.BUY
        qty = abs(position.amount)
        for order in self.open_orders(symbol):
            if closer != Closer.HAND and order.position_side == position.side:
                self.cancel(order, OrderStatus.EXPIRED)  # the engine clears the way first
        if closer == Closer.HAND:
            order = self.place(
                symbol,
                closing,
                qty,
                order_type=OrderType.MARKET,
                time_in_force="GTC",
                position_side=position.side,
                reduce_only=not self.dual_side,
                client_order_id=self.generated_client_order_id(WEB_PREFIX),
            )
        else:
            client_id = (
                f"{LIQUIDATION_PREFIX}{self.clock()}"
                if closer == Closer.LIQUIDATION
                else ADL_CLIENT_ORDER_ID
            )
            order = self.place(
                symbol,
                closing,
                qty,
                order_type=OrderType.LIQUIDATION,
                price=price or self.mark(symbol),
                time_in_force="IOC",
                position_side=position.side,
                reduce_only=True,
                client_order_id=client_id,
            )
        return self.fill(order, price=price)

    def _held(self, symbol: str, side: PositionSide | None) -> Position:
        sides = (side,) if side is not None else self.position_sides()
        held = [self.position(symbol, s) for s in sides if self.position(symbol, s).amount != 0]
        if not held:
            raise AccountError(f"{symbol} has no open position to close")
        if len(held) > 1:
            raise AccountError(f"{symbol} is held LONG and SHORT: say which position_side")
        return held[0]

    def pay_funding(self, symbol: str, rate: Decimal) -> Decimal:
        """Settle funding on ``symbol``'s positions at ``rate`` (longs pay a positive rate):
        an income row FUNDING_FEE and ACCOUNT_UPDATE m=FUNDING_FEE with B only (cross
        margin); returns the amount paid (+) or received (-) as income, signed."""
        mark = self.mark(symbol)
        held = [p for p in self.positions.values() if p.symbol == symbol and p.amount != 0]
        if not held:
            raise AccountError(f"{symbol} has no open position to fund")
        amount = sum((-rate * p.amount * mark for p in held), ZERO)
        self.wallet_balance += amount
        income = self._income(symbol, "FUNDING_FEE", amount)
        update = {"m": "FUNDING_FEE", "B": [self._balance_item(amount)]}
        # One settlement, one instant: the income row and the push name the same time.
        self._push("ACCOUNT_UPDATE", {"a": update}, at=income.time)
        return amount

    def margin_call(self, symbol: str) -> None:
        """Queue a MARGIN_CALL for ``symbol``'s open positions (cross margin)."""
        mark = self.mark(symbol)
        held = [p for p in self.positions.values() if p.symbol == symbol and p.amount != 0]
        if not held:
            raise AccountError(f"{symbol} has no open position for a margin call")
        positions = [
            {
                "s": p.symbol,
                "ps": p.side.value,
                "pa": plain(p.amount),
                "mt": "CROSSED",
                "iw": "0",
                "mp": plain(mark),
                "up": plain(p.unrealized(mark)),
                "mm": plain(abs(p.amount) * mark * Decimal("0.004")),
            }
            for p in held
        ]
        self._push(
            "MARGIN_CALL",
            {"cw": plain(self.wallet_balance), "p": positions},
            transaction_time=False,
        )

    def set_dual_side(self, dual: bool) -> None:
        """Switch hedge mode on or off; pushes ACCOUNT_CONFIG_UPDATE (``ai.d``)."""
        self.dual_side = dual
        self._push("ACCOUNT_CONFIG_UPDATE", {"ai": {"j": False, "f": False, "d": dual}})
