"""PnL mismatch: trueup's realised PnL against the venue's own figures for it.

The ledger (domain/pnl.py) sets each closing fill's realised PnL beside the venue's
(Bybit's execPnl, Hyperliquid's closedPnl: both before fees), and the realised PnL of the
position held beside Bybit's curRealisedPnl (fees and funding in) whenever both hold the
same position, and the move of Bybit's all-time cumRealisedPnl between two such reports
beside trueup's net PnL over the same span. Beyond ``pnl_tolerance`` plus
``pnl_tolerance_pct`` of the notional (for a span: the value closed in it), it is reported:
a fill's and a span's once (each is folded once), a position's once per lifecycle until the
two agree again. A missed entry fill moves the average cost, so the next close disagrees; a
missed funding payment, or a round trip missed whole, shows only in the all-time figure.

Every figure is told only once it has disagreed for ``pnl_settle_ms`` of input time (the
rules in force when it is judged, as every grace, and beyond their tolerance): fills come
by the stream and by REST backfills in either order, and an entry fill that comes after its
close makes the ledger fold them again in the venue's order and check the close again
(domain/pnl.py ``_refold``), which then agrees: nothing was wrong, and nothing is told. A
position's or a span's figure is judged then with what came late meanwhile that the
venue's report had counted (a funding execution after its position push), and a position's
is dropped if a later report's agrees first.
"""

from decimal import Decimal

import msgspec

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PnlMismatch
from trueup.domain.events import ExecutionsReported, InputEvent, PositionsReported
from trueup.domain.keys import PositionKey
from trueup.domain.pnl import SEEN_FOR_MS
from trueup.domain.pnl_records import PnlCheck
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes

HUNDRED = Decimal(100)
ZERO = Decimal(0)
# How long a fill told is remembered, not to tell it again: past the time a late fill can
# still make the ledger check it again (its runs are kept up to 1.1 x SEEN_FOR_MS).
TOLD_FOR_MS = 2 * SEEN_FOR_MS
FillId = tuple[PositionKey, str]


def tolerance(check: PnlCheck, config: RuleConfig) -> Decimal:
    """How far the two figures may differ: a fixed amount plus a share of the notional."""
    return config.pnl_tolerance + abs(check.notional) * config.pnl_tolerance_pct / HUNDRED


class PnlMismatchDetector(Detector):
    """The positions whose figures it has reported as disagreeing, by lifecycle; the fills
    whose figures disagree, waiting to settle; and the fills told."""

    def judged(self) -> EventTypes:
        return (ExecutionsReported, PositionsReported)

    __slots__ = ("held_settling", "settling", "spans_settling", "told", "told_fills")

    def __init__(self) -> None:
        # key -> the lifecycle whose position figure was told as disagreeing.
        self.told: dict[PositionKey, int] = {}
        # A position's latest check that disagrees, by key, and a span's each, with the input
        # time each began to disagree: told pnl_settle_ms after (``_figures_settled``).
        self.held_settling: dict[PositionKey, tuple[PnlCheck, int]] = {}
        self.spans_settling: list[tuple[PnlCheck, int]] = []
        # A fill's latest check that disagrees, and the input time it began to disagree: it
        # is told pnl_settle_ms after, unless a check of it that agrees comes first; in the
        # order they began to disagree.
        self.settling: dict[FillId, tuple[PnlCheck, int]] = {}
        # The fills told, and when: never told twice, however often checked again.
        self.told_fills: dict[FillId, int] = {}

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        if not isinstance(event, ExecutionsReported | PositionsReported):
            return []
        checks = book.pnl.checks
        if not checks:
            return []
        emitted: list[Emitted] = []
        for check in checks:
            allowed = tolerance(check, config)
            agree = abs(check.ours - check.venue) <= allowed
            if check.trade_id:
                self._settle(check, agree, cause.at)
                continue
            if check.span:
                if not agree:
                    self.spans_settling.append((check, cause.at))
                continue
            key, waiting = check.key, self.held_settling.get(check.key)
            if agree:
                self.held_settling.pop(key, None)
                if self.told.get(key) == check.lifecycle:
                    del self.told[key]
            elif self.told.get(key) != check.lifecycle:
                since = cause.at
                if waiting is not None and waiting[0].lifecycle == check.lifecycle:
                    since = waiting[1]  # disagreeing since then still
                self.held_settling[key] = (check, since)
        return emitted

    def _settle(self, check: PnlCheck, agree: bool, at: int) -> None:
        """A fill's check: one that disagrees waits pnl_settle_ms (from its first), one that
        agrees ends the wait."""
        fill = (check.key, check.trade_id)
        if fill in self.told_fills:
            return
        if agree:
            self.settling.pop(fill, None)
            return
        waiting = self.settling.get(fill)
        self.settling[fill] = (check, at if waiting is None else waiting[1])

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        """The figures that have disagreed for pnl_settle_ms, told."""
        now = cause.at
        told = self.told_fills
        if told and next(iter(told.values())) <= now - TOLD_FOR_MS:
            self.told_fills = told = {f: at for f, at in told.items() if at > now - TOLD_FOR_MS}
        emitted: list[Emitted] = []
        if self.held_settling or self.spans_settling:
            emitted += self._figures_settled(book, cause, config)
        if not self.settling:
            return emitted
        for fill, (check, since) in list(self.settling.items()):
            if now - since >= config.pnl_settle_ms:
                del self.settling[fill]
                allowed = tolerance(check, config)
                if abs(check.ours - check.venue) <= allowed:
                    continue  # within the tolerance of the rules in force now: nothing wrong
                told[fill] = now
                emitted.append(_event(check, allowed, cause))
        return emitted

    def _figures_settled(
        self, book: AccountBook, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        """The positions' and spans' figures that have disagreed for pnl_settle_ms and
        still do, with what came late since counted in, told."""
        now, wait = cause.at, config.pnl_settle_ms
        emitted: list[Emitted] = []
        waiting: list[tuple[PnlCheck, int]] = []
        for check, since in self.spans_settling:
            if now - since < wait:
                waiting.append((check, since))
            else:
                emitted += _told_if_apart(book, check, cause, config)
        self.spans_settling = waiting
        for key, (check, since) in list(self.held_settling.items()):
            if now - since >= wait:
                del self.held_settling[key]
                told = _told_if_apart(book, check, cause, config)
                if told:
                    self.told[key] = check.lifecycle
                emitted += told
        return emitted


def _told_if_apart(
    book: AccountBook, check: PnlCheck, cause: Cause, config: RuleConfig
) -> list[Emitted]:
    """``check``, with what came late since it was made counted in (KeyLedger.late_net), as
    PNL_MISMATCH if its figures are still apart."""
    ledger = book.pnl.keys.get(check.key)
    late = ZERO if ledger is None else ledger.late_net - check.late_net
    settled = msgspec.structs.replace(check, ours=check.ours + late) if late else check
    allowed = tolerance(settled, config)
    if abs(settled.ours - settled.venue) <= allowed:
        return []
    return [_event(settled, allowed, cause)]


def _event(check: PnlCheck, allowed: Decimal, cause: Cause) -> PnlMismatch:
    what = (
        f"fill {check.trade_id}"
        if check.trade_id
        else "position since its last report"
        if check.span
        else "position held"
    )
    reason = (
        f"realised PnL of {what}: venue {check.venue}, trueup {check.ours} "
        f"(differ by {check.ours - check.venue}, tolerance {allowed})"
    )
    return PnlMismatch(
        **cause.on(check.key),
        reason=reason,
        figure=check.figure.value,  # a plain str, as read back: the id is minted from it
        trade_id=check.trade_id,
        trueup_pnl=check.ours,
        venue_pnl=check.venue,
        tolerance=allowed,
    )
