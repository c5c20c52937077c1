"""``trueup run``: live ingest from a venue, through exactly the path captures take.

Feeds hand capture records over from their own threads; one writer thread turns each into
a capture line, records it (``--record``), decodes and appends it, and lets the projections
catch up. Clock ticks are appended too, so rules that wait on time fire live as in replay.
"""

import logging
import queue
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from trueup.adapters import rule_changes
from trueup.adapters.capture import decode_line, record_line
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Clock, Feed, Record
from trueup.adapters.store.journal import Appended, Journal
from trueup.adapters.store.lease import Lease
from trueup.adapters.store.wal_checkpoints import checkpoints_aside
from trueup.application.ingest import Ingestor
from trueup.domain.emitted import Emitted
from trueup.domain.rules.config import RuleConfig
from trueup.projections.leased import LeasedProjection
from trueup.projections.partitions import ALL, partition_of
from trueup.projections.view_reader import ViewReader
from trueup.runners.rules_file import RulesFile

if TYPE_CHECKING:  # NATS is loaded only by a run that publishes to it
    from trueup.adapters.nats.publisher import Publisher

log = logging.getLogger("trueup.run")
# How often a run waiting for another to stop recording its account looks again.
RECORDER_POLL_S = 0.5


class LiveIngest:
    """The single writer: records in, journal (and capture file) out."""

    def __init__(
        self,
        journal: Journal,
        *,
        config: RuleConfig | None = None,
        rules_file: RulesFile | None = None,
        projections: bool = True,
        record: BinaryIO | None = None,
        tick_ms: int = 1_000,
        clock: Clock = wall_clock,
        on_emitted: Callable[[Emitted], object] | None = None,
        ticks_for: tuple[str, str] | None = None,
        publisher: "Publisher | None" = None,
    ) -> None:
        # In process only while this process holds the leases of the projection's
        # partitions: a run for one account offers only that account's partition, so runs
        # for other accounts each run their own. The rules applied are the journal's.
        partitions = ALL if ticks_for is None else (partition_of(*ticks_for),)
        self.projection = LeasedProjection(journal, partitions) if projections else None
        self.ingestor = Ingestor(journal, batch_size=500, after_flush=self._detect)
        self.store_url = journal.url
        self.record = record
        self.tick_ms = tick_ms
        self.clock = clock
        self.inbox: queue.Queue[Record] = queue.Queue()
        self.on_emitted = on_emitted
        # Each input, once recorded, is handed to NATS (--nats) before anything else is
        # done with it; each emitted event once the projection has committed it.
        self.publisher = publisher
        self.rules_file = rules_file
        # Clock ticks for this (venue, account) alone; None: for every account (the demo's).
        self.ticks_for = ticks_for
        # ``config`` (or the file's rules) is put in force first, if it is not already.
        rules = rules_file.rules if rules_file is not None else config
        if rules is not None and journal.rules_in_force() != rules:
            self.put(rule_changes.record(clock(), rules, _source(rules_file)))

    def put(self, record: Record) -> None:
        """The feeds' sink: safe from any thread."""
        self.inbox.put(record)

    def _detect(self, appended: Appended | None = None) -> None:
        if self.projection is not None:
            for event in self.projection.catch_up(appended):
                log.info("%s %s %s", event.type, event.symbol or "", getattr(event, "reason", ""))
                if self.publisher is not None:
                    self.publisher.emitted(event)
                if self.on_emitted is not None:
                    self.on_emitted(event)

    def run(self, stop: threading.Event) -> None:
        """Write until ``stop`` is set and the inbox is drained; a SQLite journal's log is
        checkpointed meanwhile by a thread of its own, never by a commit of this one."""
        with checkpoints_aside(self.store_url):
            self._run(stop)

    def _run(self, stop: threading.Event) -> None:
        next_tick = self.clock() + self.tick_ms
        while not (stop.is_set() and self.inbox.empty()):
            wrote = False
            timeout = max(0.0, (next_tick - self.clock()) / 1000)
            try:
                self._write(self.inbox.get(timeout=min(timeout, 0.2)))
                wrote = True
                # Take what else has arrived before paying for a commit.
                while True:
                    self._write(self.inbox.get_nowait())
            except queue.Empty:
                pass
            if self.clock() >= next_tick:
                self._write(self._tick())
                next_tick = self.clock() + self.tick_ms
                wrote = True
            changed = self.rules_file.changed() if self.rules_file is not None else None
            # Recorded only if not in force already: another run on the same file, having
            # seen the same edit, may have recorded it first.
            if changed is not None and self.ingestor.journal.rules_in_force() != changed:
                self._write(rule_changes.record(self.clock(), changed, _source(self.rules_file)))
                wrote = True
            if wrote:
                self.ingestor.flush()

    def _tick(self) -> Record:
        tick: Record = {"at": self.clock(), "channel": "clock"}
        if self.ticks_for is not None:
            tick["venue"], tick["account"] = self.ticks_for
        return tick

    def _write(self, record: Record) -> None:
        line = record_line(record)
        if self.record is not None:
            self.record.write(line + b"\n")
            self.record.flush()
        event = decode_line(line)  # as Ingestor.add_line does: the path every input takes
        if self.publisher is not None:
            self.publisher.input(event, line)
        self.ingestor.add(event)


def _source(rules_file: RulesFile | None) -> str:
    return str(rules_file.path) if rules_file is not None else "the process's own rules"


def run_live(
    journal: Journal,
    feed: Feed,
    stop: threading.Event,
    *,
    rules_file: RulesFile | None = None,
    projections: bool = True,
    record_path: Path | None = None,
    tick_ms: int = 1_000,
    publisher: "Publisher | None" = None,
    on_emitted: Callable[[Emitted], object] | None = None,
) -> LiveIngest:
    """Run ``feed`` into ``journal`` until ``stop`` is set, then stop it cleanly.

    With a ``rules_file``, its rules are put in force, and again whenever it changes. With a
    ``publisher``, every input and emitted event goes to NATS too (it is stopped here).
    ``on_emitted`` is told each event the projection emits in this process, once committed.
    """
    if publisher is not None:
        publisher.start()
    try:
        return _run_live(
            journal,
            feed,
            stop,
            rules_file=rules_file,
            projections=projections,
            record_path=record_path,
            tick_ms=tick_ms,
            publisher=publisher,
            on_emitted=on_emitted,
        )
    finally:
        if publisher is not None:
            publisher.stop()
            publisher.spool.close()


def _run_live(
    journal: Journal,
    feed: Feed,
    stop: threading.Event,
    *,
    rules_file: RulesFile | None,
    projections: bool,
    record_path: Path | None,
    tick_ms: int,
    publisher: "Publisher | None",
    on_emitted: Callable[[Emitted], object] | None,
) -> LiveIngest:
    with record_path.open("ab") if record_path else nullcontext() as record:
        live = LiveIngest(
            journal,
            rules_file=rules_file,
            projections=projections,
            record=record,
            tick_ms=tick_ms,
            ticks_for=(feed.venue, feed.account),
            publisher=publisher,
            on_emitted=on_emitted,
        )
        lease = journal.lease(recorder_lease(feed.venue, feed.account))
        if not _recording_taken(lease, stop, f"{feed.venue}/{feed.account}"):
            return live  # stopped while another run recorded the account
        try:
            resume_from_journal(journal, feed)
            feed.start(live.put, gave_up=lambda _why: stop.set())
            try:
                live.run(stop)
            finally:
                feed.stop()
                stop.set()
                live.run(stop)  # what arrived while the feed was stopping
                if live.projection is not None:
                    live.projection.release()
        finally:
            lease.release()
    return live


def recorder_lease(venue: str, account: str) -> str:
    """The lease of the one `trueup run` that records an account into a journal."""
    return f"recorder:{venue}:{account}"


def _recording_taken(lease: Lease, stop: threading.Event, scope: str) -> bool:
    """Wait until no other run records the account (one being replaced, or started twice by
    mistake: two would record each frame twice over); False if stopped first."""
    if lease.acquire():
        return True
    log.warning(
        "another trueup run is recording %s into this journal: waiting for it to stop", scope
    )
    while not stop.wait(RECORDER_POLL_S):
        if lease.acquire():
            log.warning("the other run has stopped: recording %s", scope)
            return True
    return False


def resume_from_journal(journal: Journal, feed: Feed) -> None:
    """Tell the feed when the journal last heard from its account (as the persisted views
    have it), and the symbols it knows there, so its first sync asks for what the venue
    pushed meanwhile."""
    scope = (feed.venue, feed.account)
    reader = ViewReader(journal)
    # Views behind the journal (a run killed before it processed its last inputs) still
    # say when it had heard from the account by then: asking from that earlier instant
    # asks for more, never for less, where waiting for current views would ask for nothing.
    view = reader.account(*scope) if reader.written_for(scope) else None
    seen = view.freshness.exchange_seen_at if view is not None else None
    if seen:
        known = {s.symbol for s in reader.account_symbols(*scope)}
        feed.resume_after(seen, tuple(sorted(known | reader.symbols_after(scope))))
