"""One symbol's inputs as the audit index lists them (see audit_index.py): the read side,
which projections/indexed_audit.py walks.

Index rows are keyed by the last account version of the batch that wrote them, and list
versions after the previous row's key: the rows after key ``a`` hold every version after
``a``, and the first row keyed at or after ``v`` is the only later one holding ``v``.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from uuid import UUID

from trueup.adapters.store.audit_index import (
    AccountEntry,
    ScopeEntry,
    account_index_id,
    decode_versions,
    scope_index_id,
    symbol_index_id,
)
from trueup.adapters.store.row_queries import StreamRow
from trueup.domain.events import InputEvent
from trueup.domain.snapshots import Scope

ROWS = 2000  # index rows read in one query, at most
FEW_ROWS = 4  # a first read of a scope's rows: what is wanted is seldom far

Rows = list[tuple[int, bytes]]  # (version, state)


@dataclass(frozen=True)
class IndexRows:
    """How the history reads the journal (each call waits out an unreachable store)."""

    after: Callable[[UUID, int, int], Rows]  # (stream, after, limit): ascending
    back: Callable[[UUID, int, int], Rows]  # (stream, upto, limit): descending
    versions: Callable[[UUID, Sequence[int]], list[StreamRow]]  # (stream, versions): those rows
    decode: Callable[[StreamRow], InputEvent | None]  # an input's row


class IndexedHistory:
    """One symbol's inputs in one account stream, found through the audit index."""

    def __init__(
        self, rows: IndexRows, account_stream: UUID, symbol: str, entries: list[AccountEntry]
    ) -> None:
        self._rows = rows
        self._stream = account_stream
        self._symbol = symbol
        self._entries = entries

    @classmethod
    def open(cls, rows: IndexRows, account_stream: UUID, symbol: str) -> "IndexedHistory | None":
        """The symbol's history, or None when not all the account's inputs are indexed: an
        older trueup wrote the first of them (the index begins later, or not at all)."""
        entries = [
            AccountEntry.decode(state)
            for _, state in _all_rows(rows, account_index_id(account_stream))
        ]
        starts = [e.indexed_from for e in entries if e.indexed_from is not None]
        if not starts or min(starts) != 1:
            return None
        return cls(rows, account_stream, symbol, entries)

    @property
    def tangled(self) -> bool:
        """Whether the symbol's inputs are tangled with another's (AccountEntry.tangled): only
        a read of the whole account audits it."""
        return any(self._symbol in e.tangled for e in self._entries)

    def scopes(self) -> list[Scope]:
        return list(dict.fromkeys(s for e in self._entries for s in e.scopes))

    def own(self) -> list[int]:
        versions = {v for _, state in self._symbol_rows() for v in decode_versions(state)}
        versions.update(v for e in self._entries for v in e.wide)
        return sorted(versions)

    def _symbol_rows(self) -> Iterator[tuple[int, bytes]]:
        return _all_rows(self._rows, symbol_index_id(self._stream, self._symbol))

    def refused(self) -> list[int]:
        return sorted(v for e in self._entries for v in e.refused)

    def pages(self, scope: Scope, after: int) -> Iterator[int]:
        stream = scope_index_id(self._stream, scope)
        for _, state in _all_rows(self._rows, stream, after, FEW_ROWS):
            yield from (v for v in ScopeEntry.decode(state).pages if v > after)

    def pages_back(self, scope: Scope, upto: int) -> Iterator[tuple[int, bool]]:
        stream = scope_index_id(self._stream, scope)
        holding = self._rows.after(stream, upto - 1, 1)  # the one row keyed at or after upto
        for _, state in chain(holding, _rows_back(self._rows, stream, upto - 1)):
            entry = ScopeEntry.decode(state)
            firsts = set(entry.firsts)
            for version in reversed(entry.pages):
                if version <= upto:
                    yield version, version in firsts

    def following(self, after: int) -> Iterator[int]:
        """Every version of the account stream after ``after``, ascending."""
        for version, _ in _all_rows(self._rows, self._stream, after, FEW_ROWS):
            yield version

    def events(self, versions: Sequence[int]) -> dict[int, tuple[int, InputEvent]]:
        found: dict[int, tuple[int, InputEvent]] = {}
        for row in self._rows.versions(self._stream, versions):
            event = self._rows.decode(row)
            if event is not None:
                found[row.version] = (row.position, event)
        return found


def _all_rows(
    rows: IndexRows, stream: UUID, after: int = 0, first: int = ROWS
) -> Iterator[tuple[int, bytes]]:
    """Every row of ``stream`` keyed after ``after``, ascending, a page at a time: the first
    of ``first`` rows, each next twice as long, up to ROWS."""
    limit = first
    while True:
        page = rows.after(stream, after, limit)
        yield from page
        if len(page) < limit:
            return
        after = page[-1][0]
        limit = min(2 * limit, ROWS)


def _rows_back(rows: IndexRows, stream: UUID, upto: int) -> Iterator[tuple[int, bytes]]:
    """Every row of ``stream`` keyed at or before ``upto``, latest first, in pages growing
    from FEW_ROWS: a run's first page is seldom far back."""
    limit = FEW_ROWS
    while True:
        page = rows.back(stream, upto, limit)
        yield from page
        if len(page) < limit:
            return
        upto = page[-1][0] - 1
        limit = min(2 * limit, ROWS)
