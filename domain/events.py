"""Domain events: one per input, normalised to Decimal fields, the verbatim input kept beside.

Every event names the input it came from (``input_id``), its receive time ``at`` (the clock
of every rule), and carries ``raw``, the input line exactly as it arrived.
"""

from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal

from msgspec import Struct

from trueup.domain.keys import LegOpening
from trueup.domain.rules.config import RuleConfig
from trueup.domain.triggers.spec import TriggerCommand, TriggerSpec
from trueup.domain.vocabulary import (
    ContractKind,
    ExecutionKind,
    MarginMode,
    NotificationOutcome,
    OrderAction,
    OrderOrigin,
    OrderSide,
    OrderStatus,
    PlacementOutcome,
    PositionSide,
    RefusalKind,
)

# Read off its enum once: the PnL ledger asks signed_size of every position report, and in
# Python 3.11 a member read off its class costs several times a module global.
_SHORT = PositionSide.SHORT
Source = Literal["ws", "rest"]
Mode = Literal["LIVE", "PAPER", "BACKTEST"]
Purpose = Literal["ENTRY", "TP1", "TP2", "SL"]

MODES: tuple[str, ...] = ("LIVE", "PAPER", "BACKTEST")
PURPOSES: tuple[str, ...] = ("ENTRY", "TP1", "TP2", "SL")


# --- normalised records inside venue reports -------------------------------------------

# The records a book keeps by the ten thousand (the last report of each position and order,
# each order's fills, each intent) are frozen and hold only strings, numbers and enum members:
# they can be in no reference cycle, so the cycle collector need not track them (gc=False),
# nor walk them again after every snapshot loaded.


class PositionReport(Struct, frozen=True, gc=False):
    """The exchange's word on one position; ``size`` is unsigned, ``side`` FLAT when flat."""

    category: str
    symbol: str
    position_idx: int
    side: PositionSide
    size: Decimal
    entry_price: Decimal | None
    mark_price: Decimal | None
    unrealised_pnl: Decimal | None
    # The venue's realised PnL of the key over all time, fees and funding included
    # (Bybit's cumRealisedPnl); None where the venue gives no such figure.
    cum_realised_pnl: Decimal | None
    seq: int | None  # the venue's sequence number, where it gives one (Bybit's REST may not)
    updated_time: int
    status: str
    # The realised PnL of the position held now (Bybit's curRealisedPnl: fees and funding
    # included, back to 0 when it closes); None where the venue gives none.
    cur_realised_pnl: Decimal | None = None
    # What risk needs, where the venue gives it (None otherwise, and in what trueup stored
    # before it read them): the liquidation price (None when the venue shows none), the
    # leverage, the position's value (size x mark), its initial and maintenance margin.
    liq_price: Decimal | None = None
    leverage: Decimal | None = None
    position_value: Decimal | None = None
    initial_margin: Decimal | None = None
    maintenance_margin: Decimal | None = None
    margin_mode: MarginMode | None = None
    # The coin its notional and PnL are counted in, as the venue's adapter knows the
    # contract; None where it does not (stored forms before it are given it as they are read).
    notional_coin: str | None = None
    # How its contract is sized (stored forms before notional_coin are given their venue's).
    contract_kind: ContractKind = ContractKind.LINEAR
    # The coin the venue's PnL figures are in where it is not notional_coin (an inverse
    # contract's settle coin: Bybit's BTCUSD is sized in USD, its unrealisedPnl in BTC).
    pnl_coin: str | None = None

    @property
    def signed_size(self) -> Decimal:
        return -self.size if self.side is _SHORT else self.size


class OrderReport(Struct, frozen=True, gc=False):
    """The exchange's word on one order at ``updated_time``."""

    category: str
    symbol: str
    venue_order_id: str
    client_order_id: str  # "" when the order was placed without one
    side: OrderSide
    position_idx: int
    order_type: str
    origin: OrderOrigin | None  # None: the venue does not say who placed it
    status: OrderStatus
    qty: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    avg_price: Decimal | None
    cum_exec_qty: Decimal
    cum_exec_fee: Decimal | None
    reduce_only: bool
    cancel_type: str
    reject_reason: str
    created_time: int
    updated_time: int


class Fill(Struct, frozen=True, gc=False):
    """One execution; ``trade_id`` identifies it across WebSocket and REST."""

    category: str
    symbol: str
    trade_id: str
    venue_order_id: str  # "" for an execution of no order (a funding payment)
    client_order_id: str
    side: OrderSide | None  # None: a funding payment on a flat position has none
    exec_price: Decimal
    exec_qty: Decimal
    exec_fee: Decimal | None
    closed_size: Decimal | None
    exec_time: int
    seq: int | None
    kind: ExecutionKind
    origin: OrderOrigin | None  # who placed the order it filled, where the venue says
    # The venue's own realised PnL of this execution, before fees (Bybit's execPnl,
    # Hyperliquid's closedPnl); None where it gives none (older stored forms too).
    realised_pnl: Decimal | None = None
    # The leg it filled, where the execution itself says (Hyperliquid: always 0); None:
    # the ledger finds it (domain/legs.py).
    position_idx: int | None = None
    # The coin its PnL, fee and funding are counted in, and how its contract is sized, as
    # for a PositionReport.
    notional_coin: str | None = None
    contract_kind: ContractKind = ContractKind.LINEAR
    # The signed position the venue held on the fill's leg just before it, where the fill
    # itself says (Hyperliquid's startPosition): what it added to or reduced.
    position_before: Decimal | None = None
    # A funding payment's rate, where the venue gives it (Bybit's feeRate): with the sign
    # of what was paid, it tells which side paid, so which hedged leg (longs pay a positive
    # rate).
    funding_rate: Decimal | None = None
    # The coin its fee was paid in where the venue names one that is not notional_coin (an
    # Aster commission in BNB, a Hyperliquid spot fee in the bought token); None: that coin.
    fee_coin: str | None = None


class CoinBalance(Struct, frozen=True):
    """One coin of a wallet update: its balances and what its positions hold of it."""

    coin: str
    equity: Decimal | None
    wallet_balance: Decimal | None
    usd_value: Decimal | None = None
    unrealised_pnl: Decimal | None = None
    cum_realised_pnl: Decimal | None = None
    position_im: Decimal | None = None  # initial margin of its positions
    position_mm: Decimal | None = None  # maintenance margin of its positions
    order_im: Decimal | None = None  # margin its open orders hold
    locked: Decimal | None = None


class WalletReport(Struct, frozen=True):
    """Account-wide balances from one wallet update, in ``equity_coin``; None where the
    venue gives no figure (older stored forms too)."""

    account_type: str
    total_equity: Decimal | None
    total_wallet_balance: Decimal | None
    total_available_balance: Decimal | None
    total_margin_balance: Decimal | None = None
    total_initial_margin: Decimal | None = None
    total_maintenance_margin: Decimal | None = None
    total_unrealised_pnl: Decimal | None = None
    total_notional: Decimal | None = None  # Hyperliquid's totalNtlPos
    coins: tuple[CoinBalance, ...] = ()
    # The coin the venue states the account-wide figures in, as its adapter knows it; None
    # where it does not (stored forms before it are given it as they are read).
    equity_coin: str | None = None


class PriceQuote(Struct, frozen=True):
    """One symbol's prices from a venue's public market data; None where the frame does not
    give one (a delta that left it unchanged, or a venue that has no such price)."""

    symbol: str
    mark: Decimal | None
    last: Decimal | None
    index: Decimal | None
    mid: Decimal | None
    venue_time: int | None  # the venue's own timestamp of the prices, where it gives one


class SnapshotPage(Struct, frozen=True):
    """Which positions a REST position list covers, and where its pagination stands."""

    category: str
    symbol: str | None
    settle_coin: str | None
    cursor: str
    next_cursor: str
    server_time: int
    # A list not of one symbol covers the names of its category that match one of these
    # whole (regular expressions), as the venue's adapter knows what the list returns
    # (Bybit's USDC: its perps and its dated futures): so the domain tells what it covers
    # without the venue's naming rules. () where the adapter cannot say: a list asked by
    # settle coin then covers no name, one of the whole category every name.
    symbol_forms: tuple[str, ...] = ()
    # The base coin it was asked of (Bybit's option list by baseCoin), None where it was
    # asked of none (and in stored forms before pages named it): like a settle coin, one
    # narrows the list, so it covers no name where the forms do not say which.
    base_coin: str | None = None


# --- events -------------------------------------------------------------------------------


class InputEvent(Struct, frozen=True, kw_only=True):
    """What every stored input event carries."""

    type: ClassVar[str] = "InputEvent"

    input_id: str
    at: int
    venue: str
    account: str
    raw: str

    @property
    def symbols(self) -> tuple[str, ...] | None:
        """The symbols this event concerns; None when it may concern any of the account's."""
        return None


class PositionsReported(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "PositionsReported"
    source: Source
    reports: tuple[PositionReport, ...]
    snapshot: SnapshotPage | None
    # The account's balances where the venue sends them with its positions (Hyperliquid's
    # clearinghouseState: marginSummary); None otherwise, and in older stored forms.
    wallet: WalletReport | None = None

    @property
    def symbols(self) -> tuple[str, ...] | None:
        # A snapshot speaks of the positions it omits too.
        if self.snapshot is not None:
            return None
        return tuple([r.symbol for r in self.reports])


class OrdersReported(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "OrdersReported"
    source: Source
    orders: tuple[OrderReport, ...]

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return tuple([o.symbol for o in self.orders])


class ExecutionsReported(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "ExecutionsReported"
    source: Source
    fills: tuple[Fill, ...]
    # The word on the filled orders where the venue sends it in the same message (Aster's
    # ORDER_TRADE_UPDATE: an order's new status and its fill); () where it sends them apart,
    # and in older stored forms. Folded before the fills.
    orders: tuple[OrderReport, ...] = ()

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return tuple([f.symbol for f in self.fills] + [o.symbol for o in self.orders])


class WalletReported(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "WalletReported"
    wallets: tuple[WalletReport, ...]

    @property
    def symbols(self) -> tuple[str, ...] | None:
        # The equity weighs every held position's concentration: an audit of any symbol
        # folds it (the views are touched by the book, for the held keys alone).
        return None


class PricesReported(InputEvent, frozen=True, kw_only=True):
    """Public market data: the latest prices of some symbols, as the account's runner saw
    them (kept per account, so a replay sees what that live process saw)."""

    type: ClassVar[str] = "PricesReported"
    quotes: tuple[PriceQuote, ...]

    @property
    def symbols(self) -> tuple[str, ...] | None:
        # No position changes with a price: the book touches the held keys a new mark moves
        # (a venue may price hundreds of coins a frame; the views take only those).
        return ()


class AccountModeSet(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "AccountModeSet"
    mode: Mode


class LocalPositionOpened(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "LocalPositionOpened"
    position_id: str
    category: str
    symbol: str
    position_idx: int
    side: PositionSide
    qty: Decimal
    mode: Mode
    timeframe: str | None

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return (self.symbol,)


class LocalPositionResized(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "LocalPositionResized"
    position_id: str
    qty: Decimal


class LocalPositionClosed(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "LocalPositionClosed"
    position_id: str
    exit_reason: str


class OrderPlaced(InputEvent, frozen=True, kw_only=True, gc=False):
    type: ClassVar[str] = "OrderPlaced"
    position_id: str
    client_order_id: str
    category: str
    symbol: str
    purpose: Purpose
    side: OrderSide
    qty: Decimal
    price: Decimal | None

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return (self.symbol,)


class OrderCancelled(InputEvent, frozen=True, kw_only=True):
    type: ClassVar[str] = "OrderCancelled"
    client_order_id: str


class LocalPositionCleaned(InputEvent, frozen=True, kw_only=True):
    """An operator closed a local record by hand (``trueup fix-stale``): who, and why."""

    type: ClassVar[str] = "LocalPositionCleaned"
    position_id: str
    exit_reason: str
    operator: str


class StreamDown(InputEvent, frozen=True, kw_only=True):
    """The live runner's venue stream died: until it is back, fills and closes may go unseen."""

    type: ClassVar[str] = "StreamDown"
    stream: str
    reason: str

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


class StreamReconnected(InputEvent, frozen=True, kw_only=True):
    """The live runner rebuilt a venue stream that had died; what it missed comes by REST."""

    type: ClassVar[str] = "StreamReconnected"
    stream: str
    reason: str
    attempt: int

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


class StreamConnected(InputEvent, frozen=True, kw_only=True):
    """A live run, just started, has its venue stream up: what no run heard meanwhile (a
    stream left down, a run killed) comes by REST, so the stream is up but not yet caught up."""

    type: ClassVar[str] = "StreamConnected"
    stream: str

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


class RejectionKind(StrEnum):
    """Why an input was refused, as its venue's adapter judged it: the rules read this, and
    never a venue's own error codes."""

    MALFORMED = "malformed"  # a report trueup reads, not in its documented form
    UNKNOWN = "unknown"  # well-formed, of a topic or endpoint trueup does not read
    CONTROL = "control"  # a venue's control message (a pong, an ack): not a report at all
    ERROR_REPLY = "error_reply"  # the venue answered with an error
    RATE_LIMITED = "rate_limited"  # the venue said we ask too often
    UNREACHABLE = "unreachable"  # no reply came


class InputRejected(InputEvent, frozen=True, kw_only=True):
    """An input kept although it could not be used: malformed, unknown, or an error reply."""

    type: ClassVar[str] = "InputRejected"
    reason: str
    channel: str | None
    endpoint: str | None
    ret_code: int | None
    http_status: int | None
    # A refused page of a position snapshot: the run it belonged to can no longer complete.
    position_snapshot: bool = False
    kind: RejectionKind = RejectionKind.MALFORMED

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return None if self.position_snapshot else ()


class ClockTicked(InputEvent, frozen=True, kw_only=True):
    """Time passing, as data: the runner appends these so time-based rules replay exactly.

    A tick names the account it is for (``trueup run`` ticks for its own); one with no venue
    and account, as older captures have, is for every account."""

    type: ClassVar[str] = "ClockTicked"

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


class RulesSet(InputEvent, frozen=True, kw_only=True):
    """The rule configuration in force from this input on, for every account; ``source``
    says where it came from (a rules file, or the defaults)."""

    type: ClassVar[str] = "RulesSet"
    rules: RuleConfig
    source: str

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


class TriggerCommanded(InputEvent, frozen=True, kw_only=True):
    """An operator's command on one trigger of the account (add, change, enable, disable,
    remove, confirm): triggers are never edited in place, only commanded."""

    type: ClassVar[str] = "TriggerCommanded"
    command: TriggerCommand
    trigger_id: str
    operator: str
    spec: TriggerSpec | None  # the configuration an add or change puts in force
    # A disable or remove that won its firing's requested order from the executor (keys.py,
    # sending_key): the decision id of the order it withdraws, never sent. "" for the rest.
    withdraws: str = ""

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return () if self.spec is None else (self.spec.symbol,)


class OrderPlacementReported(InputEvent, frozen=True, kw_only=True):
    """The executor's word on one requested order: what the venue answered when it was
    placed with the decision's client order id (accepted, already placed, or refused)."""

    type: ClassVar[str] = "OrderPlacementReported"
    trigger_id: str  # "" for an order no trigger decided (an entry policy's step)
    decision_id: str
    symbol: str
    client_order_id: str  # as the venue writes it (Bybit's orderLinkId, Hyperliquid's cloid)
    outcome: PlacementOutcome
    venue_order_id: str  # "" where the venue's answer names none
    reason: str  # the venue's own words, for a refusal
    refusal: RefusalKind | None
    code: str  # the venue's error code, where it gives one
    action: OrderAction = OrderAction.PLACE
    qty: Decimal | None = None  # the quantity asked of the venue, on its lot grid
    # What the order opens once it executes (AccountBook folds it): a lock's leg; None for
    # an order that opens no position of trueup's own.
    opens: LegOpening | None = None

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return (self.symbol,)


class NotificationAttempted(InputEvent, frozen=True, kw_only=True):
    """The notifier's word on one attempt to deliver an emitted event to a target: delivered,
    failed (another try follows) or dead-lettered (the last). The rules ignore it: it is the
    record that answers "did anyone get told?"."""

    type: ClassVar[str] = "NotificationAttempted"
    notifier: str
    target: str
    event_id: str  # the emitted event's
    event_type: str
    attempt: int  # 1 for the first try
    outcome: NotificationOutcome
    reason: str  # "" when delivered
    status: int | None  # the target's HTTP status, when it answered
    elapsed_ms: int

    @property
    def symbols(self) -> tuple[str, ...] | None:
        return ()


def moves_clock(event: InputEvent) -> bool:
    """Whether an input moves its account's clock (domain/book.py): all do but trueup's
    notification records, which change nothing of what they tell of."""
    return type(event) is not NotificationAttempted


INPUT_EVENT_TYPES: tuple[type[InputEvent], ...] = (
    PositionsReported,
    OrdersReported,
    ExecutionsReported,
    WalletReported,
    PricesReported,
    AccountModeSet,
    LocalPositionOpened,
    LocalPositionResized,
    LocalPositionClosed,
    OrderPlaced,
    OrderCancelled,
    LocalPositionCleaned,
    StreamDown,
    StreamReconnected,
    StreamConnected,
    InputRejected,
    ClockTicked,
    RulesSet,
    TriggerCommanded,
    OrderPlacementReported,
    NotificationAttempted,
)
