"""What a complete position snapshot vouches for: the keys its scope covers, and when.

A module of its own, kept pure Python where mypyc compiles the domain (setup.py): the views
hold these, and msgspec decodes them by their annotations, which a compiled class's lose."""

import re
from collections.abc import Collection
from functools import cache
from typing import NamedTuple

from trueup.domain.events import SnapshotPage


class Coverage(NamedTuple):
    """Which keys a complete snapshot of one scope vouches for: those of its category, and
    of its symbol where it names one, or with names of one of ``forms`` where the venue's
    adapter says what the list returns (domain/events.py)."""

    category: str
    symbol: str | None
    settle_coin: str | None
    forms: tuple[str, ...]
    base_coin: str | None = None

    def covers(self, category: str, symbol: str) -> bool:
        """Whether the snapshot was asked about the key (``category``, ``symbol``)."""
        return category == self.category and self.names(symbol)

    def covers_symbol(self, symbol: str, categories: Collection[str]) -> bool:
        """Whether it covers ``symbol``, held in ``categories`` (none known: by its name)."""
        return (not categories or self.category in categories) and self.names(symbol)

    def names(self, symbol: str) -> bool:
        """Whether ``symbol``'s name is one it covers, whatever the category."""
        if self.symbol is not None:
            return symbol == self.symbol
        if self.forms:
            return any(_form(f).fullmatch(symbol) for f in self.forms)
        # Unknown forms: a list of one coin's contracts is not all of them, so it covers
        # none; a list of the whole category (Aster's positionRisk) every one.
        return self.settle_coin is None and self.base_coin is None

    def described(self) -> str:
        """What it covers, in words: ``linear USDT-settled contracts``."""
        if self.symbol is not None:
            return f"{self.symbol} alone ({self.category})"
        on = "" if self.base_coin is None else f" on {self.base_coin}"
        if self.settle_coin is not None:
            return f"{self.category} {self.settle_coin}-settled contracts{on}"
        if self.base_coin is not None:
            return f"{self.category} contracts{on}"
        if self.forms:
            # Not "every": such a list leaves some of the category out (a perp of another dex).
            return f"the {self.category} contracts such a list returns"
        return f"every {self.category} contract"


def coverage_of(page: SnapshotPage) -> Coverage:
    return Coverage(page.category, page.symbol, page.settle_coin, page.symbol_forms, page.base_coin)


@cache
def _form(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Vouched(NamedTuple):
    """The complete snapshot of one scope folded last: what it covers, and the instant it is
    of, its run's first page's arrival (what it shows is no older, however late its last
    page came). One folded after a newer-dated one was dated by a clock set back since (the
    newer's ran ahead), or came from a capture of the past: the dates cannot tell which,
    and only the older can be vouched for."""

    coverage: Coverage
    at: int
