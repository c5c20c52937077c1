"""The figures risk (risk.py) gives: a position's exposure and a portfolio's, and what a
warning crossed.

Apart from the functions that work them out because msgspec decodes PositionRisk from the
views by its annotations, which mypyc would erase (setup.py leaves this module pure and
compiles risk.py).
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import msgspec

from trueup.domain.vocabulary import MarginMode, PositionSide


class LeverageSource(StrEnum):
    """Where a position's leverage comes from."""

    VENUE = "venue"  # the venue's own figure (Bybit's leverage, Hyperliquid's leverage.value)
    MARGIN = "margin"  # notional / the position's initial margin


class RiskTrigger(StrEnum):
    """What a RISK_WARNING crossed."""

    SCORE = "SCORE"
    LIQUIDATION_DISTANCE = "LIQUIDATION_DISTANCE"


class PositionRisk(msgspec.Struct, frozen=True):
    """One held position's exposure, its parts and its score, as of the folded state. A
    struct, as the events are: judging a position builds one on every report of it, and a
    frozen dataclass's constructor sets each field through object.__setattr__ (a third of
    the risk warning rule's time)."""

    side: PositionSide
    size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    notional: Decimal | None
    leverage: Decimal | None
    leverage_source: LeverageSource | None
    liq_price: Decimal | None
    liquidation_distance: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    margin_mode: MarginMode | None
    equity: Decimal | None  # the account's, that concentration is measured against
    concentration: Decimal | None
    concentration_part: Decimal
    leverage_part: Decimal
    liquidation_part: Decimal
    score: Decimal
    high: bool  # score at or above risk_warning_score
    near_liquidation: bool  # distance at or below risk_warning_liquidation_distance
    updated_time: int  # the venue's time of the report it is measured from
    notional_coin: str | None = None  # the coin its notional is counted in (None: unknown)

    def crossed(self) -> frozenset[RiskTrigger]:
        """The warning thresholds this position is past."""
        found = set()
        if self.high:
            found.add(RiskTrigger.SCORE)
        if self.near_liquidation:
            found.add(RiskTrigger.LIQUIDATION_DISTANCE)
        return frozenset(found)


@dataclass(frozen=True, slots=True)
class PortfolioRisk:
    """The figures a risk officer reads first, over the positions held."""

    positions: int
    notional: Decimal  # of those with a mark
    max_score: Decimal | None
    average_score: Decimal | None
    high_risk: int  # score at or above risk_warning_score
    average_leverage: Decimal | None  # over those whose leverage is known
    max_leverage: Decimal | None
    near_liquidation: int  # within risk_warning_liquidation_distance of liquidation
    largest_concentration: Decimal | None
    largest_concentration_of: str | None  # the position's label: venue/account symbol idx
