"""When a trigger fires: the level each kind compares against, and the water marks a
trailing one folds from the prices since it was armed."""

from decimal import Decimal

from trueup.domain.triggers.spec import HUNDRED, ONE, DistanceUnit, TriggerKind, TriggerSpec
from trueup.domain.vocabulary import PositionSide


def folded_water(direction: PositionSide, held: Decimal | None, price: Decimal) -> Decimal:
    """The best price since armed: the high for a long, the low for a short."""
    if held is None:
        return price
    return max(held, price) if direction is PositionSide.LONG else min(held, price)


def level(spec: TriggerSpec, water: Decimal | None) -> Decimal | None:
    """The level the trigger fires at; None for a trailing one with no price yet."""
    if spec.kind is not TriggerKind.TRAILING:
        return spec.level
    if water is None or spec.distance is None:
        return None
    long = spec.direction is PositionSide.LONG
    if spec.unit is DistanceUnit.PERCENT:
        share = spec.distance / HUNDRED
        return water * (ONE - share) if long else water * (ONE + share)
    return water - spec.distance if long else water + spec.distance


def holds(
    spec: TriggerSpec, price: Decimal | None, pnl: Decimal | None, water: Decimal | None
) -> bool:
    """Whether the condition holds now (on a position of the trigger's direction)."""
    at = level(spec, water)
    if at is None:
        return False
    if spec.kind is TriggerKind.PROFIT:
        return pnl is not None and pnl >= at
    if price is None:
        return False
    long = spec.direction is PositionSide.LONG
    if spec.kind is TriggerKind.PRICE:
        return price >= at if long else price <= at
    # A stop-loss and a trailing stop both fire on a move against the position.
    return price <= at if long else price >= at
