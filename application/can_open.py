"""The can-open use case: may the trading system open a symbol now? Every reason against,
never just the first; judged from the persisted views when they are current, else by a replay.

A module of its own, not only a method of TrueupService: `trueup can-open`, the question a
bot asks most, imports this and the views, and none of the service's other answers.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from trueup.adapters import venues
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.store.journal import Journal
from trueup.adapters.venue import Venue
from trueup.domain.emitted import CooldownStarted
from trueup.domain.errors import shown
from trueup.domain.rules.can_open import (
    UNKNOWN_ACCOUNT,
    AccountFacts,
    SymbolFacts,
    Verdict,
    judge,
)
from trueup.domain.vocabulary import PositionSide
from trueup.projections.view_reader import ViewReader
from trueup.projections.views import AccountView

JSON = dict[str, Any]

# What the views say of a symbol they have never seen.
NOTHING_HELD = SymbolFacts((), (), None)
NEVER_STARTED = (
    "the cooldown is how the inputs dated by then add up: trueup, which took some of them "
    "after later inputs (stored out of time order), never started it"
)


@dataclass(frozen=True, slots=True)
class CanOpenAnswer:
    """May the trading system open ``symbol`` now? Every reason against, and notes."""

    venue: str
    account: str
    symbol: str
    allowed: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> JSON:
        """The verdict alone, as another answer holds it (a position's diagnosis)."""
        return {"allowed": self.allowed, "reasons": self.reasons, "notes": self.notes}

    def as_document(self) -> JSON:
        """The verdict with what it is about: the answer of `trueup can-open --json`, HTTP
        and NATS, built here only so that they cannot differ."""
        return {"venue": self.venue, "account": self.account, "symbol": self.symbol} | (
            self.as_json()
        )


@dataclass(frozen=True, slots=True)
class CanOpenFacts:
    """What can-open weighs about one symbol, as the journal holds it: judged against the
    clock each time asked (judge_can_open), so it may be kept while the journal's end does
    not move, where a verdict could not."""

    venue: str
    account: str
    symbol: str
    account_facts: AccountFacts
    symbol_facts: SymbolFacts
    # Of a symbol the account has not seen, those it has that differ from it only in case.
    cased_otherwise: tuple[str, ...] = ()
    # Of a replay of the past: its cooldown is one trueup never started (the inputs dated by
    # then add up to it, but trueup took some of them after later inputs).
    cooldown_never_started: bool = False


def answer_can_open(
    journal: Journal,
    venue: str,
    account: str,
    symbol: str,
    *,
    side: PositionSide | None = None,
    timeframe: str | None = None,
    at: int | None = None,
    clock: Clock = wall_clock,
) -> CanOpenAnswer:
    """Yes only if trueup can vouch for it. ``at`` an instant before the account's latest
    input is answered as of then, by a replay."""
    facts = can_open_facts(journal, venue, account, symbol, at=at)
    return judge_can_open(journal, facts, side=side, timeframe=timeframe, at=at, clock=clock)


def can_open_facts(
    journal: Journal, venue: str, account: str, symbol: str, *, at: int | None = None
) -> CanOpenFacts:
    """What can-open weighs, as of ``at`` (None: the journal's end), read from the views
    or a replay. Nothing in it depends on the clock: the same journal, the same facts."""
    found = views_at(journal, venue, account, at)
    if found is not None:
        reader, account_view = found
        symbol_view = reader.symbol(venue, account, symbol)
        held = symbol_view.facts if symbol_view else NOTHING_HELD
        if account_view is None:
            return CanOpenFacts(venue, account, symbol, UNKNOWN_ACCOUNT, held)
        asked = not seen(held) and casing_may_differ(venue, symbol)
        names = reader.account_symbol_names(venue, account) if asked else ()
        cased = cased_otherwise(symbol, names)
        return CanOpenFacts(venue, account, symbol, account_view.facts, held, cased)
    from trueup.domain.rules.can_open_facts import account_facts, symbol_facts
    from trueup.projections.reconciliation import replay

    reconciler = replay(journal, as_of=at, account=(venue, account))
    if (venue, account) not in reconciler.books:
        return CanOpenFacts(venue, account, symbol, UNKNOWN_ACCOUNT, NOTHING_HELD)
    from trueup.projections.view_building import symbols

    book = reconciler.book(venue, account)
    held = symbol_facts(book, reconciler.detectors(venue, account), symbol)
    asked = not seen(held) and casing_may_differ(venue, symbol)
    cased = cased_otherwise(symbol, symbols(book)) if asked else ()
    until = held.cooldown_until
    never_started = (
        at is not None
        and until is not None
        and until > at
        and _processed(journal, venue, account)
        and not _cooldown_started(journal, venue, account, symbol, until)
    )
    return CanOpenFacts(
        venue,
        account,
        symbol,
        account_facts(book, reconciler.config),
        held,
        cased,
        cooldown_never_started=never_started,
    )


def _processed(journal: Journal, venue: str, account: str) -> bool:
    """Whether the account's projection has processed every input stored: only then does a
    cooldown missing from its emitted events tell that it never started one."""
    from trueup.projections.partitions import partition_of, partition_position

    return partition_position(journal, partition_of(venue, account)) >= journal.last_position()


def _cooldown_started(journal: Journal, venue: str, account: str, symbol: str, until: int) -> bool:
    """Whether trueup emitted the COOLDOWN_STARTED of ``symbol`` that ends at ``until``."""
    after = 0
    while True:
        page, last = journal.stored_of_types([CooldownStarted.type], after)
        if not page:
            return False
        for _, event in page:
            if isinstance(event, CooldownStarted) and (
                event.venue,
                event.account,
                event.symbol,
                event.until,
            ) == (venue, account, symbol, until):
                return True
        after = last


def judge_can_open(
    journal: Journal,
    facts: CanOpenFacts,
    *,
    side: PositionSide | None = None,
    timeframe: str | None = None,
    at: int | None = None,
    clock: Clock = wall_clock,
) -> CanOpenAnswer:
    """The verdict on ``facts`` at ``at`` (None: now, by ``clock``): how fresh the exchange
    view is and whether a cooldown has run out are the clock's to say."""
    now = clock() if at is None else at
    venue = venues.find(facts.venue)
    verdict = judge(
        facts.account_facts,
        with_categories(venue, facts.symbol, facts.symbol_facts),
        facts.symbol,
        now,
        side=side,
        timeframe=timeframe,
    )
    if venue is None:
        verdict = verdict.blocked(unread_venue(facts.venue))
    elif misspelt := misspelt_symbol(
        venue, facts.symbol, facts.symbol_facts, facts.cased_otherwise
    ):
        verdict = Verdict(False, [misspelt, *verdict.reasons], verdict.notes)
    if facts.cooldown_never_started:
        verdict = replace(verdict, notes=[*verdict.notes, NEVER_STARTED])
    if journal.unknown_inputs:
        # What those inputs said is unknown, so no answer built without them is vouched for.
        verdict = verdict.blocked(
            f"the journal holds {journal.unknown_inputs} input(s) of types this "
            "trueup cannot read (written by a newer trueup?): upgrade trueup"
        )
    where = (facts.venue, facts.account, facts.symbol)
    return CanOpenAnswer(*where, verdict.allowed, verdict.reasons, verdict.notes)


def with_categories(venue: Venue | None, symbol: str, facts: SymbolFacts) -> SymbolFacts:
    """``facts``, naming the categories ``symbol`` can be of by the venue's rule where the
    account has no key of it: a snapshot of one category never vouches for another's."""
    if facts.categories or venue is None:
        return facts
    named = venue.coins.categories(symbol)
    return replace(facts, categories=named) if named else facts


def unread_venue(name: str) -> str:
    """Why nothing can be known of an account on ``name``, a venue trueup does not read."""
    return f"trueup reads no venue {name!r} (it reads {', '.join(venues.SHOWN_NAMES)})"


def misspelt_symbol(
    venue: Venue, symbol: str, facts: SymbolFacts, cased: tuple[str, ...] = ()
) -> str | None:
    """Why ``symbol`` cannot be one of ``venue``'s (naming the one meant where it can), or
    None; a name the account has seen is the venue's, however it is spelt. ``cased``: the
    account's symbols that differ from it only in case (``cased_otherwise``). can-open and
    the triggers judge a symbol by this one rule."""
    # Nothing is known of a name the venue cannot have: "nothing held" would be a guess,
    # and a wrong one when the account holds it under the venue's spelling.
    if seen(facts):
        return None
    misspelt = venue.misspelt(symbol)
    if misspelt is None and cased:
        # A venue of case-sensitive names (Hyperliquid's kPEPE is not KPEPE) may well list
        # both, but "btc" beside the account's BTC is a bot's lower-casing: a "yes" for it
        # would pass over BTC's cooldown or position.
        return (
            f"{venue.name}'s symbols are case-sensitive: the account has {cased[0]}, "
            f"not {shown(symbol)}"
        )
    return misspelt


def casing_may_differ(venue_name: str, symbol: str) -> bool:
    """Whether the venue's rule admits ``symbol`` in another case too (Hyperliquid's does):
    only then is the account asked for its symbols, 0.12 ms for 100 of them, where the rule
    alone answers for an upper-case venue (Bybit's, Aster's) at every can-open of a new one."""
    venue = venues.find(venue_name)
    other = symbol.swapcase()
    return venue is not None and other != symbol and venue.misspelt(other) is None


def cased_otherwise(symbol: str, names: Iterable[str]) -> tuple[str, ...]:
    """Those of ``names`` (an account's symbols) that differ from ``symbol`` only in case."""
    folded = symbol.casefold()
    return tuple(sorted(n for n in names if n != symbol and n.casefold() == folded))


def seen(facts: SymbolFacts) -> bool:
    """Whether the account has anything of the symbol: a key, an entry, a cooldown."""
    return bool(facts.keys or facts.entries or facts.cooldown_until is not None)


def views_at(
    journal: Journal, venue: str, account: str, at: int | None
) -> tuple[ViewReader, AccountView | None] | None:
    """The views, if they answer for the account as of ``at`` (None: now)."""
    reader = ViewReader(journal)
    if not reader.answer_for((venue, account)):
        return None
    account_view = reader.account(venue, account)
    if at is not None and account_view is not None and at < account_view.freshness.as_of:
        return None  # the past: only a replay knows it
    if at is not None and journal.rules_changed_after(at):
        return None  # the views weigh by today's rules, which may not have been in force then
    return reader, account_view
