"""Every threshold of the rules, with its default."""

from dataclasses import dataclass
from decimal import Decimal

SECOND = 1_000
MINUTE = 60 * SECOND


@dataclass(frozen=True, slots=True)
class RuleConfig:
    # Drift: how far the exchange may stray from the local claim, for how long, how often told.
    drift_threshold_pct: Decimal = Decimal(10)
    drift_grace_ms: int = 3 * SECOND
    drift_window_ms: int = 5 * MINUTE
    # Manual close: a stop-loss close stops new entries on the symbol for a while.
    cooldown_ms: int = 30 * MINUTE
    cooldown_enabled: bool = True
    # Stale and untracked: how long a finding must hold before it is reported.
    stale_grace_ms: int = 3 * SECOND
    untracked_grace_ms: int = 3 * SECOND
    # A paginated snapshot not finished within this is a failed sync.
    pagination_timeout_ms: int = 10 * SECOND
    # Orders.
    order_timeout_ms: int = 20 * SECOND
    partial_fill_stall_ms: int = 20 * SECOND
