"""Paginated position snapshots: pages add up to a snapshot only when their run is whole.

A snapshot says which positions are flat (those it does not list), so it is the one input
that can close a position by omission. It is complete only when every page of one run,
from the first request (no cursor) to the last page (no next cursor), was accepted, their
cursors chain, and the run took no longer than its timeout. Anything else proves nothing.
"""

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import NamedTuple

from trueup.domain.events import SnapshotPage
from trueup.domain.keys import PositionKey

# What one run covers: (category, symbol, settle coin, base coin), as the request asked.
Scope = tuple[str, str | None, str | None, str | None]


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
    """The newest complete snapshot of one scope: what it covers, when it was complete, and
    when its first page came (what it shows is no older)."""

    coverage: Coverage
    at: int
    started_at: int


class PageOutcome(Enum):
    STARTED = "started"  # a first page, with more to come
    CONTINUED = "continued"  # a page that chains on to its run, with more to come
    COMPLETE = "complete"  # the last page of a whole run: the snapshot is complete
    BROKEN = "broken"  # a page that continues no run: nothing follows from it


@dataclass(frozen=True, slots=True)
class PageVerdict:
    outcome: PageOutcome
    # Set on COMPLETE: every key the run listed.
    listed: frozenset[PositionKey] = frozenset()
    # Why the page proves nothing, or why an unfinished run it replaced was given up.
    problem: str | None = None
    # Set on COMPLETE: when the run's first page came, so what it shows is no older.
    started_at: int | None = None


@dataclass(slots=True)
class _Run:
    started_at: int
    next_cursor: str
    cursors: set[str] = field(default_factory=set)
    listed: set[PositionKey] = field(default_factory=set)


def scope_of(page: SnapshotPage) -> Scope:
    return (page.category, page.symbol, page.settle_coin, page.base_coin)


def describe(scope: Scope) -> str:
    category, symbol, settle_coin, base_coin = scope
    if symbol:
        return f"{category} {symbol}"
    # In the domain's words, not a venue's request parameters.
    asked = [f"settled in {settle_coin}"] if settle_coin else []
    asked += [f"on {base_coin}"] if base_coin else []
    return " ".join([category, *asked]) if asked else f"{category} (all)"


class Snapshots:
    """The runs under way for one account, one per scope; ``page`` judges each page."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self._runs: dict[Scope, _Run] = {}

    def page(self, page: SnapshotPage, listed: set[PositionKey], at: int) -> PageVerdict:
        scope = scope_of(page)
        run = self._runs.pop(scope, None)
        if not page.cursor:
            return self._first(scope, page, listed, at, replaced=run)
        problem = self._breaks(run, page, at)
        if run is None or problem is not None:
            return PageVerdict(PageOutcome.BROKEN, problem=problem)
        run.listed |= listed
        return self._next(scope, run, page)

    def _first(
        self,
        scope: Scope,
        page: SnapshotPage,
        listed: set[PositionKey],
        at: int,
        replaced: _Run | None,
    ) -> PageVerdict:
        problem = None
        if replaced is not None:
            problem = f"position snapshot {describe(scope)}: a new run began before the last ended"
        run = _Run(started_at=at, next_cursor="", listed=set(listed))
        verdict = self._next(scope, run, page)
        if verdict.outcome is PageOutcome.CONTINUED:
            verdict = PageVerdict(PageOutcome.STARTED, problem=problem)
        elif problem is not None:
            verdict = PageVerdict(verdict.outcome, verdict.listed, problem, verdict.started_at)
        return verdict

    def _next(self, scope: Scope, run: _Run, page: SnapshotPage) -> PageVerdict:
        if not page.next_cursor:
            return PageVerdict(
                PageOutcome.COMPLETE, listed=frozenset(run.listed), started_at=run.started_at
            )
        if page.next_cursor in run.cursors or page.next_cursor == page.cursor:
            return PageVerdict(
                PageOutcome.BROKEN,
                problem=f"position snapshot {describe(scope)}: the cursors go round in a loop",
            )
        run.cursors.add(page.next_cursor)
        run.next_cursor = page.next_cursor
        self._runs[scope] = run
        return PageVerdict(PageOutcome.CONTINUED)

    def _breaks(self, run: _Run | None, page: SnapshotPage, at: int) -> str | None:
        """Why this later page cannot continue ``run``; None when it can."""
        what = f"position snapshot {describe(scope_of(page))}"
        if run is None:
            return f"{what}: page at cursor {page.cursor!r:.60} continues no run (page 1 missing)"
        if page.cursor != run.next_cursor:
            return (
                f"{what}: page at cursor {page.cursor!r:.60} does not follow the last page "
                f"(expected {run.next_cursor!r:.60}): pages lost or from another run"
            )
        if at - run.started_at > self.timeout_ms:
            return f"{what}: run took over {self.timeout_ms} ms, its pages may disagree"
        return None

    def abandon_all(self) -> None:
        """A page was refused: every run under way lost a page, so none can complete."""
        self._runs.clear()

    def expired(self, now: int) -> list[Scope]:
        """Drop and name the runs left unfinished for longer than the timeout."""
        if not self._runs:
            return []  # the common case, asked on every input
        late = [s for s, run in self._runs.items() if now - run.started_at >= self.timeout_ms]
        for scope in late:
            del self._runs[scope]
        return sorted(late, key=repr)

    def under_way(self) -> list[Scope]:
        return sorted(self._runs, key=repr)
