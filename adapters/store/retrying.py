"""Running store operations through outages: wait with capped exponential backoff, log each
wait, reconnect before trying again, and give up only after ``give_up_after_s`` (if given)."""

import logging
import random
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from trueup.adapters.store.failures import Outage, outage, refused_value, unusable, unwritable
from trueup.adapters.store.location import StoreError
from trueup.adapters.store.redaction import redact

log = logging.getLogger("trueup.store")

T = TypeVar("T")

FIRST_WAIT_S = 0.1
MAX_WAIT_S = 5.0
JITTER = 0.1  # so that processes that failed together do not retry in lockstep


class Reconnectable(Protocol):
    """The store behind the operations, which may need connecting afresh after an outage."""

    @property
    def generation(self) -> int:
        """Bumped by each reconnection."""

    def reconnect(self, generation: int) -> None:
        """Connect afresh, unless someone already has since ``generation``; raises while the
        store is still unreachable."""


class Retrying:
    """Calls an operation until it succeeds, waiting out a busy or unreachable store."""

    def __init__(
        self,
        store: Reconnectable | None,
        shown: str,
        give_up_after_s: float | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.store = store  # None: nothing to reconnect (a SQLite file), only waiting
        self.shown = shown  # the store as messages name it, password masked
        self.give_up_after_s = give_up_after_s
        self.secrets = secrets

    def __call__(self, operation: Callable[[], T]) -> T:
        """``operation()``, tried again after each outage; raises StoreError on giving up
        or when the store turns out unusable, and any other failure as it comes."""
        first_failure: float | None = None
        wait = FIRST_WAIT_S
        reconnect_from: int | None = None
        while True:
            generation = self._generation()
            # A try that fails has waited already (SQLite's own wait for a lock): counted.
            tried = time.monotonic()
            try:
                if reconnect_from is not None and self.store is not None:
                    self.store.reconnect(reconnect_from)
                    generation = self._generation()
                return operation()
            except StoreError:
                raise
            except Exception as error:
                cause = outage(error)
                if cause is None:
                    self._raise_if_unusable(error)
                    self._raise_if_unwritable(error)
                    self._raise_if_refused(error)
                    raise
            now = time.monotonic()
            first_failure = tried if first_failure is None else first_failure
            pause = self._pause(cause, now - first_failure, wait)
            time.sleep(pause)
            wait = min(wait * 2, MAX_WAIT_S)
            reconnect_from = generation if cause.state == "unreachable" else None

    def _generation(self) -> int:
        return 0 if self.store is None else self.store.generation

    def _pause(self, cause: Outage, failing_for_s: float, wait: float) -> float:
        """How long to wait before the next attempt, logged; StoreError if it is time to stop."""
        reason = redact(cause.reason, self.secrets)
        limit = self.give_up_after_s
        if limit is not None and failing_for_s >= limit:
            raise StoreError(
                f"journal at {self.shown} {cause.state} for {failing_for_s:.1f} s, "
                f"giving up: {reason}"
            )
        pause = wait * random.uniform(1 - JITTER, 1 + JITTER)
        if limit is not None:
            pause = min(pause, limit - failing_for_s)
        log.warning("journal %s (%s), retrying in %.1f s", cause.state, reason, pause)
        return pause

    def _raise_if_refused(self, error: Exception) -> None:
        problem = refused_value(error)
        if problem is not None:
            raise StoreError(
                f"the journal at {self.shown} refused a value it cannot hold, and stored "
                f"nothing of that write: {redact(problem, self.secrets)}"
            ) from None

    def _raise_if_unwritable(self, error: Exception) -> None:
        problem = unwritable(error)
        if problem is not None:
            raise StoreError(
                f"the journal at {self.shown} could not take a write ({problem}): it holds "
                "what its last commit stored"
            ) from None

    def _raise_if_unusable(self, error: Exception) -> None:
        problem = unusable(error)
        if problem is not None:
            # Said so, for no retry takes a write there until someone changes that.
            what = "read-only" if "readonly database" in problem else "unusable"
            raise StoreError(
                f"the journal at {self.shown} is {what}: {redact(problem, self.secrets)}"
            ) from None
