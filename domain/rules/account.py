"""One account's detectors, and the orders the reconciler runs them in."""

from trueup.domain.entry_policy import EntryPolicy
from trueup.domain.rules.detector import Detector, Phases
from trueup.domain.rules.drift import DriftDetector
from trueup.domain.rules.manual_close import ManualCloseDetector
from trueup.domain.rules.orders import OrderDetector
from trueup.domain.rules.pnl_mismatch import PnlMismatchDetector
from trueup.domain.rules.risk_warning import RiskWarningDetector
from trueup.domain.rules.stale import StaleDetector
from trueup.domain.rules.sync import SyncDetector
from trueup.domain.rules.untracked import UntrackedDetector
from trueup.domain.triggers.detector import TriggerDetector


class AccountDetectors:
    """Every detector of one account, named for the queries that ask them."""

    __slots__ = (
        "_in_order",
        "_phases",
        "_timed",
        "drift",
        "entries",
        "manual_close",
        "orders",
        "pnl",
        "risk",
        "stale",
        "sync",
        "triggers",
        "untracked",
    )

    def __init__(self) -> None:
        self.sync = SyncDetector()
        self.orders = OrderDetector()
        self.manual_close = ManualCloseDetector()
        self.stale = StaleDetector(self.manual_close)
        self.drift = DriftDetector()
        self.untracked = UntrackedDetector()
        self.pnl = PnlMismatchDetector()
        self.risk = RiskWarningDetector()
        self.triggers = TriggerDetector()
        self.entries = EntryPolicy()
        # Built once: the reconciler asks for them several times on every input.
        self._in_order: tuple[Detector, ...] = (
            self.sync,
            self.orders,
            self.manual_close,
            self.stale,
            self.drift,
            self.untracked,
            self.pnl,
            self.risk,
            self.triggers,
            self.entries,
        )
        self._timed: tuple[Detector, ...] = (
            self.stale, self.sync, self.orders, self.triggers, self.entries, self.pnl,
        )  # fmt: skip
        self._phases = Phases.of(self._in_order, self._timed)

    # These orders are those of the events emitted ever since the rules were written: a
    # replay must emit the same bytes. They matter where two detectors can emit for one
    # input or one tick: a manual close after a failed snapshot page or an order's report
    # and before a paper leftover; stale before sync before orders on time; on each key,
    # drift before untracked. PnL mismatch came later, risk warnings after it, then triggers
    # (they act on what the rules before them have reconciled) and the entry policy; on time,
    # PnL mismatch (a fill's figure, once settled) last of all.

    @property
    def in_order(self) -> tuple[Detector, ...]:
        """The order they note an input, judge it, and judge each key in."""
        return self._in_order

    @property
    def timed(self) -> tuple[Detector, ...]:
        """Those with timers, in the order they report on time."""
        return self._timed

    @property
    def phases(self) -> Phases:
        """Those orders, each phase's keeping only the detectors that take part in it."""
        return self._phases
