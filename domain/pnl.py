"""Profit and loss from fills, per position key and per lifecycle (open to flat).

The method is average cost, as Bybit and Hyperliquid compute a position's entry price and
the realised PnL of a closing execution (Bybit's execPnl, Hyperliquid's closedPnl): a fill
that adds to a position adds its price x quantity to the position's cost; one that reduces
it takes off the cost of what it closes, in proportion (cost x closed / size), and realises
the difference from its own price. So trueup's figures are the venue's, comparable fill by
fill (rules/pnl_mismatch.py). A fill that crosses zero closes the lifecycle and opens the
next with the rest, its fee split between the two by quantity. A fill that the venue says
closed what no lifecycle held (a position opened before trueup watched) opens none: the key
has no figures of trueup's own until the venue's position is flat (``KeyLedger.unseen``).
Where the venue names no closed size (Aster), its position before the fill says how much the
fill closed: its report older than the fill, or one of the fill's own transaction less the
fill, whichever came first (``_held_before``; a report after the fill folds it again).

Fills are folded in the venue's order (execution time, then trade id), whatever order they
come in: a fill older than one already folded on its key (an opening fill a REST backfill
delivers after the stream delivered its close) rewinds the key to where its run of fills
began and folds the run again in order, so the lifecycles, their sides and their PnL are
those of the fills, not of their arrival (``PnlLedger._refold``; runs are kept SEEN_FOR_MS).

Exact in Decimal: the cost is kept, never the average, so realised plus unrealised is the
cash flows plus size x mark to the last digit; the only rounding is a partial close's share
of the cost (to 1e-24, far below any venue's tick), which moves PnL between realised and
unrealised and never loses any. Linear contracts only: for inverse ones (PnL in the base
coin) the figures would be wrong, so those fills are left out (``ContractKind.INVERSE``).
"""

from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass
from decimal import Decimal, getcontext, setcontext
from typing import TYPE_CHECKING
from zlib import crc32

from msgspec.structs import replace

from trueup.domain.events import ExecutionsReported, Fill, PositionReport
from trueup.domain.exits import exit_reason
from trueup.domain.keys import PositionKey, order_key_of
from trueup.domain.legs import LONG_LEG, SHORT_LEG, hedged, leg_index
from trueup.domain.pnl_records import (
    EXACT,
    ONE,
    SHORT,
    ZERO,
    Checkpoint,
    ClosedPosition,
    Lifecycle,
    PnlCheck,
)
from trueup.domain.position import ABSENT, LIST_SETTLES_MS
from trueup.domain.retention import NEVER, sweep_instant
from trueup.domain.vocabulary import (
    ContractKind,
    ExecutionKind,
    OrderSide,
    PnlFigure,
    PositionSide,
    Whose,
)

if TYPE_CHECKING:  # the book folds this ledger: imported for its type alone
    from trueup.domain.book import AccountBook

SHARE = Decimal("1e-24")  # a partial close's share of the cost is rounded to this
INVERSE = ContractKind.INVERSE  # coin-margined contracts: not folded
# How long a fill's id is remembered to tell a repeat (REST lists re-send the last days):
# as long as a book keeps a finished order (domain/retention.py); older fills are judged
# by their venue timestamp against what was let go.
SEEN_FOR_MS = 10 * 60_000
# A fill let go is told from one never seen by its venue time and a checksum of its id, for
# this long behind the newest of its symbol let go: one sent again matches one let go, where
# a REST backfill of hours the stream missed brings fills that match none (an order filled
# at several prices in one millisecond too), folded. Older than that, an unknown fill is
# taken for a repeat. One int per fill let go, kept a day.
TOLD_APART_FOR_MS = 24 * 3_600_000
# What has aged out is let go at fixed instants of input time, the multiples of a tenth of
# that, each as of its instant, before the first input that reaches it (as the book does,
# domain/book.py): what a fold has let go then depends on the input's instant alone, not on
# which fills came before it (an audit folds one symbol's, the reconciler the account's).
# A busy account pays for the pass once in many fills; an id goes within 1.1 windows.
LET_GO_EVERY_MS = SEEN_FOR_MS // 10
# A venue's average entry price within a unit of the last non-zero decimal it gave (the
# zeros after it are padding: Hyperliquid writes 65012 as "65012.0", Aster 6563.665 as
# "6563.66500"), or within this share of the price where that is coarser, is the
# lifecycle's (``_other_position``): what it rounds to is its own.
ENTRY_ROUNDING = Decimal("1e-5")
# A public price's mark is taken by a lifecycle opening no later than this after it was
# told (``PnlLedger._open``): an older one may be of a stream long gone, or a run long past.
PRICE_FRESH_FOR_MS = 60_000
# The venue's reports of a key kept beside its ledger while it may fold a fill with none
# open (``KeyLedger.remember``): the position before a fill folded again, or after a newer
# report, is read from them.
REPORTS_KEPT = 4
# The members the fold reads for every fill, read off their enums once: in Python 3.11 a
# member read off its class costs some eight times a module global (EnumType's lookup).
BUY = OrderSide.BUY
LONG = PositionSide.LONG
FUNDING = ExecutionKind.FUNDING


@dataclass(slots=True)
class KeyLedger:
    """One key's open lifecycle, its latest mark, and its totals since trueup first saw it."""

    # The key, this one object: its lifecycles refer to it, not to the equal key each fill
    # makes again (one more object per lifecycle kept, for the garbage collector to count).
    key: PositionKey
    open: Lifecycle | None = None
    lifecycles: int = 0
    mark: Decimal | None = None
    # The input time of the report or quote the mark is from: one told earlier, come later
    # (a capture's streams merged out of order), does not replace it (``marked``).
    mark_at: int = 0
    # Of the lifecycles closed, and funding paid while flat: the open lifecycle's own are
    # added when asked (``realised``), not once more for every fill.
    past_realised: Decimal = ZERO
    past_fees: Decimal = ZERO
    past_funding: Decimal = ZERO
    past_closed_value: Decimal = ZERO  # price x quantity of every closing fill
    # At the last position report in step with the ledger that moved the venue's all-time
    # realised PnL (Bybit's cumRealisedPnl): that figure, and trueup's net and closed value
    # then. The next such report is checked over the span between the two.
    venue_cum: Decimal | None = None
    cum_net: Decimal = ZERO
    cum_closed_value: Decimal = ZERO
    # That report's venue time and sequence (``counted_by_venue``): a fill made no later than
    # it is in ``venue_cum`` already, however late it comes (a restarted run's REST catch-up
    # brings fills made before trueup first heard the figure), so it moves ``cum_net`` too.
    cum_at: int = 0
    cum_seq: int | None = None
    # All that such fills (and payments) moved the key's net by, folded after the report
    # that counted them: a check of that report, told once settled, counts in what came
    # since (a funding execution after its position push: Bybit orders no topics).
    late_net: Decimal = ZERO
    # The coin its PnL is counted in, as the latest fill or report that named one said.
    coin: str | None = None
    # Fees its fills paid in other coins (Fill.fee_coin), by coin, in coin order: never
    # summed into ``fees``, which are in ``coin``.
    fees_apart: tuple[tuple[str, Decimal], ...] = ()
    # Set while the venue holds a position here that trueup did not see open (a fill closed
    # what no lifecycle held, the normal case for a position opened before trueup watched):
    # the last fill folded on it. Its entry and size are not known, so no lifecycle opens
    # and the ledger has no figure of its own until the venue's word that the key is flat,
    # no older than this fill (``venue_flat``), or a fill that takes it through zero.
    unseen: Fill | None = None
    # The fill that last took a lifecycle of trueup's flat: a report of the key older than it
    # shows what that lifecycle held, not a position trueup did not see open.
    last_close: Fill | None = None
    # The newest fill folded here, in the venue's order: one older than it came late.
    newest_time: int = 0
    newest_id: str = ""
    newest_seq: int | None = None  # its venue sequence, where it has one (``closed_unseen``)
    # When the latest fill folded here was received (the book's clock then): a list is
    # weighed against it by receipt too, for the venue's clock and the local one may differ.
    fill_received: int = 0
    # Where the fills folded since the start of the current run (SEEN_FOR_MS) began.
    run: Checkpoint | None = None
    # The venue's latest reports of the key, oldest first (``remember``).
    reports: tuple[PositionReport, ...] = ()
    # The venue time of the latest report of the key flat, and its sequence where it has
    # one: a lifecycle whose last fill is older was closed at the venue, by fills trueup
    # may not have seen (``_fold``).
    flat_at: int = 0
    flat_seq: int | None = None

    def remember(self, report: PositionReport) -> None:
        """Keep a report the book took: a fill folded after a newer one, or folded again,
        reads the position the venue held before it from them (``_held_before``). None is
        kept while a lifecycle is open and no run of fills could fold again without it."""
        reports = self.reports
        if self.open is not None and self.run is None:
            if reports:
                self.reports = ()
            return
        if reports:
            last = reports[-1]
            if (
                last.updated_time == report.updated_time
                and last.seq == report.seq
                and last.signed_size == report.signed_size
            ):
                reports = reports[:-1]  # the same version of the position, told again
        self.reports = (*reports[1 - REPORTS_KEPT :], report)

    def settled_by(self, served: int, received: int) -> bool:
        """Whether a list of the venue's served at ``served`` (received at ``received``) came
        long enough after the last fill folded here to show it (a list may lag the fills:
        position.py), by the venue's times and by receipt (Aster's lists name no time)."""
        return (
            served - self.newest_time > LIST_SETTLES_MS
            and received - self.fill_received > LIST_SETTLES_MS
        )

    def marked(self, mark: Decimal, at: int) -> bool:
        """Take ``mark``, told at input time ``at``, unless the one held was told later."""
        if at < self.mark_at:
            return False
        self.mark, self.mark_at = mark, at
        return True

    def counted_by_venue(self, fill: Fill) -> bool:
        """Whether ``fill`` was made no later than the report that last moved the venue's
        all-time figure (``venue_cum``), which counts it then: by the venue's sequence where
        both carry one (as ``_older``), else by time."""
        if self.venue_cum is None:
            return False
        seq = self.cum_seq
        if seq is not None and fill.seq is not None:
            return fill.seq <= seq
        return fill.exec_time <= self.cum_at

    def flat_before(self, fill: Fill) -> bool:
        """Whether the latest flat report of the key was made before ``fill``: by the
        venue's sequence where both carry one (as ``_older``), else by time."""
        seq = self.flat_seq
        if seq is not None and fill.seq is not None:
            return seq < fill.seq
        return self.flat_at < fill.exec_time

    def checkpoint(self, since: int) -> Checkpoint:
        """Its figures now, as a run of fills begins."""
        life = self.open
        return Checkpoint(
            None if life is None else replace(life),
            self.lifecycles,
            self.past_realised,
            self.past_fees,
            self.past_funding,
            self.past_closed_value,
            self.unseen,
            self.last_close,
            [],
            [],
            since,
            self.fees_apart,
        )

    def rewind(self, run: Checkpoint) -> None:
        """Back to its figures as ``run`` began (``run`` itself is not changed)."""
        life = run.open
        self.open = None if life is None else replace(life)
        self.lifecycles = run.lifecycles
        self.past_realised = run.past_realised
        self.past_fees = run.past_fees
        self.past_funding = run.past_funding
        self.past_closed_value = run.past_closed_value
        self.unseen = run.unseen
        self.last_close = run.last_close
        self.fees_apart = run.fees_apart

    @property
    def realised(self) -> Decimal:
        """Of every lifecycle, closed or open, before fees and funding."""
        life = self.open
        return self.past_realised if life is None else EXACT.add(self.past_realised, life.realised)

    @property
    def fees(self) -> Decimal:
        life = self.open
        return self.past_fees if life is None else EXACT.add(self.past_fees, life.fees)

    @property
    def funding(self) -> Decimal:
        life = self.open
        return self.past_funding if life is None else EXACT.add(self.past_funding, life.funding)

    @property
    def net(self) -> Decimal:
        """Realised less fees plus funding, of every lifecycle: what the key has put in the
        wallet since trueup first saw it."""
        net = EXACT.add(EXACT.subtract(self.past_realised, self.past_fees), self.past_funding)
        return net if self.open is None else EXACT.add(net, self.open.net)

    @property
    def closed_value(self) -> Decimal:
        """Price x quantity of every closing fill: what the venue's PnL was made on."""
        life = self.open
        if life is None:
            return self.past_closed_value
        return EXACT.add(self.past_closed_value, life.exit_value)

    def unrealised(self) -> Decimal | None:
        """From the latest mark: None with a position and no mark yet, or one trueup did
        not see open; 0 when flat."""
        if self.open is None:
            return ZERO if self.unseen is None else None
        return None if self.mark is None else self.open.unrealised(self.mark)


def unrealised(
    ledger: KeyLedger | None, report: PositionReport | None, received: int
) -> tuple[Decimal | None, Whose | None]:
    """A key's unrealised PnL as trueup can vouch for it, and whose figure it is: the
    ledger's, where it folded the fills of the lifecycle open and has a mark; else the
    venue's, from its last report of the position held; 0 where neither holds one, or
    the venue holds none since trueup's last fill (``closed_unseen``); else unknown. A
    position opened before trueup saw its fills has no open lifecycle in the ledger, which
    knows neither its entry nor its size: its 0 is not true. Nor is the ledger's figure of a
    lifecycle the venue holds another size or entry of since its last fill
    (``differs_at_venue``). ``received``: when ``report`` was."""
    differs = ledger is not None and differs_at_venue(ledger, report, received)
    if differs and report is not None and not report.size:
        return ZERO, Whose.VENUE
    held = ledger is not None and (ledger.open is not None or ledger.unseen is not None)
    ours = ledger.unrealised() if ledger is not None and held and not differs else None
    if ours is not None:
        return ours, Whose.TRUEUP
    if report is not None and report.size:
        venue = report.unrealised_pnl
        return (None, None) if venue is None else (venue, Whose.VENUE)
    return (None, None) if held else (ZERO, Whose.TRUEUP)


def closed_unseen(ledger: KeyLedger, report: PositionReport | None, received: int) -> bool:
    """Whether the venue reports flat, since the last fill folded on the key, a lifecycle
    its fills leave open: a close whose fill trueup has not seen (a late one closes it)."""
    return report is not None and not report.size and differs_at_venue(ledger, report, received)


def unreported(ledger: KeyLedger, report: PositionReport | None, received: int) -> Lifecycle | None:
    """The lifecycle of trueup's fills open on the key while the venue's last word holds
    nothing there, a word no newer than its last fill (``closed_unseen``): held, as far as
    anyone can tell, until a report of the venue says otherwise."""
    life = ledger.open
    if life is None or (report is not None and report.size):
        return None
    return None if closed_unseen(ledger, report, received) else life


def differs_at_venue(ledger: KeyLedger, report: PositionReport | None, received: int) -> bool:
    """Whether the venue reports, since the last fill folded on the key, another position
    than the lifecycle its fills leave open (another size, or another average entry): a
    fill trueup has not seen (a close, or a close and a reopen, while the stream was down),
    or a position held before trueup watched that its first fill added to; or did so in
    step with the fills, and has not since (``Lifecycle.partial``). ``received``: when
    ``report`` was."""
    life = ledger.open
    if life is None:
        return False
    if life.partial:
        return True
    if report is None or not _other_position(life, report):
        return False
    # A fill of the same transaction as the report is no newer than it.
    seq, newest = _own_seq(report), ledger.newest_seq
    if seq is not None and newest is not None:
        return seq >= newest
    if report.status == ABSENT:  # a list's omission, which may lag the fills (position.py)
        return ledger.settled_by(report.updated_time, received)
    return report.updated_time > ledger.newest_time


def _other_position(life: Lifecycle, report: PositionReport) -> bool:
    """Whether ``report`` shows another position than ``life``: another size, or the same
    size at another average entry price (a close and a reopen trueup did not see)."""
    if report.signed_size != life.signed_size:
        return True
    venue = report.entry_price
    if venue is None or venue <= ZERO or not life.size:
        return False
    # The venue's average is its rounding of cost over size (ENTRY_ROUNDING).
    _, digits, exponent = venue.as_tuple()
    given = exponent if isinstance(exponent, int) else 0
    while given < 0 and len(digits) > 1 and digits[-1] == 0:  # padding, not precision
        digits, given = digits[:-1], given + 1
    tolerance = max(ONE.scaleb(given), EXACT.multiply(venue, ENTRY_ROUNDING))
    gap = abs(EXACT.subtract(EXACT.multiply(venue, life.size), life.cost))
    return gap > EXACT.multiply(tolerance, life.size)


def _weigh_whole(ledger: KeyLedger, report: PositionReport) -> None:
    """Whether the open lifecycle is the whole of what is held (``Lifecycle.partial``), as
    ``report`` says where it is of the newest fill's own transaction (in step with them)."""
    life = ledger.open
    if life is not None and _of_newest(ledger, report):
        life.partial = _other_position(life, report)


def _of_newest(ledger: KeyLedger, report: PositionReport) -> bool:
    """Whether ``report`` is of the own transaction of the newest fill folded on the key: the
    same sequence where both carry one, else the same time."""
    seq, newest = _own_seq(report), ledger.newest_seq
    if seq is not None and newest is not None:
        return seq == newest
    return report.updated_time == ledger.newest_time


def _own_seq(report: PositionReport) -> int | None:
    """The report's sequence, where it is its own: a flat inferred from a snapshot that omits
    the key keeps the seq of the report before it, and its time, the snapshot's, is what
    says how new it is."""
    return None if report.status == ABSENT else report.seq


def _gone_mark(exec_time: int, trade_id: str) -> int:
    """A fill let go, as one int that sorts by its venue time: that time, then a checksum of
    its id (a repeat matches it; another fill of the same millisecond, all but surely not)."""
    return exec_time << 32 | crc32(trade_id.encode("utf-8", "surrogatepass"))


def _next_sweep(clock: int) -> int:
    """The first sweep instant after ``clock`` (``PnlLedger._let_go``)."""
    return sweep_instant(clock, LET_GO_EVERY_MS) + LET_GO_EVERY_MS


class PnlLedger:
    """One account's PnL per key, folded from its fills in the venue's order."""

    __slots__ = (
        "_done",
        "_gone",
        "_horizons",
        "_legs",
        "_next_let_go",
        "_runs",
        "_seen",
        "_seen_at",
        "_seen_symbols",
        "checks",
        "held",
        "keys",
        "moved",
        "retracted",
    )

    def __init__(self) -> None:
        self.keys: dict[PositionKey, KeyLedger] = {}
        # (category, symbol, position_idx) -> the same ledgers: what a fill names, found
        # without building its PositionKey.
        self._legs: dict[tuple[str, str, int], KeyLedger] = {}
        # Lifecycles closed since the views last took them (``take_closed``): their records
        # are built only then, so a fold whose history nobody takes (a replay, an audit, a
        # snapshot's rebuild) does not build them at all.
        self._done: list[Lifecycle] = []
        # (key, number) of lifecycles closed that a late fill has since undone (``_refold``):
        # their records are no longer true unless the key closes them again.
        self.retracted: list[tuple[PositionKey, int]] = []
        # The keys with a run of fills kept (``KeyLedger.run``), to be let go in time.
        self._runs: list[KeyLedger] = []
        # What the last input showed of the venue's own figures beside trueup's.
        self.checks: list[PnlCheck] = []
        # The keys the last input's fills moved.
        self.moved: list[PositionKey] = []
        # Of the lifecycles the last input's fills took flat that LIVE local positions map
        # to: each one's side, opening instant (the venue's) and those positions. The venue
        # held that side, and holds it no more, whether or not a report of the position ever
        # showed it (opened and closed unheard). Not those it opened or left open: a report
        # older than the fill, come after it, would read as their close.
        self.held: list[tuple[PositionSide, int, tuple[str, ...]]] = []
        # symbol -> trade_id -> its venue time, in the order seen, and beside it when each
        # was seen (input time, never falling) and its symbol: the ids seen longer ago are
        # found by bisection and let go at the front. Per symbol: a venue may number its
        # trades per symbol (Aster's, as Binance's), so one symbol's id says nothing of
        # another's. Below its symbol's horizon (venue time) an unknown fill is one let go,
        # sent again. The horizon is the symbol's own, not the account's: one symbol's fills
        # let go must not hide another's that come late (nor make a fold of the account tell
        # them apart from a fold of that symbol). Maps and lists of atoms, not of pairs: a
        # pair per fill, kept for minutes, would be a container the garbage collector counts
        # and walks.
        self._seen: dict[str, dict[str, int]] = {}
        self._seen_at: list[int] = []
        self._seen_symbols: list[str] = []
        self._horizons: dict[str, int] = {}
        # symbol -> its fills let go (``_gone_mark``: venue time, then id), ascending, back
        # to TOLD_APART_FOR_MS behind its horizon: below the horizon, an unknown fill that
        # matches none is new.
        self._gone: dict[str, list[int]] = {}
        self._next_let_go = NEVER  # the clock from which a sweep is due (``_let_go``)

    def begin(self) -> None:
        """A new input: what the last one showed is no longer news."""
        if self.checks:
            self.checks = []
        if self.moved:
            self.moved = []
        if self.held:
            self.held = []

    def key(self, key: PositionKey) -> KeyLedger:
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = KeyLedger(key)
        return found

    @property
    def closed(self) -> list[ClosedPosition]:
        """The records of the lifecycles closed since the views last took them."""
        return [life.record() for life in self._done]

    def take_closed(self) -> list[ClosedPosition]:
        """The lifecycles closed since the last call, handed over once."""
        closed = self.closed
        self._done = []
        return closed

    def take_retracted(self) -> list[tuple[PositionKey, int]]:
        """(key, number) of lifecycles closed that are no longer closed as they were (a late
        fill reopened or merged them), since the last call: to be dropped before what
        ``take_closed`` hands over (which holds those closed again)."""
        retracted, self.retracted = self.retracted, []
        return retracted

    # --- folding ---------------------------------------------------------------------------

    def executions(self, book: "AccountBook", event: ExecutionsReported) -> None:
        """Fold an input's fills, oldest first (REST lists come newest first), each once."""
        if book.clock >= self._next_let_go:
            self._let_go(book.clock)
        fills = event.fills
        if len(fills) > 1:
            fills = tuple(sorted(fills, key=_venue_order))
        # The wide context for the whole input: switching to it by hand costs a third of
        # ``localcontext`` (which copies the context each time), and it is entered per input,
        # not per fill.
        outside = getcontext()
        setcontext(EXACT)
        try:
            seen, seen_at, clock = self._seen, self._seen_at, book.clock
            horizons = self._horizons
            for fill in fills:
                trade_id, exec_time, symbol = fill.trade_id, fill.exec_time, fill.symbol
                of_symbol = seen.get(symbol)
                if (of_symbol is not None and trade_id in of_symbol) or (
                    fill.contract_kind is INVERSE
                ):
                    continue  # a repeat; or a coin-margined contract, not folded
                if 0 < exec_time <= horizons.get(symbol, 0) and self._was_let_go(symbol, fill):
                    continue  # a fill let go, sent again by a REST list or a resubscription
                # Seen now: remembered for SEEN_FOR_MS (``_let_go``).
                if self._next_let_go == NEVER:
                    self._next_let_go = _next_sweep(clock)
                if of_symbol is None:
                    of_symbol = seen[symbol] = {}
                of_symbol[trade_id] = exec_time
                seen_at.append(clock)
                self._seen_symbols.append(symbol)
                if fill.kind is FUNDING:
                    self._funding(book, fill)
                elif fill.side is not None and fill.exec_qty > ZERO:
                    self._trade(book, fill)
        finally:
            setcontext(outside)

    def position_report(
        self, book: "AccountBook", key: PositionKey, report: PositionReport, at: int
    ) -> None:
        """The venue's mark, and its realised PnL of the position held (curRealisedPnl) and
        of all time (cumRealisedPnl), when it gives them; checked against trueup's only when
        both hold the same position (a fill on its way would make them differ)."""
        if book.clock >= self._next_let_go:
            self._let_go(book.clock)  # before ``run`` is read below
        ledger = self.keys.get(key)
        mark = report.mark_price
        if mark is not None and mark > ZERO:
            if ledger is None:
                ledger = self.key(key)
            ledger.marked(mark, at)
        elif ledger is None:
            return
        ledger.remember(report)
        _weigh_whole(ledger, report)
        unseen = ledger.unseen
        if not report.size:
            self.venue_flat(book, key, report)
        elif unseen is not None and ledger.run is not None and _flipped(book, report, unseen):
            # The last fill, counted as closing what trueup did not see open, took it
            # through zero, this report of its own transaction says: folded again, the
            # part past zero opens a lifecycle of trueup's (in the fills' context).
            self._refolded(book, ledger, ledger.run)
        if report.notional_coin is not None:
            ledger.coin = report.pnl_coin or report.notional_coin
        current, cumulative = report.cur_realised_pnl, report.cum_realised_pnl
        # The all-time figure is checked only when it moved: most reports leave it as it was.
        moved = cumulative is not None and cumulative != ledger.venue_cum
        if current is None and not moved:
            return
        life = ledger.open
        if report.signed_size != (ZERO if life is None else life.signed_size):
            return
        if ledger.unseen is not None:
            return  # a flat report older than the last fill: not in step with the ledger
        if current is not None and life is not None and not life.flipped:
            notional = EXACT.multiply(life.cost, ONE)
            self.checks.append(
                PnlCheck(
                    key,
                    life.number,
                    "",
                    life.net,
                    current,
                    notional,
                    PnlFigure.POSITION,
                    ledger.late_net,
                )
            )
        if moved and cumulative is not None:
            self._cumulative(ledger, cumulative, report)

    def venue_flat(self, book: "AccountBook", key: PositionKey, report: PositionReport) -> None:
        """The venue's word that ``key`` is flat: a position trueup did not see open is
        gone, if that word is no older than the last fill folded on it (fills and reports
        come by separate channels, in either order). Noted for a lifecycle whose fills are
        older, which fills trueup has not seen closed (``KeyLedger.flat_at``); should a fill
        made after it have been folded already, the run is folded again with it known."""
        ledger = self.keys.get(key)
        if ledger is None:
            return
        if report.updated_time >= ledger.flat_at:
            ledger.flat_at, ledger.flat_seq = report.updated_time, _own_seq(report)
            run = ledger.run
            if ledger.open is not None and run is not None and ledger.flat_before(run.fills[-1]):
                self._refolded(book, ledger, run)
        if ledger.unseen is None:
            return
        last = ledger.unseen
        seq = _own_seq(report)
        if seq is not None and last.seq is not None:
            newer = seq >= last.seq
        else:
            newer = report.updated_time >= last.exec_time
        if newer:
            ledger.unseen = None

    def _cumulative(self, ledger: KeyLedger, venue: Decimal, report: PositionReport) -> None:
        """The venue's all-time realised PnL moved: over the span since it last did, its move
        against trueup's (fees and funding in, as Bybit counts it). The first report only
        marks where trueup starts measuring: what came before trueup saw it is not known."""
        net, closed_value = ledger.net, ledger.closed_value
        if ledger.venue_cum is not None:
            ours = EXACT.add(ledger.venue_cum, EXACT.subtract(net, ledger.cum_net))
            notional = EXACT.subtract(closed_value, ledger.cum_closed_value)
            self.checks.append(
                PnlCheck(
                    ledger.key,
                    ledger.lifecycles,
                    "",
                    ours,
                    venue,
                    notional,
                    PnlFigure.ALL_TIME,
                    ledger.late_net,
                )
            )
        ledger.venue_cum, ledger.cum_net, ledger.cum_closed_value = venue, net, closed_value
        ledger.cum_at, ledger.cum_seq = report.updated_time, _own_seq(report)

    @staticmethod
    def _counted(ledger: KeyLedger, net: Decimal, closed_value: Decimal) -> None:
        """A fill the venue's all-time figure counted already (``counted_by_venue``) was
        folded, the key's net and closed value having been ``net`` and ``closed_value``:
        what it moved was in the span before that figure, so the span's start moves by it."""
        moved = EXACT.subtract(ledger.net, net)
        ledger.cum_net = EXACT.add(ledger.cum_net, moved)
        ledger.late_net = EXACT.add(ledger.late_net, moved)
        ledger.cum_closed_value = EXACT.add(
            ledger.cum_closed_value, EXACT.subtract(ledger.closed_value, closed_value)
        )

    def _let_go(self, clock: int) -> None:
        """Sweep as of the last sweep instant at or before ``clock``: forget the ids of fills
        seen SEEN_FOR_MS or longer before it, raising their symbols' horizons, and the runs
        begun as long before; the next sweep is due at the next instant."""
        instant = sweep_instant(clock, LET_GO_EVERY_MS)
        aged = instant - SEEN_FOR_MS
        seen, seen_at = self._seen, self._seen_at
        due = bisect_right(seen_at, aged)
        if due:
            horizons, symbols, gone = self._horizons, self._seen_symbols, self._gone
            for symbol in symbols[:due]:
                of_symbol = seen[symbol]
                # The symbol's oldest, in the order seen: the one seen longest ago of them.
                trade_id = next(iter(of_symbol))
                exec_time = of_symbol.pop(trade_id)
                if not of_symbol:
                    del seen[symbol]
                mark = _gone_mark(exec_time, trade_id)
                marks = gone.get(symbol)
                if marks is None:
                    gone[symbol] = [mark]
                elif mark >= marks[-1]:
                    marks.append(mark)  # most fills are let go in their venue order
                else:
                    insort(marks, mark)
                if exec_time > horizons.get(symbol, 0):
                    horizons[symbol] = exec_time
            for symbol in set(symbols[:due]):
                marks = gone[symbol]
                oldest = _gone_mark(horizons[symbol] - TOLD_APART_FOR_MS + 1, "")
                told_apart = bisect_left(marks, oldest)
                if told_apart:
                    del marks[:told_apart]
            del seen_at[:due]
            del symbols[:due]
        if self._runs:
            # Each run's first fill was seen as it began: the run goes when its id does.
            kept = []
            for ledger in self._runs:
                run = ledger.run
                if run is not None and run.since > aged:
                    kept.append(ledger)
                else:
                    ledger.run = None
            self._runs = kept
        self._next_let_go = _next_sweep(clock) if seen_at or self._runs else NEVER

    def _was_let_go(self, symbol: str, fill: Fill) -> bool:
        """Whether an unknown fill no newer than its symbol's horizon is one let go, sent
        again: the venue time and id of one let go, or too old to tell (TOLD_APART_FOR_MS)."""
        exec_time = fill.exec_time
        if exec_time <= self._horizons[symbol] - TOLD_APART_FOR_MS:
            return True
        marks, mark = self._gone[symbol], _gone_mark(exec_time, fill.trade_id)
        at = bisect_left(marks, mark)
        return at < len(marks) and marks[at] == mark

    def _funding(self, book: "AccountBook", fill: Fill) -> None:
        """A funding payment: to the leg held (exec_fee is what was paid)."""
        key = _funded_leg(book, self, fill)
        if key is None or fill.exec_fee is None:
            return
        ledger = self.key(key)
        counted = _before_if_counted(ledger, fill)
        if self._in_order(book, ledger, fill):
            self._pay(ledger, fill)
        if counted is not None:
            self._counted(ledger, *counted)

    def _pay(self, ledger: KeyLedger, fill: Fill) -> None:
        """A funding payment to ``ledger``'s key."""
        self.moved.append(ledger.key)
        if fill.notional_coin is not None:
            ledger.coin = fill.notional_coin
        received = EXACT.minus(fill.exec_fee or ZERO)  # none is kept without one (_funding)
        if ledger.open is None:
            ledger.past_funding = EXACT.add(ledger.past_funding, received)
        else:
            ledger.open.funding = EXACT.add(ledger.open.funding, received)

    def _trade(self, book: "AccountBook", fill: Fill) -> None:
        leg = (fill.category, fill.symbol, leg_index(book, fill))
        ledger = self._legs.get(leg)
        if ledger is None:
            ledger = self._legs[leg] = self.key(book.key(*leg))
        ledger.fill_received = book.clock
        # Made before the venue's all-time figure last checked, which counts it: what it
        # moves, in order or folded again late, is in the span before that figure.
        counted = _before_if_counted(ledger, fill)
        if self._in_order(book, ledger, fill):
            self._fold(book, ledger, fill)
            if ledger.open is not None:
                # The report of this fill's own transaction may have come first (one order
                # filled in two executions, its push between them).
                position = book.positions.get(ledger.key)
                if position is not None and position.exchange is not None:
                    _weigh_whole(ledger, position.exchange)
        if counted is not None:
            self._counted(ledger, *counted)

    def _in_order(self, book: "AccountBook", ledger: KeyLedger, fill: Fill) -> bool:
        """Whether ``fill`` is newer than every fill folded on ``ledger``'s key, to be folded
        on as it is (kept in the key's run); else it came late, and is folded in its place
        (``_refold``)."""
        exec_time, newest = fill.exec_time, ledger.newest_time
        if exec_time < newest or (
            exec_time == newest
            and _venue_order(fill) < _order_of(newest, ledger.newest_seq, ledger.newest_id)
        ):
            self._refold(book, ledger, fill)
            return False
        ledger.newest_time, ledger.newest_id = exec_time, fill.trade_id
        ledger.newest_seq = fill.seq
        run = ledger.run
        if run is None:
            run = ledger.run = ledger.checkpoint(book.clock)
            self._runs.append(ledger)
            if self._next_let_go == NEVER:
                self._next_let_go = _next_sweep(book.clock)
        run.fills.append(fill)
        return True

    def _refold(self, book: "AccountBook", ledger: KeyLedger, fill: Fill) -> None:
        """A fill older than one folded on its key: the key rewinds to where its run began
        and folds the run's fills again with this one, in the venue's order. The lifecycles
        the run closed are taken back (closed again where the fills close them); what the
        fills check against the venue's figures is checked again."""
        run = ledger.run
        if run is None:  # older than any run kept (SEEN_FOR_MS): folded as it comes
            life = ledger.open
            # A trade older than the lifecycle open, or made before the venue showed the key
            # flat with none open: one gone (set aside, or closed) is its own, whose figures
            # are no longer kept to fold it in; only its fee is the key's.
            if life is not None:
                gone = fill.exec_time < life.opened_at
            else:
                gone = (
                    fill.kind is not FUNDING and ledger.flat_at > 0 and not ledger.flat_before(fill)
                )
            if gone:
                self.moved.append(ledger.key)
                ledger.past_fees += _fee(ledger, fill)
            elif fill.kind is FUNDING:
                self._pay(ledger, fill)
            else:
                self._fold(book, ledger, fill)
            return
        run.fills.append(fill)
        run.fills.sort(key=_venue_order)
        self._fold_again(book, ledger, run)

    def _refolded(self, book: "AccountBook", ledger: KeyLedger, run: Checkpoint) -> None:
        """``_fold_again`` from outside a fold (a report's word), in the fills' context."""
        outside = getcontext()
        setcontext(EXACT)
        try:
            self._fold_again(book, ledger, run)
        finally:
            setcontext(outside)

    def _fold_again(self, book: "AccountBook", ledger: KeyLedger, run: Checkpoint) -> None:
        """Rewind the key to where ``run`` began and fold its fills again, in order."""
        fills = run.fills
        # The local positions mapped to each lifecycle undone stay mapped to its number.
        mapped = {life.number: life.position_ids for life in run.closed}
        if ledger.open is not None:
            mapped[ledger.open.number] = ledger.open.position_ids
        # Taken back whether or not the views took them yet (a state restored from a
        # snapshot may hold some they took): the views drop those the fills do not close again.
        done = self._done
        for life in run.closed:
            self.retracted.append((ledger.key, life.number))
            waiting = next((n for n, d in enumerate(done) if d is life), None)
            if waiting is not None:
                del done[waiting]
        run.closed.clear()
        ledger.rewind(run)
        for each in fills:
            if each.kind is FUNDING:
                self._pay(ledger, each)
            else:
                self._fold(book, ledger, each)
        last = fills[-1]
        ledger.newest_time, ledger.newest_id = last.exec_time, last.trade_id
        ledger.newest_seq = last.seq
        lives: list[Lifecycle | None] = [*run.closed, ledger.open]
        for again in lives:
            if again is not None:
                for position_id in mapped.get(again.number, ()):
                    again.map_local(position_id)

    def _fold(self, book: "AccountBook", ledger: KeyLedger, fill: Fill) -> None:
        """A trade on ``ledger``'s key, after every fill folded there."""
        key = ledger.key
        self.moved.append(key)
        if fill.notional_coin is not None:
            ledger.coin = fill.notional_coin
        qty, price, fee = fill.exec_qty, fill.exec_price, _fee(ledger, fill)
        buy = fill.side is BUY
        life = ledger.open
        if life is not None and life.last_fill_at < ledger.flat_at and ledger.flat_before(fill):
            # The venue showed the key flat between the lifecycle's last fill and this one:
            # fills trueup has not seen closed it, and this fill, made after, is not one of
            # them: it moves the next position.
            self._leaves(ledger, life)
            life = None
        rest = qty
        # The lifecycles the fill moved, each with the quantity it took: the one it closes,
        # the one it opens or adds to. A fee paid in another coin is shared among them.
        moved: list[tuple[Lifecycle, Decimal]] = []
        if life is not None and (life.side is LONG) != buy:
            # Decimal beside Decimal, never int, here and below: an int is converted first.
            size = life.size
            if size < qty:  # it closes the whole position and opens the next with the rest
                closed, flat = size, True
                close_fee = _share(fee, closed, qty)
                fee -= close_fee
                rest = qty - closed
            else:  # the whole fill closes (qty, not an equal size: its exponent is kept)
                closed, flat = qty, size == qty
                close_fee, fee, rest = fee, ZERO, ZERO
            self._close(life, fill, closed, close_fee, flat)
            moved.append((life, closed))
            if flat:
                self._closed(book, ledger, life, fill)
                over = fill.closed_size
                if over is not None and over > size:
                    # The venue closed more than trueup held (an entry fill missed): what
                    # is past trueup's lifecycle closed what it did not see, and opens none.
                    rest, fee = self._unseen(
                        book, ledger, fill, closing=over - size, rest=rest, fee=fee
                    )
        elif life is None or fill.realised_pnl:
            rest, fee = self._outside(book, ledger, fill, fee)
        if rest:
            life = ledger.open
            if life is None:
                life = self._open(book, ledger, LONG if buy else SHORT, fill, flipped=bool(moved))
            value = price * rest
            size = life.size + rest
            max_size = life.max_size
            life.size = size
            life.cost += value
            life.entry_value += value
            life.max_size = size if size > max_size else max_size  # as max(), without its call
            life.fees += fee
            life.fills += 1
            life.last_fill_at = fill.exec_time
            moved.append((life, rest))
        elif fee and ledger.open is None:
            ledger.past_fees += fee  # paid on a position trueup did not see open
        self._moved(moved, fill)

    def _moved(self, moved: list[tuple[Lifecycle, Decimal]], fill: Fill) -> None:
        """What the lifecycles ``fill`` moved take from it: their share of a fee paid in
        another coin, and, for those it took flat, the venue's holding of their local
        positions (``held``)."""
        _fee_apart_to(moved, fill)
        for life, _ in moved:
            if life.first_id is not None and not life.size:
                self.held.append((life.side, life.opened_at, life.position_ids))

    def _open(
        self,
        book: "AccountBook",
        ledger: KeyLedger,
        side: PositionSide,
        fill: Fill,
        *,
        flipped: bool = False,
    ) -> Lifecycle:
        """A lifecycle opens on the key, with the public prices' mark where that is newer
        than the ledger's and was told no longer than PRICE_FRESH_FOR_MS before the fill (by
        the fill's venue time: the same when it is folded again, or audited): a report of the
        position, with its own, may be some time coming. A mark older than that is dropped."""
        ledger.lifecycles += 1
        life = ledger.open = Lifecycle(
            ledger.key, ledger.lifecycles, side, fill.exec_time, flipped=flipped
        )
        self._note(book, ledger.key, life)
        quoted = book.prices.get(ledger.key.symbol)
        if (
            quoted is not None
            and quoted.mark is not None
            and quoted.mark > ZERO
            and fill.exec_time - quoted.mark_at <= PRICE_FRESH_FOR_MS
        ):
            ledger.marked(quoted.mark, quoted.mark_at)
        if ledger.mark is not None and fill.exec_time - ledger.mark_at > PRICE_FRESH_FOR_MS:
            ledger.mark = None  # of a lifecycle long closed: unknown until one of now comes
        return life

    def _outside(
        self, book: "AccountBook", ledger: KeyLedger, fill: Fill, fee: Decimal
    ) -> tuple[Decimal, Decimal]:
        """A fill that closes no lifecycle of trueup's: what of it is left to open or add to
        one, and its fee (``_unseen``)."""
        qty, venue = fill.exec_qty, fill.realised_pnl
        if venue:
            # The venue says this fill closed something trueup never saw opened: a fill
            # missed, or a position opened before trueup watched.
            self.checks.append(
                PnlCheck(
                    ledger.key,
                    ledger.lifecycles,
                    fill.trade_id,
                    ZERO,
                    venue,
                    fill.exec_price * qty,
                    PnlFigure.FILL,
                )
            )
        if ledger.open is None:
            before = _held_before(book, ledger, fill)
            closing = _venue_closed(book, fill, before)
            if closing or before or ledger.unseen is not None:
                return self._unseen(book, ledger, fill, closing=closing, rest=qty, fee=fee)
        return qty, fee

    def _unseen(
        self,
        book: "AccountBook",
        ledger: KeyLedger,
        fill: Fill,
        *,
        closing: Decimal,
        rest: Decimal,
        fee: Decimal,
    ) -> tuple[Decimal, Decimal]:
        """``rest`` of ``fill`` (paying ``fee``) moves a position trueup did not see open:
        ``closing`` of it closes some, the venue says. That part opens nothing and realises
        nothing of trueup's; nor does a fill that adds to such a position. Returns what is
        left to open a lifecycle (what the fill opened past zero) and its fee."""
        if closing and closing < rest:
            # Through zero: the venue's position was flat after ``closing``, and the rest of
            # the fill opens one that trueup sees whole.
            ledger.unseen = None
            unseen_fee = _share(fee, closing, rest)
            ledger.past_fees += unseen_fee
            return rest - closing, fee - unseen_fee
        # All of it moves that position; which stays, unless the venue has said already that
        # the key is flat after this fill (its report came first).
        ledger.unseen = fill
        position = book.positions.get(ledger.key)
        report = position.exchange if position is not None else None
        if report is not None and not report.size:
            self.venue_flat(book, ledger.key, report)
        return ZERO, fee

    def _close(
        self, life: Lifecycle, fill: Fill, closed: Decimal, fee: Decimal, flat: bool
    ) -> None:
        """Take ``closed`` off ``life`` at the fill's price (``flat``: all of it): its share of
        the cost goes, and what it realised against it is set beside the venue's figure,
        where it gives one."""
        value = fill.exec_price * closed
        if flat:  # the whole position: all its cost goes
            share, life.size, life.cost = life.cost, ZERO, ZERO
        else:
            size = life.size
            share = _share(life.cost, closed, size)
            life.size = size - closed
            life.cost -= share
        life.exit_qty += closed
        life.exit_value += value
        life.fees += fee
        life.fills += 1
        life.last_fill_at = fill.exec_time
        venue = fill.realised_pnl
        if venue is None:
            life.venue_realised = None
            return
        if life.venue_realised is not None:
            life.venue_realised += venue
        pnl = value - share if life.side is LONG else share - value
        check = PnlCheck(life.key, life.number, fill.trade_id, pnl, venue, value, PnlFigure.FILL)
        self.checks.append(check)

    def local_opened(self, key: PositionKey, position_id: str) -> None:
        """A LIVE local position opened on ``key``: it maps to the lifecycle open there."""
        ledger = self.keys.get(key)
        life = ledger.open if ledger is not None else None
        if life is not None:
            life.map_local(position_id)

    def _note(self, book: "AccountBook", key: PositionKey, life: Lifecycle) -> None:
        """The LIVE local positions open on the key map to the lifecycle it opens; those
        opened later are told by the book (``local_opened``), not looked for at every fill.

        Read from the open ones directly, not ``Position.live_open``: that also sums their
        quantities, afresh whenever they changed."""
        position = book.positions.get(key)
        if position is not None and position.opened:
            for position_id, local in position.opened.items():
                if local.mode == "LIVE":
                    life.map_local(position_id)

    @staticmethod
    def _leaves(ledger: KeyLedger, life: Lifecycle) -> None:
        """The open lifecycle leaves the key, what it realised and paid kept in its totals.
        Alone (``_fold``): closed at the venue by fills trueup has not seen, so in no
        record, its close not known (a late fill of it, within SEEN_FOR_MS, folds it again)."""
        ledger.open = None
        ledger.past_realised += life.realised
        ledger.past_fees += life.fees
        ledger.past_funding += life.funding
        ledger.past_closed_value += life.exit_value

    def _closed(self, book: "AccountBook", ledger: KeyLedger, life: Lifecycle, fill: Fill) -> None:
        """The lifecycle is flat: it leaves the key, with when and why it closed."""
        self._leaves(ledger, life)
        ledger.last_close = fill
        exec_time, opened_at = fill.exec_time, life.opened_at
        life.closed_at = exec_time if exec_time >= opened_at else opened_at  # as max()
        life.exit_reason = exit_reason(book, life.key, fill, life.position_ids)
        self._done.append(life)
        if ledger.run is not None:
            ledger.run.closed.append(life)


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """amount x part / whole: exact where it terminates within SHARE, else rounded to it.

    In the EXACT context, which ``PnlLedger.executions`` has entered for its fills."""
    share = amount * part / whole
    # Compared, not read off ``as_tuple`` (which spells out every digit): the quantized
    # share is equal exactly when nothing below SHARE was cut.
    rounded = share.quantize(SHARE)
    return share if rounded == share else rounded


def _venue_closed(book: "AccountBook", fill: Fill, before: Decimal | None) -> Decimal:
    """How much of ``fill`` closed a position, as the venue says: its closed size (Bybit's
    closedSize, Hyperliquid's from startPosition); where it names none (Aster), the size of
    the position the venue held just before it (``before``, signed: ``_held_before``) when
    the fill reduces it, so that what a fill takes past zero opens a position; else all of
    it where it realised PnL (Aster's rp) or its order is reduce-only."""
    closed_size = fill.closed_size
    if closed_size is None and before and (before > ZERO) != (fill.side is BUY):
        closed_size = -before if before < ZERO else before
    if closed_size is not None:
        return closed_size if closed_size < fill.exec_qty else fill.exec_qty
    if fill.realised_pnl:
        return fill.exec_qty
    order = book.orders.get(order_key_of(fill.category, fill.symbol, fill.venue_order_id))
    report = order.report if order is not None else None
    return fill.exec_qty if report is not None and report.reduce_only else ZERO


def _held_before(book: "AccountBook", ledger: KeyLedger, fill: Fill) -> Decimal | None:
    """The signed size the venue held on the key, trueup's ledger none, just before ``fill``
    (0: flat), where its reports tell. Its newest report older than the fill (so the fill is
    not what made it), if newer than the fill that last took trueup's lifecycle flat (so it
    is not that lifecycle's) and no older than the last fill that moved a position trueup
    did not see open (so it counts that one): a position opened before trueup watched, which
    the fill adds to or reduces. Else, where the fill names no closed size, a report of the
    fill's own transaction, less what the fill moved (``_undone``). Else None. The fill's
    own word on it (``Fill.position_before``) comes before all these."""
    if fill.position_before is not None:
        return fill.position_before
    position = book.positions.get(ledger.key)
    current = position.exchange if position is not None else None
    reports = ledger.reports
    older = current if current is not None and _older(current, fill) else None
    if older is None:
        # A report newer than the fill came first, or the fill is folded again: the one
        # in force before it is among those kept.
        older = next((r for r in reversed(reports) if _older(r, fill)), None)
    if older is not None:
        last_close, unseen = ledger.last_close, ledger.unseen
        stale = (last_close is not None and _older(older, last_close)) or (
            unseen is not None and _older(older, unseen)
        )
        if not stale:
            return older.signed_size
    if fill.closed_size is not None:
        return None
    for report in (current, *reversed(reports)):
        if report is not None:
            before = _undone(book, report, fill)
            if before is not None:
                return before
    return None


def _undone(book: "AccountBook", report: PositionReport, fill: Fill) -> Decimal | None:
    """The signed size the venue held just before ``fill``: ``report``'s less what the fill
    moved, where ``report`` is of the fill's own transaction (the same sequence, else the
    same time; not one a snapshot's omission made) and the fill is the whole of its order's
    (ended, having filled the fill's quantity), so no fill of that order lies between them.
    Else None: the report may count other fills."""
    if report.status == ABSENT or _older(report, fill) or _newer(report, fill):
        return None
    order = book.orders.get(order_key_of(fill.category, fill.symbol, fill.venue_order_id))
    placed = order.report if order is not None else None
    if placed is None or not placed.status.is_terminal or placed.cum_exec_qty != fill.exec_qty:
        return None
    after, qty = report.signed_size, fill.exec_qty
    return EXACT.subtract(after, qty) if fill.side is BUY else EXACT.add(after, qty)


def _before_if_counted(ledger: KeyLedger, fill: Fill) -> tuple[Decimal, Decimal] | None:
    """The key's net and closed value before ``fill`` is folded, if the venue's all-time
    figure counted it already (``PnlLedger._counted`` moves the span by what it moves)."""
    return (ledger.net, ledger.closed_value) if ledger.counted_by_venue(fill) else None


def _flipped(book: "AccountBook", report: PositionReport, fill: Fill) -> bool:
    """Whether ``report``, of ``fill``'s own transaction, shows the fill took the position
    the venue held through zero (``_undone``)."""
    if fill.closed_size is not None:
        return False
    before = _undone(book, report, fill)
    if not before:
        return False
    buy = fill.side is BUY
    return (before > ZERO) != buy and (-before if before < ZERO else before) < fill.exec_qty


def _older(report: PositionReport, fill: Fill) -> bool:
    """Whether ``report`` was made before ``fill``: by the venue's sequence where both carry
    one (Bybit's cross sequence is shared by fills and position updates), else by time."""
    if report.seq is not None and fill.seq is not None:
        return report.seq < fill.seq
    return report.updated_time < fill.exec_time


def _newer(report: PositionReport, fill: Fill) -> bool:
    """Whether ``report`` was made after ``fill``'s transaction (as ``_older``)."""
    if report.seq is not None and fill.seq is not None:
        return report.seq > fill.seq
    return report.updated_time > fill.exec_time


def _fee(ledger: KeyLedger, fill: Fill) -> Decimal:
    """What ``fill`` paid in the key's PnL coin; a fee in another coin is kept apart, by its
    coin (``fees_apart``), and pays nothing here: 0.001 BNB is not 0.001 USDT."""
    fee, coin = fill.exec_fee, fill.fee_coin
    if fee is None:
        return ZERO
    if coin is None:
        return fee
    ledger.fees_apart = _added(ledger.fees_apart, coin, fee)
    return ZERO


def _fee_apart_to(moved: list[tuple[Lifecycle, Decimal]], fill: Fill) -> None:
    """A fee ``fill`` paid in another coin, kept apart on the lifecycles it moved too, each
    its share by the quantity it took, as a fee in the PnL coin is shared (a flip's)."""
    fee, coin = fill.exec_fee, fill.fee_coin
    if fee is None or coin is None:
        return
    qty = fill.exec_qty
    for life, part in moved:
        # The last to take all that is left pays all that is left: the shares sum exactly.
        paid = fee if part == qty else _share(fee, part, qty)
        life.fees_apart = _added(life.fees_apart, coin, paid)
        fee, qty = fee - paid, qty - part


def _added(
    apart: tuple[tuple[str, Decimal], ...], coin: str, fee: Decimal
) -> tuple[tuple[str, Decimal], ...]:
    """Fees kept apart by coin, with ``fee`` paid in ``coin``."""
    sums = dict(apart)
    sums[coin] = EXACT.add(sums.get(coin, ZERO), fee)
    return tuple(sorted(sums.items()))


def _venue_order(fill: Fill) -> tuple[int, int, int, str]:
    """Fills in the order the venue made them: by time, then by its sequence where it gives
    one (Bybit's execIds are random: two fills of one millisecond are told apart by ``seq``
    alone), then by trade id, as a number where it is one (Aster's "999" before "1000")."""
    return _order_of(fill.exec_time, fill.seq, fill.trade_id)


def _order_of(exec_time: int, seq: int | None, trade_id: str) -> tuple[int, int, int, str]:
    digits = len(trade_id) if trade_id.isdigit() else 0
    return (exec_time, -1 if seq is None else seq, digits, trade_id)


def _funded_leg(book: "AccountBook", ledger: PnlLedger, fill: Fill) -> PositionKey | None:
    """The leg a funding payment is for: the one held; in hedge mode the side that paid,
    where its rate says (``_long_paid``), else of both held the one of the payment's size,
    else the long leg."""
    if fill.position_idx is not None or not hedged(book, fill.category, fill.symbol):
        return book.key(fill.category, fill.symbol, fill.position_idx or 0)
    legs = [book.key(fill.category, fill.symbol, idx) for idx in (LONG_LEG, SHORT_LEG)]
    long = _long_paid(fill)
    if long is not None:
        return legs[0] if long else legs[1]
    held = [k for k in legs if (found := ledger.keys.get(k)) and found.open is not None]
    sized = [k for k in held if ledger.keys[k].open.size == fill.exec_qty]  # type: ignore[union-attr]
    return (sized or held or legs)[0]


def _long_paid(fill: Fill) -> bool | None:
    """Whether a funding payment was the long's, by its rate: a positive rate, longs pay
    shorts (a fee above 0), a negative one, shorts pay longs; None where it cannot say."""
    rate, fee = fill.funding_rate, fill.exec_fee
    if not rate or not fee:
        return None
    return (fee > ZERO) == (rate > ZERO)
