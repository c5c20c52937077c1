"""The persisted views read back, and whether they can answer for now.

They answer for an account when the projection wrote them in this trueup's format (or has
processed nothing, and wrote none) and no input that bears on the account (its own, a
change of rules, a tick for every account) is stored after the projection's position;
otherwise the caller replays (slower, as right).
"""

from trueup.adapters.store.journal import PAGE, Journal
from trueup.adapters.store.view_table import RecentKind
from trueup.domain.events import RulesSet
from trueup.projections import views
from trueup.projections.partitions import (
    ALL,
    partition_of,
    partition_position,
    tracked_position,
    tracker,
)
from trueup.projections.views import AccountView, SymbolView

Account = tuple[str, str]


class ViewReader:
    """Reads the projection's views out of a journal."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._table = journal.views()

    def answer_for(self, account: Account | None) -> bool:
        """Whether the views are current for ``account`` (for every account when None)."""
        numbers = ALL if account is None else (partition_of(*account),)
        # The position first: views are written with it, so they are at least as new.
        position = tracked_position(self.journal, numbers)
        if not all(self._written_or_untouched(n) for n in numbers):
            return False
        tail, last = self.journal.inputs(position, limit=PAGE)
        for _, event in tail:
            if account is None or isinstance(event, RulesSet) or not event.venue:
                return False
            if (event.venue, event.account) == account:
                return False
        # Past a page of them, the projection is too far behind to be worth reading on.
        return last == position or self.journal.inputs(last, limit=1)[1] == last

    def written_for(self, account: Account) -> bool:
        """Whether the account's views are this trueup's to read, however far behind the
        journal they may be (``answer_for`` asks that they are current too)."""
        return self._written_or_untouched(partition_of(*account))

    def symbols_after(self, account: Account) -> set[str]:
        """The symbols the account's inputs stored after the projection's position name:
        what its views do not know yet (of a page of inputs at most)."""
        position = tracked_position(self.journal, (partition_of(*account),))
        tail, _ = self.journal.inputs(position, limit=PAGE)
        return {
            symbol
            for _, event in tail
            if (event.venue, event.account) == account
            for symbol in event.symbols or ()
        }

    def _written_or_untouched(self, number: int) -> bool:
        """Whether the partition's views are this trueup's, or there are none because it has
        processed nothing: empty views are current while no input bears on it (checked by
        the caller), so a new journal is answered without loading the projection."""
        found = self._table.format(tracker(number))
        if found is None:
            return partition_position(self.journal, number) == 0
        return found == views.VIEWS_FORMAT

    def account(self, venue: str, account: str) -> AccountView | None:
        stored = self._table.account(venue, account)
        return None if stored is None else views.decode_account(stored)

    def symbol(self, venue: str, account: str, symbol: str) -> SymbolView | None:
        stored = self._table.symbol(venue, account, symbol)
        return None if stored is None else views.decode_symbol(stored)

    def accounts(self) -> list[AccountView]:
        return [views.decode_account(stored) for stored in self._table.accounts()]

    def symbols(self) -> list[SymbolView]:
        return [views.decode_symbol(stored) for stored in self._table.symbols()]

    def account_symbols(self, venue: str, account: str) -> list[SymbolView]:
        return [views.decode_symbol(s) for s in self._table.account_symbols(venue, account)]

    def account_symbol_names(self, venue: str, account: str) -> list[str]:
        return list(self._table.account_symbol_names(venue, account))

    def recent_emitted(self, venue: str, account: str, symbol: str, limit: int) -> list[bytes]:
        """The last ``limit`` events emitted on ``symbol`` or the whole account, newest last."""
        table = self._table
        mine = table.recent(venue, account, RecentKind.EMITTED, symbol, limit)
        wide = table.recent(venue, account, RecentKind.EMITTED, "", limit)
        newest = sorted([*mine, *wide], reverse=True)[:limit]
        return [body for *_, body in reversed(newest)]

    def formats_current(self) -> bool:
        """Whether every partition's views were written in this trueup's format."""
        return all(self._table.format(tracker(n)) == views.VIEWS_FORMAT for n in ALL)

    def history(
        self, venue: str | None, account: str | None, symbol: str | None, since: int
    ) -> list[bytes]:
        """The closed lifecycles the projection has recorded, by close."""
        return self._table.history(venue, account, symbol, since)

    def recent_refused(self, venue: str, account: str, limit: int) -> list[bytes]:
        """The last ``limit`` inputs of the account that were refused, newest last."""
        newest = self._table.recent(venue, account, RecentKind.REJECTED, "", limit)
        return [body for *_, body in reversed(newest)]
