"""Live ingest: what feeds hand over takes the capture path, and a recording replays exactly."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.inputs import line
from tests.scenarios import busy_session
from trueup.adapters.feed import Record, Sink
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.runners.cli import main
from trueup.runners.live import run_live


class ScriptedFeed:
    """A feed that hands over a fixed list of records from its own thread."""

    venue, account = "bybit", "main"

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.thread: threading.Thread | None = None
        self.pushed = threading.Event()
        self.stopped = False
        self.failure: str | None = None

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        """Scripted: nothing to ask for."""

    def start(self, sink: Sink, gave_up: Callable[[str], object] = lambda _why: None) -> None:
        def push() -> None:
            for record in self.records:
                sink(record)
            self.pushed.set()

        self.thread = threading.Thread(target=push)
        self.thread.start()

    def stop(self) -> None:
        assert self.thread is not None
        self.thread.join()
        self.stopped = True


def emitted(journal: Journal) -> list[bytes]:
    return [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]


def run_until_written(journal: Journal, feed: ScriptedFeed, record: Path) -> None:
    stop = threading.Event()

    def stop_once_pushed() -> None:
        feed.pushed.wait(30)
        time.sleep(0.1)  # let a clock tick or two go by as well
        stop.set()

    threading.Thread(target=stop_once_pushed).start()
    run_live(journal, feed, stop, record_path=record, tick_ms=50)


def test_a_live_run_stores_every_record_and_stops_its_feed(tmp_path: Path) -> None:
    records = busy_session(500)
    feed = ScriptedFeed(records)
    with Journal.open(str(tmp_path / "live.db")) as journal:
        run_until_written(journal, feed, tmp_path / "capture.jsonl")
        stored = {e.raw for _, e in journal.all_events() if not isinstance(e, Emitted)}
        assert feed.stopped
        assert {line(r).decode() for r in records} <= stored
        assert len(stored) > len({line(r) for r in records})  # the runner's clock ticks
        assert emitted(journal)


def test_the_recording_replays_to_the_same_emitted_events(tmp_path: Path) -> None:
    capture = tmp_path / "capture.jsonl"
    with Journal.open(str(tmp_path / "live.db")) as live:
        run_until_written(live, ScriptedFeed(busy_session(500)), capture)
        expected = emitted(live)
    replay_store = str(tmp_path / "replay.db")
    assert main(["--store", replay_store, "ingest", str(capture)]) == 0
    with Journal.open(replay_store) as replayed:
        assert emitted(replayed) == expected
