"""Risk warning: a held position crossing the score or liquidation distance of the rules.

Each position is judged from the folded state (domain/risk.py) whenever an input changes
it, and every held position of the account when its equity moves (a wallet update). A
threshold crossed is told once (RISK_WARNING), and armed again only once the position is
back on the safe side of it (or flat): a position that stays past it is never told twice.
"""

from decimal import Decimal

from trueup.domain.book import AccountBook, Changed
from trueup.domain.coin_values import equity_rate
from trueup.domain.emitted import Cause, Emitted, RiskWarning
from trueup.domain.events import InputEvent, PositionReport, PositionsReported, WalletReported
from trueup.domain.keys import PositionKey
from trueup.domain.position import ZERO
from trueup.domain.risk import assess
from trueup.domain.risk_records import PositionRisk, RiskTrigger
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes

NONE: frozenset[RiskTrigger] = frozenset()
# What a position's risk was last judged from: its report, the ledger's mark, the account's
# equity and the coin it is in, and the rules. Most inputs that touch a key change none.
Basis = tuple[PositionReport, Decimal | None, Decimal | None, RuleConfig, str | None]


class RiskWarningDetector(Detector):
    """The thresholds each position is past, as last told: only those past any are kept."""

    def judged(self) -> EventTypes:
        return (WalletReported, PositionsReported)

    __slots__ = ("basis", "past")

    def __init__(self) -> None:
        self.past: dict[PositionKey, frozenset[RiskTrigger]] = {}
        # Per held key, what it was last judged from: the same again judges nothing anew.
        self.basis: dict[PositionKey, Basis] = {}

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        # A new equity moves every held position's concentration, and so its score.
        if isinstance(event, WalletReported) or (
            isinstance(event, PositionsReported) and event.wallet is not None
        ):
            keys = sorted(set(book.held_keys()) | set(self.past))
            return [e for key in keys for e in self._judge(book, key, cause, config)]
        return []

    def on_key(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        return self._judge(book, key, cause, config)

    def _judge(
        self, book: AccountBook, key: PositionKey, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        position = book.positions.get(key)
        report = position.exchange if position is not None else None
        if not config.risk_warnings_enabled or report is None or report.size == ZERO:
            # Flat, or warnings off: nothing past (armed again should either change).
            self.past.pop(key, None)
            self.basis.pop(key, None)
            return []
        ledger = book.pnl.keys.get(key)
        mark = ledger.mark if ledger is not None else None
        equity, equity_coin = book.wallet.equity, book.wallet.equity_coin
        last = self.basis.get(key)
        if (
            last is not None
            and last[0] is report
            and last[3] is config
            and last[1] == mark
            and last[2] == equity
            and last[4] == equity_coin
        ):
            return []  # judged from the very same: nothing can have crossed
        self.basis[key] = (report, mark, equity, config, equity_coin)
        rate = equity_rate(report.notional_coin, equity_coin, config)
        risk = assess(report, mark, equity, config, rate)
        now = risk.crossed() if risk is not None else NONE
        before = self.past.get(key, NONE)
        if now:
            self.past[key] = now
        elif before:
            del self.past[key]
        if risk is None:
            return []
        return [_warning(key, risk, trigger, cause, config) for trigger in sorted(now - before)]


def _warning(
    key: PositionKey, risk: PositionRisk, trigger: RiskTrigger, cause: Cause, config: RuleConfig
) -> RiskWarning:
    threshold: Decimal
    if trigger is RiskTrigger.SCORE:
        threshold = config.risk_warning_score
        reason = f"risk score {risk.score} reached {threshold}"
    else:
        threshold = config.risk_warning_liquidation_distance
        reason = (
            f"{risk.liquidation_distance} from liquidation at {risk.liq_price} "
            f"(mark {risk.mark_price}), within {threshold}"
        )
    return RiskWarning(
        **cause.on(key),
        reason=reason,
        trigger=trigger.value,
        threshold=threshold,
        score=risk.score,
        concentration=risk.concentration,
        leverage=risk.leverage,
        liquidation_distance=risk.liquidation_distance,
        liq_price=risk.liq_price,
        mark_price=risk.mark_price,
        notional=risk.notional,
    )
