"""The closes of local positions the reconciler makes or acknowledges, for a fold of the
inputs alone.

The book folds the trading system's closes and the operator's cleans from their inputs. One
rule closes local positions itself: manual close (rules/manual_close.py), when the exchange
shows flat a key the trading system still holds open (closed by hand, liquidated, a
stop-loss the bot never saw). No other detector changes the book. The audit folds the inputs
and runs ``LocalCloses`` after each, so that its local side is the reconciler's, and each
close comes with the event the reconciler emitted for it.
"""

from trueup.domain.book import NOTHING, AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PositionCleaned, PositionClosed
from trueup.domain.events import (
    InputEvent,
    InputRejected,
    LocalPositionCleaned,
    RulesSet,
    StreamConnected,
    StreamDown,
    StreamReconnected,
)
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Phases
from trueup.domain.rules.manual_close import ManualCloseDetector

Close = PositionClosed | PositionCleaned
# The inputs of an account the reconciler judges no key on, nor runs its timers on
# (domain/reconciler.py, ``_apply``): they end no close's grace.
UNJUDGED = (InputRejected, StreamDown, StreamReconnected, StreamConnected)


class LocalCloses:
    """The reconciler's closes on one account's local side, for a fold of its inputs alone:
    each operator's clean acknowledged, and the manual-close rule, run as the reconciler
    runs it."""

    __slots__ = ("_closes", "_every_account_at", "_phases")

    def __init__(self) -> None:
        self._closes = ManualCloseDetector()
        self._phases = Phases.of((self._closes,), ())
        self._every_account_at = 0  # the latest instant of a tick for every account passed

    def take(
        self, book: AccountBook, event: InputEvent, changed: Changed, config: RuleConfig
    ) -> list[Close]:
        """After ``book`` folded ``event`` (which changed the keys ``changed``): close what the
        reconciler closes then; the events that said so (POSITION_CLOSED, POSITION_CLEANED)."""
        cause = Cause(event.input_id, event.at)
        emitted = cleaned(event, changed, cause)
        emitted += self._phases.take(book, event, changed, cause, config)
        # As the reconciler judges each key (changed, then awaited on time): a close that
        # awaited its cause is reported on the input that brought its fill or ended its
        # grace, a clock tick too.
        if not isinstance(event, UNJUDGED):
            closes = self._closes
            if changed:
                for key in sorted(changed):
                    emitted += closes.on_key(book, key, cause, config)
            emitted += self._awaited(book, changed, cause, config)
        self._phases.forget(book)
        return _closes(emitted)

    @property
    def awaiting(self) -> bool:
        """Whether a close awaits its cause (rules/manual_close.py)."""
        return bool(self._closes.awaiting)

    def passing(self, book: AccountBook, event: InputEvent, config: RuleConfig) -> list[Close]:
        """An input the fold does not take (of another symbol, a clock tick), its instant
        alone: the closes whose grace it ends, as the reconciler reports them on it."""
        if isinstance(event, UNJUDGED):
            return []
        at = event.at
        if isinstance(event, RulesSet):
            # Judged as of the account's own time, as the reconciler judges rules put in
            # force (Reconciler._apply): rules are no clock.
            at = min(at, max(book.clock, self._every_account_at))
        elif not event.venue:
            self._every_account_at = max(self._every_account_at, at)
        emitted = self._awaited(book, NOTHING, Cause(event.input_id, at), config)
        self._phases.forget(book)
        return _closes(emitted)

    def _awaited(
        self, book: AccountBook, changed: Changed, cause: Cause, config: RuleConfig
    ) -> list[Emitted]:
        """The closes awaited on keys not in ``changed``, judged on ``cause``."""
        closes = self._closes
        waited = closes.waiting()
        if not waited:
            return []
        emitted: list[Emitted] = []
        for key in sorted(set(waited) - set(changed)):
            emitted += closes.on_key(book, key, cause, config)
        return emitted


def _closes(emitted: list[Emitted]) -> list[Close]:
    # Not the cooldowns the closes started: their length is the rules' of that instant,
    # which a fold given the rules of another instant cannot vouch for.
    return [e for e in emitted if isinstance(e, Close)]


def cleaned(event: InputEvent, changed: Changed, cause: Cause) -> list[Emitted]:
    """An operator's clean of a local position, acknowledged (if it closed one)."""
    if not (isinstance(event, LocalPositionCleaned) and changed):
        return []
    (key,) = changed
    return [
        PositionCleaned(
            **cause.on(key),
            position_id=event.position_id,
            exit_reason=event.exit_reason,
            operator=event.operator,
        )
    ]
