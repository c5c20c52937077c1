"""The Position aggregate: the exchange's side of one position key beside the local claims on it."""

from dataclasses import dataclass, field
from decimal import Decimal

from trueup.domain.events import PositionReport
from trueup.domain.keys import PositionKey
from trueup.domain.vocabulary import ContractKind, PositionSide

ZERO = Decimal(0)
ABSENT = "Absent"  # a flat report inferred from a complete snapshot: key left out, or listed flat
# A REST list of positions is built apart from the stream that pushes them, and one served
# this soon after a change the stream told may not show it yet: its omission of a position
# the stream told of (or that trueup's fills opened) this recently is no word on it.
LIST_SETTLES_MS = 5_000


def supersedes(new: PositionReport, new_at: int, old: PositionReport, old_at: int) -> bool:
    """Whether ``new`` (received at ``new_at``) is the later word on the position than ``old``:
    by the venue's seq when both carry one (Bybit's REST lists may not), else by its update
    time; then the figures each knows; then the later receipt; the whole report breaks exact
    ties. Every key is the reports' own (receive times included), so reports that all carry a
    seq, or all lack one, fold the same in any arrival order."""
    if new.seq is not None and old.seq is not None and new.seq != old.seq:
        return new.seq > old.seq
    if new.updated_time != old.updated_time:
        return new.updated_time > old.updated_time
    # One change told twice (Aster's stream push and its snapshot's entry, the same instant):
    # the report that knows more of the position's figures (the snapshot's mark and
    # liquidation price) is the better word on it.
    new_known, old_known = _figures_known(new), _figures_known(old)
    if new_known != old_known:
        return new_known > old_known
    # The same version of the position, its market figures moved (the mark, and with it the
    # unrealised PnL and the margin): the venue stamps no time on those, so the one received
    # later is the fresher, falling as well as rising.
    if new_at != old_at:
        return new_at > old_at
    return repr(new) > repr(old)


def _figures_known(report: PositionReport) -> int:
    figures = (report.mark_price, report.liq_price, report.leverage, report.position_value)
    return sum(figure is not None for figure in figures)


@dataclass(slots=True)
class LocalPosition:
    """A position the trading system claims; finer than the exchange's (one per strategy)."""

    position_id: str
    key: PositionKey
    side: PositionSide  # LONG or SHORT
    qty: Decimal
    mode: str
    timeframe: str | None
    opened_at: int
    status: str = "OPEN"
    exit_reason: str | None = None
    closed_at: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "OPEN"

    @property
    def signed_qty(self) -> Decimal:
        return -self.qty if self.side is PositionSide.SHORT else self.qty


@dataclass(slots=True)
class Position:
    """What the exchange last said about a key, and which local positions map to it."""

    key: PositionKey
    exchange: PositionReport | None = None
    # When the report held in ``exchange`` was received (the input's ``at``).
    exchange_at: int = 0
    # Whether the venue's stream told it, not a list: a list served within LIST_SETTLES_MS
    # of it that omits the key may not have caught up with it (``apply_absent``).
    pushed: bool = False
    # The local positions mapped here: the open ones and those closed too recently to be
    # forgotten (domain/retention.py); and, kept apart, those still open.
    local: dict[str, LocalPosition] = field(default_factory=dict)
    opened: dict[str, LocalPosition] = field(default_factory=dict)
    # (local_qty, the LIVE open local positions), worked out again only once the open
    # positions change (None): the detectors ask on every input that touches the key.
    _live: tuple[Decimal, tuple[LocalPosition, ...]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def exchange_qty(self) -> Decimal:
        """Signed size on the exchange; zero when flat or never seen."""
        exchange = self.exchange
        return exchange.signed_size if exchange else ZERO

    @property
    def local_qty(self) -> Decimal:
        """Signed net of the LIVE open local positions: what the exchange should hold."""
        live = self._live
        return (live if live is not None else self._sum_live())[0]

    @property
    def live_open(self) -> tuple[LocalPosition, ...]:
        """The LIVE local positions open here, in the order they were opened."""
        live = self._live
        return (live if live is not None else self._sum_live())[1]

    def _sum_live(self) -> tuple[Decimal, tuple[LocalPosition, ...]]:
        live = tuple([p for p in self.opened.values() if p.mode == "LIVE"])
        # Summed afresh, never adjusted: a running total would keep the exponent of a
        # quantity long closed (0.10 - 0.10 is 0.00, not 0).
        self._live = (sum((p.signed_qty for p in live), Decimal(0)), live)
        return self._live

    def open_local(self) -> list[LocalPosition]:
        return list(self.opened.values())

    def add_local(self, local: LocalPosition) -> None:
        self.local[local.position_id] = local
        self.opened[local.position_id] = local
        self._live = None

    def resize_local(self, local: LocalPosition, qty: Decimal) -> None:
        """Give one of its local positions a new quantity."""
        local.qty = qty
        self._live = None

    def close_local(self, position_id: str, exit_reason: str, at: int) -> bool:
        """Close an open local position; says whether it was open."""
        local = self.opened.pop(position_id, None)
        if local is None:
            return False
        self._live = None
        local.status = "CLOSED"
        local.exit_reason = exit_reason
        local.closed_at = at
        return True

    def forget_local(self, position_id: str) -> None:
        """Let go of a closed local position (an open one is never forgotten)."""
        if position_id not in self.opened:
            self.local.pop(position_id, None)

    def _may_lag(self, report: PositionReport, seen_time: int, at: int) -> bool:
        """Whether a list taken at ``seen_time`` (received at ``at``) may not show the pushed
        ``report`` yet: by the venue's times, and by receipt (a venue's clock and the local
        one may disagree by seconds, and a list may name no time of the venue's: Aster's)."""
        return (
            seen_time - report.updated_time <= LIST_SETTLES_MS
            or at - self.exchange_at <= LIST_SETTLES_MS
        )

    def apply_report(self, report: PositionReport, at: int, *, pushed: bool = False) -> bool:
        """Take a report received at ``at`` (by the venue's stream: ``pushed``) unless an
        equal or newer one is already known."""
        current = self.exchange
        if current is not None and not supersedes(report, at, current, self.exchange_at):
            return False
        self.exchange = report
        self.exchange_at = at
        self.pushed = pushed
        return True

    def apply_absent(self, seen_time: int, at: int, *, renew_flat: bool = False) -> bool:
        """A complete snapshot taken at ``seen_time`` (received at ``at``) omits this key: flat,
        unless newer news, or a push it may not have caught up with. A flat report is
        renewed only if asked (``renew_flat``)."""
        current = self.exchange
        if current is not None and (
            (current.size == 0 and not renew_flat)
            or current.updated_time >= seen_time
            or (self.pushed and self._may_lag(current, seen_time, at))
        ):
            return False
        self.exchange_at = at
        self.pushed = False
        self.exchange = PositionReport(
            category=self.key.category,
            symbol=self.key.symbol,
            position_idx=self.key.position_idx,
            side=PositionSide.FLAT,
            size=Decimal(0),
            entry_price=None,
            mark_price=current.mark_price if current else None,
            unrealised_pnl=None,
            cum_realised_pnl=current.cum_realised_pnl if current else None,
            seq=current.seq if current else -1,
            updated_time=seen_time,
            status=ABSENT,
            notional_coin=current.notional_coin if current else None,
            contract_kind=current.contract_kind if current else ContractKind.LINEAR,
        )
        return True
