"""Orders: execution reports from order and execution frames, and orders that stall.

Each report is emitted once per order, however often the exchange repeats itself (Bybit
may send Filled twice when a cancel races a fill).
"""

from dataclasses import dataclass, field

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import (
    AboutOrder,
    Cause,
    Emitted,
    EntryFilled,
    EntrySubmitted,
    OrderPartialFill,
    OrderRejected,
    OrderTimeout,
    SlUpdate,
    TpFilled,
)
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    OrderPlaced,
    OrderReport,
    OrdersReported,
)
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.order import ZERO, Order
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes, LetGo
from trueup.domain.vocabulary import OrderOrigin, OrderStatus


def is_filled(order: Order) -> bool:
    report = order.report
    if report is None:
        return False
    return report.status is OrderStatus.FILLED or (
        report.qty > ZERO and order.filled_qty >= report.qty
    )


@dataclass(slots=True, eq=False)
class OrderDetector(Detector):
    """ENTRY deadlines, stalled partial fills, and the reports already made for each order."""

    def judged(self) -> EventTypes:
        return (OrdersReported, ExecutionsReported, OrderPlaced)

    # ENTRY deadlines by client_order_id.
    entry_deadlines: dict[str, int] = field(default_factory=dict)
    # Partial fills by order: the fill level, and since when it has not moved.
    partial_since: dict[OrderKey, tuple[str, int]] = field(default_factory=dict)
    # The kinds of report already made for each order (submitted, filled, ...): a tuple, not
    # a set, as there are a few at most, and a snapshot holds one for every order kept.
    reports: dict[OrderKey, tuple[str, ...]] = field(default_factory=dict)
    sl_seen: dict[OrderKey, tuple[object, ...]] = field(default_factory=dict)

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        if type(event) is OrdersReported or type(event) is ExecutionsReported:
            return self._execution_reports(book, _order_keys(event), cause)
        if type(event) is OrderPlaced and event.purpose == "ENTRY":
            self.entry_deadlines.setdefault(
                event.client_order_id, event.at + config.order_timeout_ms
            )
        return []

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """ENTRY orders past their deadline, and partial fills stalled too long."""
        emitted: list[Emitted] = []
        if not (self.entry_deadlines or self.partial_since):
            return emitted  # asked on every input: most have nothing waiting
        # Only what is due is sorted (by link, then by order): the order they are told in.
        due = sorted(
            link for link, deadline in self.entry_deadlines.items() if cause.at >= deadline
        )
        for link in due:
            del self.entry_deadlines[link]
            entry = book.placed.get(link)
            order = book.order_by_client_id(link)
            if entry is None or (
                order is not None
                and (is_filled(order) or order.is_terminal or order.filled_qty >= entry.qty)
            ):
                # Filled (by its report, or by its fills where no report came) or ended; or so
                # long finished (or so long closed) it was let go.
                continue
            key = book.local_keys.get(entry.position_id) or book.key(
                entry.category, entry.symbol, 0
            )
            if order is None:
                state = "never acknowledged"
            elif order.status is None:  # known from its fills alone
                state = f"filled {order.filled_qty} of {entry.qty}, and no report of the order"
            else:
                state = f"still {order.status}"
            emitted.append(
                OrderTimeout(
                    **cause.on(key),
                    venue_order_id=order.venue_order_id if order else "",
                    client_order_id=link,
                    position_id=entry.position_id,
                    reason=f"ENTRY {link} not filled after {config.order_timeout_ms} ms: {state}",
                )
            )
        stalled = sorted(
            (order_key, fill_level)
            for order_key, fill_level in self.partial_since.items()
            if cause.at - fill_level[1] >= config.partial_fill_stall_ms
        )
        for order_key, (progress, since) in stalled:
            # Once per stall: the same fill level is not reported again.
            if not self._first(f"stalled at {progress}", order_key):
                continue
            order = book.orders[order_key]  # (partial, so open: the book holds it)
            report = order.report
            assert report is not None
            placed = book.placed.get(report.client_order_id)
            key = PositionKey(
                book.venue, book.account, report.category, report.symbol, report.position_idx
            )
            emitted.append(
                OrderPartialFill(
                    **cause.on(key),
                    venue_order_id=report.venue_order_id,
                    client_order_id=report.client_order_id,
                    position_id=placed.position_id if placed else None,
                    reason=f"filled {order.filled_qty} of {report.qty}, no progress for "
                    f"{cause.at - since} ms",
                    filled_qty=order.filled_qty,
                    qty=report.qty,
                )
            )
        return emitted

    def forget(self, let_go: LetGo) -> None:
        for order_key in let_go.orders:
            self.reports.pop(order_key, None)
            self.sl_seen.pop(order_key, None)
            self.partial_since.pop(order_key, None)
        for link in let_go.intents:
            self.entry_deadlines.pop(link, None)

    def _execution_reports(
        self, book: AccountBook, order_keys: list[OrderKey], cause: Cause
    ) -> list[Emitted]:
        emitted: list[Emitted] = []
        for order_key in order_keys:
            order = book.orders.get(order_key)
            if order is None:
                continue  # a report of an order the book has let go, sent again: nothing new
            report = order.report
            if report is None:
                continue  # a fill ahead of its order report: wait for the report
            placed = book.placed.get(report.client_order_id)
            purpose = placed.purpose if placed else None
            # What every report of this order says, made only once one is (repeats make none).
            common: AboutOrder | None = None
            filled = is_filled(order)
            once = self._first
            if (
                purpose == "ENTRY"
                and report.status is not OrderStatus.REJECTED
                and once("submitted", order_key)
            ):
                common = _about(book, report, placed, cause)
                emitted.append(EntrySubmitted(**common, qty=report.qty))
            if purpose == "ENTRY" and filled and once("filled", order_key):
                self.entry_deadlines.pop(report.client_order_id, None)
                common = common or _about(book, report, placed, cause)
                emitted.append(
                    EntryFilled(**common, filled_qty=order.filled_qty, avg_price=order.avg_price)
                )
            if purpose in ("TP1", "TP2") and filled and once("filled", order_key):
                common = common or _about(book, report, placed, cause)
                emitted.append(
                    TpFilled(
                        **common,
                        purpose=purpose or "",
                        filled_qty=order.filled_qty,
                        avg_price=order.avg_price,
                    )
                )
            if purpose == "SL" or order.origin is OrderOrigin.STOP_LOSS:
                seen = (report.status, report.trigger_price, report.qty)
                if self.sl_seen.get(order_key) != seen:
                    self.sl_seen[order_key] = seen
                    common = common or _about(book, report, placed, cause)
                    emitted.append(
                        SlUpdate(
                            **common,
                            status=report.status.value,  # plain text: ids are minted from reprs
                            trigger_price=report.trigger_price,
                            qty=report.qty,
                        )
                    )
            if report.status is OrderStatus.REJECTED and once("rejected", order_key):
                self.entry_deadlines.pop(report.client_order_id, None)
                common = common or _about(book, report, placed, cause)
                emitted.append(OrderRejected(**common, reason=report.reject_reason or "rejected"))
            self._track_partial(order_key, order, cause)
        return emitted

    def _first(self, kind: str, order_key: OrderKey) -> bool:
        """True the first time this kind of report is made for this order."""
        made = self.reports.get(order_key, ())
        if kind in made:
            return False
        self.reports[order_key] = (*made, kind)
        return True

    def _track_partial(self, order_key: OrderKey, order: Order, cause: Cause) -> None:
        report = order.report
        partial = report is not None and not order.is_terminal and 0 < order.filled_qty < report.qty
        if not partial:
            self.partial_since.pop(order_key, None)
            return
        progress = str(order.filled_qty)
        last = self.partial_since.get(order_key)
        if last is None or last[0] != progress:
            self.partial_since[order_key] = (progress, cause.at)


def _about(
    book: AccountBook, report: OrderReport, placed: OrderPlaced | None, cause: Cause
) -> AboutOrder:
    """What every report made of an order says: its cause, its key and its ids."""
    key = book.key(report.category, report.symbol, report.position_idx)
    return AboutOrder(
        **cause.on(key),
        venue_order_id=report.venue_order_id,
        client_order_id=report.client_order_id,
        position_id=placed.position_id if placed else None,
    )


def _order_keys(event: OrdersReported | ExecutionsReported) -> list[OrderKey]:
    """The orders an order or execution frame names, each once, in the frame's order."""
    if isinstance(event, OrdersReported):
        keys = [OrderKey(o.category, o.symbol, o.venue_order_id) for o in event.orders]
    else:
        keys = [OrderKey(o.category, o.symbol, o.venue_order_id) for o in event.orders]
        keys += [
            OrderKey(f.category, f.symbol, f.venue_order_id)
            for f in event.fills
            if f.venue_order_id
        ]
    return list(dict.fromkeys(keys))
