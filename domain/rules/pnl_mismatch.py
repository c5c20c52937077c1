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
"""

from decimal import Decimal

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PnlMismatch
from trueup.domain.events import ExecutionsReported, InputEvent, PositionsReported
from trueup.domain.keys import PositionKey
from trueup.domain.pnl import PnlCheck
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector

HUNDRED = Decimal(100)


def tolerance(check: PnlCheck, config: RuleConfig) -> Decimal:
    """How far the two figures may differ: a fixed amount plus a share of the notional."""
    return config.pnl_tolerance + abs(check.notional) * config.pnl_tolerance_pct / HUNDRED


class PnlMismatchDetector(Detector):
    """The positions whose figures it has reported as disagreeing, by lifecycle."""

    # What on_input acts on (Detector.judges): it returns nothing for any other input.
    judges = (ExecutionsReported, PositionsReported)

    __slots__ = ("told",)

    def __init__(self) -> None:
        # key -> the lifecycle whose position figure was told as disagreeing.
        self.told: dict[PositionKey, int] = {}

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
            if check.trade_id or check.span:
                if not agree:
                    emitted.append(_event(check, allowed, cause))
                continue
            if agree:
                if self.told.get(check.key) == check.lifecycle:
                    del self.told[check.key]
            elif self.told.get(check.key) != check.lifecycle:
                self.told[check.key] = check.lifecycle
                emitted.append(_event(check, allowed, cause))
        return emitted


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
