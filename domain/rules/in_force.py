"""Which recorded rules an input was folded under: those of the last RulesSet recorded before
it in the journal, the defaults before any, as the reconciler applies each RulesSet at its
place in the journal's order, whatever its instant says."""

from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple

from trueup.domain.rules.config import RuleConfig


class Recorded(NamedTuple):
    """A RulesSet as the journal holds it: where it was recorded, its instant, its rules."""

    position: int
    at: int
    rules: RuleConfig


class RulesInForce:
    """The rules recorded, each in force from its place in the journal on."""

    __slots__ = ("_positions", "_recorded")

    def __init__(self, recorded: Sequence[Recorded] = ()) -> None:
        self._recorded = sorted(recorded, key=lambda r: r.position)
        self._positions = [r.position for r in self._recorded]

    def as_of(self, instant: int | None) -> "RulesInForce":
        """Those recorded with an instant no later than ``instant`` (all, when None): a
        replay as of an instant folds no input after it, a RulesSet no more than another."""
        if instant is None:
            return self
        return RulesInForce([r for r in self._recorded if r.at <= instant])

    def before(self, position: int) -> RuleConfig:
        """The rules an input recorded at journal ``position`` was folded under."""
        found = bisect_left(self._positions, position) - 1
        return self._recorded[found].rules if found >= 0 else RuleConfig()

    def at(self, instant: int | None) -> RuleConfig:
        """The rules in force at ``instant`` (None: now): of those recorded by then, the one
        recorded last."""
        latest = self.as_of(instant)._recorded
        return latest[-1].rules if latest else RuleConfig()
