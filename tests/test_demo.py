"""The demo `make run` plays: every detector fires end to end from simulated exchange traffic,
through the real venue clients, into a SQLite journal."""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup.runners.cli import main

SCENARIO = Path(__file__).parent.parent / "samples" / "scenarios" / "demo.jsonl"
# What the demo's one trigger (a trailing lock that fires and executes) does not show, and
# the entry policy, which the demo's account does not opt into: tests/test_triggers.py,
# test_trigger_execution.py and test_entry_policy.py cover each of these.
NOT_IN_THE_DEMO = {
    "TRIGGER_REFUSED",
    "TRIGGER_FAILED",
    "TRIGGER_CANCELLED",
    "TRIGGER_EXPIRED",
    "TRIGGER_ERROR",
    "ENTRY_REPRICED",
    "ENTRY_RETRIED",
    "ENTRY_FALLBACK_MARKET",
    "ENTRY_ABANDONED",
}


@dataclass(frozen=True)
class Played:
    """`trueup demo` played once, as `make run` plays it: what it printed and the journal
    it wrote."""

    shown: "subprocess.CompletedProcess[str]"
    store: str


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Played:
    # Once for the module: a play takes about twenty seconds, and each test reads it alone.
    # Started elsewhere than the checkout, its scenario found all the same.
    here = tmp_path_factory.mktemp("demo")
    store = str(here / "demo.db")
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "demo"]
    shown = subprocess.run(
        command,
        cwd=here,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return Played(shown, store)


def test_the_demo_makes_every_detector_fire(played: Played) -> None:
    assert played.shown.returncode == 0, played.shown.stderr
    with Journal.open(played.store) as journal:
        events = [e for _, e in journal.all_events() if isinstance(e, Emitted)]
    fired = {e.type for e in events}
    # POSITION_CLEANED is an operator's act; the simulators' PnL agrees with trueup's, and
    # the scenario misses no fill, so PNL_MISMATCH has no cause (tests/test_pnl.py has one).
    expected = {t.type for t in EMITTED_TYPES} - {"POSITION_CLEANED", "PNL_MISMATCH"}
    expected -= NOT_IN_THE_DEMO
    assert expected <= fired, f"never fired: {sorted(expected - fired)}"
    assert "STALE p-ada (NEVER_ON_EXCHANGE)" in played.shown.stdout
    closed = {
        (e.venue, e.symbol, getattr(e, "exit_reason", None))
        for e in events
        if e.type == "POSITION_CLOSED"
    }
    assert closed >= {
        ("bybit", "ETHUSDT", "MANUAL"),
        ("hyperliquid", "BTC", "LIQUIDATION"),
        ("aster", "ETHUSDT", "MANUAL"),
    }
    # The narration names only exit reasons trueup gives.
    told = set(re.findall(r"POSITION_CLOSED ([A-Z_]+)", SCENARIO.read_text()))
    assert told <= {reason for _, _, reason in closed}
    (executed,) = [e for e in events if e.type == "TRIGGER_EXECUTED"]
    assert (executed.symbol, executed.position_idx) == ("BNBUSDT", 1)
    assert getattr(executed, "filled_qty", None) == 5  # half the long, locked on leg 2


def test_the_demo_prints_its_story_and_no_client_library_log_lines(played: Played) -> None:
    shown = played.shown
    assert shown.returncode == 0, shown.stderr
    assert "[32] the venue drops the stream (WS_RECONNECT)" in shown.stdout
    # The stream drops on purpose; websocket-client would log each drop as an ERROR.
    assert "websocket" not in shown.stdout + shown.stderr
    assert shown.stderr == ""


def test_demo_help_names_every_venue_the_demo_plays(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    shown = " ".join(capsys.readouterr().out.split())

    assert "the Bybit, Hyperliquid and Aster simulators" in shown
