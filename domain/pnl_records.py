"""The records the PnL ledger (pnl.py) keeps and reports: a lifecycle, its record once flat,
a run's rewind point and a fill's PnL check, with the arithmetic context they are kept in.

Apart from the ledger's logic because msgspec makes them: the structs are msgspec's own, and
ClosedPosition is decoded from the views by its annotations, which mypyc would erase
(setup.py leaves this module pure and compiles the ledger).
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal

from msgspec import Struct

from trueup.domain.events import Fill
from trueup.domain.keys import PositionKey
from trueup.domain.vocabulary import PnlFigure, PositionSide

ZERO = Decimal(0)
ONE = Decimal(1)
# Wide enough that no sum of prices x sizes trueup accepts (15 + 12 digits each) rounds.
# The default context (28 digits) is not: a price x size alone may take 54 digits, and a
# cost that carries a share rounded to 1e-24 (pnl.SHARE) takes 15 + 24 and more as it
# grows. A fill's arithmetic is therefore all done in it, entered once per input
# (``PnlLedger.executions``).
EXACT = Context(prec=96, rounding=ROUND_HALF_EVEN, Emax=999, Emin=-999)
AVERAGE_PLACES = Decimal("1e-12")  # an average price is given to 12 decimal places
SHORT = PositionSide.SHORT  # read for every fill: a module global, not the enum's lookup


class Lifecycle(Struct, gc=False):
    """One position on one key from open to flat.

    Untracked by the garbage collector: the closed ones wait in the ledger until the views
    take them (never, in a replay), and as tracked objects they made it collect twice as
    often. It holds no container that could lead back to it, so it is in no cycle."""

    key: PositionKey
    number: int  # its ordinal among the key's lifecycles, from 1
    side: PositionSide
    opened_at: int  # the opening fill's venue time
    size: Decimal = ZERO
    cost: Decimal = ZERO  # the cost of the size held: entry price x size, on average cost
    max_size: Decimal = ZERO
    # What the opening fills paid, and the closing fills received, price x quantity: with
    # the cost, they give the realised PnL (``realised``), not summed again for every fill.
    entry_value: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_value: Decimal = ZERO
    fees: Decimal = ZERO  # paid; a rebate is negative
    funding: Decimal = ZERO  # received; paid is negative
    # The venue's own realised PnL summed over the closing fills; None once one lacks it.
    venue_realised: Decimal | None = ZERO
    fills: int = 0
    # The local ids, in the order seen (``position_ids``): the first alone, then a tuple
    # grown by the rare further one. Not a tuple of one: a lifecycle is kept until its
    # record is taken, and each such tuple was an object more for the garbage collector to
    # count (a third of its collections over a replay); a string is not one it tracks.
    first_id: str | None = None
    more_ids: tuple[str, ...] = ()
    # Once flat: what only the closing fill can tell (the rest of its record is read from
    # the figures above, which no longer change; ``record``).
    closed_at: int = 0
    exit_reason: str = ""
    last_fill_at: int = 0  # the venue time of its latest fill (``PnlLedger._fold``)
    # Whether a report of the venue's, of its latest fill's own transaction, held another
    # size or average entry: it is not the whole position (one held before trueup watched,
    # added to, or a fill not seen), and its figures do not say what is held
    # (``differs_at_venue``).
    partial: bool = False
    # Opened by what a fill took past zero, closing the lifecycle before it: the venue's
    # figure of the position held may still count that one's (whether Bybit's
    # curRealisedPnl starts again at a flip is not documented), so it is not checked.
    flipped: bool = False
    # Fees its fills paid in other coins than ``key``'s PnL coin, by coin (pnl.py, ``_fee``):
    # never in ``fees``. A tuple: a checkpoint's copy of the lifecycle shares it unchanged.
    fees_apart: tuple[tuple[str, Decimal], ...] = ()

    @property
    def position_ids(self) -> tuple[str, ...]:
        """The LIVE local positions mapped to it, in the order seen."""
        first = self.first_id
        return () if first is None else (first, *self.more_ids)

    def map_local(self, position_id: str) -> None:
        """Map a LIVE local position to it, once."""
        first = self.first_id
        if first is None:
            self.first_id = position_id
        elif position_id != first and position_id not in self.more_ids:
            self.more_ids += (position_id,)

    @property
    def signed_size(self) -> Decimal:
        return -self.size if self.side is SHORT else self.size

    @property
    def entry_qty(self) -> Decimal:
        return EXACT.add(self.size, self.exit_qty)

    @property
    def realised(self) -> Decimal:
        """Before fees and funding: what the closes received less the cost they took off
        (the entry value less the cost left), exactly the sum of each close's PnL."""
        taken = EXACT.subtract(self.entry_value, self.cost)
        gain = EXACT.subtract(self.exit_value, taken)
        return EXACT.minus(gain) if self.side is SHORT else gain

    def unrealised(self, mark: Decimal) -> Decimal:
        """(mark - average entry) x signed size, exactly: from the cost, not the average."""
        value = EXACT.multiply(mark, self.size)
        gain = EXACT.subtract(value, self.cost)
        return EXACT.minus(gain) if self.side is SHORT else gain

    @property
    def net(self) -> Decimal:
        """Realised less fees plus funding: what the lifecycle has put in the wallet so far."""
        return EXACT.add(EXACT.subtract(self.realised, self.fees), self.funding)

    def record(self) -> "ClosedPosition":
        """The position history's record of the lifecycle, once flat."""
        key = self.key
        return ClosedPosition(
            venue=key.venue,
            account=key.account,
            category=key.category,
            symbol=key.symbol,
            position_idx=key.position_idx,
            number=self.number,
            side=self.side.value,
            max_size=self.max_size,
            avg_entry=average(self.entry_value, self.entry_qty),
            avg_exit=average(self.exit_value, self.exit_qty),
            realised_pnl=self.realised,
            fees=self.fees,
            funding=self.funding,
            net_pnl=self.net,
            venue_realised_pnl=self.venue_realised,
            opened_at=self.opened_at,
            closed_at=self.closed_at,
            duration_ms=self.closed_at - self.opened_at,
            exit_reason=self.exit_reason,
            position_ids=self.position_ids,
            fills=self.fills,
            partial=self.partial,
            fees_apart=dict(self.fees_apart),
        )


@dataclass(frozen=True, slots=True)
class ClosedPosition:
    """A lifecycle once flat: the position history's record of it."""

    venue: str
    account: str
    category: str
    symbol: str
    position_idx: int
    number: int
    side: str  # LONG or SHORT
    max_size: Decimal
    avg_entry: Decimal
    avg_exit: Decimal
    realised_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    venue_realised_pnl: Decimal | None
    opened_at: int
    closed_at: int
    duration_ms: int
    exit_reason: str
    position_ids: tuple[str, ...]
    fills: int
    # Its figures are of trueup's fills, and the venue held more or another position beside
    # them (``Lifecycle.partial``): not the position's whole story.
    partial: bool = False
    # Fees paid in other coins, by coin: not in ``fees`` (nor ``net_pnl``), which are in the
    # position's PnL coin.
    fees_apart: dict[str, Decimal] = field(default_factory=dict)


class Checkpoint(Struct, gc=False):
    """A key's figures that its fills move, as they stood before its run of fills began:
    what a fill older than the run's newest rewinds to (``PnlLedger._refold``)."""

    open: Lifecycle | None  # a copy: the one folded on goes on changing
    lifecycles: int
    past_realised: Decimal
    past_fees: Decimal
    past_funding: Decimal
    past_closed_value: Decimal
    unseen: "Fill | None"
    last_close: "Fill | None"
    # The fills folded since, in the venue's order (execution time, trade id), and the
    # lifecycles they closed (a rewind takes those back).
    fills: list[Fill]
    closed: list[Lifecycle]
    since: int  # the input time the run began: it is let go SEEN_FOR_MS later
    fees_apart: tuple[tuple[str, Decimal], ...] = ()


class PnlCheck(Struct, frozen=True):
    """trueup's realised PnL of a fill beside the venue's own figure for it.

    A frozen struct, not a frozen dataclass: one is made for nearly every closing fill, and
    a frozen dataclass sets each field through object.__setattr__ (several times the cost)."""

    key: PositionKey
    lifecycle: int  # the number of the lifecycle it is about
    trade_id: str  # "" for a position's figure
    ours: Decimal
    venue: Decimal
    notional: Decimal  # price x the quantity it closed: what a tolerance scales with
    figure: PnlFigure
    # A position's or a span's: the key's late net when checked (KeyLedger.late_net), so
    # that what came late since is counted in when it is judged, settled.
    late_net: Decimal = ZERO

    @property
    def span(self) -> bool:
        """A check of what moved between two reports: each is news once."""
        return self.figure is PnlFigure.ALL_TIME


def average(value: Decimal, qty: Decimal) -> Decimal:
    """A volume-weighted average price, to 12 decimal places (trailing zeros dropped)."""
    if qty == ZERO:
        return ZERO
    mean = EXACT.divide(value, qty).quantize(AVERAGE_PLACES, context=EXACT)
    integral = mean == mean.to_integral_value(context=EXACT)
    return mean.quantize(ONE, context=EXACT) if integral else mean.normalize(EXACT)
