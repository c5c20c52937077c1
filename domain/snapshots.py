"""Paginated position snapshots: pages add up to a snapshot only when their run is whole.

A snapshot says which positions are flat (those it does not list), so it is the one input
that can close a position by omission. It is complete only when every page of one run,
from the first request (no cursor) to the last page (no next cursor), was accepted, their
cursors chain, and the run took no longer than its timeout. Anything else proves nothing.
"""

from dataclasses import dataclass, field
from enum import Enum

from trueup.domain.events import SnapshotPage
from trueup.domain.keys import PositionKey

# What one run covers: (category, symbol, settle coin, base coin), as the request asked.
Scope = tuple[str, str | None, str | None, str | None]


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
    # Set on COMPLETE: when the run's first page came, so what it shows is no older, and
    # the venue's time it was served at (the earliest of the run's pages'): a key it omits
    # may have opened after the page that would have listed it.
    started_at: int | None = None
    served_from: int | None = None


@dataclass(slots=True)
class _Run:
    started_at: int
    served_from: int
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

    def __reduce__(self) -> tuple[object, ...]:
        # Snapshotted as made by its constructor, then given its runs: compiled (setup.py),
        # a class whose constructor takes arguments cannot be made without them.
        return Snapshots, (self.timeout_ms,), {"_runs": self._runs}

    def page(self, page: SnapshotPage, listed: set[PositionKey], at: int) -> PageVerdict:
        scope = scope_of(page)
        run = self._runs.pop(scope, None)
        if not page.cursor:
            return self._first(scope, page, listed, at, replaced=run)
        problem = self._breaks(run, page, at)
        if run is None or problem is not None:
            return PageVerdict(PageOutcome.BROKEN, problem=problem)
        run.listed |= listed
        run.served_from = min(run.served_from, page.server_time)
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
        run = _Run(started_at=at, served_from=page.server_time, next_cursor="", listed=set(listed))
        verdict = self._next(scope, run, page)
        if verdict.outcome is PageOutcome.CONTINUED:
            verdict = PageVerdict(PageOutcome.STARTED, problem=problem)
        elif problem is not None:
            verdict = PageVerdict(
                verdict.outcome,
                verdict.listed,
                problem,
                verdict.started_at,
                verdict.served_from,
            )
        return verdict

    def _next(self, scope: Scope, run: _Run, page: SnapshotPage) -> PageVerdict:
        if not page.next_cursor:
            return PageVerdict(
                PageOutcome.COMPLETE,
                listed=frozenset(run.listed),
                started_at=run.started_at,
                served_from=run.served_from,
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
