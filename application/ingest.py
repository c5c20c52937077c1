"""Ingest: decode inputs and append them to the journal in batches, the path every input takes."""

from collections.abc import Callable, Iterable
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
    # Lines in batches the journal has stored: an interrupted ingest says how many.
    stored: int = 0

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
        count: IngestCount | None = None,
    ) -> None:
        self.journal = journal
        self.batch_size = batch_size
        # Runs after each stored batch, given what it appended (None if nothing was to be):
        # the in-process projections catch up there.
        self.after_flush = after_flush
        # Told of each input as it is decoded, before it is stored: an entry point that
        # answers line by line (the HTTP API) learns each line's input id here.
        self.on_input = on_input
        self.count = IngestCount() if count is None else count
        self._batch: list[InputEvent] = []

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
            self.flush()

    def flush(self) -> None:
        appended = None
        if self._batch:
            appended = self.journal.append(self._batch)
            self.count.stored += len(self._batch)
            self.count.duplicates += appended.duplicates
            self._batch = []
        if self.after_flush is not None:
            self.after_flush(appended)

    def ingest(self, lines: Iterable[str | bytes]) -> IngestCount:
        for line in lines:
            # Blank: empty, or whitespace alone. isspace() asks that without the copy strip()
            # makes of every line (the same whitespace either way, for bytes as for str).
            if line and not line.isspace():
                self.add_line(line)
            else:
                self.count.blank += 1
        self.flush()
        return self.count
