"""The executor: places the orders fired triggers (and the entry policy) request, each once,
cancels the orders the entry policy replaces, and records what the venue answered as an
input (channel ``placement``), so every lifecycle follows from the journal alone.

Once, by construction: the client order id derives from the decision (the TRIGGER_FIRED
event), so a restart, or a second executor, asks the venue for the same order and the venue
refuses the repeat (``already placed``). One executor per account holds a lease and works;
others stand by. Only a request the venue never judged (rate limited, unreachable) is asked
again, with the same id; a refusal is final: nothing retries a rejected order blindly.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import orjson

from trueup.adapters import placement_reports
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock
from trueup.adapters.orders import (
    ExecutionClient,
    OrderRequest,
    OrderType,
    Placement,
    Side,
    refused,
)
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import Lease
from trueup.application.backlog import Backlog
from trueup.application.loop_status import executor_name
from trueup.application.service import TrueupService
from trueup.domain.emitted import EntryStep, OrderRequested
from trueup.domain.instants import iso
from trueup.domain.keys import sending_key
from trueup.domain.vocabulary import OrderAction, OrderSide, RefusalKind

log = logging.getLogger("trueup.executor")
SIDES = {OrderSide.BUY.value: Side.BUY, OrderSide.SELL.value: Side.SELL}
# A fault of the client's own may come after the venue took the order: asked again (the
# venue then says "already placed") this many times before the request is refused.
FAULTS_BEFORE_REFUSAL = 3


@dataclass(frozen=True)
class ExecutorSettings:
    """``max_age_ms``: a request older than this when first seen is not placed (a decision
    taken on the market of minutes ago is not one to act on now). ``slippage``: a market
    order's worst acceptable price, as a fraction of the price the trigger fired at."""

    max_age_ms: int = 30_000
    slippage: Decimal = Decimal("0.05")


@dataclass
class ExecutorStep:
    """What one step did: requests placed (or found placed), refused, and left to retry."""

    placed: int = 0
    refused: int = 0
    retrying: int = 0
    holding: bool = False
    backlog: Backlog | None = None  # what it owes is in the journal, not counted here


class NoLongerHolding(Exception):
    """The executor lost its account's lease before sending an order: another may be
    placing it now (Aster takes a done order's id again), so it is not sent."""


class NotSent(Exception):
    """A request the executor does not send, recorded refused of this ``refusal``."""

    refusal: RefusalKind


class Withdrawn(NotSent):
    """An operator disabled or removed the order's trigger before the executor could claim
    the order for sending: it is not sent."""

    refusal = RefusalKind.WITHDRAWN

    def __init__(self, by: str, at: int) -> None:
        super().__init__(f"withdrawn by {by} at {iso(at)} before it was sent")


class PositionChanged(NotSent):
    """The position a lock's order was to hedge is flat now, or holds less than the order
    (closed by hand, in part or whole, while the order waited): sent, it would open a naked
    position the other way. It is not sent."""

    refusal = RefusalKind.POSITION_CHANGED


class Executor:
    """The executor of one venue account over one journal."""

    def __init__(
        self,
        journal: Journal,
        venue: str,
        account: str,
        client: ExecutionClient,
        *,
        settings: ExecutorSettings = ExecutorSettings(),
        clock: Clock = wall_clock,
    ) -> None:
        self.journal = journal
        self.venue = venue
        self.account = account
        self.client = client
        self.settings = settings
        self.clock = clock
        self.service = TrueupService(journal, clock)
        self.tracker = executor_name(venue, account)
        self.lease: Lease = journal.lease(self.tracker)
        self._faults: dict[str, int] = {}  # a request's faults so far, by its event id
        # When this executor last sent each request it has sent, by its event id; None once
        # the venue answered that send without taking it (rate limited).
        self._sent: dict[str, int | None] = {}
        self._sending: str | None = None  # the request the step's placement sent, if any
        self._recorded = 0  # the journal position last read or recorded as done

    def step(self) -> ExecutorStep:
        """Place what was requested since the recorded progress, while holding the lease."""
        done = ExecutorStep()
        if not self.lease.acquire():
            return done
        done.holding = True
        self._recorded = self.journal.tracked_position(self.tracker)
        page, last = self.journal.emitted_after(self._recorded)
        for position, event in page:
            if not isinstance(event, OrderRequested | EntryStep) or not self._ours(event):
                continue
            self._sending = None
            try:
                placement = self._carry_out(event)
            except NotSent as unsent:
                placement = refused(str(unsent), unsent.refusal)
            except NoLongerHolding:
                # Nothing sent, nothing recorded: the holder now carries the request out.
                log.warning("%s not sent: the lease was lost to another executor", event.event_id)
                done.holding = False
                return done
            except Exception as error:  # one request must never stop the others
                placement = self._faulted(event.event_id, error)
            refusal = placement.refusal
            if refusal is RefusalKind.RATE_LIMITED and self._sending == event.event_id:
                self._sent[event.event_id] = None  # judged, not taken: nothing in flight
            if refusal is not None and refusal.retryable:
                # The venue did not judge it, or may not have: ask again next step, with the
                # same id (never placed twice).
                log.warning("%s: %s: asking again", event.event_id, placement.reason or refusal)
                self._progress(position - 1)
                done.retrying += 1
                return done
            self._report(event, placement)
            self._faults.pop(event.event_id, None)
            self._sent.pop(event.event_id, None)
            if placement.placed:
                done.placed += 1
            else:
                done.refused += 1
            self._progress(position)
        self._progress(last)
        return done

    def _faulted(self, event_id: str, error: Exception) -> Placement:
        """A request the client failed on, after the venue may have taken it: asked again
        (under the same id, so never twice) a few times, then refused with the fault."""
        faults = self._faults[event_id] = self._faults.get(event_id, 0) + 1
        log.exception("%s could not be carried out (%d times)", event_id, faults)
        reason = f"the executor failed on it: {type(error).__name__}: {error}"[:500]
        retried = faults < FAULTS_BEFORE_REFUSAL
        return refused(reason, RefusalKind.UNREACHABLE if retried else RefusalKind.OTHER)

    def release(self) -> None:
        self.lease.release()

    def _ours(self, event: OrderRequested | EntryStep) -> bool:
        return event.venue == self.venue and event.account == self.account

    def _carry_out(self, event: OrderRequested | EntryStep) -> Placement:
        """Place a requested order, or cancel the order an entry step replaces; a request
        older than the limit is neither, though an order the venue already holds for it is
        followed."""
        age = self.clock() - event.at
        late = age > self.settings.max_age_ms
        if isinstance(event, EntryStep) and late:
            return self._too_late(age)
        if isinstance(event, EntryStep):
            placement = self.client.cancel(str(event.symbol), event.client_order_id)
            log.info("%s: cancel %s: %s", event.type, event.client_order_id, placement.outcome)
            return placement
        side = SIDES[event.order_side]
        limit = event.order_type == "limit"
        request = OrderRequest(
            client_order_id=client_order_id(event.decision_id),
            symbol=str(event.symbol),
            side=side,
            qty=event.quantity,
            order_type=OrderType.LIMIT if limit else OrderType.MARKET,
            price=event.limit_price if limit else self._worst_price(event.price, side),
            reduce_only=event.reduce_only,
            position_idx=event.order_position_idx,
        )
        unsettled = self._in_flight(event)
        if unsettled is not None:
            return unsettled
        if late:
            # Not sent. Yet an executor that died may have sent it: an order the venue holds
            # under its id is followed, not failed while it fills.
            found = self.client.find(request)
            return self._too_late(age) if found is None else found
        placement = self.client.place(request, partial(self._fence, event))
        log.info(
            "%s: %s %s %s %s: %s %s",
            event.trigger_id or event.entry_client_order_id,
            request.order_type,
            side,
            event.quantity if placement.qty is None else placement.qty,  # on the venue's grid
            event.symbol,
            placement.outcome,
            placement.reason,
        )
        return placement

    def _in_flight(self, event: OrderRequested) -> Placement | None:
        """A refusal to retry while an earlier send of the order, unanswered (by this
        executor, or by one that died), may still be taken by the venue (the client's
        ``in_flight_ms``): asked for before then, it may not be found, then be taken twice."""
        wait = self.client.in_flight_ms
        if not wait:
            return None
        if event.event_id in self._sent:
            sent = self._sent[event.event_id]
        else:  # sent, if at all, by an executor before this one: the journal says when
            key = sending_key(self.venue, self.account, event.decision_id)
            sent = self.journal.last_claimed_at(key)
        if sent is None:
            return None  # never sent, or its last send answered
        settled = sent + wait
        if self.clock() >= settled:
            return None
        return refused(
            f"sent at {iso(sent)} without an answer: asked for again from {iso(settled)}, "
            "once the venue can no longer take it",
            RefusalKind.UNREACHABLE,
        )

    def _too_late(self, age: int) -> Placement:
        return refused(
            f"requested {age} ms ago, more than the executor's limit of "
            f"{self.settings.max_age_ms} ms",
            RefusalKind.TOO_LATE,
        )

    def _fence(self, event: OrderRequested) -> None:
        """Asked just before an order is sent (after the client asked the venue for it): the
        order claimed from an operator who would withdraw it (an earlier claim of an executor
        of the account, one that died, say, is its own), and the lease still held. A lock's
        order goes only while the position it hedges holds as much: a reduce is reduce-only."""
        if event.opens is not None:
            self._check_hedged(event)
        key = sending_key(self.venue, self.account, event.decision_id)
        now = self.clock()
        held = self.journal.claim(key, by=self.tracker, at=now)
        if held is not None and held.input_id:
            raise Withdrawn(held.by, held.at)
        if not self.lease.held():
            raise NoLongerHolding(self.tracker)
        if held is not None:
            # Sent again: noted, so that whoever takes over waits from this send, not the first.
            self.journal.reclaim(key, self.tracker, now)
        self._sent[event.event_id] = now
        self._sending = event.event_id

    def _check_hedged(self, event: OrderRequested) -> None:
        """PositionChanged unless the exchange holds the position ``event``'s lock hedges,
        as much as its firings' orders and the opposite leg take, as the journal has it now
        (the request may have waited while it was closed, or the bot grew the other leg):
        the rule a confirm applies (TriggerDetector.unsendable), read from the views."""
        rows = self.service.triggers(venue=self.venue, account=self.account)
        found = [
            r for r in rows
            if (r["trigger_id"], r["decision_id"]) == (event.trigger_id, event.decision_id)
        ]  # fmt: skip
        if not found:  # its firing is over (cancelled, withdrawn): nothing is to be sent
            raise PositionChanged(f"trigger {event.trigger_id} no longer waits on this order")
        if found[0]["unsendable"] is not None:
            raise PositionChanged(found[0]["unsendable"])

    def _worst_price(self, price: Decimal | None, side: Side) -> Decimal | None:
        """The price the trigger fired at, moved by the slippage against the order (the
        client puts it on the venue's grid, never tighter)."""
        if price is None:
            return None
        factor = 1 + self.settings.slippage if side is Side.BUY else 1 - self.settings.slippage
        return price * factor

    def _report(self, event: OrderRequested | EntryStep, placement: Placement) -> None:
        opens = None
        if isinstance(event, EntryStep):
            trigger_id, decision_id, action = "", event.event_id, OrderAction.CANCEL
            written = event.client_order_id
        else:
            trigger_id, decision_id, action = event.trigger_id, event.decision_id, OrderAction.PLACE
            written = self.client.written(client_order_id(event.decision_id))
            # Into the journal: the book opens the leg from it once the order executes.
            opens = event.opens
        record = placement_reports.record(
            self.clock(),
            self.venue,
            self.account,
            trigger_id=trigger_id,
            decision_id=decision_id,
            symbol=str(event.symbol),
            client_order_id=written,
            placement=placement,
            action=action,
            opens=opens,
        )
        self.service.ingest([[orjson.dumps(record)]])

    def _progress(self, position: int) -> None:
        # Past what this step read or recorded: the lease keeps any other executor out.
        if position > self._recorded:
            self.journal.record_progress(self.tracker, position)
            self._recorded = position
