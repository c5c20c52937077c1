"""The simulated exchange's books: positions, orders and fills per user, and what each change
pushes. Pure (no I/O); the simulator serves it and owns its one thread of access.
"""

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from trueup.adapters.hyperliquid import messages
from trueup.adapters.hyperliquid.messages import JSON

Clock = Callable[[], int]  # epoch milliseconds
TAKER_FEE = Decimal("0.00045")
LEVERAGE = 20
START_EQUITY = Decimal("100000")
FILLS_KEPT = 2000  # userFills answers with at most this many, newest first
# userFillsByTime answers at most this many, oldest first; historicalOrders this many orders.
FILLS_BY_TIME = 2000
HISTORICAL_ORDERS = 2000
LIQUIDATOR = "0x" + "0" * 39 + "1"
_STEP = Decimal("0.000001")  # computed prices and PnL are rounded to this
# The trigger order types of a position's own TP and SL, as orderStatus names them.
TPSL_ORDER_TYPES = {"tp": "Take Profit Market", "sl": "Stop Market"}
# Hyperliquid's error strings (its error-responses page; the venue appends the asset).
REDUCE_ONLY_ERROR = "Reduce only order would increase position."
IOC_CANCEL_ERROR = "Order could not immediately match against any resting orders."
MISSING_ORDER_ERROR = "Order was never placed, already canceled, or filled."
TICK_ERROR = "Price must be divisible by tick size."
MIN_VALUE_ERROR = "Order must have minimum value of $10."
# A perp order's least value (USDC); a reduce-only one is exempt, to close any position.
MIN_ORDER_VALUE = Decimal(10)
# A perp's price: at most 5 significant figures (an integer, any), 6 - szDecimals decimals.
PRICE_FIGURES, PERP_PRICE_DECIMALS = 5, 6
# Not in Hyperliquid's error table: the simulator's wording for a cloid already used.
DUPLICATE_CLOID_ERROR = "Duplicate cloid: an order with this cloid was already placed."
# Who closes a whole position outside the trading system.
Closer = Literal["hand", "liquidation", "adl"]


@dataclass(frozen=True, slots=True)
class Push:
    """A frame for the subscribers to ``subscription`` (userFills, orderUpdates ...) of ``user``."""

    subscription: str
    user: str
    frame: JSON


@dataclass(slots=True)
class SimOrder:
    oid: int
    coin: str
    is_buy: bool
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal  # what remains
    timestamp: int
    cloid: str | None
    status: str = "open"
    status_timestamp: int = 0
    order_type: str = "Limit"  # or a trigger order's: "Take Profit Market", "Stop Market" ...
    trigger_px: Decimal | None = None
    reduce_only: bool = False
    is_position_tpsl: bool = False

    @property
    def is_trigger(self) -> bool:
        return self.trigger_px is not None

    def reached(self, mark: Decimal) -> bool:
        """Whether ``mark`` fires this trigger order: a sell's take-profit waits for a rise,
        its stop for a fall; a buy's the opposite."""
        assert self.trigger_px is not None
        rises = self.order_type.startswith("Take Profit") != self.is_buy
        return mark >= self.trigger_px if rises else mark <= self.trigger_px


@dataclass(slots=True)
class SimPosition:
    szi: Decimal  # signed: negative is short
    entry_px: Decimal


@dataclass(slots=True)
class Account:
    address: str
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[int, SimOrder] = field(default_factory=dict)  # every order, ended ones too
    fills: list[JSON] = field(default_factory=list)  # oldest first
    fundings: list[JSON] = field(default_factory=list)  # userFunding entries, oldest first
    realized: Decimal = Decimal(0)


def text(value: Decimal) -> str:
    """A decimal as Hyperliquid writes it: plain, with a fraction ("2.0", not "2")."""
    plain = format(value.normalize(), "f") if value else "0"
    return plain if "." in plain else plain + ".0"


def wall_clock() -> int:
    """Epoch milliseconds, now."""
    return time.time_ns() // 1_000_000


class Ledger:
    """Every user's book, and the marks; each change returns the frames it pushes."""

    def __init__(
        self, clock: Clock = wall_clock, sz_decimals: dict[str, int] | None = None
    ) -> None:
        self._clock = clock
        self._last_time = clock()
        self.accounts: dict[str, Account] = {}
        self.marks: dict[str, Decimal] = {}
        self.sz_decimals = dict(sz_decimals or {"BTC": 5, "ETH": 4, "SOL": 2})
        self._oids = itertools.count(30_000_000_000)
        self._tids = itertools.count(100_000_000_000_000)
        self._blocks = itertools.count(1)
        self._lids = itertools.count(1)

    def now(self) -> int:
        """The clock, made strictly increasing: time orders Hyperliquid's reports."""
        self._last_time = max(self._clock(), self._last_time + 1)
        return self._last_time

    def account(self, user: str) -> Account:
        key = user.lower()
        found = self.accounts.get(key)
        if found is None:
            found = self.accounts[key] = Account(user)
        return found

    # --- what the info endpoint answers ---------------------------------------------------

    def clearinghouse_state(self, user: str) -> JSON:
        """As of the last change (the venue says its clock's now): asking twice gives the same."""
        account = self.account(user)
        positions = [self._asset_position(coin, p) for coin, p in sorted(account.positions.items())]
        upnl = sum((self._upnl(c, p) for c, p in account.positions.items()), Decimal(0))
        notional = sum(
            (abs(p.szi) * self._mark(c, p) for c, p in account.positions.items()), Decimal(0)
        )
        return messages.clearinghouse_state(
            positions,
            time=self._last_time,
            account_value=text(START_EQUITY + account.realized + upnl),
            total_ntl_pos=text(notional),
            total_margin_used=text(notional / LEVERAGE),
        )

    def open_orders(self, user: str) -> list[JSON]:
        orders = self.account(user).orders.values()
        return [_open_order(o) for o in reversed(orders) if o.status == "open"]

    def frontend_open_orders(self, user: str) -> list[JSON]:
        """openOrders with each order's type, trigger and flags, as the front end reads them."""
        orders = self.account(user).orders.values()
        return [_frontend_order(o) for o in reversed(orders) if o.status == "open"]

    def user_fills(self, user: str) -> list[JSON]:
        return list(reversed(self.account(user).fills[-FILLS_KEPT:]))

    def user_fills_by_time(self, user: str, start: int, end: int | None) -> list[JSON]:
        """The fills from ``start`` to ``end`` (now by default), both inclusive, oldest first."""
        fills = self.account(user).fills
        chosen = [f for f in fills if start <= f["time"] and (end is None or f["time"] <= end)]
        return chosen[:FILLS_BY_TIME]

    def historical_orders(self, user: str) -> list[JSON]:
        """The most recent orders, open and ended, each with its status, newest first."""
        orders = list(self.account(user).orders.values())[-HISTORICAL_ORDERS:]
        return [
            messages.order_update(_frontend_order(o), o.status, o.status_timestamp)
            for o in reversed(orders)
        ]

    def user_funding(self, user: str, start_time: int, end_time: int | None) -> list[JSON]:
        """The payments from ``start_time`` to ``end_time`` (now by default), both inclusive,
        oldest first."""
        end = self._last_time if end_time is None else end_time
        return [f for f in self.account(user).fundings if start_time <= f["time"] <= end]

    def order_status(self, user: str, oid: int | str) -> JSON:
        """By oid, or by cloid (a 0x string), as orderStatus is asked."""
        for order in self.account(user).orders.values():
            if oid in (order.oid, order.cloid):
                return messages.order_status(
                    _frontend_order(order), order.status, order.status_timestamp
                )
        return messages.order_status_unknown()

    def web_data2(self, user: str) -> JSON:
        state = self.clearinghouse_state(user)
        return messages.web_data2_frame(
            self.account(user).address, state, self.open_orders(user), server_time=state["time"]
        )

    def meta(self) -> JSON:
        return messages.meta(self.sz_decimals)

    # --- changes ---------------------------------------------------------------------------

    def place(
        self,
        user: str,
        coin: str,
        *,
        is_buy: bool,
        sz: Decimal,
        limit_px: Decimal,
        cloid: str | None,
    ) -> tuple[int, list[Push]]:
        """A resting limit order; says its oid."""
        now = self.now()
        self.sz_decimals.setdefault(coin, 4)
        order = SimOrder(next(self._oids), coin, is_buy, limit_px, sz, sz, now, cloid)
        order.status_timestamp = now
        self.account(user).orders[order.oid] = order
        return order.oid, [self._order_update(user, order), self._web_data2_push(user)]

    def submit(
        self,
        user: str,
        coin: str,
        *,
        is_buy: bool,
        sz: Decimal,
        limit_px: Decimal,
        tif: str,
        reduce_only: bool,
        cloid: str | None,
    ) -> tuple[JSON, list[Push]]:
        """An order sent to /exchange: its status as the venue answers it (resting, filled or
        error). It fills at once at the mark if its limit crosses it; Ioc never rests."""
        asset = list(self.sz_decimals).index(coin)
        account = self.account(user)
        if cloid is not None and any(o.cloid == cloid for o in account.orders.values()):
            return {"error": DUPLICATE_CLOID_ERROR}, []
        if not _on_tick(limit_px, self.sz_decimals[coin]):
            return {"error": f"{TICK_ERROR} asset={asset}"}, []
        if not reduce_only and sz * limit_px < MIN_ORDER_VALUE:
            return {"error": f"{MIN_VALUE_ERROR} asset={asset}"}, []
        if reduce_only:
            position = account.positions.get(coin)
            held = abs(position.szi) if position and (position.szi < 0) == is_buy else Decimal(0)
            if sz > held:
                return {"error": f"{REDUCE_ONLY_ERROR} asset={asset}"}, []
        mark = self.marks.get(coin)
        crosses = mark is not None and (mark <= limit_px if is_buy else mark >= limit_px)
        if not crosses and tif == "Ioc":
            return {"error": f"{IOC_CANCEL_ERROR} asset={asset}"}, []
        now = self.now()
        order = SimOrder(next(self._oids), coin, is_buy, limit_px, sz, sz, now, cloid, "open", now)
        order.reduce_only = reduce_only
        account.orders[order.oid] = order
        if not crosses or mark is None:
            return {"resting": _with_cloid({"oid": order.oid}, cloid)}, [
                self._order_update(user, order),
                self._web_data2_push(user),
            ]
        order.sz = Decimal(0)
        order.status = "filled"
        fill = self._trade(account, order, sz, mark, now=now, liquidation=None)
        pushes = [self._order_update(user, order), *self._fill_pushes(user, [fill])]
        pushes += self._clear_reduce_only(account, coin)
        filled = {"totalSz": text(sz), "avgPx": text(mark), "oid": order.oid}
        return {"filled": _with_cloid(filled, cloid)}, [*pushes, self._web_data2_push(user)]

    def cancel_order(
        self, user: str, *, oid: int | None, cloid: str | None
    ) -> tuple[JSON | str, list[Push]]:
        """A cancel sent to /exchange, by oid or cloid: "success", or the venue's error."""
        for order in self.account(user).orders.values():
            if order.status == "open" and (order.oid == oid or (cloid and order.cloid == cloid)):
                return "success", self.cancel(user, order.oid)
        return {"error": MISSING_ORDER_ERROR}, []

    def fill(
        self, user: str, oid: int, sz: Decimal | None, px: Decimal | None
    ) -> tuple[JSON, list[Push]]:
        """Fill an open order, wholly or by ``sz``, at ``px`` (its limit price by default)."""
        account = self.account(user)
        order = account.orders.get(oid)
        if order is None or order.status != "open":
            raise ValueError(f"order {oid} of {user} is not open")
        size = order.sz if sz is None else sz
        if not 0 < size <= order.sz:
            raise ValueError(f"cannot fill {size} of order {oid}: {order.sz} remains")
        now = self.now()
        order.sz -= size
        price = order.limit_px if px is None else px
        fill = self._trade(account, order, size, price, now=now, liquidation=None)
        pushes = self._fill_pushes(user, [fill])
        if order.sz == 0:
            order.status, order.status_timestamp = "filled", now
            pushes.insert(0, self._order_update(user, order))
        return fill, [*pushes, self._web_data2_push(user)]

    def cancel(self, user: str, oid: int, status: str = "canceled") -> list[Push]:
        """End an open order; a status other than canceled is the venue's doing (nonUserCancel)."""
        order = self.account(user).orders.get(oid)
        if order is None or order.status != "open":
            raise ValueError(f"order {oid} of {user} is not open")
        order.status, order.status_timestamp = status, self.now()
        pushes = [self._order_update(user, order)]
        if status != "canceled":
            frame = messages.non_user_cancel_event([(order.coin, oid)])
            pushes.append(Push("userEvents", user, frame))
        return [*pushes, self._web_data2_push(user)]

    def close_by_hand(self, user: str, coin: str, px: Decimal | None) -> tuple[JSON, list[Push]]:
        """Someone closes the whole position outside the trading system: an order with no cloid."""
        return self._close(user, coin, px, by="hand")

    def liquidate(self, user: str, coin: str, px: Decimal | None) -> tuple[JSON, list[Push]]:
        """The venue liquidates the whole position: the notice, then the closing fill."""
        return self._close(user, coin, px, by="liquidation")

    def auto_deleverage(self, user: str, coin: str, px: Decimal | None) -> tuple[JSON, list[Push]]:
        """Auto-deleveraging closes the whole position against a liquidated account: a fill
        whose dir is "Auto-Deleveraging"."""
        return self._close(user, coin, px, by="adl")

    def place_tpsl(
        self, user: str, coin: str, tpsl: Literal["tp", "sl"], trigger_px: Decimal
    ) -> tuple[int, list[Push]]:
        """The position's own take-profit or stop-loss, set in the front end: a reduce-only
        trigger Market order for the whole position (isPositionTpsl), with no cloid."""
        position = self.account(user).positions.get(coin)
        if position is None:
            raise ValueError(f"{user} holds no {coin} position")
        now = self.now()
        is_buy = position.szi < 0
        size = abs(position.szi)
        order = SimOrder(
            next(self._oids), coin, is_buy, trigger_px, size, size, now, None, "open", now
        )
        order.order_type, order.trigger_px = TPSL_ORDER_TYPES[tpsl], trigger_px
        order.reduce_only = order.is_position_tpsl = True
        self.account(user).orders[order.oid] = order
        return order.oid, [self._order_update(user, order), self._web_data2_push(user)]

    def pay_funding(self, coin: str, rate: Decimal) -> list[Push]:
        """A funding interval ends: every holder of ``coin`` pays (a long, when ``rate`` is
        positive) or receives size x mark x rate, pushed on user events."""
        now = self.now()
        pushes: list[Push] = []
        for account in self.accounts.values():
            position = account.positions.get(coin)
            if position is None:
                continue
            usdc = (-position.szi * self._mark(coin, position) * rate).quantize(_STEP)
            account.realized += usdc
            usdc_text, szi, rate_text = text(usdc), text(position.szi), text(rate)
            listed = messages.user_funding_item(
                time=now, coin=coin, usdc=usdc_text, szi=szi, funding_rate=rate_text
            )
            account.fundings.append(listed)
            frame = messages.funding_event(
                time=now, coin=coin, usdc=usdc_text, szi=szi, funding_rate=rate_text
            )
            pushes += [
                Push("userEvents", account.address, frame),
                self._web_data2_push(account.address),
            ]
        return pushes

    def move_mark(self, coin: str, px: Decimal) -> list[Push]:
        """A new mark: the holders' state changes, and each trigger order it reaches fires."""
        self.marks[coin] = px
        self.now()  # a new state, so a new time
        pushes: list[Push] = []
        for account in list(self.accounts.values()):
            for order in list(account.orders.values()):
                # An earlier trigger may have closed the position and cancelled this one.
                waiting = order.coin == coin and order.status == "open" and order.is_trigger
                if waiting and order.reached(px):
                    pushes += self._trigger(account, order, px)
            pushes += self._match(account, coin, px)
        holders = [a.address for a in self.accounts.values() if coin in a.positions]
        return [*pushes, *(self._web_data2_push(user) for user in holders)]

    # --- inside ----------------------------------------------------------------------------

    def _trigger(self, account: Account, order: SimOrder, px: Decimal) -> list[Push]:
        """A trigger order fires: triggered, then filled at the mark (it is a Market order) for
        what the position holds; the position's other TP or SL goes with the position."""
        user = account.address
        now = self.now()
        order.status, order.status_timestamp = "triggered", now
        pushes = [self._order_update(user, order)]
        position = account.positions.get(order.coin)
        held = abs(position.szi) if position and (position.szi < 0) == order.is_buy else Decimal(0)
        if held == 0:  # nothing left for it to close
            order.status = "reduceOnlyCanceled"
            return [*pushes, self._order_update(user, order)]
        size = min(order.sz, held)
        order.sz -= size
        fill = self._trade(account, order, size, px, now=now, liquidation=None)
        pushes += self._fill_pushes(user, [fill])
        order.status, order.status_timestamp = "filled", now
        pushes.append(self._order_update(user, order))
        return [*pushes, *self._clear_reduce_only(account, order.coin)]

    def _match(self, account: Account, coin: str, mark: Decimal) -> list[Push]:
        """Resting limit orders of ``coin`` the new mark crosses fill at their limit price."""
        pushes: list[Push] = []
        for order in list(account.orders.values()):
            resting = order.coin == coin and order.status == "open" and not order.is_trigger
            if not resting or not (
                mark <= order.limit_px if order.is_buy else mark >= order.limit_px
            ):
                continue
            if order.reduce_only:
                position = account.positions.get(coin)
                held = (
                    abs(position.szi)
                    if position and (position.szi < 0) == order.is_buy
                    else Decimal(0)
                )
                if held < order.sz:
                    pushes += self.cancel(account.address, order.oid, "reduceOnlyCanceled")
                    continue
            _, pushed = self.fill(account.address, order.oid, None, None)
            pushes += pushed
        return pushes

    def _clear_reduce_only(self, account: Account, coin: str) -> list[Push]:
        """A flat position's reduce-only orders (its TP and SL among them) are cancelled."""
        if coin in account.positions:
            return []
        pushes: list[Push] = []
        for order in list(account.orders.values()):
            if order.coin == coin and order.status == "open" and order.reduce_only:
                pushes += self.cancel(account.address, order.oid, "reduceOnlyCanceled")
        return pushes

    def _close(
        self, user: str, coin: str, px: Decimal | None, *, by: Closer
    ) -> tuple[JSON, list[Push]]:
        account = self.account(user)
        position = account.positions.get(coin)
        if position is None:
            raise ValueError(f"{user} holds no {coin} position")
        price = self._mark(coin, position) if px is None else px
        now = self.now()
        size = abs(position.szi)
        order = SimOrder(
            next(self._oids), coin, position.szi < 0, price, size, Decimal(0), now, None
        )
        order.status, order.status_timestamp = "filled", now
        account.orders[order.oid] = order
        pushes: list[Push] = []
        marker = None
        if by == "liquidation":
            marker = messages.liquidation_marker(liquidated_user=user, mark_px=text(price))
            notice = messages.liquidation_event(
                lid=next(self._lids),
                liquidator=LIQUIDATOR,
                liquidated_user=user,
                liquidated_ntl_pos=text(size * price),
                liquidated_account_value=self.clearinghouse_state(user)["marginSummary"][
                    "accountValue"
                ],
            )
            pushes.append(Push("userEvents", user, notice))
        direction = None
        if by == "liquidation":  # "Liquidated Cross Long": every position here is cross margin
            direction = f"Liquidated Cross {'Long' if position.szi > 0 else 'Short'}"
        elif by == "adl":
            direction = "Auto-Deleveraging"
        fill = self._trade(
            account, order, size, price, now=now, liquidation=marker, direction=direction
        )
        pushes += [self._order_update(user, order), *self._fill_pushes(user, [fill])]
        pushes += self._clear_reduce_only(account, coin)
        return fill, [*pushes, self._web_data2_push(user)]

    def _trade(
        self,
        account: Account,
        order: SimOrder,
        size: Decimal,
        px: Decimal,
        *,
        now: int,
        liquidation: JSON | None,
        direction: str | None = None,
    ) -> JSON:
        """Apply one fill to the position and record it; ``direction`` names a cause the venue
        writes in dir instead of "Close Long" and the like (liquidation, ADL)."""
        coin = order.coin
        position = account.positions.get(coin) or SimPosition(Decimal(0), Decimal(0))
        start = position.szi
        delta = size if order.is_buy else -size
        new = start + delta
        closed = min(abs(start), size) if start and (start > 0) != order.is_buy else Decimal(0)
        closed_pnl = (px - position.entry_px) * closed * (1 if start > 0 else -1)
        if new == 0:
            account.positions.pop(coin, None)
        elif start == 0 or (start > 0) == order.is_buy:  # opened or added to
            entry = (abs(start) * position.entry_px + size * px) / abs(new)
            account.positions[coin] = SimPosition(new, entry.quantize(_STEP))
        elif (new > 0) == (start > 0):  # reduced
            account.positions[coin] = SimPosition(new, position.entry_px)
        else:  # flipped
            account.positions[coin] = SimPosition(new, px)
        self.marks.setdefault(coin, px)
        fee = (px * size * TAKER_FEE).quantize(_STEP)
        account.realized += closed_pnl - fee
        fill = messages.user_fill(
            coin=coin,
            px=text(px),
            sz=text(size),
            side="B" if order.is_buy else "A",
            time=now,
            oid=order.oid,
            tid=next(self._tids),
            start_position=text(start),
            direction=direction or _direction(start, new),
            closed_pnl=text(closed_pnl),
            hash=f"0x{next(self._blocks):064x}",
            fee=text(fee),
            cloid=order.cloid,
            liquidation=liquidation,
        )
        account.fills.append(fill)
        return fill

    def _fill_pushes(self, user: str, fills: list[JSON]) -> list[Push]:
        address = self.account(user).address
        return [
            Push("userFills", user, messages.user_fills_frame(address, fills)),
            Push("userEvents", user, messages.user_fills_event(fills)),
        ]

    def _order_update(self, user: str, order: SimOrder) -> Push:
        update = messages.order_update(_open_order(order), order.status, order.status_timestamp)
        return Push("orderUpdates", user, messages.order_updates_frame([update]))

    def _web_data2_push(self, user: str) -> Push:
        return Push("webData2", user, self.web_data2(user))

    def _mark(self, coin: str, position: SimPosition) -> Decimal:
        return self.marks.get(coin, position.entry_px)

    def _upnl(self, coin: str, position: SimPosition) -> Decimal:
        return (self._mark(coin, position) - position.entry_px) * position.szi

    def _asset_position(self, coin: str, position: SimPosition) -> JSON:
        mark = self._mark(coin, position)
        value = abs(position.szi) * mark
        margin = value / LEVERAGE
        upnl = self._upnl(coin, position)
        return messages.asset_position(
            coin=coin,
            szi=text(position.szi),
            entry_px=text(position.entry_px),
            unrealized_pnl=text(upnl.quantize(_STEP)),
            position_value=text(value.quantize(_STEP)),
            margin_used=text(margin.quantize(_STEP)),
            return_on_equity=text((upnl / margin).quantize(_STEP)) if margin else "0.0",
            leverage=LEVERAGE,
        )


def _on_tick(price: Decimal, sz_decimals: int) -> bool:
    """Whether Hyperliquid takes ``price`` for a perp of ``sz_decimals``."""
    if price == price.to_integral_value():
        return True
    # A finite price that is not whole: its exponent is a negative whole number.
    _sign, digits, exponent = price.normalize().as_tuple()
    decimals = -int(exponent)
    return len(digits) <= PRICE_FIGURES and decimals <= PERP_PRICE_DECIMALS - sz_decimals


def _with_cloid(status: JSON, cloid: str | None) -> JSON:
    return status if cloid is None else {**status, "cloid": cloid}


def _direction(start: Decimal, new: Decimal) -> str:
    """A fill's dir: Open Long, Close Short, Long > Short, ..."""
    if start == 0 or (new != 0 and (new > 0) == (start > 0) and abs(new) > abs(start)):
        return "Open Long" if new > 0 else "Open Short"
    if new == 0 or (new > 0) == (start > 0):
        return "Close Long" if start > 0 else "Close Short"
    return "Long > Short" if start > 0 else "Short > Long"


def _open_order(order: SimOrder) -> JSON:
    return messages.open_order(
        coin=order.coin,
        oid=order.oid,
        side="B" if order.is_buy else "A",
        limit_px=text(order.limit_px),
        sz=text(order.sz),
        timestamp=order.timestamp,
        orig_sz=text(order.orig_sz),
        cloid=order.cloid,
    )


def _frontend_order(order: SimOrder) -> JSON:
    return messages.frontend_order(
        coin=order.coin,
        oid=order.oid,
        side="B" if order.is_buy else "A",
        limit_px=text(order.limit_px),
        sz=text(order.sz),
        timestamp=order.timestamp,
        orig_sz=text(order.orig_sz),
        cloid=order.cloid,
        order_type=order.order_type,
        tif=None if order.is_trigger else "Gtc",  # a trigger order has no time in force
        reduce_only=order.reduce_only,
        trigger_px=text(order.trigger_px) if order.trigger_px is not None else "0.0",
        is_position_tpsl=order.is_position_tpsl,
    )
