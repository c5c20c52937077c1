"""The Order aggregate: its status as reported, cumulative fills, deduplicated by trade_id."""

from dataclasses import dataclass, field
from decimal import Decimal

from trueup.domain.events import Fill, OrderReport
from trueup.domain.keys import OrderKey
from trueup.domain.vocabulary import OrderOrigin, OrderStatus

ZERO = Decimal(0)


def supersedes(new: OrderReport, old: OrderReport) -> bool:
    """Terminal beats open, then newer, then more filled; so any arrival order folds the same.

    Exact ties on those are broken by the whole report, which keeps the order total.
    """
    # Rank by rank, as tuples of them would compare, without building two per report.
    new_terminal, old_terminal = new.status.is_terminal, old.status.is_terminal
    if new_terminal is not old_terminal:
        return new_terminal
    if new.updated_time != old.updated_time:
        return new.updated_time > old.updated_time
    if new.cum_exec_qty != old.cum_exec_qty:
        return new.cum_exec_qty > old.cum_exec_qty
    return repr(new) > repr(old)


@dataclass(slots=True)
class Order:
    """An order as the exchange reports it, with the fills seen for it."""

    # The very key the book files it under, kept: a report or fill of it then finds it
    # by a plain tuple, and the book's other indexes take this one, not a tuple built again.
    key: OrderKey
    report: OrderReport | None = None
    fills: dict[str, Fill] = field(default_factory=dict)
    # Who placed it, as the last report that said so said: a report that does not say
    # (Hyperliquid's order stream never does) leaves it standing.
    origin: OrderOrigin | None = None
    # The fills' total quantity, summed again only after a new fill (None): the rules ask
    # for it several times on every report of the order.
    _fills_total: Decimal | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def category(self) -> str:
        return self.key.category

    @property
    def venue_order_id(self) -> str:
        return self.key.venue_order_id

    @property
    def status(self) -> OrderStatus | None:
        return self.report.status if self.report else None

    @property
    def is_terminal(self) -> bool:
        report = self.report
        return report is not None and report.status.is_terminal

    @property
    def client_order_id(self) -> str:
        if self.report is not None:
            return self.report.client_order_id
        return next((f.client_order_id for f in self.fills.values()), "")

    @property
    def filled_qty(self) -> Decimal:
        """The larger of the reported cumulative qty and the fills seen (either may lag)."""
        report = self.report
        reported = report.cum_exec_qty if report else ZERO
        return max(reported, self._fills_qty())

    @property
    def avg_price(self) -> Decimal | None:
        fills_qty = self._fills_qty()
        reported_qty = self.report.cum_exec_qty if self.report else Decimal(0)
        if fills_qty and fills_qty >= reported_qty:
            notional = sum((f.exec_price * f.exec_qty for f in self.fills.values()), Decimal(0))
            return notional / fills_qty
        return self.report.avg_price if self.report else None

    @property
    def fees(self) -> Decimal:
        fill_fees = sum((f.exec_fee or Decimal(0) for f in self.fills.values()), Decimal(0))
        reported = self.report.cum_exec_fee if self.report else None
        return fill_fees if reported is None or self.fills else max(fill_fees, reported)

    @property
    def venue_time(self) -> int:
        """The venue's latest timestamp on the order: its report's or a fill's (0: none)."""
        latest = self.report.updated_time if self.report else 0
        for fill in self.fills.values():  # as max(), without a list: asked as each order goes
            exec_time = fill.exec_time
            latest = exec_time if exec_time > latest else latest
        return latest

    def _fills_qty(self) -> Decimal:
        total = self._fills_total
        if total is None:
            total = self._fills_total = sum((f.exec_qty for f in self.fills.values()), Decimal(0))
        return total

    def apply_report(self, report: OrderReport) -> bool:
        """Take a report unless it is older than what is known; says whether anything changed."""
        if self.report is not None and not supersedes(report, self.report):
            if self.origin is None and report.origin is not None:
                self.origin = report.origin  # an older report still says who placed it
            return False
        self.report = report
        if report.origin is not None:
            self.origin = report.origin
        return True

    def apply_fill(self, fill: Fill) -> bool:
        """Count a fill once, however often it is reported."""
        if fill.trade_id in self.fills:
            return False
        self.fills[fill.trade_id] = fill
        self._fills_total = None
        return True
