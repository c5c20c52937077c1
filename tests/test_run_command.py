"""`trueup run` as a process: live until SIGTERM, then a clean stop; its recording replays to
the same emitted events; and the API secret appears nowhere it writes."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_harness import emitted_bytes as emitted
from tests.live_harness import wait_for
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.runners.cli import main
from trueup_simulators.bybit.simulator import BybitSimulator

KEY, SECRET = "run-key-0123456789", "run-secret-9876543210abcdef"


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        yield simulator


def trueup_run(sim: BybitSimulator, store: str) -> "subprocess.Popen[str]":
    """``trueup run`` on the simulator's account main, polling every half second."""
    environment = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "run"]
    command += ["--venue", "bybit", "--account", "main", "--base-url", sim.base_url]
    command += ["--poll-interval", "0.5"]
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def can_open(store: str) -> list[str]:
    """Why can-open says no for BTCUSDT on bybit/main now (empty: it says yes)."""
    with Journal.open(store) as journal:
        return TrueupService(journal).can_open("bybit", "main", "BTCUSDT").reasons


def stored(store: str, kind: str) -> int:
    with Journal.open(store) as journal:
        return sum(1 for _, e in journal.all_events() if e.type == kind)


@pytest.mark.parametrize("ended_by", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "kill-9"])
def test_a_run_ended_while_its_stream_is_down_leaves_can_open_to_the_next_run(
    sim: BybitSimulator, tmp_path: Path, ended_by: signal.Signals
) -> None:
    store = str(tmp_path / "live.db")
    first = trueup_run(sim, store)
    try:
        assert sim.wait_subscribed(timeout=15)
        wait_for("can-open to say yes", lambda: can_open(store) == [], timeout=20)
        sim.stop()  # the venue away: the run finds its stream down and cannot rebuild it
        wait_for("the run to say its stream is down", lambda: stored(store, "StreamDown") > 0)
        assert any("stream is down" in reason for reason in can_open(store))
    finally:
        first.send_signal(ended_by)
        first.communicate(timeout=30)
    assert stored(store, "StreamReconnected") == 0  # the journal's last word: down
    sim.start()

    second = trueup_run(sim, store)
    try:
        assert sim.wait_subscribed(timeout=15)
        # Its first connection is no reconnect, but the stream is up: once its first
        # sync is in, can-open says yes again.
        wait_for("can-open to say yes again", lambda: can_open(store) == [], timeout=20)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
    assert second.returncode == 0, err
    assert stored(store, "StreamConnected") == 2  # each run said its stream was up
    assert stored(store, "StreamReconnected") == 0


def test_run_records_what_it_receives_stops_on_sigterm_and_keeps_the_secret(
    sim: BybitSimulator, tmp_path: Path
) -> None:
    store, record = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    environment = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
    command = [
        sys.executable,
        "-m",
        "trueup.runners.cli",
        "--store",
        store,
        "run",
        "--venue",
        "bybit",
        "--account",
        "main",
        "--base-url",
        sim.base_url,
        "--record",
        str(record),
        "--poll-interval",
        "0.5",
    ]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert sim.wait_subscribed(timeout=15)
        sim.open_position("DOGEUSDT", "Buy", "1500", "0.18")
        order = sim.place_order("BTCUSDT", "Buy", "0.3", price="100000")
        sim.fill(order)
        wait_for(
            "an UNTRACKED_POSITION",
            lambda: any(b'"UNTRACKED_POSITION"' in e for e in emitted(store)),
            timeout=20,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped:" in out
    journal_files = b"".join(p.read_bytes() for p in tmp_path.glob("live.db*"))
    written = record.read_text() + out + err + journal_files.decode("latin-1")
    assert SECRET not in written
    assert KEY not in record.read_text()

    replayed = str(tmp_path / "replay.db")
    assert main(["--store", replayed, "ingest", str(record)]) == 0
    assert emitted(replayed) == emitted(store)


def test_a_key_the_venue_keeps_refusing_stops_run_with_one_line_and_no_storm_of_alarms(
    sim: BybitSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    wrong = "wrong-secret-0000000000000000"
    environment = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": wrong}
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "run"]
    command += ["--venue", "bybit", "--account", "main", "--base-url", sim.base_url]

    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("trueup: bybit/main: the venue refused our credentials 3 times")
    assert wrong not in done.stdout + done.stderr
    assert len(sim.auth_attempts()) == 3
    stored = [e.type for e in map(codec.decode_emitted, emitted(store))]
    assert "WS_RECONNECT" not in stored  # refused attempts are not reconnects
