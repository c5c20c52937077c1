"""May the trading system open a position on this symbol now? Every reason, not just one.

Blocks on what the exchange holds (or trueup's own fills, where no report of it has come
since), a LIVE entry in flight, an active cooldown, a close the exchange made whose cause
(and so whose cooldown) is still awaited, and unresolved drift. A stale local record is
reported but never blocks: the exchange does not hold it, and blocking on it is the
failure this replaces.

The verdict is judged from facts (found in a book by can_open_facts.py) that the persisted
views keep as they are: a query judges the very facts a replay would, so the two answers
are the same by construction. This module is the rule alone, so that a query answering from
the views loads neither the book nor the detectors.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from trueup.domain.coverage import Vouched
from trueup.domain.instants import iso, span
from trueup.domain.rules.config import RuleConfig
from trueup.domain.vocabulary import OrderStatus, PositionSide


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reasons: list[str] = field(default_factory=list)  # why not
    notes: list[str] = field(default_factory=list)  # worth knowing, not blocking

    def blocked(self, reason: str) -> "Verdict":
        """The same verdict with one more reason against: always a no."""
        return Verdict(allowed=False, reasons=[*self.reasons, reason], notes=self.notes)


@dataclass(frozen=True, slots=True)
class HeldFacts:
    """What the exchange holds on a key."""

    side: PositionSide
    size: Decimal
    seq: int | None


@dataclass(frozen=True, slots=True)
class FilledFacts:
    """A position trueup's fills opened on a key, that no report of the exchange has named
    since its last fill: a push lost, or a list not come yet. It is taken as held."""

    side: PositionSide
    size: Decimal
    opened_at: int  # its opening fill's venue time


@dataclass(frozen=True, slots=True)
class LocalFacts:
    """One open local position on a key."""

    position_id: str
    mode: str
    timeframe: str | None
    stale: str | None  # why it is stale, if it is
    # The exchange showed its key flat then, and no fill has said why yet: its close awaits
    # its cause (rules/manual_close.py), and the cooldown that may follow.
    close_awaited_since: int | None = None


@dataclass(frozen=True, slots=True)
class KeyFacts:
    position_idx: int
    local_qty: Decimal
    exchange_qty: Decimal
    held: HeldFacts | None  # None when the exchange holds nothing there
    drift_since: int | None  # unresolved drift, reported, since then
    locals: tuple[LocalFacts, ...]
    filled: FilledFacts | None = None


@dataclass(frozen=True, slots=True)
class EntryInFlight:
    """A LIVE entry order placed for an open position, not yet filled or finished."""

    client_order_id: str
    status: OrderStatus | None  # None: never acknowledged
    placed_at: int


@dataclass(frozen=True, slots=True)
class SymbolFacts:
    """Everything about one symbol of an account that can-open weighs."""

    keys: tuple[KeyFacts, ...]
    entries: tuple[EntryInFlight, ...]
    cooldown_until: int | None
    # The categories the account has keys of the symbol in (none: judged by its name).
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What about the whole account can-open weighs: whether trueup knows it at all,
    inputs the rules could not take, and how fresh its view of the exchange is."""

    fold_faults: int
    first_fault: str | None
    known: bool = True  # its exchange or its bot has said something of it
    # Each scope's last complete snapshot: a symbol is vouched for only by those covering it.
    snapshots: tuple[Vouched, ...] = ()
    freshness_limit_ms: int = RuleConfig().freshness_limit_ms
    stream_down: tuple[int, str] | None = None  # since when, and why
    # The stream rebuilt then (and why), some scope not snapshotted completely since.
    resync_due: tuple[int, str] | None = None

    @property
    def complete_snapshot_at(self) -> int | None:
        """The instant of the latest complete snapshot of any scope (Vouched); None: none yet."""
        return max((v.at for v in self.snapshots), default=None)


UNKNOWN_ACCOUNT = AccountFacts(0, None, known=False)


def never_seen(account: str) -> str:
    """Why nothing can be vouched for, or armed, on an account its own sides never spoke of."""
    return (
        f"trueup has never seen {account}: the journal holds nothing from its exchange or its bot"
    )


def judge(
    account: AccountFacts,
    facts: SymbolFacts,
    symbol: str,
    now: int,
    *,
    side: PositionSide | None = None,
    timeframe: str | None = None,
) -> Verdict:
    reasons: list[str] = []
    notes: list[str] = []
    if not account.known:
        reasons.append(never_seen("this account"))
    else:
        reasons += stale_view(account, now, symbol, facts.categories)
    if account.fold_faults:
        reasons.append(
            f"{account.fold_faults} input(s) of this account could not be folded "
            f"(first: {account.first_fault}): its state cannot be vouched for"
        )
    for key in facts.keys:
        held = key.held
        # In hedge mode the other leg is a different position; one-way mode nets.
        same_leg = side is None or key.position_idx == 0 or (held and held.side == side)
        if held is not None and same_leg:
            reasons.append(
                f"the exchange holds {held.side} {held.size} {symbol} "
                f"(idx {key.position_idx}" + (f", seq {held.seq})" if held.seq is not None else ")")
            )
        filled = key.filled
        if filled is not None and (same_leg or filled.side == side):
            reasons.append(
                f"trueup's fills opened {filled.side} {filled.size} {symbol} "
                f"(idx {key.position_idx}) at {iso(filled.opened_at)} and no report of the "
                "exchange has named it since: it is taken as held"
            )
        if key.drift_since is not None:
            reasons.append(
                f"unresolved drift on idx {key.position_idx}: local {key.local_qty} "
                f"vs exchange {key.exchange_qty} since {iso(key.drift_since)}"
            )
        for local in key.locals:
            if local.close_awaited_since is not None:
                # Closed on the exchange, why not known yet: a liquidation or a stop-loss
                # would cool the symbol down. No until its cause is known or given up on.
                reasons.append(
                    f"the exchange closed {local.position_id} at "
                    f"{iso(local.close_awaited_since)} and no fill has said why yet: "
                    "a cooldown may follow"
                )
            elif local.stale is not None:
                notes.append(
                    f"stale local record {local.position_id} ({local.stale}): does not block"
                )
            elif local.mode == "LIVE" and key.exchange_qty == 0 and filled is None:
                # Where trueup's fills hold the key, the exchange's silence says nothing.
                # Not "holds nothing": before any snapshot, what it holds is unknown.
                notes.append(
                    f"local record {local.position_id} is OPEN but the exchange has not shown it"
                )
            if timeframe is not None and local.timeframe == timeframe and local.mode == "LIVE":
                notes.append(f"{local.position_id} is open on timeframe {timeframe}")
    for entry in facts.entries:
        reasons.append(
            f"LIVE entry {entry.client_order_id} in flight ({entry.status or 'not acknowledged'}) "
            f"since {iso(entry.placed_at)}"
        )
    until = facts.cooldown_until
    if until is not None and until > now:
        reasons.append(f"cooldown on {symbol} until {iso(until)}")
    return Verdict(allowed=not reasons, reasons=reasons, notes=notes)


def stale_view(
    account: AccountFacts,
    now: int,
    symbol: str | None = None,
    categories: tuple[str, ...] = (),
) -> list[str]:
    """Why the exchange view of ``symbol`` (None: of the account, by its freshest scope)
    cannot be vouched for at ``now``, if it cannot: no recent complete snapshot covering it,
    a venue stream that is down, or one rebuilt with no complete snapshot covering it begun
    since (/health says the same)."""
    reasons = []
    every = account.snapshots
    covering = (
        every
        if symbol is None
        else tuple(v for v in every if v.coverage.covers_symbol(symbol, categories))
    )
    if not every:
        reasons.append(
            "no complete snapshot of the exchange's positions has been taken: "
            "what it holds is unknown"
        )
    elif not covering:
        listed = " and ".join(sorted({v.coverage.described() for v in every}))
        reasons.append(
            f"the exchange's positions were last listed for {listed}; {symbol} is not among "
            "them: what it holds of it is unknown"
        )
    else:
        taken = max(v.at for v in covering)
        if now - taken > account.freshness_limit_ms:
            reasons.append(
                f"the exchange view is {span(now - taken)} old (last complete snapshot "
                f"at {iso(taken)}); answers need one within "
                f"{span(account.freshness_limit_ms)}"
            )
        elif taken - now > account.freshness_limit_ms:
            # Dated by a clock that runs ahead (the runner's, or whoever wrote the line): how
            # recent it is cannot be told, and it would otherwise vouch until that date.
            reasons.append(
                f"the last complete snapshot of the exchange's positions is dated {iso(taken)}, "
                f"{span(taken - now)} after the instant asked; answers need one within "
                f"{span(account.freshness_limit_ms)} of it"
            )
    if account.stream_down is not None:
        since, why = account.stream_down
        reasons.append(
            f"the venue's stream is down since {iso(since)} ({why}): fills and closes may "
            "go unseen until it is back"
        )
    due = account.resync_due
    if due is not None and not any(v.at >= due[0] for v in covering):
        since, why = due
        reasons.append(
            f"the venue's stream was rebuilt at {iso(since)} ({why}) and no complete snapshot "
            "of the exchange's positions has been taken since: what it missed is unknown"
        )
    return reasons
