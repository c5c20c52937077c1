"""Risk per position and for a portfolio: pure functions over the folded state.

A position's exposure is what the venue's last report of it shows: notional = |size| x
mark (linear contracts; an inverse contract's size is its USD value already), the venue's
leverage (else notional / its initial margin, where known), its liquidation price and the
distance to it, |mark - liq| / mark. Its score weighs three parts, each from 0 to 1, with
the weights of the rules in force (rules/config.py):

    concentration  min(notional / account equity, 1)             weight 0.4
                   (1 with the equity at zero or below)
    leverage       min(leverage / risk_leverage_cap, 1)           weight 0.3
    liquidation    max(1 - risk_liquidation_scale x distance, 0)  weight 0.3
                   (risk_no_liquidation_price, 0.1, with no liquidation price shown)

and is capped at 1. A part trueup cannot know (no equity reported yet, no leverage) counts
0 and is shown as null, so a reader sees what the score leaves out.

A notional in the coin its report names (USDT, USDC) is set against the equity in the coin
the account's wallet reports name (USD, USDC) at the USD values of the rules'
quote_equivalents (domain/coin_values.py; by default one for one); where either coin has
none, concentration is unknown.
"""

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import TYPE_CHECKING

from trueup.domain.coin_values import equity_rate
from trueup.domain.events import PositionReport
from trueup.domain.keys import PositionKey
from trueup.domain.risk_records import LeverageSource, PortfolioRisk, PositionRisk
from trueup.domain.rules.config import RuleConfig
from trueup.domain.vocabulary import ContractKind, PositionSide

if TYPE_CHECKING:  # the book holds what risk reads: imported for its type alone
    from trueup.domain.book import AccountBook

ZERO = Decimal(0)
ONE = Decimal(1)
# Wide enough that no ratio of figures trueup accepts (15 + 12 digits each) overflows.
_CONTEXT = Context(prec=96, rounding=ROUND_HALF_EVEN, Emax=999, Emin=-999)
RATIO = Decimal("1e-6")  # ratios, leverage and the score are shown to six places
AMOUNT = Decimal("1e-12")  # notional, as precise as any price or size trueup accepts


def assess(
    report: PositionReport,
    latest_mark: Decimal | None,
    equity: Decimal | None,
    config: RuleConfig,
    equity_rate: Decimal | None = ONE,
) -> PositionRisk | None:
    """The risk of the position ``report`` shows (None when it is flat), at ``latest_mark``
    (the PnL ledger's: the last of the position reports' and the public prices' marks),
    else the report's own; ``equity_rate`` is one of the notional's coin in the equity's
    (coin_values.equity_rate; None: no value, so no concentration)."""
    if report.size == 0 or report.side is PositionSide.FLAT:
        return None
    c = _CONTEXT
    mark = latest_mark if latest_mark and latest_mark > 0 else report.mark_price
    if report.contract_kind is ContractKind.INVERSE:
        notional: Decimal | None = report.size  # contracts of one USD each: already USD
    else:  # an option's: what its premium is worth (its writer can lose more)
        notional = None if mark is None else _amount(c.multiply(report.size, mark))
    leverage, source = _leverage(report, notional)
    liq = report.liq_price
    distance = None
    if liq is not None and mark is not None and mark > 0:
        distance = _ratio(c.divide(abs(c.subtract(mark, liq)), mark))
    concentration = None
    if notional is not None and equity is not None and equity_rate is not None:
        if equity > 0:
            in_equity_coin = notional if equity_rate == ONE else c.multiply(notional, equity_rate)
            concentration = _ratio(c.divide(in_equity_coin, equity))
        elif notional > 0:
            concentration = ONE  # no equity left to hold it: as concentrated as can be
    concentration_part = min(concentration, ONE) if concentration is not None else ZERO
    leverage_part = (
        min(_ratio(c.divide(leverage, config.risk_leverage_cap)), ONE)
        if leverage is not None
        else ZERO
    )
    if distance is None:
        liquidation_part = config.risk_no_liquidation_price
    else:
        liquidation_part = max(ONE - config.risk_liquidation_scale * distance, ZERO)
    score = (
        config.risk_weight_concentration * concentration_part
        + config.risk_weight_leverage * leverage_part
        + config.risk_weight_liquidation * liquidation_part
    )
    score = _ratio(min(score, ONE))
    return PositionRisk(
        side=report.side,
        size=report.size,
        entry_price=report.entry_price,
        mark_price=mark,
        notional=notional,
        leverage=leverage,
        leverage_source=source,
        liq_price=liq,
        liquidation_distance=distance,
        initial_margin=report.initial_margin,
        maintenance_margin=report.maintenance_margin,
        margin_mode=report.margin_mode,
        equity=equity,
        concentration=concentration,
        concentration_part=_ratio(concentration_part),
        leverage_part=_ratio(leverage_part),
        liquidation_part=_ratio(liquidation_part),
        score=score,
        high=score >= config.risk_warning_score,
        near_liquidation=distance is not None
        and distance <= config.risk_warning_liquidation_distance,
        updated_time=report.updated_time,
        notional_coin=report.notional_coin,
    )


def position_risk(book: "AccountBook", key: PositionKey, config: RuleConfig) -> PositionRisk | None:
    """The risk of what the exchange holds on ``key`` (None: nothing, or never seen)."""
    position = book.positions.get(key)
    report = position.exchange if position is not None else None
    if report is None:
        return None
    ledger = book.pnl.keys.get(key)
    rate = equity_rate(report.notional_coin, book.wallet.equity_coin, config)
    return assess(report, ledger.mark if ledger else None, book.wallet.equity, config, rate)


def _leverage(
    report: PositionReport, notional: Decimal | None
) -> tuple[Decimal | None, LeverageSource | None]:
    """The venue's leverage where it gives one, else notional / initial margin."""
    if report.leverage is not None and report.leverage > 0:
        return report.leverage, LeverageSource.VENUE
    margin = report.initial_margin
    if notional is not None and margin is not None and margin > 0:
        return _ratio(_CONTEXT.divide(notional, margin)), LeverageSource.MARGIN
    return None, None


def portfolio(risks: Iterable[tuple[str, PositionRisk]]) -> PortfolioRisk:
    """The portfolio figures over labelled position risks."""
    found = list(risks)
    scores = [r.score for _, r in found]
    leverages = [r.leverage for _, r in found if r.leverage is not None]
    concentrated = [(r.concentration, label) for label, r in found if r.concentration is not None]
    largest = max(concentrated, default=None)
    return PortfolioRisk(
        positions=len(found),
        notional=sum((r.notional for _, r in found if r.notional is not None), ZERO),
        max_score=max(scores, default=None),
        average_score=_mean(scores),
        high_risk=sum(1 for _, r in found if r.high),
        average_leverage=_mean(leverages),
        max_leverage=max(leverages, default=None),
        near_liquidation=sum(1 for _, r in found if r.near_liquidation),
        largest_concentration=largest[0] if largest else None,
        largest_concentration_of=largest[1] if largest else None,
    )


def share(part: Decimal, whole: Decimal) -> Decimal:
    """part / whole to six places; 0 of nothing."""
    return ZERO if whole == 0 else _ratio(_CONTEXT.divide(part, whole))


def _mean(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return _ratio(_CONTEXT.divide(sum(values, ZERO), len(values)))


# The context's own methods, not the decimal's with ``context=``: a keyword argument is
# parsed at several times the cost of the rounding itself.
def _ratio(value: Decimal) -> Decimal:
    return _tidy(_CONTEXT.quantize(value, RATIO))


def _amount(value: Decimal) -> Decimal:
    return _tidy(_CONTEXT.quantize(value, AMOUNT))


def _tidy(value: Decimal) -> Decimal:
    """Trailing zeros dropped, never into an exponent (100, not 1E+2)."""
    if value == value.to_integral_value():
        return _CONTEXT.quantize(value, ONE)
    return _CONTEXT.normalize(value)
