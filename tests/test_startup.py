"""A command imports only what it uses: ``trueup --help`` and the read commands on a SQLite
journal load neither the demo's simulators nor a venue's SDK nor PostgreSQL's driver.

Each is what an operator or a bot's pre-trade check runs, often, and waits for: importing
aiohttp, pybit, the Hyperliquid SDK and psycopg once took more than half its time. Each case
runs in a fresh interpreter, since this test process has long since imported everything.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Run in a fresh interpreter: the command's exit status and every module it loaded.
PROBE = """
import contextlib, io, json, sys
from trueup.runners.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exit_:  # --help
        code = exit_.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

# Packages, and trueup's own modules, that only other commands (run, demo) or another store
# (PostgreSQL), or only the tests, have any use for.
NOT_NEEDED = (
    "aiohttp",
    "pybit",
    "hyperliquid",
    "requests",
    "urllib3",
    "websocket",
    "psycopg",
    "psycopg_binary",
    "psycopg_pool",
    "eventsourcing.postgres",
    "jsonschema",
    "hypothesis",
    "trueup.adapters.bybit.simulator",
    "trueup.adapters.bybit.scenario",
    "trueup.adapters.hyperliquid.simulator",
    "trueup.adapters.bybit.live",
    "trueup.adapters.hyperliquid.live",
    "trueup.adapters.store.postgres_backend",
    "trueup.runners.demo",
)
SYMBOL = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]


def loaded(argv: list[str], cwd: Path) -> tuple[int, list[str]]:
    """The exit status of ``trueup argv`` and the modules it imported."""
    process = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result = json.loads(process.stdout)
    return result["code"], result["modules"]


def unneeded(modules: list[str]) -> list[str]:
    """Those of NOT_NEEDED that were loaded, themselves or any module of theirs."""
    return [n for n in NOT_NEEDED if any(m == n or m.startswith(n + ".") for m in modules)]


def test_help_loads_no_command_and_no_store(tmp_path: Path) -> None:
    code, modules = loaded(["--help"], tmp_path)
    assert code == 0
    assert unneeded(modules) == []
    # The parser alone: no journal, no replay, no operator's tools.
    assert "trueup.adapters.store.journal" not in modules
    assert "trueup.runners.operator" not in modules
    assert "eventsourcing.persistence" not in modules


@pytest.mark.parametrize(
    "command",
    [
        ["can-open", *SYMBOL],
        ["can-open", *SYMBOL, "--json"],
        ["positions"],
        ["events"],
        ["diagnose", *SYMBOL],
    ],
    ids=lambda command: " ".join(command[:1] + [a for a in command[1:] if a == "--json"]),
)
def test_reading_a_sqlite_journal_loads_only_sqlite(tmp_path: Path, command: list[str]) -> None:
    code, modules = loaded(["--store", str(tmp_path / "journal.db"), *command], tmp_path)
    assert code == 0  # an empty journal: nothing blocks, nothing to list
    assert "eventsourcing.sqlite" in modules  # the journal was opened, on SQLite
    assert unneeded(modules) == []


def test_an_existing_empty_journal_too(tmp_path: Path) -> None:
    """Opening a journal whose tables exist takes another path than creating them."""
    store = ["--store", str(tmp_path / "journal.db")]
    assert loaded([*store, "can-open", *SYMBOL], tmp_path)[0] == 0
    code, modules = loaded([*store, "can-open", *SYMBOL], tmp_path)
    assert code == 0
    assert unneeded(modules) == []
