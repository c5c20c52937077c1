"""How a venue spells its symbols, and what to tell whoever spelt one another way: each
venue's package builds its own (adapters/<venue>/venue.py), since only it knows the rule.

A rule is permissive where unsure: it refuses what cannot be one of the venue's symbols
(space in it, ccxt's name for it, the wrong case), never a symbol merely unheard of.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from trueup.adapters.ccxt.coins import unified
from trueup.adapters.venue import Contract
from trueup.domain.errors import shown

# ccxt's unified name for a contract: BASE/QUOTE:SETTLE, a dated one's expiry after a dash.
_UNIFIED = re.compile(r"[^/:\s]+/[^/:\s]+:[^/:\s]+")


def _untold(contract: Contract) -> str | None:
    return None


def _not_guessed(symbol: str) -> str | None:
    return None


@dataclass(frozen=True)
class SymbolSpelling:
    """What one of a venue's symbols can look like, and what a symbol spelt another way
    most likely meant; ``misspelt`` says what is wrong, or None."""

    venue: str  # as the reasons name it
    # What its symbols can look like (fullmatch), and how the operator is told so.
    pattern: re.Pattern[str]
    described: str
    # Its name for what ccxt calls BASE/QUOTE:SETTLE, where it can tell.
    from_ccxt: Callable[[Contract], str | None] = _untold
    # Its name for a symbol in a spelling of another kind (a venue's own for ccxt's).
    guess: Callable[[str], str | None] = _not_guessed
    # Whether its symbols are never lower case, so that one upper-cased may be what was meant.
    upper_case: bool = False

    def misspelt(self, symbol: str) -> str | None:
        """Why ``symbol`` cannot be one of the venue's symbols, naming the one meant where
        that can be told; None if it can be."""
        if self.pattern.fullmatch(symbol):
            return None
        if not symbol.strip():
            return f"no symbol was given: {self.venue}'s symbols are {self.described}"
        meant = self.meant(symbol)
        asking = f": {meant}?" if meant else ""
        if symbol != symbol.strip() or len(symbol.split()) > 1:
            return f"{shown(symbol)} has space in it; {self.venue}'s symbols have none{asking}"
        if _UNIFIED.fullmatch(symbol):
            if meant:
                return f"{symbol} is ccxt's name; {self.venue} calls it {meant}"
            return f"{symbol} is ccxt's name; {self.venue}'s symbols are {self.described}"
        if self.upper_case and meant == symbol.upper():
            return f"{self.venue}'s symbols are upper case{asking}"
        return (
            f"{shown(symbol)} is not spelt as {self.venue} spells its symbols "
            f"({self.described}){asking}"
        )

    def meant(self, symbol: str) -> str | None:
        """The venue's symbol that ``symbol``, spelt another way, most likely names; None
        where that cannot be told."""
        trimmed = "".join(symbol.split())
        if self.pattern.fullmatch(trimmed):
            return trimmed
        if self.upper_case and self.pattern.fullmatch(trimmed.upper()):
            return trimmed.upper()
        if _UNIFIED.fullmatch(trimmed):
            named = unified(trimmed.upper() if self.upper_case else trimmed)
            return None if named is None else self.from_ccxt(named)
        return self.guess(trimmed)
