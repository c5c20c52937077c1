"""Which recorded rules were in force at an instant: those of the last RulesSet recorded with
an instant no later than it, the defaults before any."""

from bisect import bisect_right
from collections.abc import Sequence

from trueup.domain.rules.config import RuleConfig


class RulesInForce:
    """The rules recorded, each from its instant on, as the journal holds them."""

    __slots__ = ("_from", "_rules")

    def __init__(self, recorded: Sequence[tuple[int, RuleConfig]] = ()) -> None:
        """``recorded``: each RulesSet's instant and rules, in the order recorded."""
        by_instant = sorted(range(len(recorded)), key=lambda i: recorded[i][0])
        self._from: list[int] = []
        self._rules: list[RuleConfig] = []
        latest = -1  # of those at or before each instant, the one recorded last
        for i in by_instant:
            latest = max(latest, i)
            self._from.append(recorded[i][0])
            self._rules.append(recorded[latest][1])

    def at(self, instant: int | None) -> RuleConfig:
        """The rules in force at ``instant`` (None: the last recorded)."""
        if not self._rules:
            return RuleConfig()
        if instant is None:
            return self._rules[-1]
        found = bisect_right(self._from, instant) - 1
        return self._rules[found] if found >= 0 else RuleConfig()
