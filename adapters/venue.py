"""What a venue provides trueup, in one definition (docs/venues.md): its wire format, its
live feed, and where it has them its public prices and its execution client.

Each venue's package exports one ``VENUE``; adapters/venues.py lists them. Every part that
loads a client or an SDK is a factory, imported when called: naming a venue loads nothing.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from trueup.domain.vocabulary import ContractKind

if TYPE_CHECKING:  # named only: the definition loads no wire format, feed or client
    from trueup.adapters.envelope import Envelope
    from trueup.adapters.feed import Clock
    from trueup.adapters.orders import ExecutionClient
    from trueup.adapters.payload import Payload
    from trueup.adapters.supervised_feed import SupervisedFeed
    from trueup.adapters.wire_errors import ErrorReply
    from trueup.domain.events import InputEvent


class SettingRefused(ValueError):
    """A feed or client that cannot be built as asked: a missing credential, an account the
    venue would not recognise. Its message is one line, for the operator."""


@dataclass(frozen=True)
class Wire:
    """How a venue's capture lines become domain inputs, and what its refusals mean."""

    # One capture line's fields (channel ws or rest) into the input they report.
    decode: Callable[["Envelope", str, "Payload"], "InputEvent"]
    # Whether an error reply says we ask too often (a RATE_LIMITED refusal).
    rate_limited: Callable[["ErrorReply"], bool]
    # The REST endpoints whose replies list every position held: complete snapshots.
    position_snapshots: tuple[str, ...]


class Contract(NamedTuple):
    """What a contract is on (base), quoted in, settled in (the coin its PnL is paid in), and
    the coin a position's notional is counted in (the settle coin of a linear contract; an
    inverse one's size unit)."""

    base: str
    quote: str
    settle: str
    counted_in: str


def _linear(category: str, symbol: str) -> ContractKind:
    return ContractKind.LINEAR


def _untold_forms(category: str, settle_coin: str | None, base_coin: str | None) -> tuple[str, ...]:
    return ()


def _untold_categories(symbol: str) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Coins:
    """The coins a venue counts money in, as only its own adapter knows them."""

    # (category, symbol) to its contract; None where the venue's name for it does not say.
    contract: Callable[[str, str], Contract | None]
    # The coin the venue states an account's equity in; None where trueup does not know.
    equity: str | None
    # (category, symbol) to how the contract is sized: linear unless the venue says.
    kind: Callable[[str, str], ContractKind] = _linear
    # (category, settle coin, base coin, each None where not asked) to the forms (regular
    # expressions, of whole names) of the symbols a position list so asked returns, which it
    # covers (a SnapshotPage's symbol_forms); () where the venue's names do not say (a list
    # by a coin then vouches for nothing by name, a list of the whole category for every
    # name).
    listed_forms: Callable[[str, str | None, str | None], tuple[str, ...]] = _untold_forms
    # A symbol to the categories its name can be of (Bybit's BTCUSD: inverse), for judging
    # which snapshots cover a symbol the account has no key of; () where the name does not
    # say (then only its name is weighed).
    categories: Callable[[str], tuple[str, ...]] = _untold_categories

    def counted_in(self, category: str, symbol: str) -> str | None:
        """The coin a position's notional (and PnL, but see ``pnl_coin``) on ``symbol`` is
        counted in, or None."""
        found = self.contract(category, symbol)
        return None if found is None else found.counted_in

    def pnl_coin(self, category: str, symbol: str) -> str | None:
        """The coin the venue's PnL of a position on ``symbol`` is in where it is not the
        notional's (an inverse contract's: sized in USD, its PnL in its settle coin), or None."""
        found = self.contract(category, symbol)
        return None if found is None or found.settle == found.counted_in else found.settle


def fee_coin(named: str, counted_in: str | None) -> str | None:
    """A fill's Fill.fee_coin: the coin the venue says its fee was paid in, where that is
    not the coin its PnL is counted in; None where it is, or where the venue names none."""
    return named if named and named != counted_in else None


def _no_contract(category: str, symbol: str) -> Contract | None:
    return None


UNKNOWN_COINS = Coins(_no_contract, None)


def _any_symbol(symbol: str) -> str | None:
    return None


@dataclass(frozen=True)
class Credentials:
    """The environment variables a feed or client needs, and what to say when one is unset."""

    names: tuple[str, ...]
    # The rest of the one-line refusal, after "<NAME> is not set: ".
    why: str

    def read(self, environment: Mapping[str, str]) -> tuple[str, ...]:
        """Each variable's value, in order; SettingRefused names the first one unset, or
        holding what no key holds (never the value itself)."""
        for name in self.names:
            value = environment.get(name)
            if not value:
                raise SettingRefused(f"{name} is not set: {self.why}")
            if not (value.isascii() and value.isprintable()) or any(c.isspace() for c in value):
                # A key pasted with its line's end, or a quote's curly twin: no venue has one,
                # and a header or a signature would fail on it, again and again.
                raise SettingRefused(
                    f"{name} holds a space, a control character or one beyond ASCII, which no "
                    "key holds: check what was exported"
                )
        return tuple(environment[name] for name in self.names)


@dataclass(frozen=True)
class Settings:
    """What a feed or client is built from: no command line, credentials from ``environment``."""

    venue: str  # as named: ``bybit``, or a family's member ``ccxt:okx``
    account: str
    clock: "Clock"
    environment: Mapping[str, str]
    base_url: str | None = None
    poll_interval_s: float = 5.0


FeedFactory = Callable[[Settings], "SupervisedFeed"]
PriceFeedFactory = Callable[[Settings, tuple[str, ...]], "SupervisedFeed"]
ExecutionFactory = Callable[[Settings], "ExecutionClient"]


@dataclass(frozen=True)
class Venue:
    """One venue, or one family of venues (``ccxt:<exchange-id>``), as trueup reads it."""

    name: str
    # Its wire format, loaded on first use (and only once).
    wire: Callable[[], Wire]
    # The account's live feed: private stream, REST fallback, keep-alive where needed.
    feed: FeedFactory
    # The feed's credentials, named for the operator (None: the venue's reads are public).
    credentials: Credentials | None = None
    # Its public price stream (``trueup run --prices``), where trueup records one.
    prices: PriceFeedFactory | None = None
    # Where ``trueup execute`` places orders, where trueup can.
    execution: ExecutionFactory | None = None
    # A family: its members are ``<name>:<id>``, each id matching this; itself none.
    members: re.Pattern[str] | None = None
    # What a member's id is, as the operator is shown it: ``ccxt:<exchange-id>``.
    member_label: str = "id"
    # The coins its contracts and accounts are counted in (its own coins.py).
    coins: Coins = UNKNOWN_COINS
    # Why a symbol cannot be one of its symbols (spelt another way: ccxt's name, the wrong
    # case), naming the one meant where it can; None for any it may have (a SymbolSpelling).
    misspelt: Callable[[str], str | None] = _any_symbol

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire", cache(self.wire))

    @property
    def shown(self) -> str:
        """How the operator names it: ``bybit``, or ``ccxt:<exchange-id>`` for a family."""
        return self.name if self.members is None else f"{self.name}:<{self.member_label}>"

    def names(self, venue: str) -> bool:
        """Whether ``venue`` is this venue, or (a family) one of its members."""
        if self.members is None:
            return venue == self.name
        name, colon, member = venue.partition(":")
        return name == self.name and bool(colon) and bool(self.members.fullmatch(member))
