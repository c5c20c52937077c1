"""What the use cases answer: plain, typed values an entry point renders as it likes."""

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from trueup.adapters.store.journal import Decided
from trueup.domain.coverage import Coverage
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.vocabulary import NotificationOutcome

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an ingest did with its lines, and what the detectors emitted meanwhile."""

    accepted: int
    rejected: int
    duplicates: int
    blank: int
    emitted: dict[str, int]
    # False when another process holds the projections: it detects, not this one.
    detected_here: bool
    # The journal position of the last input this ingest stored (0: none): another
    # process that detects them has once it has processed up to there.
    last_stored: int = 0

    @property
    def lines(self) -> int:
        return self.accepted + self.rejected


@dataclass(frozen=True, slots=True)
class ScopeFreshness:
    """One scope's last complete snapshot of the exchange's positions: what it covers, when
    it came, how old it is, and whether it vouches for what it covers now."""

    covers: str  # in words: "linear USDT-settled contracts"
    complete_snapshot_at: int
    age_ms: int
    fresh: bool


@dataclass(frozen=True, slots=True)
class AccountFreshness:
    """How old one account's view of the exchange is, why it is not fresh, and whether it
    is followed (application/following.py): only then do its reasons make /health's."""

    venue: str
    account: str
    complete_snapshot_at: int | None  # None: no complete snapshot taken yet
    age_ms: int | None
    limit_ms: int
    stale_reasons: list[str]
    last_trigger_fired_at: int | None = None
    last_input_at: int = 0  # input time, of any input of the account
    followed: bool = True
    # Each scope's last complete snapshot: can-open vouches for a symbol only by those
    # covering it, so an account fresh by one scope may be stale for another's symbols.
    snapshots: tuple[ScopeFreshness, ...] = ()


@dataclass(frozen=True, slots=True)
class StaleRecord:
    """A local position the exchange does not back, and whether it holds its key at all."""

    venue: str
    account: str
    position_id: str
    reason: str
    exchange_holds_key: bool
    opened_at: int  # which opening of position_id: closing it is one decision
    category: str
    symbol: str


class Cleanup(Enum):
    """Which stale records an operator closes."""

    NONE = "dry-run"  # list them only
    NOT_ON_EXCHANGE = "check-exchange"  # those the exchange holds nothing for: STALE_CLEANUP
    ALL = "force"  # every one: MANUAL_CLEANUP

    @property
    def exit_reason(self) -> str:
        return "MANUAL_CLEANUP" if self is Cleanup.ALL else "STALE_CLEANUP"


@dataclass(frozen=True, slots=True)
class ExchangeCheck:
    """What one REST snapshot asked of the exchange showed: complete, or why not."""

    venue: str
    account: str
    inputs: int
    complete: bool
    why_not: str | None = None
    # What the snapshots it completed cover: it speaks of no other symbol.
    covered: tuple[Coverage, ...] = ()

    def covers(self, record: StaleRecord) -> bool:
        """Whether a snapshot it completed covers ``record``'s key."""
        return any(c.covers(record.category, record.symbol) for c in self.covered)

    def described(self) -> str:
        """What it covers, in words: ``linear USDT-settled contracts``."""
        return " and ".join(sorted({c.described() for c in self.covered})) or "nothing"


@dataclass(frozen=True, slots=True)
class CleanupReport:
    """What a fix-stale found, what it closed itself, and what another had closed first."""

    stale: list[StaleRecord]
    closed: list[StaleRecord]
    exit_reason: str
    # What the exchange said when asked first (NOT_ON_EXCHANGE): nothing is closed unless
    # its snapshot was complete.
    exchange: ExchangeCheck | None = None
    # Chosen, but closed by another operator's input first (a fix-stale run at the same
    # moment): not recorded again.
    already: list[tuple[StaleRecord, Decided]] = field(default_factory=list)
    # Not held by the exchange by its last word, but of a symbol the snapshot asked
    # (NOT_ON_EXCHANGE) does not cover: that word may be old, so they are left open.
    uncovered: list[StaleRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Everything that bears on one symbol of one account now."""

    report: JSON


@dataclass(frozen=True, slots=True)
class EventPage:
    """Stored events after a journal position, with the position to ask from next."""

    events: list[tuple[int, InputEvent | Emitted]]
    next_after: int


@dataclass(frozen=True, slots=True)
class TriggerCommandReport:
    """What one trigger command did: the trigger it names, the input that recorded it,
    why it was refused (empty: carried out), and what it made trueup emit."""

    trigger_id: str
    input_id: str
    refused: list[str]
    emitted: list[str]
    # Carried out, yet what it asked for failed: a confirm whose order is not sent
    # (TRIGGER_FAILED), and why.
    failed: tuple[str, ...] = ()

    def as_json(self) -> JSON:
        return {
            "trigger_id": self.trigger_id,
            "input_id": self.input_id,
            "accepted": not self.refused,
            "refused": self.refused,
            "emitted": self.emitted,
            "failed": list(self.failed),
        }


@dataclass(frozen=True, slots=True)
class NotificationTest:
    """What one test notification to one target came to."""

    target: str
    kind: str
    url: str  # as it may be shown: scheme and host
    delivered: bool
    reason: str
    status: int | None
    elapsed_ms: int

    def as_json(self) -> JSON:
        return {
            "target": self.target,
            "kind": self.kind,
            "url": self.url,
            "delivered": self.delivered,
            "reason": self.reason,
            "status": self.status,
            "elapsed_ms": self.elapsed_ms,
        }


@dataclass(frozen=True, slots=True)
class DeadLettersAcknowledged:
    """An operator saw notifier ``notifier``'s dead letters up to ``at``; ``newly`` of them
    had not been acknowledged before."""

    notifier: str
    at: int
    operator: str
    reason: str
    newly: int

    def as_json(self) -> JSON:
        return {
            "notifier": self.notifier,
            "at": self.at,
            "operator": self.operator,
            "reason": self.reason,
            "newly_acknowledged": self.newly,
        }


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """What became of one emitted event at one target, from the tries the notifier recorded:
    ``outcome`` is the last try's, ``reason`` the last failure's."""

    event_id: str
    event_type: str
    venue: str
    account: str
    notifier: str
    target: str
    outcome: NotificationOutcome
    attempts: int
    first_at: int
    last_at: int
    reason: str
    status: int | None

    def as_json(self) -> JSON:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "venue": self.venue,
            "account": self.account,
            "notifier": self.notifier,
            "target": self.target,
            "outcome": self.outcome.value,
            "attempts": self.attempts,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "reason": self.reason,
            "status": self.status,
        }
