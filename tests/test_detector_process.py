"""`trueup ingest` with the detectors in a second process: the capture stored here while a
worker beside it folds and judges it. It emits what one process would, says so as one
process would, never leaves its worker behind, and detects by itself what a worker that
died left undone."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.inputs import T0, line, opened, position_frame
from tests.scenarios import busy_session
from tests.stored_events import by_account, emitted_in, inputs_in
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.emitted_count import EmittedCount
from trueup.application.service import TrueupService
from trueup.projections.partitions import partition_of, tracker
from trueup.projections.reconciliation import ReconciliationProjection
from trueup.runners import detector_process
from trueup.runners.cli import main

INPUTS = 2_000
HOUR = 3_600_000


def capture(tmp_path: Path, accounts: tuple[str, ...], inputs: int = INPUTS) -> Path:
    """Busy sessions of LIVE accounts, one after another, as one capture file."""
    records: list[dict[str, Any]] = []
    for seed, account in enumerate(accounts):
        records += [{**r, "account": account} for r in busy_session(inputs, seed=seed)]
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
    return path


def reference(store_url: str, tmp_path: Path) -> list[bytes]:
    """What one process emits over the inputs the journal at ``store_url`` holds."""
    with Journal.open(store_url) as journal:
        inputs = inputs_in(journal)
    with Journal.open(f"sqlite://{tmp_path}/reference.db") as one:
        one.append(inputs)
        ReconciliationProjection(one).catch_up()
        return emitted_in(one)


def test_an_ingest_beside_a_detector_process_emits_and_says_what_one_process_would(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = capture(tmp_path, ("alice", "bob"))
    assert main(["--store", store_url, "ingest", "--detector-process", "always", str(path)]) == 0
    said = capsys.readouterr().out
    with Journal.open(store_url) as journal:
        stored = emitted_in(journal)
        assert detector_process.leases_free(journal)  # its worker stopped, leases let go
    alone = f"sqlite://{tmp_path}/alone.db"
    assert main(["--store", alone, "ingest", "--detector-process", "never", str(path)]) == 0
    assert said == capsys.readouterr().out
    with Journal.open(alone) as journal:
        expected = emitted_in(journal)
    # Each account's events are exactly one process's, in its order.
    assert by_account(stored) == by_account(expected)
    assert "emitted" in said


def test_an_ingest_waits_for_its_detector_process_to_let_go_not_for_its_snapshots(
    store_url: str, tmp_path: Path
) -> None:
    """The worker lets its leases go once what it processed is recorded, and only then
    saves its state: the ingest is done at that point, and the snapshots follow."""
    path = capture(tmp_path, ("alice", "bob"))
    assert main(["--store", store_url, "ingest", "--detector-process", "always", str(path)]) == 0
    with Journal.open(store_url) as journal:
        assert detector_process.leases_free(journal)
        end = journal.last_position()
        deadline = time.monotonic() + 30
        trackers = [tracker(partition_of("bybit", a)) for a in ("alice", "bob")]
        while not all(journal.load_snapshot(t) for t in trackers):
            assert time.monotonic() < deadline, "the detector process saved no snapshot"
            time.sleep(0.05)
        for name in trackers:
            saved = journal.load_snapshot(name)
            assert saved is not None and journal.tracked_position(name) == saved[0] <= end


def test_an_ingest_beside_a_detector_process_says_what_its_rules_change_emitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rules ``--rules`` records are this ingest's input too: what judging every key
    again under them emits is counted as one process counts it."""
    apart = tmp_path / "apart.jsonl"
    held = position_frame(
        T0 + 1_000, symbol="BTCUSDT", side="Buy", size="1.05", seq=1, updated_time=T0 + 1_000
    )
    apart.write_bytes(line(opened(T0, "p-1", "BTCUSDT", "1")) + b"\n" + line(held) + b"\n")
    tick = tmp_path / "tick.jsonl"
    tick.write_bytes(line({"at": T0 + 10_000, "channel": "clock"}) + b"\n")
    stricter = tmp_path / "rules.toml"
    stricter.write_text('drift_threshold_pct = "1"\n')
    said = []
    for how in ("never", "always"):
        store = f"sqlite://{tmp_path}/{how}.db"
        assert main(["--store", store, "ingest", str(apart)]) == 0
        capsys.readouterr()
        ingest = ["--store", store, "--rules", str(stricter), "ingest", str(tick)]
        assert main([*ingest, "--detector-process", how]) == 0
        said.append(capsys.readouterr().out)
    assert "emitted 1 CONSISTENCY_DRIFT" in said[0]
    assert said[1] == said[0]


def test_an_ingest_beside_a_detector_process_says_what_a_backlog_it_found_emitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inputs stored with --no-projections are judged by the next ingest's detectors, and
    counted by it, in one process or two."""
    backlog = capture(tmp_path, ("alice",), inputs=200)
    tick = tmp_path / "tick.jsonl"
    tick.write_bytes(line({"at": T0 + 10 * HOUR, "channel": "clock"}) + b"\n")
    said = []
    for how in ("never", "always"):
        store = f"sqlite://{tmp_path}/{how}.db"
        assert main(["--store", store, "ingest", "--no-projections", str(backlog)]) == 0
        capsys.readouterr()
        assert main(["--store", store, "ingest", "--detector-process", how, str(tick)]) == 0
        said.append(capsys.readouterr().out)
    assert "emitted" in said[0]
    assert said[1] == said[0]


def test_an_ingest_beside_a_detector_process_counts_a_backlog_without_reading_its_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the backlog emitted is told by which inputs caused it, known from the journal's
    rows: the backlog itself is the worker's to read, not the ingest's as well."""
    backlog = capture(tmp_path, ("alice",), inputs=200)
    tick = tmp_path / "tick.jsonl"
    tick.write_bytes(line({"at": T0 + 10 * HOUR, "channel": "clock"}) + b"\n")
    store = f"sqlite://{tmp_path}/journal.db"
    assert main(["--store", store, "ingest", "--no-projections", str(backlog)]) == 0
    with Journal.open(store) as journal:
        waiting = {event.input_id for event in inputs_in(journal)}
    capsys.readouterr()
    decoded: list[str] = []
    decode = codec.decode

    def recorded(state: bytes, **options: Any) -> Any:
        event = decode(state, **options)
        decoded.append(event.input_id)
        return event

    monkeypatch.setattr(codec, "decode", recorded)
    assert main(["--store", store, "ingest", "--detector-process", "always", str(tick)]) == 0
    assert "emitted" in capsys.readouterr().out
    assert waiting.isdisjoint(decoded)


def test_an_ingest_whose_detector_process_fails_detects_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store_url = f"sqlite://{tmp_path}/journal.db"
    failing = (
        sys.executable,
        "-c",
        "import sys; print('no worker today', file=sys.stderr); sys.exit(3)",
    )
    monkeypatch.setattr(detector_process, "COMMAND", failing)
    path = capture(tmp_path, ("alice",))
    assert main(["--store", store_url, "ingest", "--detector-process", "always", str(path)]) == 0
    with Journal.open(store_url) as journal:
        stored = emitted_in(journal)
    assert by_account(stored) == by_account(reference(store_url, tmp_path))
    assert any("no worker today" in r.getMessage() for r in caplog.records)


def test_an_ingest_whose_detector_process_is_killed_says_so_and_detects_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store_url = f"sqlite://{tmp_path}/journal.db"
    killed = (sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    monkeypatch.setattr(detector_process, "COMMAND", killed)
    path = capture(tmp_path, ("alice",), inputs=200)
    assert main(["--store", store_url, "ingest", "--detector-process", "always", str(path)]) == 0
    (said,) = [r.getMessage() for r in caplog.records if r.name == "trueup.ingest"]
    assert "killed by SIGKILL" in said
    assert "the detectors run in this process instead" in said
    with Journal.open(store_url) as journal:
        assert by_account(emitted_in(journal)) == by_account(reference(store_url, tmp_path))


# A stand-in for `trueup worker`: it writes down how trueup's own command line reads what
# it was started with, then fails (so the ingest detects by itself).
READS_ITS_COMMAND = """
import json, os, sys
from trueup.runners import cli
given = cli._parser().parse_args(sys.argv[1:])
with open(os.environ["TRUEUP_TEST_SEEN"], "w") as seen:
    json.dump({"store": os.environ["TRUEUP_STORE"], "command": given.command.__name__,
               "give_up_after": given.give_up_after}, seen)
sys.exit(3)
"""


@pytest.mark.parametrize("give_up_after", [None, 7.5])
def test_the_detector_process_waits_on_a_busy_journal_as_long_as_its_ingest_was_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, give_up_after: float | None
) -> None:
    """An ingest told to give up after S seconds hands S to its worker: one that waited for
    ever would keep the ingest waiting on it for ever too."""
    store_url = f"sqlite://{tmp_path}/journal.db"
    seen = tmp_path / "seen.json"
    monkeypatch.setenv("TRUEUP_TEST_SEEN", str(seen))
    monkeypatch.setattr(detector_process, "COMMAND", (sys.executable, "-c", READS_ITS_COMMAND))
    told = [] if give_up_after is None else ["--give-up-after", str(give_up_after)]
    path = capture(tmp_path, ("alice",), inputs=50)
    ingest = ["--store", store_url, *told, "ingest", "--detector-process", "always", str(path)]
    assert main(ingest) == 0
    assert json.loads(seen.read_text()) == {
        "store": store_url,
        "command": "_worker",
        "give_up_after": give_up_after,
    }


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue  # gone meanwhile
            if f"\nPPid:\t{pid}\n" in status:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state  # a zombie has exited


def test_an_ingest_killed_takes_its_detector_process_with_it_and_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    store_url = f"sqlite://{tmp_path}/journal.db"
    path = capture(tmp_path, ("alice", "bob", "carol", "dave"), inputs=5_000)
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store_url, "ingest"]
    ingest = subprocess.Popen(
        [*command, "--detector-process", "always", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (workers := children(ingest.pid)):
        assert ingest.poll() is None, "the ingest ended before its worker was seen"
        assert time.monotonic() < deadline, "no detector process started"
        time.sleep(0.01)
    time.sleep(0.5)  # mid-capture
    os.kill(ingest.pid, signal.SIGKILL)
    ingest.wait()
    (worker,) = workers
    deadline = time.monotonic() + 30
    while alive(worker):
        assert time.monotonic() < deadline, "the detector process outlived its ingest"
        time.sleep(0.05)
    rerun = subprocess.run([*command, str(path)], capture_output=True, check=False)
    assert rerun.returncode == 0, rerun.stderr.decode()
    whole = f"sqlite://{tmp_path}/whole.db"
    assert main(["--store", whole, "ingest", "--no-projections", str(path)]) == 0
    with Journal.open(store_url) as journal, Journal.open(whole) as at_once:
        stored = emitted_in(journal)
        assert len(inputs_in(journal)) == len(inputs_in(at_once))  # none lost, none twice
    assert by_account(stored) == by_account(reference(store_url, tmp_path))


# An ingest that starts its detector process and dies at once, before the worker is up.
DIES_AT_ONCE = """
import os, sys
from trueup.adapters.store.journal import Journal
from trueup.runners.detector_process import DetectorProcess
detectors = DetectorProcess(Journal.open(sys.argv[1])).__enter__()
print(detectors._process.pid, flush=True)
os._exit(0)
"""


def test_a_detector_process_whose_ingest_died_before_it_was_up_stops_at_once(
    tmp_path: Path,
) -> None:
    """The worker asks for its parent's death signal itself, once started: it finds the
    ingest already gone, and stops rather than run on with nobody to stop it."""
    store_url = f"sqlite://{tmp_path}/journal.db"
    assert main(["--store", store_url, "ingest", str(capture(tmp_path, ("alice",)))]) == 0
    ingest = subprocess.run(
        [sys.executable, "-c", DIES_AT_ONCE, store_url], capture_output=True, check=True
    )
    worker = int(ingest.stdout)
    deadline = time.monotonic() + 30
    try:
        while alive(worker):
            assert time.monotonic() < deadline, "the detector process outlived its ingest"
            time.sleep(0.05)
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_auto_runs_a_detector_process_only_for_a_large_capture_nobody_else_detects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []

    class Recorded(detector_process.DetectorProcess):
        def __enter__(self) -> detector_process.DetectorProcess:
            started.append(self.store_url)
            return super().__enter__()

    monkeypatch.setattr(detector_process, "DetectorProcess", Recorded)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    store_url = f"sqlite://{tmp_path}/journal.db"
    small = capture(tmp_path, ("alice",), inputs=50)
    assert main(["--store", store_url, "ingest", str(small)]) == 0
    assert started == []  # below AUTO_BYTES: not worth a second process
    monkeypatch.setattr(detector_process, "AUTO_BYTES", small.stat().st_size)
    assert main(["--store", store_url, "ingest", str(small)]) == 0
    assert started == [store_url]
    with Journal.open(store_url) as journal:
        held = journal.lease("reconciler.00")
        assert held.acquire()  # another process runs a projection: it detects
        try:
            assert main(["--store", store_url, "ingest", str(small)]) == 0
        finally:
            held.release()
    assert started == [store_url]


def test_detector_process_and_no_projections_are_one_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = capture(tmp_path, ("alice",), inputs=10)
    store = f"sqlite://{tmp_path}/journal.db"
    both = ["--no-projections", "--detector-process", "always"]
    assert main(["--store", store, "ingest", *both, str(path)]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_what_is_counted_as_it_is_recorded_adds_up_to_a_count_of_it_all_after(
    journal: Journal,
) -> None:
    """An ingest counts its worker's events while it waits for it: read by read, the count
    comes to what one read of them all, after, finds."""
    service = TrueupService(journal)
    records = [line(r) for r in busy_session(600, seed=3)]
    start = journal.last_position()
    ours: set[str] = set()
    count = EmittedCount(journal, ours, start)
    for part in (records[:200], records[200:400], records[400:]):
        service.ingest([part], on_input=lambda e: ours.add(e.input_id))
        count.read()
    count.read()  # nothing new: nothing changes
    assert count.by_type() == service.emitted_for(ours, start)
    assert sum(count.by_type().values()) > 0
