"""Checkpoints of a SQLite journal's write-ahead log from a thread of their own, for the
long-running writers (``trueup run``, ``serve``, ``worker``) and a bulk one (``trueup
ingest``): otherwise the commit that takes the log past the connections'
``wal_autocheckpoint`` (4,000 pages) copies them into the database and syncs it before it
returns (10 to 20 ms for a thousand pages on the bench's disk), on the path from a price to
its order; the trigger bench's log passes 4,000 pages every 60 or so samples. The thread
runs while the writer's own thread works (sqlite3 lets go of the interpreter's lock), on
another core.

A passive checkpoint every second copies what that second committed (at live rates, far
below the 4,000 pages, which stay the safety net of a burst); it holds no lock a writer or
a reader waits for, and does nothing on a journal with nothing new in its log.
"""

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trueup.adapters.store.location import is_postgres, settings

log = logging.getLogger("trueup.store")
EVERY_S = 1.0
# `trueup ingest` of a capture writes the log as fast as it can, thousands of pages a second:
# checkpointed this often, its commits do not reach the 4,000 pages.
BULK_EVERY_S = 0.25
STOP_TIMEOUT_S = 10.0


def checkpoint_passively(path: str, stop: threading.Event, every_s: float = EVERY_S) -> None:
    """A passive checkpoint of the journal at ``path`` every ``every_s`` until ``stop``."""
    # timeout 0: a checkpoint another connection is running is left to it, never waited on.
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    try:
        while not stop.wait(every_s):
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as error:  # busy, or the disk: the next one tries again
                log.debug("a checkpoint of %s was not taken: %s", path, error)
    finally:
        connection.close()


@contextmanager
def checkpoints_aside(url: str | None, every_s: float = EVERY_S) -> Iterator[None]:
    """While inside, the SQLite journal at ``url`` checkpointed by a thread of this process;
    a PostgreSQL store (or no URL) is left as it is."""
    path = None if url is None or is_postgres(url) else settings(url).get("SQLITE_DBNAME")
    if path is None or not Path(path).is_file():
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=checkpoint_passively, args=(path, stop, every_s), name="wal-checkpoints", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(STOP_TIMEOUT_S)
