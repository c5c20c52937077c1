"""How a venue spells its symbols, and what to tell whoever spelt one another way: each
venue's package builds its own (adapters/<venue>/venue.py), since only it knows the rule.

A rule is permissive where unsure: it refuses what cannot be one of the venue's symbols
(space in it, ccxt's name for it, the wrong case), never a symbol merely unheard of.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from trueup.adapters.ccxt.coins import unified
from trueup.adapters.venue import Contract
from trueup.domain.errors import shown

# ccxt's unified name for a contract: BASE/QUOTE:SETTLE, a dated one's expiry after a dash.
_UNIFIED = re.compile(r"[^/:\s]+/[^/:\s]+:[^/:\s]+")

# The names Unicode gives the letters of Chinese, Japanese and Korean: the scripts a venue of
# ASCII symbols also names listings in (Binance's 币安人生USDT).
_CJK = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA", "HANGUL")
# Cyrillic and Greek capitals that look like Latin ones, by their names, and the Latin each
# looks like.
_LOOKALIKE_NAMES = {
    "CYRILLIC": {
        "A": "A", "VE": "B", "IE": "E", "KA": "K", "EM": "M", "EN": "H", "O": "O", "ER": "P",
        "ES": "C", "TE": "T", "U": "Y", "HA": "X", "BYELORUSSIAN-UKRAINIAN I": "I", "DZE": "S",
        "JE": "J",
    },
    "GREEK": {
        "ALPHA": "A", "BETA": "B", "EPSILON": "E", "ZETA": "Z", "ETA": "H", "IOTA": "I",
        "KAPPA": "K", "MU": "M", "NU": "N", "OMICRON": "O", "RHO": "P", "TAU": "T",
        "UPSILON": "Y", "CHI": "X",
    },
}  # fmt: skip
_LOOKALIKES = {
    ord(unicodedata.lookup(f"{script} CAPITAL LETTER {name}")): latin
    for script, letters in _LOOKALIKE_NAMES.items()
    for name, latin in letters.items()
}


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
    # Whether its symbols are ASCII but for names in Chinese, Japanese or Korean: any other
    # character beyond ASCII only looks like one of its letters or digits (a Cyrillic or a
    # full-width B, an accented E, an Arabic-Indic 3).
    ascii_or_cjk: bool = False

    def misspelt(self, symbol: str) -> str | None:
        """Why ``symbol`` cannot be one of the venue's symbols, naming the one meant where
        that can be told; None if it can be."""
        if self.pattern.fullmatch(symbol):
            return self._lookalike(symbol) if self.ascii_or_cjk else None
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

    def _lookalike(self, symbol: str) -> str | None:
        """Why ``symbol``, of the venue's pattern, holds what only looks like its letters or
        digits (see ``ascii_or_cjk``), naming the symbol meant where each can be told."""
        foreign = [c for c in dict.fromkeys(symbol) if not (c.isascii() or _in_cjk(c))]
        if not foreign:
            return None
        named = ", ".join(f"{c} {unicodedata.name(c, f'U+{ord(c):04X}')}" for c in foreign)
        meant = _in_ascii(symbol)
        asking = f": {meant}?" if meant and self.pattern.fullmatch(meant) else ""
        return f"{shown(symbol)} has characters {self.venue}'s symbols do not ({named}){asking}"


def _in_cjk(character: str) -> bool:
    return unicodedata.name(character, "").startswith(_CJK)


def _in_ascii(symbol: str) -> str | None:
    """``symbol`` with each character beyond ASCII as the ASCII one it looks like (a
    full-width or Cyrillic B as B, an accented E as E, an Arabic-Indic 3 as 3); None if one
    looks like none."""
    spelt = []
    for c in unicodedata.normalize("NFKC", symbol).translate(_LOOKALIKES):
        base = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
        if base.isascii():
            spelt.append(base)
        elif c.isdecimal():
            spelt.append(str(unicodedata.decimal(c)))
        else:
            return None
    return "".join(spelt)
