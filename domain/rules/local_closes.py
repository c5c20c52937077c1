"""The closes of local positions the reconciler makes or acknowledges, for a fold of the
inputs alone.

The book folds the trading system's closes and the operator's cleans from their inputs. One
rule closes local positions itself: manual close (rules/manual_close.py), when the exchange
shows flat a key the trading system still holds open (closed by hand, liquidated, a
stop-loss the bot never saw). No other detector changes the book. The audit folds the inputs
and runs ``LocalCloses`` after each, so that its local side is the reconciler's, and each
close comes with the event the reconciler emitted for it.
"""

from trueup.domain.book import AccountBook, Changed
from trueup.domain.emitted import Cause, Emitted, PositionCleaned, PositionClosed
from trueup.domain.events import InputEvent, LocalPositionCleaned
from trueup.domain.rules.config import RuleConfig
from trueup.domain.rules.detector import Phases
from trueup.domain.rules.manual_close import ManualCloseDetector

Close = PositionClosed | PositionCleaned


class LocalCloses:
    """The reconciler's closes on one account's local side, for a fold of its inputs alone:
    each operator's clean acknowledged, and the manual-close rule, run as the reconciler
    runs it."""

    __slots__ = ("_phases",)

    def __init__(self) -> None:
        self._phases = Phases.of((ManualCloseDetector(),), ())

    def take(
        self, book: AccountBook, event: InputEvent, changed: Changed, config: RuleConfig
    ) -> list[Close]:
        """After ``book`` folded ``event`` (which changed the keys ``changed``): close what the
        reconciler closes then; the events that said so (POSITION_CLOSED, POSITION_CLEANED)."""
        cause = Cause(event.input_id, event.at)
        emitted = cleaned(event, changed, cause)
        emitted += self._phases.take(book, event, changed, cause, config)
        self._phases.forget(book)
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
