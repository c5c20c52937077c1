"""The audit of one symbol through the journal's audit index: the same timeline and state as
folding the account's inputs that may concern the symbol, reading only those that can.

Those are the symbol's own inputs (and intents for its positions and orders), the inputs
that bear on every position, and the snapshot pages that can flatten one of its keys. A
complete position snapshot flattens the keys it covers and omits, but only keys the
exchange holds or never reported: while the symbol has none such, pages that do not list
it change nothing of it, and are not read. When it comes to have one, the pages from then
on are read, with the refused pages that break their runs; and the run each covering scope
has under way is rebuilt first from its own pages, so the next page is judged as it was.

While a close of the symbol awaits its cause (domain/rules/manual_close.py), every input of
the account is read, another symbol's and a clock tick too: the first past the close's
grace reports it in the account's fold, and so in the audit, which takes the instant of
those it does not fold (Auditor.pass_time).

A book that lets go of what has finished (domain/retention.py) lets go as of fixed sweep
instants of its clock, so the walk, skipping inputs, lets go where the account's fold did;
and before an input stored after later ones it catches up to the clock the journal kept
with it (adapters/store/account_clock.py), which the inputs skipped had moved.
"""

from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from trueup.adapters.store.upcast import coverage
from trueup.domain.book import AccountBook
from trueup.domain.coverage import Coverage
from trueup.domain.events import InputEvent, PositionsReported
from trueup.domain.keys import PositionKey
from trueup.domain.rules.in_force import RulesInForce
from trueup.domain.snapshots import Scope, Snapshots
from trueup.projections.audit import Audit, Auditor, EveryAccount

# Inputs read in one query, looking ahead in a lane: the symbol's own are all wanted; a
# scope's pages only while the scope stays live, often one or two, so its reads begin small
# and double while it lasts.
OWN_FETCH = 256
PAGE_FETCH = 2


class SymbolIndex(Protocol):
    """One symbol's inputs as the audit index lists them, by version in the account stream."""

    def scopes(self) -> list[Scope]:
        """Every scope the account's position snapshots were asked for."""

    def own(self) -> list[int]:
        """The symbol's inputs, with those that bear on every position, ascending."""

    def refused(self) -> list[int]:
        """Refused snapshot pages, ascending."""

    def pages(self, scope: Scope, after: int) -> Iterator[int]:
        """Snapshot pages of ``scope`` after version ``after``, ascending."""

    def pages_back(self, scope: Scope, upto: int) -> Iterator[tuple[int, bool]]:
        """Pages of ``scope`` at or before ``upto``, latest first, each with whether it
        begins a run."""

    def following(self, after: int) -> Iterator[int]:
        """Every input of the account after version ``after``, ascending: while a close of
        the symbol awaits its cause, any of them may end its grace."""

    def events(self, versions: Sequence[int]) -> dict[int, tuple[int, InputEvent]]:
        """The inputs at those versions (those this trueup can read), each with its position
        in the journal."""


def audit_indexed(
    venue: str,
    account: str,
    index: SymbolIndex,
    *,
    symbol: str,
    position_idx: int | None = None,
    as_of: int | None = None,
    rules: RulesInForce | None = None,
    clocks: Mapping[int, int] | None = None,
    every_account: EveryAccount | None = None,
) -> Audit:
    """The audit ``projections.audit.audit`` gives of the account's inputs, from the index
    (``clocks`` and ``every_account`` as that takes them, ``clocks`` filled as the index is
    read)."""
    auditor = Auditor(
        venue,
        account,
        symbol,
        position_idx,
        as_of,
        rules=rules,
        clocks=clocks,
        every_account=every_account,
    )
    _Walk(auditor, index).run()
    return auditor.finished()


class _Lane:
    """Ascending versions from one source, read ahead as far as asked."""

    def __init__(self, versions: Iterable[int], fetch: int) -> None:
        self._source = iter(versions)
        self._ahead: deque[int] = deque()
        self._fetch = fetch

    def to_fetch(self) -> list[int]:
        """The versions to read at once from here: twice as many each time, up to OWN_FETCH."""
        versions = self.ahead(self._fetch)
        self._fetch = min(2 * self._fetch, OWN_FETCH)
        return versions

    def head(self) -> int | None:
        if not self._ahead:
            self.ahead(1)
        return self._ahead[0] if self._ahead else None

    def ahead(self, count: int) -> list[int]:
        """The next ``count`` versions (fewer at the end), left in the lane."""
        while len(self._ahead) < count:
            version = next(self._source, None)
            if version is None:
                break
            self._ahead.append(version)
        return list(self._ahead)[:count]

    def drop(self, version: int) -> None:
        if self._ahead and self._ahead[0] == version:
            self._ahead.popleft()


class _Walk:
    """Feeds the auditor the index's inputs in version order, following which snapshot
    scopes can change the symbol now (its live scopes)."""

    def __init__(self, auditor: Auditor, index: SymbolIndex) -> None:
        self.auditor = auditor
        self.book: AccountBook = auditor.book
        self.index = index
        self.symbol = auditor.result.symbol
        venue = self.book.venue
        self.coverages: dict[Scope, Coverage] = {s: coverage(venue, s) for s in index.scopes()}
        self.covering = [s for s in index.scopes() if self._covers(s)]
        self.all_refused = index.refused()
        self.own = _Lane(index.own(), OWN_FETCH)
        self.live: dict[Scope, _Lane] = {}
        self.refusals: _Lane | None = None
        # Every input of the account, while a close of the symbol awaits its cause.
        self.passing: _Lane | None = None
        self.fetched: dict[int, tuple[int, InputEvent]] = {}
        self._keys: list[PositionKey] = []
        self._keys_seen = (0, 0)

    def _covers(self, scope: Scope) -> bool:
        """Whether ``scope``'s pages speak for the symbol (in the scope's category)."""
        return self.coverages[scope].covers(scope[0], self.symbol)

    def run(self) -> None:
        own, auditor = self.own, self.auditor
        while True:
            passing = False
            if self.live or self.refusals is not None or self.passing is not None:
                step = self._merged()
                if step is None:
                    return
                version, stored, passing = step
            else:  # only the symbol's own inputs can change it now: nothing to merge
                head = own.head()
                if head is None:
                    return
                version, stored = head, self._fetch(head, own)
                own.drop(version)
            if len(self.fetched) > 4 * OWN_FETCH:
                self._forget_fetched_before(version)
            if stored is not None:
                if passing:
                    auditor.pass_time(*stored)
                else:
                    auditor.take(*stored)
                    if self.covering:
                        self._follow(version)
            self._follow_time(version)

    def _follow_time(self, version: int) -> None:
        """After the input at ``version``: read every input of the account while a close
        awaits its cause, and only then."""
        if not self.auditor.awaiting:
            self.passing = None
        elif self.passing is None:
            self.passing = _Lane(self.index.following(version), PAGE_FETCH)

    def _merged(self) -> tuple[int, tuple[int, InputEvent] | None, bool] | None:
        """The next input of all the lanes, in version order (None: none left), read and
        dropped from each lane that holds it; and whether only the passing lane held it (an
        input the audit takes the instant of alone)."""
        lanes = [self.own, *self.live.values()]
        if self.refusals is not None:
            lanes.append(self.refusals)
        heads = [(head, lane) for lane in lanes if (head := lane.head()) is not None]
        passing = self.passing
        passing_head = passing.head() if passing is not None else None
        if passing_head is not None and (not heads or passing_head < min(h for h, _ in heads)):
            assert passing is not None
            event = self._fetch(passing_head, passing)
            passing.drop(passing_head)
            return passing_head, event, True
        if not heads:
            return None
        version, first = min(heads, key=lambda pair: pair[0])
        event = self._fetch(version, first)
        for lane in lanes:
            lane.drop(version)
        if passing is not None:
            passing.drop(version)
        return version, event, False

    def _fetch(self, version: int, lane: _Lane) -> tuple[int, InputEvent] | None:
        if version not in self.fetched:
            wanted = [v for v in lane.to_fetch() if v not in self.fetched]
            self.fetched.update(self.index.events(wanted or [version]))
        return self.fetched.pop(version, None)

    def _forget_fetched_before(self, version: int) -> None:
        """Drop inputs read ahead for a scope that stopped being live before reaching them."""
        for stale in [v for v in self.fetched if v < version]:
            del self.fetched[stale]

    # --- which scopes can change the symbol now ---------------------------------------------

    def _follow(self, version: int) -> None:
        """After the input at ``version``: read the pages of the scopes that can now flatten
        a key of the symbol, and only those."""
        live = self._live_scopes()
        if live.keys() == self.live.keys():
            return
        entered = live.keys() - self.live.keys()
        self.live = {
            scope: self.live.get(scope) or _Lane(self.index.pages(scope, version), PAGE_FETCH)
            for scope in live
        }
        if not live:
            self.refusals = None
        elif self.refusals is None:
            self.refusals = _Lane((v for v in self.all_refused if v > version), PAGE_FETCH)
        if entered:
            # The entered lanes' first pages come in the same read as the runs' pages.
            ahead = [v for s in entered for v in self.live[s].to_fetch()]
            self._rebuild_runs(sorted(live, key=repr), version, ahead)

    def _live_scopes(self) -> dict[Scope, None]:
        """The covering scopes of every key of the symbol a complete snapshot could flatten:
        one the exchange holds, or has never reported, or a lifecycle of trueup's fills
        holds (domain/position.py, ``LIST_SETTLES_MS``)."""
        live: dict[Scope, None] = {}
        positions, ledgers = self.book.positions, self.book.pnl.keys
        for key in self._symbol_keys():
            position, ledger = positions.get(key), ledgers.get(key)
            filled = ledger is not None and ledger.open is not None
            report = None if position is None else position.exchange
            if filled or (position is not None and (report is None or report.size != 0)):
                live.update(
                    (s, None)
                    for s in self.covering
                    if self.coverages[s].covers(key.category, key.symbol)
                )
        return live

    def _symbol_keys(self) -> list[PositionKey]:
        """The symbol's keys in the book and in its PnL ledger, looked for again only when
        either's keys change."""
        positions, ledgers = self.book.positions, self.book.pnl.keys
        seen = (len(positions), len(ledgers))
        if seen != self._keys_seen or any(
            k not in positions and k not in ledgers for k in self._keys
        ):
            symbol = self.symbol
            self._keys = sorted({k for k in (*positions, *ledgers) if k.symbol == symbol})
            self._keys_seen = seen
        return self._keys

    # --- rebuilding the runs under way --------------------------------------------------------

    def _rebuild_runs(self, scopes: list[Scope], version: int, ahead: list[int]) -> None:
        """Make the book's pagination runs those of a book that had read every page up to
        ``version``, for ``scopes``: the pages skipped since can break or extend a run.
        ``ahead``: inputs to read with theirs, for later."""
        runs = {scope: self._run_pages(scope, version) for scope in scopes}
        wanted = [v for pages in runs.values() for v in pages] + ahead
        found = self.index.events(wanted) if wanted else {}
        self.fetched.update((v, e) for v, e in found.items() if v > version)
        self.book.snapshots.abandon_all()
        for scope, pages in runs.items():
            for where, event in self._under_way(scope, [found[v] for v in pages if v in found]):
                # Folded before, or of no effect on the symbol then: only its run is wanted.
                self.auditor.take(where, event, noted=False)

    def _run_pages(self, scope: Scope, version: int) -> list[int]:
        """The pages of ``scope`` from the last to begin a run, up to ``version``; none if no
        run began, or a refused page broke it since."""
        pages: list[int] = []
        for page, begins in self.index.pages_back(scope, version):
            pages.append(page)
            if begins and self._any_visible([page]):
                pages.reverse()
                return [] if self._refused_between(pages[0], version) else pages
        return []

    def _under_way(
        self, scope: Scope, stored: list[tuple[int, InputEvent]]
    ) -> list[tuple[int, InputEvent]]:
        """``stored`` (a scope's pages from a run's first, with their journal positions), if
        their run is still under way after them; else none (it completed or broke)."""
        pages = [
            (where, e, e.snapshot)
            for where, e in stored
            if isinstance(e, PositionsReported) and e.snapshot is not None
            and self.auditor.visible(e)
        ]  # fmt: skip
        runs = Snapshots(self.book.snapshots.timeout_ms)
        for where, event, page in pages:
            runs.timeout_ms = self.auditor.rules_before(where).pagination_timeout_ms
            runs.page(page, set(), event.at)
        return [(p, e) for p, e, _ in pages] if scope in runs.under_way() else []

    def _refused_between(self, first: int, version: int) -> bool:
        """Whether a refused page after ``first``, up to ``version``, broke every run."""
        return self._any_visible([v for v in self.all_refused if first < v <= version])

    def _any_visible(self, versions: list[int]) -> bool:
        if self.auditor.result.as_of is None:  # then all are: no need to read them
            return bool(versions)
        return bool(self._visible(versions))

    def _visible(self, versions: Sequence[int]) -> list[InputEvent]:
        found = self.index.events(versions) if versions else {}
        events = [found[v][1] for v in versions if v in found]
        return [e for e in events if self.auditor.visible(e)]
