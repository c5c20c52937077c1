"""Answers kept while the journal's end stays where it was.

Every answer a read gives is a function of the journal (and, for can-open's verdict, of the
clock: that part is judged afresh on each request, see CanOpenFacts). Whatever may change an
answer is appended to the journal and moves its end, so an answer read at one end holds for
every request that finds the journal at the same end; the first request to find it moved
drops them all.
"""

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# Distinct questions kept at one end; past it, answers are read each time until it moves.
DEFAULT_LIMIT = 10_000


class AnswerCache(Generic[K, V]):
    """Answers by question, all read at one journal end."""

    def __init__(
        self, limit: int = DEFAULT_LIMIT, tally: Callable[[bool], object] = lambda _: None
    ) -> None:
        self.limit = limit
        # Told of each answer: True when it was kept, False when the journal was read for it.
        self.tally = tally
        self._end = -1
        self._answers: dict[K, V] = {}
        self._lock = threading.Lock()

    def kept(self, end: int, question: K) -> V | None:
        """The answer kept for ``question`` with the journal at ``end`` (read just now), if
        there is one."""
        with self._lock:
            if end != self._end or question not in self._answers:
                return None
            found = self._answers[question]
        self.tally(True)
        return found

    def answer(self, end: int, question: K, read: Callable[[], V]) -> V:
        """The answer to ``question`` with the journal at ``end`` (read just now, before
        anything else is): kept from an earlier request at the same end, else ``read()``."""
        found = self.kept(end, question)
        if found is not None:
            return found
        self.tally(False)
        found = read()  # outside the lock: other questions are answered meanwhile
        with self._lock:
            if end > self._end:
                self._end, self._answers = end, {}
            # An answer read at an end some request has already seen pass is not kept.
            if end == self._end and len(self._answers) < self.limit:
                self._answers[question] = found
        return found
