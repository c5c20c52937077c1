"""Which recorded rules an input was folded under: those of the last RulesSet recorded before
it in the journal (before any, those the journal was begun under), as the reconciler applies
each RulesSet at its place in the journal's order, whatever its instant says.

The rules in force at an instant follow from that: a RulesSet is in force at T if it is
dated at or before T, or if it was recorded before an input dated at or before T (the
reconciler applied it to that input, so a replay as of T must too). A capture of last week
ingested with ``--rules`` today was judged under those rules, every input of it.
"""

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

    __slots__ = ("_before_any", "_positions", "_recorded")

    def __init__(
        self, recorded: Sequence[Recorded] = (), before_any: RuleConfig | None = None
    ) -> None:
        self._recorded = sorted(recorded, key=lambda r: r.position)
        self._positions = [r.position for r in self._recorded]
        self._before_any = before_any or RuleConfig()

    def before(self, position: int) -> RuleConfig:
        """The rules an input recorded at journal ``position`` was folded under."""
        found = bisect_left(self._positions, position) - 1
        return self._recorded[found].rules if found >= 0 else self._before_any

    def at(self, instant: int | None, *, applied_to: int | None = None) -> RuleConfig:
        """The rules in force at ``instant`` (None: now): the last recorded of those dated by
        then and those applied to an input dated by then, stored at ``applied_to``."""
        if instant is None:
            return self._recorded[-1].rules if self._recorded else self._before_any
        found = -1 if applied_to is None else bisect_left(self._positions, applied_to) - 1
        # Those after it are in force only by their instants: the last dated by then.
        for index in range(len(self._recorded) - 1, found, -1):
            if self._recorded[index].at <= instant:
                found = index
                break
        return self._recorded[found].rules if found >= 0 else self._before_any

    def dated_after(self, instant: int, upto: int) -> bool:
        """Whether one recorded at or before journal position ``upto`` is dated after
        ``instant``: a state folded up to there may hold rules not in force then."""
        return any(r.at > instant for r in self._recorded if r.position <= upto)
