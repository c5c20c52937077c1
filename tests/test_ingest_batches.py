"""`trueup ingest` killed (-9) inside a transaction: every batch before it is whole, inputs and
what the detectors made of them alike, nothing of the batch under way is, and a rerun of the
same capture ends where one uninterrupted run does."""

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.inputs import line
from tests.scenarios import busy_session
from tests.stored_events import emitted_in, inputs_in
from trueup.adapters.capture import decode_line
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.ingest import BATCH
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent
from trueup.projections.partitions import tracked_position

LINES = 2 * BATCH + BATCH // 2  # two whole batches and part of a third

# Runs `trueup ingest` with the SQLite recorder made to kill the process with SIGKILL in the
# middle of its Nth transaction of one kind (an append of inputs, or a projection's record):
# after its rows are written, before its commit.
KILLED_INGEST = """
import os, signal, sys
from trueup.adapters.store import sqlite_recorder
from trueup.adapters.store.journal import MARKER_TOPIC
from trueup.runners.cli import main

kind, nth = sys.argv[1], int(sys.argv[2])
insert = sqlite_recorder.ViewsSQLiteRecorder._insert_events
seen = 0

def killing(self, c, stored_events, **kwargs):
    global seen
    ids = insert(self, c, stored_events, **kwargs)
    appends = any(s.topic == MARKER_TOPIC for s in stored_events)
    if (appends and kind == "append") or (kwargs.get("trackings") and kind == "record"):
        seen += 1
        if seen == nth:
            os.kill(os.getpid(), signal.SIGKILL)
    return ids

sqlite_recorder.ViewsSQLiteRecorder._insert_events = killing
sys.exit(main(sys.argv[3:]))
"""


def ingest(store: str, capture: Path, killed_in: tuple[str, int] | None = None) -> int:
    prefix = ["-c", KILLED_INGEST, killed_in[0], str(killed_in[1])] if killed_in else []
    plain = ["-m", "trueup.runners.cli"] if killed_in is None else []
    command = [sys.executable, *prefix, *plain, "--store", store, "ingest", str(capture)]
    done = subprocess.run(command, capture_output=True, check=False, timeout=300)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return done.returncode


RECENT_WITHOUT_POSITION = (
    "SELECT partition, venue, account, kind, symbol, body FROM trueup_recent_log"
)


def views_in(path: Path) -> list[Any]:
    """Every persisted view, and the recent log without its journal positions (nor its links,
    which name them): a rerun that reads back inputs stored but not processed steps through
    them by pages, not batches."""
    with sqlite3.connect(path) as db:
        return [
            db.execute("SELECT * FROM trueup_account_views ORDER BY venue, account").fetchall(),
            db.execute(
                "SELECT * FROM trueup_symbol_views ORDER BY venue, account, symbol"
            ).fetchall(),
            sorted(db.execute(RECENT_WITHOUT_POSITION)),
        ]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    records: list[dict[str, Any]] = busy_session(LINES, seed=11)[:LINES]
    path = tmp_path_factory.mktemp("capture") / "session.jsonl"
    path.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
    return path


@pytest.fixture(scope="module")
def one_run(capture: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The journal an uninterrupted `trueup ingest` of the capture leaves."""
    path = tmp_path_factory.mktemp("reference") / "journal.db"
    assert ingest(f"sqlite://{path}", capture) == 0
    return path


@pytest.mark.parametrize("kind", ["append", "record"])
def test_a_kill_inside_the_second_batch_keeps_the_first_whole_and_a_rerun_ends_as_one_run(
    kind: str, capture: Path, one_run: Path, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    store = f"sqlite://{path}"
    lines = capture.read_bytes().splitlines()

    assert ingest(store, capture, killed_in=(kind, 2)) == -signal.SIGKILL

    with Journal.open(store) as journal, Journal.open(f"sqlite://{one_run}") as reference:
        # Killed in its append, the second batch left nothing; killed in the record after
        # it, its inputs are in and nothing the detectors made of them is.
        upto = BATCH if kind == "append" else 2 * BATCH
        assert inputs_in(journal) == [decode_line(raw) for raw in lines[:upto]]
        assert emitted_in(journal) == emitted_before(reference, BATCH)
        where = input_positions(journal)
        assert where[BATCH - 1] <= tracked_position(journal)
        if kind == "record":
            assert tracked_position(journal) < where[BATCH]

    assert ingest(store, capture) == 0

    with Journal.open(store) as journal, Journal.open(f"sqlite://{one_run}") as reference:
        assert inputs_in(journal) == inputs_in(reference)
        assert emitted_in(journal) == emitted_in(reference)
        assert tracked_position(journal) == journal.last_position()
    assert views_in(path) == views_in(one_run)


def input_positions(journal: Journal) -> list[int]:
    return [where for where, event in journal.all_events() if isinstance(event, InputEvent)]


def emitted_before(journal: Journal, inputs: int) -> list[bytes]:
    """The emitted events stored before the journal's input number ``inputs`` + 1."""
    found: list[bytes] = []
    seen = 0
    for _, event in journal.all_events():
        if isinstance(event, Emitted):
            found.append(codec.encode_emitted(event))
        else:
            seen += 1
            if seen > inputs:
                return found
    return found
