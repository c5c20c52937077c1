"""Seeing through trueup's safety nets, which keep an ingest or a worker going past a fault.

A fault caught there is still a crash here: decode_line logs what it could not decode, and
Reconciler.apply turns an exception into a fold fault of the account. The fuzzer takes the
logged exceptions, and folds with a reconciler that does not contain faults
(``Reconciler(contain_faults=False)``), so each shows where it happened.
"""

import logging


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
