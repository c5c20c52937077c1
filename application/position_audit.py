"""The audit use case: one position's history, read from the journal, as of any instant.

A module of its own, not only a method of TrueupService: `trueup audit` imports this and
the fold, and none of the views, answers and rules the service's other answers load.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from trueup.adapters.store.journal import Journal

if TYPE_CHECKING:
    from trueup.projections.audit import Audit


class SeveralLegs(LookupError):
    """A symbol with positions at more than one idx (hedge mode's two legs), and none chosen:
    which one is meant cannot be guessed."""

    def __init__(self, symbol: str, legs: Iterable[int]) -> None:
        self.symbol, self.legs = symbol, tuple(sorted(set(legs)))
        super().__init__(f"{symbol} has positions at idx {', '.join(map(str, self.legs))}")


def no_position(venue: str, account: str, result: "Audit") -> str:
    """Why an audit found nothing to show: the symbol unknown as of the instant asked, or
    known at other idx than the one asked (named, so the caller can ask for one of them)."""
    from trueup.domain.instants import iso

    legs = sorted({k.position_idx for k in result.symbol_keys})
    asked = "" if result.position_idx is None or not legs else f" at idx {result.position_idx}"
    when = "" if result.as_of is None else f" as of {iso(result.as_of)}"
    found = f" ({SeveralLegs(result.symbol, legs)})" if asked else ""
    return f"no position {result.symbol}{asked} for {venue}/{account} in the journal{when}{found}"


def audit_position(
    journal: Journal,
    venue: str,
    account: str,
    symbol: str,
    *,
    position_idx: int | None = None,
    as_of: int | None = None,
) -> "Audit":
    """How the position came to be what it is: every input that changed it, and its
    state as of ``as_of`` (now when None), each close in it told emitted or not."""
    result = _replayed(journal, venue, account, symbol, position_idx=position_idx, as_of=as_of)
    closes = result.closes
    if closes:
        held = journal.emitted_held(closes)
        result.unemitted = frozenset(c.event_id for c in closes if c.event_id not in held)
    return result


def _replayed(
    journal: Journal,
    venue: str,
    account: str,
    symbol: str,
    *,
    position_idx: int | None,
    as_of: int | None,
) -> "Audit":
    """The audit's fold. Read through the audit index, so its cost follows the symbol's
    history; an account an older trueup began, by a full read; a symbol a hostile session
    tangled with another, by a read of the whole account."""
    from trueup.projections.audit import audit, audit_marked
    from trueup.projections.indexed_audit import audit_indexed

    # Each input folded under the rules recorded before it in the journal, as the reconciler
    # folded it; risk weighed as the rules in force at the instant audited would.
    rules = journal.rules_recorded()
    # The account's clock where an input came stored after later ones, filled as they are
    # read: the audit's book lets go of what the account's fold let go of then.
    clocks: dict[int, int] = {}
    index = journal.symbol_history(venue, account, symbol, clocks)
    if index is not None and not index.tangled:
        return audit_indexed(
            venue,
            account,
            index,
            symbol=symbol,
            position_idx=position_idx,
            as_of=as_of,
            rules=rules,
            clocks=clocks,
            every_account=journal.inputs_of_every_account,
        )
    if index is None:
        # Its inputs, read from the whole account; and, while a close awaits its cause,
        # the others too, for their instants (one may end the close's grace).
        return audit_marked(
            venue,
            account,
            journal.symbol_inputs(venue, account, symbol, clocks),
            symbol=symbol,
            position_idx=position_idx,
            as_of=as_of,
            rules=rules,
            clocks=clocks,
            every_account=journal.inputs_of_every_account,
        )
    # A symbol tangled with another (a hostile session's: audit_index.AccountEntry.tangled)
    # folds every input of the account, as the reconciler did.
    inputs = journal.account_inputs(venue, account, None, clocks)
    return audit(
        venue,
        account,
        inputs,
        symbol=symbol,
        position_idx=position_idx,
        as_of=as_of,
        rules=rules,
        clocks=clocks,
        every_account=journal.inputs_of_every_account,
    )
