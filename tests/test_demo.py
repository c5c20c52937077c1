"""The demo `make run` plays: every detector fires end to end from simulated exchange traffic,
through the real venue clients, into a SQLite journal."""

import io
import subprocess
import sys
from pathlib import Path

from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup_simulators.demo import run_demo

SCENARIO = Path(__file__).parent.parent / "samples" / "scenarios" / "demo.jsonl"
TRIGGERS = {
    "TRIGGER_FIRED",
    "ORDER_REQUESTED",
    "TRIGGER_REFUSED",
    "TRIGGER_EXECUTED",
    "TRIGGER_FAILED",
    "TRIGGER_CANCELLED",
    "TRIGGER_EXPIRED",
}


def test_the_demo_makes_every_detector_fire(tmp_path: Path) -> None:
    out = io.StringIO()
    with Journal.open(str(tmp_path / "demo.db")) as journal:
        run_demo(journal, SCENARIO, out)
        fired = {e.type for _, e in journal.all_events() if isinstance(e, Emitted)}
    # POSITION_CLEANED is an operator's act; the simulators' PnL agrees with trueup's, and
    # the scenario misses no fill, so PNL_MISMATCH has no cause (tests/test_pnl.py has one).
    # The demo configures no trigger yet: its trailing trigger comes with the executor
    # (issue 13); tests/test_triggers.py covers each of these.
    expected = {t.type for t in EMITTED_TYPES} - {"POSITION_CLEANED", "PNL_MISMATCH"} - TRIGGERS
    assert expected <= fired, f"never fired: {sorted(expected - fired)}"
    assert "STALE p-ada (NEVER_ON_EXCHANGE)" in out.getvalue()


def test_the_demo_prints_its_story_and_no_client_library_log_lines(tmp_path: Path) -> None:
    store = str(tmp_path / "demo.db")
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "demo"]
    shown = subprocess.run(
        [*command, "--scenario", str(SCENARIO)],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert shown.returncode == 0, shown.stderr
    assert "[31] the venue drops the stream (WS_RECONNECT)" in shown.stdout
    # The stream drops on purpose; websocket-client would log each drop as an ERROR.
    assert "websocket" not in shown.stdout + shown.stderr
    assert shown.stderr == ""
