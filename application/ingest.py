"""Ingest: decode inputs and append them to the journal in batches, the path every input takes."""

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Appended, Journal
from trueup.domain.events import InputEvent, InputRejected

# Inputs per transaction. Each batch costs, besides its rows, a commit, its audit index
# rows (one per account and symbol it names) and the projection's step after it: the views
# of every symbol it touched rewritten, its tracking positions and its emitted events, in a
# transaction of their own. 4,000 spreads those over four times the inputs of 1,000 (about
# a tenth less CPU per input, measured with the detectors on; 10,000 gains nothing more),
# while a crash still loses only the batch under way, which a rerun of the capture stores.
BATCH = 4000


@dataclass
class IngestCount:
    """What an ingest run did with its lines."""

    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    blank: int = 0  # lines with nothing on them: skipped, but counted

    @property
    def lines(self) -> int:
        return self.accepted + self.rejected


class Ingestor:
    """Appends inputs in batches; each batch is one transaction, so a crash loses no stored input
    and a rerun of the same capture stores nothing twice."""

    def __init__(
        self,
        journal: Journal,
        batch_size: int = BATCH,
        after_flush: Callable[[Appended | None], object] | None = None,
        on_input: Callable[[InputEvent], object] | None = None,
    ) -> None:
        self.journal = journal
        self.batch_size = batch_size
        # Runs after each stored batch, given what it appended (None if nothing was to be):
        # the in-process projections catch up there.
        self.after_flush = after_flush
        # Told of each input as it is decoded, before it is stored: an entry point that
        # answers line by line (the HTTP API) learns each line's input id here.
        self.on_input = on_input
        self.count = IngestCount()
        self._batch: list[InputEvent] = []
        # While ``ingest`` reads its lines: the thread that stores one batch as the next is
        # decoded (made at the first full batch), and that batch's store.
        self._aside: ThreadPoolExecutor | None = None
        self._storing: Future[Appended] | None = None
        self._overlapping = False

    def add_line(self, line: str | bytes) -> InputEvent:
        event = decode_line(line)
        self.add(event)
        return event

    def add(self, event: InputEvent) -> None:
        if self.on_input is not None:
            self.on_input(event)
        if isinstance(event, InputRejected):
            self.count.rejected += 1
        else:
            self.count.accepted += 1
        self._batch.append(event)
        if len(self._batch) >= self.batch_size:
            if self._overlapping:
                self._store_aside()
            else:
                self.flush()

    def flush(self) -> None:
        """Store what was added; ``after_flush`` is told of each batch stored, or of None if
        there was nothing to store."""
        told = self._stored_aside()
        if self._batch:
            batch, self._batch = self._batch, []
            self._tell(self.journal.append(batch))
        elif not told and self.after_flush is not None:
            self.after_flush(None)

    def ingest(self, lines: Iterable[str | bytes]) -> IngestCount:
        """Decode and store ``lines``. Beyond the first batch, each is stored on a thread of
        its own while the next is decoded (sqlite3 and psycopg let go of the interpreter
        while the store works); its ``after_flush`` runs once it is stored, with nothing
        else being stored, before the next batch goes."""
        self._overlapping = True
        try:
            for line in lines:
                # Blank: empty, or whitespace alone. isspace() asks that without the copy
                # strip() makes of every line (the same whitespace either way).
                if line and not line.isspace():
                    self.add_line(line)
                else:
                    self.count.blank += 1
            self.flush()
        finally:
            self._overlapping = False
            self._stop_aside()
        return self.count

    def _store_aside(self) -> None:
        """Hand the full batch to the storing thread, once the one before it is stored
        and told of."""
        self._stored_aside()
        batch, self._batch = self._batch, []
        if self._aside is None:
            self._aside = ThreadPoolExecutor(1, thread_name_prefix="trueup-store")
        self._storing = self._aside.submit(self.journal.append, batch)

    def _stored_aside(self) -> bool:
        """Wait for the batch being stored aside, if one is, and tell of it; whether one was.
        Its failure is raised here, a batch later than a store in line would raise it."""
        storing, self._storing = self._storing, None
        if storing is None:
            return False
        self._tell(storing.result())
        return True

    def _tell(self, appended: Appended) -> None:
        self.count.duplicates += appended.duplicates
        if self.after_flush is not None:
            self.after_flush(appended)

    def _stop_aside(self) -> None:
        """Let the storing thread go, once what it stores is in (after a failure, a batch
        it had taken is stored though nobody is told: the projection finds it later)."""
        aside, self._aside = self._aside, None
        if aside is not None:
            aside.shutdown(wait=True)
        self._storing = None
