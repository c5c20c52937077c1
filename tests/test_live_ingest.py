"""Live ingest: what feeds hand over takes the capture path, a recording replays exactly, and a
run resumes from where the journal last heard from its account."""

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.inputs import T0, line, position_frame
from tests.scenarios import busy_session
from trueup.adapters.capture import decode_line
from trueup.adapters.feed import Record, Sink
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected, RulesSet
from trueup.domain.rules.config import RuleConfig
from trueup.runners.cli import main
from trueup.runners.live import resume_from_journal, run_live
from trueup.runners.rules_file import RulesFile


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


class ResumingFeed(ScriptedFeed):
    """A feed that notes from when, and for which symbols, it is told to resume."""

    def __init__(self) -> None:
        super().__init__([])
        self.resumed: list[tuple[int, tuple[str, ...]]] = []

    def resume_after(self, at: int, symbols: tuple[str, ...] = ()) -> None:
        self.resumed.append((at, symbols))


def held(at: int, symbol: str) -> bytes:
    return line(position_frame(at, symbol=symbol, side="Buy", size="1", seq=at, updated_time=at))


def test_a_run_killed_before_it_processed_its_last_inputs_is_resumed_from_its_views(
    tmp_path: Path,
) -> None:
    """The views say when the journal had heard from the account by the projection's
    position: the next run asks the venue from then (and for the symbols stored after it
    too), not for nothing because the views are behind the journal."""
    with Journal.open(str(tmp_path / "live.db")) as journal:
        TrueupService(journal).ingest([[held(T0 + 1_000, "BTCUSDT")]])  # detected
        journal.append([decode_line(held(T0 + 5_000, "ETHUSDT"))])  # never detected
        feed = ResumingFeed()
        resume_from_journal(journal, feed)
    assert feed.resumed == [(T0 + 1_000, ("BTCUSDT", "ETHUSDT"))]


def test_a_frame_orjson_cannot_write_is_kept_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    """A venue's client parses what orjson will not write back: an integer past 64 bits,
    nesting past 255, a lone surrogate. Each is stored, refused with its reason; the records
    after it are stored too."""
    good = position_frame(T0, symbol="BTCUSDT", side="Buy", size="1", seq=1, updated_time=T0)
    item = good["data"]["data"][0]
    hostile = [
        good | {"data": good["data"] | {"data": [item | {"seq": 2**70}]}},
        good | {"data": good["data"] | {"extra": json.loads("[" * 300 + "]" * 300)}},
        good | {"data": good["data"] | {"id": "\ud800"}},
    ]
    after = position_frame(T0 + 1, symbol="ETHUSDT", side="Buy", size="2", seq=2, updated_time=T0)
    with Journal.open(str(tmp_path / "live.db")) as journal:
        run_until_written(journal, ScriptedFeed([*hostile, after]), tmp_path / "capture.jsonl")
        reasons = [e.reason for _, e in journal.all_events() if isinstance(e, InputRejected)]
        stored = [e.raw for _, e in journal.all_events() if not isinstance(e, Emitted)]
    assert [reason.split(": line 1")[0] for reason in reasons] == [
        "line.data.data[0].seq: expected an integer, got a whole number past 64 bits",
        "JSON nested too deeply to be a capture line",
        "not JSON: no low surrogate in string",
    ]
    assert line(after).decode() in stored


def test_a_run_records_an_edit_of_its_rules_file_only_if_not_in_force_already(
    tmp_path: Path,
) -> None:
    """Two runs on one rules file both see one edit: the one that sees it second finds the
    rules in force, and records nothing."""
    file = tmp_path / "rules.toml"
    file.write_text("cooldown_ms = 60000\n")
    store = str(tmp_path / "live.db")

    def recorded() -> list[int]:
        with Journal.open(store) as journal:
            return [e.rules.cooldown_ms for _, e in journal.all_events() if isinstance(e, RulesSet)]

    stop = threading.Event()
    with Journal.open(store) as journal:
        run = threading.Thread(
            target=run_live,
            args=(journal, ScriptedFeed([]), stop),
            kwargs={"rules_file": RulesFile(file), "tick_ms": 50},
        )
        run.start()
        try:
            deadline = time.monotonic() + 15
            while recorded() != [60_000]:
                assert time.monotonic() < deadline, "the run's rules were not recorded"
                time.sleep(0.05)
            with Journal.open(store) as other:  # the other run, first to see the edit
                TrueupService(other).put_rules_in_force(RuleConfig(cooldown_ms=120_000), "x")
            file.write_text("cooldown_ms = 120000\n")
            time.sleep(1.0)  # the edit settles (rules_file.SETTLE_S) and is read
        finally:
            stop.set()
            run.join(30)
    assert recorded() == [60_000, 120_000]


def test_a_second_run_of_one_account_records_only_once_the_first_has_stopped(
    tmp_path: Path,
) -> None:
    """A supervisor starting a new run before the old one has gone, or a run started twice
    by mistake: two would record every frame twice over (a walkthrough's PNL_MISMATCH)."""
    path = str(tmp_path / "live.db")
    first, second = ScriptedFeed([]), ScriptedFeed([])
    first_stop, second_stop = threading.Event(), threading.Event()
    with Journal.open(path) as one, Journal.open(path) as two:
        runs = [
            threading.Thread(target=run_live, args=(journal, feed, stop), kwargs={"tick_ms": 50})
            for journal, feed, stop in ((one, first, first_stop), (two, second, second_stop))
        ]
        runs[0].start()
        assert first.pushed.wait(10)  # recording
        runs[1].start()
        time.sleep(1.0)
        assert second.thread is None  # waiting for the first to stop

        first_stop.set()
        runs[0].join(10)
        assert second.pushed.wait(10)  # recording now
        second_stop.set()
        runs[1].join(10)
    assert not any(run.is_alive() for run in runs)


def test_a_run_stopped_while_another_records_its_account_never_starts_its_feed(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "live.db")
    first, second = ScriptedFeed([]), ScriptedFeed([])
    first_stop, second_stop = threading.Event(), threading.Event()
    with Journal.open(path) as one, Journal.open(path) as two:
        running = threading.Thread(target=run_live, args=(one, first, first_stop))
        running.start()
        assert first.pushed.wait(10)
        second_stop.set()
        run_live(two, second, second_stop)
        first_stop.set()
        running.join(10)
    assert second.thread is None and not running.is_alive()
