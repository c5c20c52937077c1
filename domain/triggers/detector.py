"""The triggers of one account: commanded, armed, folded from prices, fired at most once per
arming, and requested at once or on confirm. Run by the reconciler after the book, like the
detectors, so a firing reads the reconciled exchange size of that very input.

A lock's request names the leg its order opens (``opens``); the executor's placement report
carries it into the journal, and the book folds the leg from there (domain/book.py, legs),
so an audit of the inputs alone shows it as the live projection does."""

from decimal import Decimal

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import (
    About,
    Cause,
    Emitted,
    OrderRequested,
    TriggerCancelled,
    TriggerError,
    TriggerExecuted,
    TriggerExpired,
    TriggerFailed,
    TriggerFired,
    TriggerRefused,
)
from trueup.domain.events import (
    ExecutionsReported,
    InputEvent,
    OrderPlacementReported,
    OrdersReported,
    PositionsReported,
    PricesReported,
    TriggerCommanded,
)
from trueup.domain.keys import LegOpening, PositionKey
from trueup.domain.order import Order
from trueup.domain.pnl import unrealised
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Detector, EventTypes
from trueup.domain.triggers.conditions import folded_water, holds, level
from trueup.domain.triggers.lifecycle import Stage, in_flight, may_advance
from trueup.domain.triggers.spec import TriggerAction, TriggerCommand, TriggerKind
from trueup.domain.triggers.trigger import FINAL, Decision, Firing, Standing, Trigger
from trueup.domain.vocabulary import (
    CLOSING_SIDE,
    OPENED_SIDE,
    OrderAction,
    OrderStatus,
    PlacementOutcome,
    PositionSide,
    RefusalKind,
)

# Hedge mode: leg 1 holds the long, leg 2 the short; a one-way account holds both on 0.
ONE_WAY = 0
ZERO = Decimal(0)
OPPOSITE_LEG = {1: 2, 2: 1}
# Of each (symbol, side) held, its position's key.
Held = dict[tuple[str, PositionSide], PositionKey]
_OUTCOMES = {
    Stage.EXECUTED: TriggerExecuted,
    Stage.FAILED: TriggerFailed,
    Stage.CANCELLED: TriggerCancelled,
}


class Refused(Exception):
    """A command that cannot be carried out; its message is the reason given."""


class TriggerDetector(Detector):
    """Every trigger of one account, by id in the order they were added."""

    __slots__ = ("last_fired_at", "placed", "prices", "triggers")

    def noted(self) -> EventTypes:
        return (PricesReported, PositionsReported)

    def judged(self) -> EventTypes:
        return (OrderPlacementReported, OrdersReported, ExecutionsReported, TriggerCommanded)

    # Its own: Detector, compiled (setup.py), would snapshot none of a Python subclass's slots.
    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in TriggerDetector.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    def __init__(self) -> None:
        self.triggers: dict[str, Trigger] = {}
        # The firings whose order the venue took and that have not ended: client order id
        # -> trigger id, so an order report finds its firing without a scan.
        self.placed: dict[str, str] = {}
        self.last_fired_at: int | None = None  # for /health: when any trigger last fired
        # The latest price of each symbol a trigger watches: the price inputs' reference
        # (mark, else mid, else last) or a position report's mark, whichever came last.
        self.prices: dict[str, Decimal] = {}

    # --- prices ---------------------------------------------------------------------------

    def note(self, book: AccountBook, event: InputEvent, changed: Changed) -> None:
        if not self.triggers:
            return
        if isinstance(event, PricesReported):
            for quote in event.quotes:
                held = book.prices.get(quote.symbol)
                if held is not None and held.reference is not None:
                    self._price(quote.symbol, held.reference)
        elif isinstance(event, PositionsReported):
            for report in event.reports:
                if report.mark_price is not None and report.mark_price > 0:
                    self._price(report.symbol, report.mark_price)

    def _price(self, symbol: str, price: Decimal) -> None:
        watching = [t for t in self.triggers.values() if t.spec.symbol == symbol]
        if not watching:
            return
        self.prices[symbol] = price
        for trigger in watching:
            if trigger.standing is Standing.ARMED and trigger.firing is None:
                trigger.water = folded_water(trigger.spec.direction, trigger.water, price)

    # --- commands -------------------------------------------------------------------------

    def on_input(
        self,
        book: AccountBook,
        event: InputEvent,
        changed: Changed,
        cause: Cause,
        config: RuleConfig,
    ) -> list[Emitted]:
        if isinstance(event, OrderPlacementReported):
            return self._placement(book, event, cause)
        if self.placed and isinstance(event, OrdersReported | ExecutionsReported):
            return self._settle(book, event, cause)
        if not isinstance(event, TriggerCommanded):
            return []
        try:
            return self._command(book, event, cause)
        except Refused as refusal:
            symbol = event.spec.symbol if event.spec is not None else None
            found = self.triggers.get(event.trigger_id)
            if found is not None:
                symbol = found.spec.symbol
            about: About = {**cause.on_account(event.venue, event.account), "symbol": symbol}
            return [
                TriggerRefused(
                    **about,
                    trigger_id=event.trigger_id,
                    command=event.command.value,
                    reason=str(refusal),
                )
            ]

    def _command(self, book: AccountBook, event: TriggerCommanded, cause: Cause) -> list[Emitted]:
        command, trigger_id = event.command, event.trigger_id
        if command is TriggerCommand.ADD:
            if trigger_id in self.triggers:
                raise Refused(f"trigger {trigger_id} already exists")
            assert event.spec is not None  # the adapter refuses an add without one
            self.triggers[trigger_id] = Trigger(
                trigger_id, event.spec, Standing.ARMED, event.at, event.operator
            )
            self._seed_price(book, event.spec.symbol)
            return []
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise Refused(f"no trigger {trigger_id} on {event.venue}/{event.account}")
        if trigger.standing in FINAL:
            raise Refused(f"trigger {trigger_id} is {trigger.standing.value}")
        expires_at = trigger.spec.expires_at
        if expires_at is not None and event.at >= expires_at:
            # Expired by this command's instant, though no input has said so yet: on_time,
            # after it, does (a change with a new expiry revived it once).
            raise Refused(f"trigger {trigger_id} is {Standing.EXPIRED.value}")
        stage = trigger.firing.stage if trigger.firing is not None else None
        if command is TriggerCommand.CONFIRM:
            return self._confirm(book, trigger, event, cause)
        if command is TriggerCommand.CHANGE:
            assert event.spec is not None
            if in_flight(stage):
                raise Refused(f"trigger {trigger_id} has fired and is {stage}: change it after")
            old, new = trigger.spec, event.spec
            if (old.symbol, old.direction) != (new.symbol, new.direction):
                raise Refused("a change keeps the symbol and direction: add another trigger")
            trigger.spec = new
            if trigger.standing is Standing.ARMED:
                trigger.arm()
            return []
        if command is TriggerCommand.ENABLE:
            if in_flight(stage):
                # Re-arming would drop the firing whose order is on its way; said first, for
                # "already armed" would hide that it fired.
                raise Refused(f"trigger {trigger_id} has fired and is {stage}: enable it after")
            if trigger.standing is Standing.ARMED and stage is None:
                raise Refused(f"trigger {trigger_id} is already armed")
            trigger.arm()
            return []
        # DISABLE or REMOVE: a firing still waiting on its confirm is cancelled with it.
        if command is TriggerCommand.DISABLE and trigger.standing is Standing.DISABLED:
            raise Refused(f"trigger {trigger_id} is already disabled")
        firing = trigger.firing
        withdrawn = (
            firing is not None
            and firing.withdrawable
            and event.withdraws == firing.decision.decision_id
        )
        if stage is Stage.REQUESTED and not withdrawn:
            # Its order is the executor's now, maybe on its way: taken as disabled or removed,
            # the command would hide the order that goes out all the same. One that won the
            # order from the executor (``withdraws``: the executor then sends nothing) is taken.
            raise Refused(
                f"trigger {trigger_id} has fired and its order is requested: the executor may "
                f"be sending it; {command.value} it after"
            )
        trigger.standing = (
            Standing.REMOVED if command is TriggerCommand.REMOVE else Standing.DISABLED
        )
        if withdrawn:
            assert firing is not None
            return self.advance(
                trigger_id,
                firing.decision.decision_id,
                Stage.CANCELLED,
                f"{command.value}d before its order was sent",
                cause=cause,
            )
        return self._cancel_waiting(trigger, cause, f"{command.value}d before confirmation")

    def _confirm(
        self, book: AccountBook, trigger: Trigger, event: TriggerCommanded, cause: Cause
    ) -> list[Emitted]:
        firing = trigger.firing
        if firing is None:
            raise Refused(f"trigger {trigger.trigger_id} has not fired: nothing to confirm")
        if firing.stage is not Stage.WAITING_CONFIRM:
            raise Refused(f"trigger {trigger.trigger_id} is already {firing.stage.value}")
        # The position may have moved since it fired: what was decided then is sent only if
        # the exchange still holds enough of it.
        problem = self.unsendable(book, trigger)
        if problem is not None:
            decision_id = firing.decision.decision_id
            return self.advance(
                trigger.trigger_id, decision_id, Stage.FAILED, f"{problem}: not sent", cause=cause
            )
        firing.stage = Stage.REQUESTED
        return [_requested(trigger, firing, cause, event.operator)]

    def unsendable(self, book: AccountBook, trigger: Trigger) -> str | None:
        """Why the order of ``trigger``'s firing can no longer go as decided: its position
        is flat or turned, or holds less than its firings' orders (and, for a lock, the
        opposite leg) take; None when it can, or nothing is in flight. Asked at a confirm, and
        by the executor just before it sends (the views carry it)."""
        if trigger.firing is None or not in_flight(trigger.firing.stage):
            return None
        return self._position_gone(book, trigger) or self._outgrown(book, trigger)

    def _position_gone(self, book: AccountBook, trigger: Trigger) -> str | None:
        """Why the position a firing was decided on is no longer there to act on (None: it
        is still held its way)."""
        firing = trigger.firing
        assert firing is not None
        position = book.positions.get(firing.decision.key)
        report = position.exchange if position is not None else None
        action = trigger.spec.action.value
        if report is None or report.size == 0:
            return f"the position it was to {action} is flat now"
        if report.side is not trigger.spec.direction:
            return f"the position it was to {action} is {report.side.value} now"
        return None

    def _outgrown(self, book: AccountBook, trigger: Trigger) -> str | None:
        """Why a held position can no longer take what its firings decided (None: it can)."""
        firing = trigger.firing
        assert firing is not None
        key = firing.decision.key
        report = book.positions[key].exchange
        assert report is not None  # _position_gone found it held
        # This firing's own quantity is among those reserved: it is in flight.
        taken = self.reserved(key, report.updated_time)
        decision = firing.decision
        lock = not decision.reduce_only and key.position_idx != ONE_WAY
        if lock:  # what the opposite leg came to hold since it fired hedges as much
            taken += self._hedged(book, key, decision.order_position_idx)
        if taken <= report.size:
            return None
        return (
            f"the position holds {report.size} now, less than the {taken} its firings' "
            f"orders{' and the opposite leg' if lock else ''} would "
            f"{trigger.spec.action.value}"
        )

    def _cancel_waiting(self, trigger: Trigger, cause: Cause, reason: str) -> list[Emitted]:
        firing = trigger.firing
        if firing is None or firing.stage is not Stage.WAITING_CONFIRM:
            return []
        return self.advance(
            trigger.trigger_id, firing.decision.decision_id, Stage.CANCELLED, reason, cause=cause
        )

    def _seed_price(self, book: AccountBook, symbol: str) -> None:
        """A trigger added after its symbol's last price still has one to judge by."""
        if symbol in self.prices:
            return
        held = book.prices.get(symbol)
        if held is not None and held.reference is not None:
            self.prices[symbol] = held.reference

    # --- the executor's word and the venue's ----------------------------------------------

    def advance(
        self,
        trigger_id: str,
        decision_id: str,
        to: Stage,
        reason: str,
        *,
        cause: Cause,
        order: Order | None = None,
    ) -> list[Emitted]:
        """Move a firing on to EXECUTED, FAILED or CANCELLED, once: a report of another
        decision, or one its stage does not allow (a terminal one's), changes nothing."""
        trigger = self.triggers.get(trigger_id)
        firing = trigger.firing if trigger is not None else None
        if (
            trigger is None
            or firing is None
            or firing.decision.decision_id != decision_id
            or not may_advance(firing.stage, to)
        ):
            return []
        firing.stage = to
        self.placed.pop(firing.client_order_id, None)
        outcome = _OUTCOMES[to]
        filled = order.filled_qty if order is not None else None
        if to is Stage.EXECUTED and filled is not None:
            firing.filled_qty = filled
            firing.executed_at = order.venue_time if order is not None else 0
        return [
            outcome(
                **cause.on(firing.decision.key),
                trigger_id=trigger_id,
                decision_id=decision_id,
                reason=reason,
                client_order_id=firing.client_order_id,
                venue_order_id=firing.venue_order_id,
                filled_qty=filled or None,
                avg_price=order.avg_price if order is not None and filled else None,
                trade_ids=tuple(sorted(order.fills)) if order is not None else (),
            )
        ]

    def _placement(
        self, book: AccountBook, event: OrderPlacementReported, cause: Cause
    ) -> list[Emitted]:
        """The venue's answer to the placement: a refusal fails the firing with the venue's
        reason; an order taken (now, or by an earlier placement of the same id) is followed
        by its client order id until its reports end it. A repeat changes nothing."""
        trigger = self.triggers.get(event.trigger_id)
        firing = trigger.firing if trigger is not None else None
        if (
            event.action is not OrderAction.PLACE
            or firing is None
            or firing.decision.decision_id != event.decision_id
            or firing.stage is not Stage.REQUESTED
            or firing.client_order_id
        ):
            return []
        # A refusal of an order the venue reports holding (placed by an executor that died
        # before it could say so) is no refusal: the order is followed like any other.
        refused = event.outcome is PlacementOutcome.REFUSED
        if refused and book.order_by_client_id(event.client_order_id) is None:
            reason = _refusal_reason(event)
            return self.advance(
                event.trigger_id, event.decision_id, Stage.FAILED, reason, cause=cause
            )
        firing.client_order_id = event.client_order_id
        firing.venue_order_id = event.venue_order_id
        self.placed[event.client_order_id] = event.trigger_id
        # Its reports may have come in before the executor could say it placed it.
        return self._settle_one(book, event.client_order_id, cause)

    def _settle(
        self, book: AccountBook, event: OrdersReported | ExecutionsReported, cause: Cause
    ) -> list[Emitted]:
        ids = (
            {r.client_order_id for r in event.orders}
            if isinstance(event, OrdersReported)
            else {f.client_order_id for f in event.fills}
        )
        emitted: list[Emitted] = []
        for client_order_id in sorted(ids & self.placed.keys()):
            emitted += self._settle_one(book, client_order_id, cause)
        return emitted

    def _settle_one(self, book: AccountBook, client_order_id: str, cause: Cause) -> list[Emitted]:
        """A placed firing's order, once it has ended or filled its whole quantity."""
        trigger = self.triggers[self.placed[client_order_id]]
        firing = trigger.firing
        order = book.order_by_client_id(client_order_id)
        if firing is None or order is None:
            return []
        if not firing.venue_order_id:
            firing.venue_order_id = order.venue_order_id
        filled = order.filled_qty
        status = order.status
        decision_id = firing.decision.decision_id
        if filled >= firing.decision.quantity or status is OrderStatus.FILLED:
            reason = f"filled {filled} at {order.avg_price}"
            return self._executed(trigger, reason, cause, order)
        if not order.is_terminal:
            return []
        report = order.report
        said = (report.reject_reason or report.cancel_type) if report is not None else ""
        if filled > 0:
            reason = f"filled {filled} of {firing.decision.quantity}, then {status}: {said}"
            return self._executed(trigger, reason, cause, order)
        to = Stage.FAILED if status is OrderStatus.REJECTED else Stage.CANCELLED
        reason = f"the venue {'rejected' if to is Stage.FAILED else 'cancelled'} it: {said}"
        return self.advance(trigger.trigger_id, decision_id, to, reason, cause=cause, order=order)

    def _executed(self, trigger: Trigger, reason: str, cause: Cause, order: Order) -> list[Emitted]:
        """The firing executed. A lock's order opened a leg, trueup's own position from then
        on: the book folded it from the placement report's ``opens`` and the same fills."""
        firing = trigger.firing
        assert firing is not None  # _settle_one found it
        decision = firing.decision
        return self.advance(
            trigger.trigger_id, decision.decision_id, Stage.EXECUTED, reason, cause=cause,
            order=order,
        )  # fmt: skip

    # --- time and firing ------------------------------------------------------------------

    def on_time(self, book: AccountBook, cause: Cause, config: RuleConfig) -> list[Emitted]:
        if not self.triggers:
            return []  # asked on every input: most accounts have no trigger
        emitted: list[Emitted] = []
        # Found once per input, not once per trigger: a firing changes no position.
        held: Held | None = None
        for trigger in self.triggers.values():
            expires_at = trigger.spec.expires_at
            if trigger.standing in FINAL:
                continue
            if expires_at is not None and cause.at >= expires_at:
                trigger.standing = Standing.EXPIRED
                emitted += self._cancel_waiting(trigger, cause, "expired before confirmation")
                about: About = {
                    **cause.on_account(book.venue, book.account),
                    "symbol": trigger.spec.symbol,
                }
                emitted.append(
                    TriggerExpired(**about, trigger_id=trigger.trigger_id, expires_at=expires_at)
                )
            elif trigger.standing is Standing.ARMED and trigger.firing is None:
                held = _held(book) if held is None else held
                emitted += self._judged(book, trigger, cause, held)
            elif trigger.firing is not None and trigger.firing.stage is Stage.WAITING_CONFIRM:
                # Closed (or turned) before anyone confirmed: nothing is left to act on, and a
                # confirm must find the firing over rather than act on what is not there.
                gone = self._position_gone(book, trigger)
                if gone is not None:
                    emitted += self._cancel_waiting(trigger, cause, f"{gone} before confirmation")
        return emitted

    def _judged(
        self, book: AccountBook, trigger: Trigger, cause: Cause, held: Held
    ) -> list[Emitted]:
        """One trigger judged; a fault in judging it stands it down alone, told once."""
        try:
            return self._judge(book, trigger, cause, held)
        except Exception as error:  # one trigger's fault must not silence the others
            trigger.standing = Standing.DISABLED
            trigger.firing = None
            about: About = {
                **cause.on_account(book.venue, book.account),
                "symbol": trigger.spec.symbol,
            }
            reason = f"judging it failed ({type(error).__name__}: {error}); disabled"
            return [TriggerError(**about, trigger_id=trigger.trigger_id, reason=reason[:500])]

    def _judge(
        self, book: AccountBook, trigger: Trigger, cause: Cause, held: Held
    ) -> list[Emitted]:
        spec = trigger.spec
        key = held.get((spec.symbol, spec.direction))
        if key is None:
            return []  # flat, or held the other way: never fires
        pnl = _unrealised(book, key)
        price = self.prices.get(spec.symbol)
        if not holds(spec, price, pnl, trigger.water):
            return []
        return self._fire(book, trigger, key, cause, price=price, pnl=pnl)

    def _fire(
        self,
        book: AccountBook,
        trigger: Trigger,
        key: PositionKey,
        cause: Cause,
        *,
        price: Decimal | None,
        pnl: Decimal | None,
    ) -> list[Emitted]:
        spec = trigger.spec
        report = book.positions[key].exchange
        assert report is not None  # _held found it held
        lock = spec.action is TriggerAction.LOCK
        # Of the size, what other firings have not already taken: two triggers on one
        # position never ask for more than it holds (seed 003's "insufficient position").
        available = report.size - self.reserved(key, report.updated_time)
        # A lock opens the opposite leg (same side as closing it); a reduce closes its own.
        order_idx = OPPOSITE_LEG.get(key.position_idx, ONE_WAY) if lock else key.position_idx
        if lock and key.position_idx != ONE_WAY:
            # What the opposite leg already holds hedges as much: a second lock of the whole
            # would otherwise turn a locked long net short.
            available -= self._hedged(book, key, order_idx)
        quantity = spec.ratio * max(available, ZERO)
        crossed = level(spec, trigger.water)
        assert crossed is not None  # the condition held
        threshold = spec.distance if spec.kind is TriggerKind.TRAILING else spec.level
        assert threshold is not None
        long = spec.direction is PositionSide.LONG
        trailing = spec.kind is TriggerKind.TRAILING
        fired = TriggerFired(
            **cause.on(key),
            trigger_id=trigger.trigger_id,
            kind=spec.kind.value,
            direction=spec.direction.value,
            arming=trigger.arming,
            price=price,
            high_water=trigger.water if trailing and long else None,
            low_water=trigger.water if trailing and not long else None,
            threshold=threshold,
            level=crossed,
            unrealised_pnl=pnl,
            exchange_size=report.size,
            ratio=spec.ratio,
            quantity=quantity,
            action=spec.action.value,
            order_side=CLOSING_SIDE[spec.direction].value,
            order_position_idx=order_idx,
            reduce_only=not lock,
            auto_execute=spec.auto_execute,
        )
        decision = Decision(
            fired.event_id, key, CLOSING_SIDE[spec.direction], order_idx, quantity, not lock
        )
        firing = Firing(decision, Stage.WAITING_CONFIRM, cause.at, price)
        trigger.firing = firing
        self.last_fired_at = cause.at
        emitted: list[Emitted] = [fired]
        problem = None
        if lock and key.position_idx == ONE_WAY:
            problem = "a lock opens the opposite leg, and a one-way account has none: use reduce"
        elif quantity <= 0:
            problem = (
                f"nothing left to {spec.action.value}: other firings' orders"
                + (" and the opposite leg" if lock else "")
                + f" already take all {report.size} the position holds"
            )
        if problem is not None:
            return emitted + self.advance(
                trigger.trigger_id, decision.decision_id, Stage.FAILED, problem, cause=cause
            )
        if spec.auto_execute:
            firing.stage = Stage.REQUESTED
            emitted.append(_requested(trigger, firing, cause, "auto"))
        return emitted

    def _hedged(self, book: AccountBook, key: PositionKey, opposite_idx: int) -> Decimal:
        """What the opposite leg of ``key`` holds: its report's size, and the locks of
        ``key`` executed after that report (which it does not show yet)."""
        opposite = book.positions.get(book.key(key.category, key.symbol, opposite_idx))
        report = opposite.exchange if opposite is not None else None
        shown = report.size if report is not None else ZERO
        reported_at = report.updated_time if report is not None else 0
        return shown + self._executed_since(key, reported_at, reduces=False)

    def reserved(self, key: PositionKey, reported_at: int) -> Decimal:
        """The quantity of ``key`` that firings' orders take and the exchange's report (of
        venue time ``reported_at``) does not yet show: orders requested or awaiting a
        confirm, and reduces executed after that report."""
        total = ZERO
        for trigger in self.triggers.values():
            firing = trigger.firing
            if firing is not None and firing.decision.key == key and in_flight(firing.stage):
                total += firing.decision.quantity
        return total + self._executed_since(key, reported_at, reduces=True)

    def _executed_since(self, key: PositionKey, reported_at: int, *, reduces: bool) -> Decimal:
        """What the executed reduces (or locks) of ``key`` filled after venue time
        ``reported_at``: a report of that time does not show it yet."""
        total = ZERO
        for trigger in self.triggers.values():
            firing = trigger.firing
            if (
                firing is not None
                and firing.decision.key == key
                and firing.stage is Stage.EXECUTED
                and firing.decision.reduce_only == reduces
                and firing.executed_at > reported_at
            ):
                total += firing.filled_qty or ZERO
        return total


def lock_position_id(trigger_id: str, arming: int) -> str:
    """The id of the position a lock opened: its trigger's, and which arming fired it."""
    return f"lock:{trigger_id}:{arming}"


def _requested(trigger: Trigger, firing: Firing, cause: Cause, by: str) -> OrderRequested:
    decision = firing.decision
    key = decision.key
    # A lock opens the opposite leg: trueup's own position, once its order executes.
    opens = (
        None
        if decision.reduce_only
        else LegOpening(
            position_id=lock_position_id(trigger.trigger_id, trigger.arming),
            category=key.category,
            position_idx=decision.order_position_idx,
            side=OPENED_SIDE[decision.order_side],
        )
    )
    return OrderRequested(
        **cause.on(decision.key),
        trigger_id=trigger.trigger_id,
        decision_id=decision.decision_id,
        order_side=decision.order_side.value,
        order_position_idx=decision.order_position_idx,
        quantity=decision.quantity,
        reduce_only=decision.reduce_only,
        requested_by=by,
        price=firing.price,
        opens=opens,
    )


UNSENT = frozenset(
    {
        RefusalKind.TOO_LATE,
        RefusalKind.WITHDRAWN,
        RefusalKind.POSITION_CHANGED,
        RefusalKind.UNSENDABLE,
    }
)


def _refusal_reason(event: OrderPlacementReported) -> str:
    """Why a placement failed, in words true to who judged it: a request the executor
    did not send (too late, withdrawn, off the venue's grid...) no venue saw."""
    if event.refusal in UNSENT:
        return f"the executor did not send the order ({event.refusal.value}): {event.reason}"
    kind = event.refusal.value if event.refusal is not None else "refused"
    code = f" {event.code}" if event.code else ""
    return f"the venue refused the order ({kind}{code}): {event.reason}"


def _held(book: AccountBook) -> Held:
    """The held position of each symbol and side, by the exchange's word (the first key,
    should a symbol be held on one side under two keys)."""
    held: Held = {}
    for key in sorted(book.held_keys()):
        report = book.positions[key].exchange
        if report is not None:
            held.setdefault((key.symbol, report.side), key)
    return held


def _unrealised(book: AccountBook, key: PositionKey) -> Decimal | None:
    """The key's unrealised PnL as trueup can vouch for it: its own, else the venue's."""
    position = book.positions[key]
    return unrealised(book.pnl.keys.get(key), position.exchange, position.exchange_at)[0]
