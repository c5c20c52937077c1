"""Counting what the detectors emitted for some inputs, whichever process detected them, as
it is recorded: an ingest whose detector process is still at work counts what it has
recorded while waiting for the rest, rather than all of it after."""

from collections import Counter
from collections.abc import Set

from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted


class EmittedCount:
    """The events emitted, by type, for the inputs ``causes`` (by id) and those of ``keys``
    (Journal.input_keys), stored after journal position ``after``."""

    def __init__(
        self, journal: Journal, causes: Set[str], after: int, keys: Set[str] = frozenset()
    ) -> None:
        self._journal = journal
        self._causes = causes
        self._keys = keys
        self._position = after
        self._found: Counter[str] = Counter()

    def read(self) -> None:
        """Count those recorded since the last read. Each read goes on from the last
        position it read: what the journal records later, it records after that."""
        while True:
            page, last = self._journal.emitted_after(self._position)
            self._found.update(event.type for _, event in page if self._ours(event))
            if last == self._position:
                return
            self._position = last

    def by_type(self) -> dict[str, int]:
        return dict(sorted(self._found.items()))

    def _ours(self, event: Emitted) -> bool:
        if event.cause in self._causes:
            return True
        return bool(self._keys) and self._journal.input_key(event.cause, event.at) in self._keys
