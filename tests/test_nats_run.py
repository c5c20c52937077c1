"""`trueup run --nats` against the Bybit simulator and a real NATS server: every input it
records reaches TRUEUP_INPUTS once, in the order recorded, as its capture line under its
input id; what its projection emits reaches TRUEUP_EVENTS once; NATS killed mid-run and
started again loses nothing; and `trueup tail` prints the events as `trueup events` does."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_harness import wait_for
from tests.nats_streams import stored
from trueup.adapters.capture import decode_line
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.nats import NatsServer

KEY, SECRET = "nats-key-0123456789", "nats-secret-9876543210abcdef"
TRUEUP = [sys.executable, "-m", "trueup.runners.cli"]


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        yield simulator


def start_run(
    sim: BybitSimulator, tmp_path: Path, url: str, subjects: Subjects
) -> "subprocess.Popen[str]":
    command = [*TRUEUP, "--store", str(tmp_path / "live.db"), "run", "--venue", "bybit"]
    command += ["--account", "main", "--base-url", sim.base_url, "--poll-interval", "0.5"]
    command += ["--tick-ms", "300", "--record", str(tmp_path / "capture.jsonl")]
    command += ["--nats", url, "--nats-prefix", subjects.prefix]
    environment = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
    return subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop(process: "subprocess.Popen[str]") -> tuple[str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out, err


def recorded_inputs(tmp_path: Path) -> list[tuple[str, bytes]]:
    """(input id, capture line) of each distinct input the run recorded, in its order."""
    seen: dict[str, bytes] = {}
    for line in (tmp_path / "capture.jsonl").read_bytes().splitlines():
        seen.setdefault(decode_line(line).input_id, line)
    return list(seen.items())


def journal_emitted(tmp_path: Path) -> list[Emitted]:
    with Journal.open(str(tmp_path / "live.db")) as journal:
        return [e for _, e in journal.all_events() if isinstance(e, Emitted)]


def published_inputs(url: str, subjects: Subjects) -> list[tuple[str, bytes]]:
    held = stored(url, subjects.inputs_stream)
    assert {m.subject for m in held} == {subjects.inputs("bybit", "main")}
    return [(m.msg_id, m.data) for m in held]


def trade(sim: BybitSimulator, symbol: str) -> None:
    """A fill the trading system never claimed: trueup finds an UNTRACKED_POSITION."""
    sim.fill(sim.place_order(symbol, "Buy", "0.3", price="100"))


def test_run_publishes_every_input_once_in_order_and_what_it_emits(
    sim: BybitSimulator, tmp_path: Path, nats_url: str, nats_subjects: Subjects
) -> None:
    tail = subprocess.Popen(
        [*TRUEUP, "tail", "--nats", nats_url, "--nats-prefix", nats_subjects.prefix],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stderr is not None and tail.stdout is not None
    assert tail.stderr.readline().startswith(f"following {nats_subjects.prefix}.events.*.*.*")
    printed: list[str] = []
    lines = tail.stdout
    reader = threading.Thread(target=lambda: printed.extend(iter(lines.readline, "")))
    reader.start()
    run = start_run(sim, tmp_path, nats_url, nats_subjects)
    try:
        assert sim.wait_subscribed(timeout=15)
        trade(sim, "BTCUSDT")
        wait_for(
            "an UNTRACKED_POSITION",
            lambda: any(e.type == "UNTRACKED_POSITION" for e in journal_emitted(tmp_path)),
            timeout=20,
        )
    finally:
        out, _ = stop(run)

    assert "NATS:" in out and "0 bytes left in the spool" in out
    assert published_inputs(nats_url, nats_subjects) == recorded_inputs(tmp_path)
    emitted = journal_emitted(tmp_path)
    events = stored(nats_url, nats_subjects.events_stream)
    assert [(m.subject, m.msg_id, m.data) for m in events] == [
        (
            nats_subjects.events(e.venue, e.account, e.type),
            e.event_id,
            codec.encode_emitted(e),
        )
        for e in emitted
    ]

    # The tail printed each, as `trueup events` prints it (the stream's sequence leading).
    wait_for("the tail to print every event", lambda: len(printed) >= len(events))
    tail.send_signal(signal.SIGINT)
    tail.wait(timeout=30)
    reader.join(timeout=30)
    assert tail.returncode == 0
    listed = subprocess.run(
        [*TRUEUP, "--store", str(tmp_path / "live.db"), "events", "--emitted"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _without_position("".join(printed)) == _without_position(listed)
    assert [int(line.split()[0]) for line in printed] == [m.sequence for m in events]


def test_nats_killed_mid_run_and_started_again_loses_nothing_and_stores_nothing_twice(
    sim: BybitSimulator, tmp_path: Path
) -> None:
    subjects = Subjects("killed")
    with NatsServer() as server:
        run = start_run(sim, tmp_path, server.url, subjects)
        try:
            assert sim.wait_subscribed(timeout=15)
            trade(sim, "BTCUSDT")
            wait_for(
                "the first inputs on NATS",
                lambda: len(stored(server.url, subjects.inputs_stream)) >= 3,
            )
            server.kill()
            spool = tmp_path / "live.db.bybit.main.nats-spool"
            trade(sim, "ETHUSDT")
            wait_for(
                "inputs spooled while NATS is away",
                lambda: b"ETHUSDT" in spool.read_bytes(),
                timeout=20,
            )
            time.sleep(2)  # an outage long enough to be noticed: ticks pile up meanwhile
            assert spool.stat().st_size > 0
            server.start()
            trade(sim, "SOLUSDT")
            wait_for(
                "the SOLUSDT fill on NATS",
                lambda: any(
                    b"SOLUSDT" in m.data for m in stored(server.url, subjects.inputs_stream)
                ),
                timeout=30,
            )
            wait_for(
                "an UNTRACKED_POSITION",
                lambda: any(e.type == "UNTRACKED_POSITION" for e in journal_emitted(tmp_path)),
                timeout=20,
            )
        finally:
            _, err = stop(run)
        assert "is away" in err and "is back" in err
        assert published_inputs(server.url, subjects) == recorded_inputs(tmp_path)
        emitted = journal_emitted(tmp_path)
        events = stored(server.url, subjects.events_stream)
        assert [m.msg_id for m in events] == [e.event_id for e in emitted]
        assert {"UNTRACKED_POSITION"} <= {e.type for e in emitted}


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _without_position(text: str) -> list[str]:
    return [line[10:] for line in _lines(text)]
