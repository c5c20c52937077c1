"""The events trueup emits for the trading system to act on (DESIGN.md, "Emitted event types").

Each names the input that caused it (``cause``) and that input's ``at``; its id is minted
from all it says, so a replay or a restarted worker emits the very same event, never a second
one, and two accounts' events never share an id.
"""

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, TypedDict

from msgspec import Struct
from msgspec.structs import astuple

from trueup.domain.keys import LegOpening, PositionKey, minted_id


class Emitted(Struct, frozen=True, kw_only=True):
    """Common to every emitted event; position fields are None for account-wide ones."""

    type: ClassVar[str] = "EMITTED"
    # Whether its last field, when None, is left out of its id: a field added later, so
    # that the events before it keep their ids.
    _unminted_if_none: ClassVar[bool] = False

    venue: str
    account: str
    at: int
    cause: str
    category: str | None = None
    symbol: str | None = None
    position_idx: int | None = None

    @property
    def event_id(self) -> str:
        """Minted from every field: two events differ in id exactly when they differ at all."""
        # Asked of each event several times on its way out (kept once, stored, logged for
        # diagnose): minted once per object. By identity, never equality: 1.0 == 1.00, yet
        # their reprs, and so their ids, differ. An entry holds its event, so that its id()
        # cannot pass to another object while it is kept.
        kept = _MINTED.get(id(self))
        if kept is not None and kept[0] is self:
            return kept[1]
        fields = astuple(self)  # every field, in order, read in one call
        if self._unminted_if_none and fields[-1] is None:
            fields = fields[:-1]
        values = repr(fields)
        minted = minted_id(f"emitted:{self.type}:{values}".encode())
        if len(_MINTED) >= _MINTED_MAX:
            _MINTED.clear()
        _MINTED[id(self)] = (self, minted)
        return minted


# Ids minted lately, by the id() of their event (see Emitted.event_id); emptied when full.
_MINTED: dict[int, tuple[Emitted, str]] = {}
_MINTED_MAX = 4096


class About(TypedDict):
    """The fields every emitted event takes from its cause and, if any, its position."""

    venue: str
    account: str
    at: int
    cause: str
    category: str | None
    symbol: str | None
    position_idx: int | None


class AboutOrder(About):
    venue_order_id: str
    client_order_id: str
    position_id: str | None


# --- risk events ----------------------------------------------------------------------


class RiskEvent(Emitted, frozen=True, kw_only=True):
    reason: str


class WsReconnect(RiskEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "WS_RECONNECT"


class RateLimit(RiskEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "RATE_LIMIT"
    count: int = 1  # how many like it this one stands for (see rules/sync.py)


class PositionSyncFailed(RiskEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "POSITION_SYNC_FAILED"
    count: int = 1  # how many like it this one stands for (see rules/sync.py)


class ConsistencyDrift(RiskEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "CONSISTENCY_DRIFT"
    local_qty: Decimal
    exchange_qty: Decimal
    drift_pct: Decimal


class PnlMismatch(RiskEvent, frozen=True, kw_only=True):
    """trueup's realised PnL and the venue's own disagree beyond the tolerance: a fill
    missed (or one trueup holds that the venue does not) shows here first."""

    type: ClassVar[str] = "PNL_MISMATCH"
    # A PnlFigure's value; journals before it hold the venue's own names (execPnl and the like).
    figure: str
    trade_id: str  # the fill compared; "" for a position's figure
    trueup_pnl: Decimal
    venue_pnl: Decimal
    tolerance: Decimal


class RiskWarning(RiskEvent, frozen=True, kw_only=True):
    """A held position crossed a risk threshold of the rules in force: its score rose to
    risk_warning_score, or its distance to liquidation fell to
    risk_warning_liquidation_distance. Once per crossing (rules/risk_warning.py)."""

    type: ClassVar[str] = "RISK_WARNING"
    trigger: str  # SCORE or LIQUIDATION_DISTANCE
    threshold: Decimal
    score: Decimal
    concentration: Decimal | None
    leverage: Decimal | None
    liquidation_distance: Decimal | None
    liq_price: Decimal | None
    mark_price: Decimal | None
    notional: Decimal | None


class OrderEvent(Emitted, frozen=True, kw_only=True):
    """About one order: risk events and execution reports."""

    venue_order_id: str
    client_order_id: str
    position_id: str | None


class OrderTimeout(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ORDER_TIMEOUT"
    reason: str


class OrderPartialFill(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ORDER_PARTIAL_FILL"
    reason: str
    filled_qty: Decimal
    qty: Decimal


# --- execution reports ------------------------------------------------------------------


class EntrySubmitted(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ENTRY_SUBMITTED"
    qty: Decimal


class EntryFilled(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ENTRY_FILLED"
    filled_qty: Decimal
    avg_price: Decimal | None


class TpFilled(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "TP_FILLED"
    purpose: str
    filled_qty: Decimal
    avg_price: Decimal | None


class SlUpdate(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "SL_UPDATE"
    status: str
    trigger_price: Decimal | None
    qty: Decimal


class OrderRejected(OrderEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ORDER_REJECTED"
    reason: str


class ExitReason(StrEnum):
    """Why the exchange closed a position, as far as its inputs show."""

    LIQUIDATION = "LIQUIDATION"
    ADL = "ADL"
    DELIVERY = "DELIVERY"
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_LOSS = "STOP_LOSS"
    MANUAL = "MANUAL"  # closed by hand on the exchange (an order the bot never placed)
    EXCHANGE_CLOSED = "EXCHANGE_CLOSED"  # nothing shows why, and TP1 had filled


class PositionClosed(Emitted, frozen=True, kw_only=True):
    type: ClassVar[str] = "POSITION_CLOSED"
    position_id: str
    exit_reason: str


# --- findings and actions ---------------------------------------------------------------


class CooldownStarted(Emitted, frozen=True, kw_only=True):
    type: ClassVar[str] = "COOLDOWN_STARTED"
    until: int
    reason: str


class StalePosition(Emitted, frozen=True, kw_only=True):
    type: ClassVar[str] = "STALE_POSITION"
    position_id: str
    reason: str  # PAPER_LEFTOVER or NEVER_ON_EXCHANGE
    mode: str


class UntrackedPosition(Emitted, frozen=True, kw_only=True):
    type: ClassVar[str] = "UNTRACKED_POSITION"
    exchange_qty: Decimal


class PositionCleaned(Emitted, frozen=True, kw_only=True):
    type: ClassVar[str] = "POSITION_CLEANED"
    position_id: str
    exit_reason: str  # STALE_CLEANUP or MANUAL_CLEANUP
    operator: str


# --- the entry policy (domain/entry_policy.py) -----------------------------------------


class EntryStep(OrderEvent, frozen=True, kw_only=True):
    """A step of the entry policy on one ENTRY: cancel the order working now (its ids are
    the event's), then replace what remains once the venue says it has ended. Its event_id
    is the decision id the replacement's client order id derives from."""

    entry_client_order_id: str  # the bot's ENTRY order: the chain of replacements' name
    retry: int  # which reprice this is (1 the first); the market fallback counts on
    price: Decimal | None  # the replacement's limit price; None: a market order
    reason: str


class EntryRepriced(EntryStep, frozen=True, kw_only=True):
    """Nothing filled within entry_timeout_ms: repriced towards the market."""

    type: ClassVar[str] = "ENTRY_REPRICED"


class EntryRetried(EntryStep, frozen=True, kw_only=True):
    """A partial fill stalled entry_partial_fill_timeout_ms: what remains, repriced."""

    type: ClassVar[str] = "ENTRY_RETRIED"


class EntryFallbackMarket(EntryStep, frozen=True, kw_only=True):
    """The reprices are spent: what remains goes as a market order."""

    type: ClassVar[str] = "ENTRY_FALLBACK_MARKET"


class EntryAbandoned(OrderEvent, frozen=True, kw_only=True):
    """The entry policy stops working this ENTRY, and why (reprices spent and no market
    fallback, a replacement the venue refused)."""

    type: ClassVar[str] = "ENTRY_ABANDONED"
    entry_client_order_id: str
    reason: str


# --- triggers (domain/triggers/) ---------------------------------------------------------


class TriggerEvent(Emitted, frozen=True, kw_only=True):
    """About one trigger of the account; position fields name the position it watches."""

    trigger_id: str


class TriggerFired(TriggerEvent, frozen=True, kw_only=True):
    """A trigger's condition held: what fired it, and the order it decides. Its event_id
    is the decision id the order's client order id derives from."""

    type: ClassVar[str] = "TRIGGER_FIRED"
    kind: str
    direction: str
    arming: int  # which arming of the trigger fired (it fires at most once per arming)
    price: Decimal | None  # the price it was judged at
    high_water: Decimal | None  # a trailing long's best price since armed
    low_water: Decimal | None  # a trailing short's best price since armed
    threshold: Decimal  # the configured level (the trailing distance for a trailing one)
    level: Decimal  # the level crossed: the threshold, or the trailing stop it sets
    unrealised_pnl: Decimal | None
    exchange_size: Decimal  # the reconciled exchange size at firing
    ratio: Decimal
    quantity: Decimal  # ratio x exchange_size
    action: str
    order_side: str
    order_position_idx: int
    reduce_only: bool
    auto_execute: bool


class OrderRequested(TriggerEvent, frozen=True, kw_only=True):
    """The order a fired trigger decided, requested (at once, or on its confirm), or the
    replacement of an ENTRY the entry policy cancelled."""

    type: ClassVar[str] = "ORDER_REQUESTED"
    decision_id: str  # the TRIGGER_FIRED event_id: the client order id derives from it
    order_side: str
    order_position_idx: int
    quantity: Decimal
    reduce_only: bool
    requested_by: str  # "auto" or the operator who confirmed
    # The price it fired at: a venue with no market order without a price (Hyperliquid)
    # takes its worst acceptable price from it.
    price: Decimal | None = None
    # A limit order at limit_price, or a market order. An entry policy's replacement of
    # an ENTRY names it here (its trigger_id is then ""); a trigger's order is a market one.
    order_type: str = "market"
    limit_price: Decimal | None = None
    entry_client_order_id: str = ""
    # A lock's order: the leg it opens once it executes, which the executor's placement
    # report carries into the journal (the book folds the leg from there). None otherwise.
    opens: LegOpening | None = None
    # Without ``opens`` when None: a reduce's request keeps the id it had before requests
    # said what they open, so a journal's stored requests are found again.
    _unminted_if_none: ClassVar[bool] = True


class TriggerOutcome(TriggerEvent, frozen=True, kw_only=True):
    """How a firing ended; the order's ids and fills where the venue took the order."""

    decision_id: str
    reason: str
    client_order_id: str = ""
    venue_order_id: str = ""
    filled_qty: Decimal | None = None
    avg_price: Decimal | None = None
    trade_ids: tuple[str, ...] = ()


class TriggerExecuted(TriggerOutcome, frozen=True, kw_only=True):
    type: ClassVar[str] = "TRIGGER_EXECUTED"


class TriggerFailed(TriggerOutcome, frozen=True, kw_only=True):
    type: ClassVar[str] = "TRIGGER_FAILED"


class TriggerCancelled(TriggerOutcome, frozen=True, kw_only=True):
    type: ClassVar[str] = "TRIGGER_CANCELLED"


class TriggerExpired(TriggerEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "TRIGGER_EXPIRED"
    expires_at: int


class TriggerRefused(TriggerEvent, frozen=True, kw_only=True):
    """A trigger command that could not be carried out, and why."""

    type: ClassVar[str] = "TRIGGER_REFUSED"
    command: str
    reason: str


class TriggerError(TriggerEvent, frozen=True, kw_only=True):
    """Judging the trigger failed (a fault in trueup, not in the market): it is disabled,
    told once, and the account's other triggers are judged on. ``enable`` arms it again."""

    type: ClassVar[str] = "TRIGGER_ERROR"
    reason: str


EMITTED_TYPES: tuple[type[Emitted], ...] = (
    WsReconnect,
    RateLimit,
    PositionSyncFailed,
    ConsistencyDrift,
    PnlMismatch,
    RiskWarning,
    OrderTimeout,
    OrderPartialFill,
    EntrySubmitted,
    EntryFilled,
    TpFilled,
    SlUpdate,
    OrderRejected,
    PositionClosed,
    CooldownStarted,
    StalePosition,
    UntrackedPosition,
    PositionCleaned,
    TriggerFired,
    OrderRequested,
    TriggerExecuted,
    TriggerFailed,
    TriggerCancelled,
    TriggerExpired,
    TriggerRefused,
    TriggerError,
    EntryRepriced,
    EntryRetried,
    EntryFallbackMarket,
    EntryAbandoned,
)


class Cause:
    """The input an emitted event answers: its id and its receive time ``at``."""

    __slots__ = ("at", "input_id")

    def __init__(self, input_id: str, at: int) -> None:
        self.input_id = input_id
        self.at = at

    def on(self, key: PositionKey) -> About:
        """Keyword arguments of an emitted event about ``key``, caused by this input."""
        return About(
            venue=key.venue,
            account=key.account,
            at=self.at,
            cause=self.input_id,
            category=key.category,
            symbol=key.symbol,
            position_idx=key.position_idx,
        )

    def on_account(self, venue: str, account: str) -> About:
        """Keyword arguments of an emitted event about a whole account."""
        return About(
            venue=venue,
            account=account,
            at=self.at,
            cause=self.input_id,
            category=None,
            symbol=None,
            position_idx=None,
        )
