"""Drift: both sides hold the key but disagree, by side or by more than the threshold.

Reported only once the difference has outlasted the grace period (a fill in flight is no
alarm), and at most once per key per window. Sides a change of rules finds to differ have
differed since they came to be as they are: the grace runs from then, not from the change.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from trueup.domain.book import AccountBook
from trueup.domain.bounds import MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS
from trueup.domain.emitted import Cause, ConsistencyDrift, Emitted
from trueup.domain.keys import PositionKey
from trueup.domain.position import ZERO
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
PERCENT_DIGITS = 2 * (MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS)


def drift_pct(local_qty: Decimal, exchange_qty: Decimal) -> Decimal:
    """How far the exchange is from the local claim, in percent of the claim."""
    # Quantities within trueup.domain.bounds give at most 30 digits before the point here,
    # more than the default context's 28: room enough that quantize never overflows.
    with localcontext(prec=PERCENT_DIGITS):
        return (abs(exchange_qty - local_qty) / abs(local_qty) * HUNDRED).quantize(CENT)


def differs(local_qty: Decimal, exchange_qty: Decimal, threshold_pct: Decimal) -> bool:
    # By truth value, or against a decimal zero: against the integer 0, each comparison
    # first makes a decimal of it.
    if not local_qty or not exchange_qty:
        return False  # one side empty: manual close, stale or untracked, not drift
    if (local_qty > ZERO) != (exchange_qty > ZERO):
        return True
    try:
        if local_qty == exchange_qty and threshold_pct >= ZERO:
            return False  # 0.00 % apart: the common case, without the arithmetic
        return drift_pct(local_qty, exchange_qty) > threshold_pct
    except ArithmeticError:
        # Only sizes beyond trueup.domain.bounds (an older journal's) get here: a read must
        # still answer, and sides that far apart differ.
        return True


@dataclass(slots=True, eq=False)
class DriftDetector(Detector):
    """Per key: since when the sides have differed, and when that was last reported; and,
    for the keys whose sides are apart at all, since when they have been as they are."""

    since: dict[PositionKey, int] = field(default_factory=dict)
    reported: dict[PositionKey, int] = field(default_factory=dict)
    # (local, exchange, since): what a lower threshold would find differing, and how long.
    apart: dict[PositionKey, tuple[Decimal, Decimal, int]] = field(default_factory=dict)

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        position = book.positions[key]
        local_qty, exchange_qty = position.local_qty, position.exchange_qty
        held = self._held_since(key, local_qty, exchange_qty, cause.at)
        if not differs(local_qty, exchange_qty, config.drift_threshold_pct):
            self.since.pop(key, None)
            return []
        since = self.since.get(key)
        if since is None:
            since = self.since[key] = held
        if cause.at - since < config.drift_grace_ms:
            return []
        last = self.reported.get(key)
        if last is not None and cause.at - last < config.drift_window_ms:
            return []
        self.reported[key] = cause.at
        pct = drift_pct(local_qty, exchange_qty)
        sides = "sides differ" if (local_qty > ZERO) != (exchange_qty > ZERO) else f"{pct}% apart"
        return [
            ConsistencyDrift(
                **cause.on(key),
                reason=f"local {local_qty} vs exchange {exchange_qty}: {sides} "
                f"for {cause.at - since} ms",
                local_qty=local_qty,
                exchange_qty=exchange_qty,
                drift_pct=pct,
            )
        ]

    def waiting(self) -> Iterable[PositionKey]:
        return self.since.keys()

    def _held_since(
        self, key: PositionKey, local_qty: Decimal, exchange_qty: Decimal, at: int
    ) -> int:
        """Since when the sides have been these (``at`` if they just became so)."""
        if local_qty == exchange_qty or not local_qty or not exchange_qty:
            self.apart.pop(key, None)  # no threshold makes these differ
            return at
        held = self.apart.get(key)
        if held is None or held[0] != local_qty or held[1] != exchange_qty:
            self.apart[key] = (local_qty, exchange_qty, at)
            return at
        return held[2]

    def due(self, key: PositionKey, config: RuleConfig) -> int | None:
        """When CONSISTENCY_DRIFT is told for a drift on ``key`` not yet told; None once told,
        or for a key never judged to drift."""
        since = self.since.get(key)
        if since is None or self.unresolved(key) is not None:
            return None
        last = self.reported.get(key)
        # A drift told within the window before this one began silences this one till then.
        window_over = 0 if last is None else last + config.drift_window_ms
        return max(since + config.drift_grace_ms, window_over)

    def unresolved(self, key: PositionKey) -> int | None:
        """Since when the drift on ``key`` has lasted, if it was reported and lasts still."""
        since, reported = self.since.get(key), self.reported.get(key)
        if since is not None and reported is not None and reported >= since:
            return since
        return None
