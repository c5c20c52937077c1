"""The simulated exchange's books: positions, orders and fills per user, and what each change
pushes. Pure (no I/O); the simulator serves it and owns its one thread of access.
"""

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from trueup.adapters.hyperliquid import messages
from trueup.adapters.hyperliquid.messages import JSON

Clock = Callable[[], int]  # epoch milliseconds
TAKER_FEE = Decimal("0.00045")
LEVERAGE = 20
START_EQUITY = Decimal("100000")
FILLS_KEPT = 2000  # userFills answers with at most this many, newest first
LIQUIDATOR = "0x" + "0" * 39 + "1"
_STEP = Decimal("0.000001")  # computed prices and PnL are rounded to this


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

    def user_fills(self, user: str) -> list[JSON]:
        return list(reversed(self.account(user).fills[-FILLS_KEPT:]))

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
        return self._close(user, coin, px, liquidation=False)

    def liquidate(self, user: str, coin: str, px: Decimal | None) -> tuple[JSON, list[Push]]:
        """The venue liquidates the whole position: the notice, then the closing fill."""
        return self._close(user, coin, px, liquidation=True)

    def move_mark(self, coin: str, px: Decimal) -> list[Push]:
        self.marks[coin] = px
        self.now()  # a new state, so a new time
        holders = [a.address for a in self.accounts.values() if coin in a.positions]
        return [self._web_data2_push(user) for user in holders]

    # --- inside ----------------------------------------------------------------------------

    def _close(
        self, user: str, coin: str, px: Decimal | None, *, liquidation: bool
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
        if liquidation:
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
        fill = self._trade(account, order, size, price, now=now, liquidation=marker)
        pushes += [self._order_update(user, order), *self._fill_pushes(user, [fill])]
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
    ) -> JSON:
        """Apply one fill to the position and record it."""
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
            direction=_direction(start, new),
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
    )
