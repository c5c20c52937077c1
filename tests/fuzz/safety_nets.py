"""Seeing through trueup's safety nets, which keep an ingest or a worker going past a fault.

A fault caught there is still a crash here: decode_line logs what it could not decode, and
Reconciler.apply turns an exception into a fold fault of the account. The fuzzer takes the
logged exceptions, and folds beneath apply's catch-all, so each shows where it happened.
"""

import logging

from trueup.domain import reconciler as reconciler_module
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.domain.reconciler import Reconciler


class _Keeper(logging.Handler):
    """Keeps the exceptions logged under ``trueup`` (and stops them flooding stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[BaseException] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            self.errors.append(record.exc_info[1])


_keeper = _Keeper()


def keep_logged_errors() -> None:
    """From now on, keep what trueup logs with an exception (for ``logged_errors``)."""
    logger = logging.getLogger("trueup")
    if _keeper not in logger.handlers:
        logger.addHandler(_keeper)


def logged_errors() -> list[BaseException]:
    """The exceptions trueup logged since the last call."""
    found, _keeper.errors = _keeper.errors, []
    return found


def fold(reconciler: Reconciler, event: InputEvent) -> list[Emitted]:
    """What ``reconciler.apply(event)`` emits, but raising what apply would catch."""
    # _apply takes what apply reads of the input's type (its kind bits) beside the input.
    emitted: list[Emitted] = reconciler._apply(event, reconciler_module._kind(type(event)))
    return emitted


def fold_faults(reconciler: Reconciler) -> int:
    """How many inputs the reconciler's books have recorded as faults of their fold."""
    return sum(len(getattr(book, "fold_faults", ())) for book in reconciler.books.values())
