"""What a trigger is configured to do: its kind, level, lock ratio and action.

A configuration is never edited in place: each change is a command recorded as an input,
and the spec below is what the latest one left in force.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from trueup.domain.vocabulary import PositionSide

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


class TriggerKind(StrEnum):
    PROFIT = "profit"  # unrealised PnL of the position >= threshold
    PRICE = "price"  # long: price >= level; short: price <= level
    STOP_LOSS = "stop_loss"  # long: price <= level; short: price >= level
    TRAILING = "trailing"  # price retreats ``distance`` from the best since armed


class TriggerAction(StrEnum):
    LOCK = "lock"  # open the opposite leg (hedge-mode accounts only)
    REDUCE = "reduce"  # a reduce-only close of part of the position


class DistanceUnit(StrEnum):
    PRICE = "price"
    PERCENT = "percent"


class TriggerCommand(StrEnum):
    ADD = "add"
    CHANGE = "change"
    ENABLE = "enable"
    DISABLE = "disable"
    REMOVE = "remove"
    CONFIRM = "confirm"


DIRECTIONS = (PositionSide.LONG, PositionSide.SHORT)


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger's configuration. ``level`` is the profit threshold, the price target or
    the stop; ``distance`` (in ``unit``) is the trailing kind's only level."""

    symbol: str
    direction: PositionSide  # LONG or SHORT: must match the position's side to fire
    kind: TriggerKind
    level: Decimal | None
    distance: Decimal | None
    unit: DistanceUnit
    ratio: Decimal
    action: TriggerAction
    auto_execute: bool = False
    expires_at: int | None = None


def spec_problem(spec: TriggerSpec) -> str | None:
    """Why ``spec`` can never be in force, or None; a lock on a one-way account is judged
    at firing, where the position's leg is known."""
    if spec.direction not in DIRECTIONS:
        return f"direction must be long or short, not {spec.direction.value.lower()}"
    if spec.ratio <= ZERO:
        return f"ratio {spec.ratio} is not in (0, 1]: a lock or reduce of nothing"
    if spec.ratio > ONE:
        return f"ratio {spec.ratio} is not in (0, 1]: a lock or reduce of more than the position"
    if spec.kind is TriggerKind.TRAILING:
        if spec.distance is None or spec.distance <= 0:
            return "a trailing trigger needs a positive distance"
        if spec.unit is DistanceUnit.PERCENT and spec.distance >= HUNDRED:
            return f"a trailing distance of {spec.distance}% is not below 100%"
        return None
    if spec.level is None:
        return f"a {spec.kind.value} trigger needs a level"
    if spec.kind is not TriggerKind.PROFIT and spec.level <= 0:
        return f"a {spec.kind.value} level must be a positive price"
    return None
