"""Journals to read through, one per thread at a time, so that reads do not queue on one
connection: SQLite in WAL mode lets readers run beside each other and beside the writer, and
each PostgreSQL reader has connections of its own."""

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from trueup.adapters.store.journal import Journal


class ReaderPool:
    """Up to ``size`` readers of ``journal``'s store, opened as first needed; a thread that
    finds them all busy waits for one."""

    def __init__(self, journal: Journal, size: int) -> None:
        if size < 1:
            raise ValueError("a reader pool needs at least one reader")
        self.journal = journal
        self.size = size
        self._idle: queue.LifoQueue[Journal] = queue.LifoQueue()
        self._opened: list[Journal] = []
        self._lock = threading.Lock()

    @contextmanager
    def reading(self) -> Iterator[Journal]:
        """A reader of this thread's own until the block ends."""
        reader = self._take()
        try:
            yield reader
        finally:
            self._idle.put(reader)

    def _take(self) -> Journal:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._opened) < self.size:
                # Opened under the lock: at most ``size``, however many threads ask at once.
                reader = self.journal.reader()
                self._opened.append(reader)
                return reader
        return self._idle.get()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for reader in opened:
            reader.close()
