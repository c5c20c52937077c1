"""Every bad argument or bad file ends in one ``trueup: ...`` line on stderr and exit status 2.

Never a traceback, from the main thread or from a feed's or the writer's; and a reader of
stdout that leaves early (``trueup events | head -1``) ends the command quietly.
"""

import os
import resource
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.filesystem import as_a_user, read_only
from tests.http_server import SAMPLE
from tests.test_cli import ACCOUNT, REJECTED, USABLE, one_line_error
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.location import StoreError
from trueup.domain.bounds import EARLIEST_MS, LATEST_MS
from trueup.runners.arguments import epoch_ms, http_url
from trueup.runners.cli import EXIT_BROKEN_PIPE, _parser, main
from trueup.runners.live import LiveIngest

TRUEUP = Path(sys.executable).with_name("trueup")
HYPERLIQUID_ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
BYBIT = ("run", "--venue", "bybit", "--account", ACCOUNT)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "journal.db")


def refused(capfd: pytest.CaptureFixture[str], store: str, *args: str) -> str:
    """The one error line of ``trueup --store STORE ARGS``, which must exit 2."""
    code = main(["--store", store, *args])
    line = one_line_error(*capfd.readouterr())
    assert code == 2, line
    return line


def trueup(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The installed command, run as a user runs it."""
    return subprocess.run(
        [str(TRUEUP), *args], input=stdin, capture_output=True, timeout=120, check=False
    )


def one_stderr_line(process: subprocess.CompletedProcess[bytes]) -> str:
    """The command's single error line: exit 2, no traceback from any thread."""
    err = process.stderr.decode()
    assert "Traceback" not in err, err
    assert "Exception in thread" not in err, err
    assert process.returncode == 2, err
    (line,) = err.splitlines()
    assert line.startswith("trueup: ")
    return line


# --- rules files: every value within its domain, the field named ---------------------------------


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("drift_threshold_pct = nan", "drift_threshold_pct"),
        ("drift_threshold_pct = inf", "drift_threshold_pct"),
        ("drift_threshold_pct = -inf", "drift_threshold_pct"),
        ('drift_threshold_pct = "NaN"', "drift_threshold_pct"),
        ("drift_threshold_pct = -1", "drift_threshold_pct"),
        ("drift_threshold_pct = 1e30", "drift_threshold_pct"),
        ('drift_threshold_pct = "ten"', "drift_threshold_pct"),
        ("drift_threshold_pct = true", "drift_threshold_pct"),
        ("drift_grace_ms = nan", "drift_grace_ms"),
        ("cooldown_ms = inf", "cooldown_ms"),
        ("stale_grace_ms = -1", "stale_grace_ms"),
        ("order_timeout_ms = 3_200_000_000_000", "order_timeout_ms"),  # beyond a century
        ("pagination_timeout_ms = 1.5", "pagination_timeout_ms"),
        ('cooldown_ms = "30m"', "cooldown_ms"),
        ("untracked_grace_ms = [3000]", "untracked_grace_ms"),
        ("partial_fill_stall_ms = 1979-05-27", "partial_fill_stall_ms"),
        ("drift_window_ms = {minutes = 5}", "drift_window_ms"),
        ("cooldown_enabled = 1", "cooldown_enabled"),
        ("cooldown_enabled = nan", "cooldown_enabled"),
    ],
)
def test_a_rules_value_outside_its_domain_is_refused_naming_the_field(
    toml: str, field: str, store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(toml + "\n")

    line = refused(capfd, store, "--rules", str(rules), "positions")

    assert line.startswith(f"trueup: rules file {rules}: {field} must ")


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ('cooldown_exit_reasons = ["FOO"]', "not ['FOO']"),
        ('quote_equivalents = {usd = "1"}', "not {'usd': '1'}"),
        ('entry_policy_accounts = ["' + "b" * 80 + '"]', "not ['" + "b" * 55 + "..."),
    ],
)
def test_a_rules_list_or_table_refused_is_shown_as_written(
    toml: str, said: str, store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The value is shown, cut if long: 'not list of 1' named no entry (a walkthrough)."""
    rules = tmp_path / "rules.toml"
    rules.write_text(toml + "\n")
    assert refused(capfd, store, "--rules", str(rules), "positions").endswith(said)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "not UTF-8 text"),
        (b"cooldown_ms = = 5\n", "Invalid value"),
        (b"[drift]\ngrace_ms = 1\n", "unknown settings ['drift']"),
    ],
)
def test_a_rules_file_that_is_not_toml_of_settings_is_refused(
    content: bytes,
    message: str,
    store: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_bytes(content)

    assert message in refused(capfd, store, "--rules", str(rules), "positions")


def test_a_directory_as_rules_file_is_refused(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, "--rules", str(tmp_path), "positions")

    assert line == f"trueup: cannot read rules file {tmp_path}: Is a directory"


def test_rules_at_the_edges_of_their_domains_are_taken(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        'drift_threshold_pct = "2.5"\ncooldown_ms = 0\norder_timeout_ms = 3_153_600_000_000\n'
    )

    assert main(["--store", store, "--rules", str(rules), "ingest", "/dev/null"]) == 0
    assert capfd.readouterr().err == ""


# --- waits and counts: finite, above 0, bounded --------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        (*BYBIT, "--tick-ms", "0"),
        (*BYBIT, "--tick-ms", "-250"),
        (*BYBIT, "--tick-ms", "1.5"),
        (*BYBIT, "--tick-ms", "soon"),
        (*BYBIT, "--poll-interval", "inf"),
        (*BYBIT, "--poll-interval", "nan"),
        (*BYBIT, "--poll-interval", "0"),
        (*BYBIT, "--poll-interval", "-5"),
        (*BYBIT, "--poll-interval", "1e12"),
        ("worker", "--poll-ms", "0"),
        ("worker", "--poll-ms", "-100"),
        ("worker", "--poll-ms", "1" + "0" * 5000),
        ("worker", "--batch", "0"),
        ("worker", "--batch", "-1"),
        ("diagnose", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "X", "--last", "-1"),
    ],
)
def test_a_wait_or_count_out_of_range_is_refused_naming_the_option(
    args: tuple[str, ...], store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    option = [a for a in args if a.startswith("--")][-1]

    line = refused(capfd, store, *args)

    assert line.startswith(f"trueup: argument {option}: must be ")
    assert not Path(store).exists()


@pytest.mark.parametrize("size", ["1", str(8 * 1024 * 1024), str(64 * 1024 * 1024)])
def test_serve_takes_a_body_limit_of_its_default_and_above(size: str) -> None:
    arguments = _parser().parse_args(["serve", "--max-body-bytes", size])

    assert arguments.max_body_bytes == int(size)


def test_serve_follows_the_accounts_it_is_told_and_any_with_input_within_a_day() -> None:
    told = ["--follow", "bybit/main", "--follow", "ccxt:okx/desk/eu", "--quiet-after-ms", "60000"]
    arguments = _parser().parse_args(["serve", *told])

    assert arguments.follow == [("bybit", "main"), ("ccxt:okx", "desk/eu")]
    assert arguments.quiet_after_ms == 60_000
    assert _parser().parse_args(["serve"]).quiet_after_ms == 24 * 60 * 60 * 1000


@pytest.mark.parametrize(
    ("account", "reason"),
    [
        ("main", "is not VENUE/ACCOUNT"),
        ("bybit/", "the account '' is empty"),
        ("binance/main", "invalid choice: 'binance'"),
    ],
)
def test_serve_follows_no_account_that_cannot_be(
    account: str, reason: str, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, "serve", "--follow", account)

    assert line.startswith("trueup: argument --follow: ") and reason in line


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "never"])
def test_give_up_after_is_a_finite_number_of_seconds_above_0(
    value: str, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, "--give-up-after", value, "events")

    assert line.startswith("trueup: argument --give-up-after: must be a number of seconds")


def _limited_to(size: int) -> Callable[[], None]:
    """A child's file-size limit: past it, each write fails (EFBIG), as on a full disk."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_journal_that_cannot_take_a_write_ends_an_ingest_in_one_line_and_a_rerun_stores_the_rest(
    tmp_path: Path,
) -> None:
    """A disk that fills under an ingest: SQLite's writes fail ("disk I/O error"), and the
    ingest ended with a traceback of 69 lines, saying nothing of what it had stored (a
    walkthrough). Now one line, exit 2, with what is in; run again, it stores the rest."""
    capture, store = tmp_path / "capture.jsonl", tmp_path / "journal.db"
    records = [{"at": EARLIEST_MS + n, "venue": "bybit", "account": ACCOUNT, "channel": "clock"}
               for n in range(20_000)]  # fmt: skip
    capture.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    command = [str(TRUEUP), "--store", str(store), "ingest", str(capture)]
    full = subprocess.run(
        command, capture_output=True, timeout=120, check=False, preexec_fn=_limited_to(3 << 20)
    )
    line = one_stderr_line(full)
    assert "could not take a write (disk I/O error)" in line, line
    assert line.endswith(
        "lines read are in the journal, and the same `trueup ingest` again stores the rest, "
        "none twice"
    )
    again = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr.decode()
    with Journal.open(str(store), create=False) as journal:
        assert len(list(journal.account_events("bybit", ACCOUNT))) == len(records)


def test_give_up_after_is_taken_by_every_command(
    store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    Journal.open(store).close()
    assert main(["--store", store, "--give-up-after", "2.5", "events"]) == 0
    assert capfd.readouterr().err == ""


TRIGGER_ADD = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]
TRIGGER_ADD += ["--direction", "long", "--kind", "price", "--level", "3", "--ratio", "0.5"]
TRIGGER_ADD += ["--action", "reduce"]
SUBCOMMANDED = ("trigger", "notify")


@pytest.mark.parametrize(
    "command",
    [
        ["can-open", "--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"],
        ["positions"],
        ["events"],
        ["diagnose", "--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"],
        ["audit", "--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"],
        ["fix-stale", "--dry-run"],
        ["summary"],
        ["history"],
        ["trigger", "list"],
        # A trigger commanded into a journal that is not there could never fire.
        ["trigger", "add", *TRIGGER_ADD],
        ["trigger", "confirm", "t1", "--venue", "bybit", "--account", "main"],
        # Nothing to place, or to notify of, where nothing was ever stored.
        ["execute", "--venue", "bybit", "--account", "main"],
        ["notify", "--config", "targets.toml"],
        ["notify", "list"],
        ["notify", "ack"],
    ],
    ids=lambda command: " ".join(command[:2]) if command[0] in SUBCOMMANDED else command[0],
)
def test_a_command_that_brings_no_inputs_never_creates_a_journal(
    command: list[str], store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, *command)

    assert line == f"trueup: no journal at {store}: nothing was ever stored there"
    assert not Path(store).exists()


@pytest.mark.parametrize(
    "command", [["ingest", str(SAMPLE)], ["serve", "--port", "0"]], ids=lambda c: c[0]
)
def test_a_command_that_makes_a_journal_refuses_another_applications_database(
    command: list[str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "app.db"
    with sqlite3.connect(store) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    before = store.read_bytes()

    line = refused(capfd, str(store), *command)

    assert line == (
        f"trueup: cannot open the journal at {store}: holds no trueup journal but other "
        "tables (customers): give trueup a store of its own (a new file, or an empty database)"
    )
    assert store.read_bytes() == before


# --- run: the venue's address and its credentials ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "garbage",
        "ftp://example.com",
        "ws://127.0.0.1:9000",
        "http://",
        "http://:8080",
        "//example.com:80",
        "http://example.com:99999",
        "http://example.com:0",
        "http://example.com:port",
        "http://[::1",
        "http://exa mple.com",
        "https://user:password@example.com",
        "http://example.com/?testnet=1",
    ],
)
def test_a_base_url_that_is_not_http_host_port_is_refused(
    url: str, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, *BYBIT, "--base-url", url)

    assert line.startswith(f"trueup: argument --base-url: {url!r} is not an http(s)://host[:port]")


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("https://api.bybit.com", "https://api.bybit.com"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("http://sim.local:65535/v5-proxy", "http://sim.local:65535/v5-proxy"),
    ],
)
def test_a_base_url_is_http_or_https_a_host_and_an_optional_port_and_path(
    url: str, taken: str
) -> None:
    assert http_url(url) == taken


def test_run_on_bybit_needs_the_api_key_and_secret_from_the_environment(
    store: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYBIT_API_KEY", raising=False)
    monkeypatch.setenv("BYBIT_API_SECRET", "s")

    line = refused(capfd, store, *BYBIT)

    assert line.startswith("trueup: BYBIT_API_KEY is not set")


def test_run_on_bybit_needs_the_secret_as_well(
    store: str, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYBIT_API_KEY", "k")
    monkeypatch.delenv("BYBIT_API_SECRET", raising=False)

    assert refused(capfd, store, *BYBIT).startswith("trueup: BYBIT_API_SECRET is not set")


@pytest.mark.parametrize("account", ["main", "0x123", HYPERLIQUID_ADDRESS + "00", "0x" + "g" * 40])
def test_a_hyperliquid_account_is_an_address(
    account: str, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, "run", "--venue", "hyperliquid", "--account", account)

    assert "a Hyperliquid --account is the user's address" in line


# --- run --record: somewhere a capture can be written --------------------------------------------


def test_a_directory_as_record_is_refused(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, *BYBIT, "--record", str(tmp_path))

    assert line.startswith(f"trueup: argument --record: cannot write to {tmp_path}: it is a")


def test_a_record_in_a_missing_directory_is_refused(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "nowhere" / "capture.jsonl"

    line = refused(capfd, store, *BYBIT, "--record", str(record))

    assert f"cannot write to {record}: no directory {record.parent}" in line


def test_a_record_in_a_directory_nobody_may_write_is_refused(
    store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, *BYBIT, "--record", "/proc/self/capture.jsonl")

    assert "cannot write to /proc/self/capture.jsonl: /proc/self is not writable" in line


def test_a_record_file_that_cannot_be_written_is_refused(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    record = tmp_path / "capture.jsonl"
    record.write_bytes(b"")

    with read_only(record):
        line = refused(capfd, store, *BYBIT, "--record", str(record))

    assert f"cannot write to {record}: permission denied" in line


# --- demo scenarios: checked whole before anything starts, errors by line ------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\xff\xd8\xff\xe0\x00\x10JFIF", "line 1: not UTF-8 text"),
        (b'{"show": "positions"}\n\xff\xfe\n', "line 2: not UTF-8 text"),
        (b"not json at all\n", "line 1: not JSON"),
        (b'{"wait_ms": 10}\n\n{"bybit": {"step": "place"', "line 3: not JSON"),
        (b'{"wait_ms": 1' + b"0" * 5000 + b"}\n", "line 1: not JSON"),
        (b"[" * 100_000, "line 1: JSON nested too deeply"),
        (b"[1, 2]\n", "line 1: a demo line is a JSON object"),
        (b'{"step": "fill", "order": "x"}\n', "line 1: a demo line holds one of"),
        (b'{"show": "positions", "wait_ms": 5}\n', "line 1: a demo line holds one of"),
        (b'{"show": "orders"}\n', 'line 1: show must be "positions"'),
        (b'{"wait_ms": -1}\n', "line 1: wait_ms must be a non-negative integer"),
        (b'{"wait_ms": 1e20}\n', "line 1: wait_ms must be a non-negative integer"),
        (b'{"delay_ms": "soon", "show": "positions"}\n', "line 1: delay_ms must be"),
        (b'{"note": 5, "show": "positions"}\n', "line 1: note must be a string"),
        (b'{"bybit": {"step": "teleport"}}\n', "line 1: step 'teleport' is not one of"),
        (b'{"bybit": {"step": "fill"}}\n', "line 1 (fill): missing ['order']"),
        (b'{"bybit": {"step": "fill", "order": "x", "qty": "-1"}}', "line 1 (fill): qty must"),
        (b'{"bybit": {"step": "rate_limit", "n": 10000000000}}', "line 1 (rate_limit): n must"),
        (b'{"bybit": {"step": "wait", "ms": 1e300}}', "line 1 (wait): ms must"),
        (b'{"bot": {"kind": "account_mode"}}', "line 1 (bot): an intent is a JSON object"),
        (b'{"hyperliquid": {"step": "teleport"}}', "line 1 (hyperliquid): step 'teleport'"),
        (
            b'{"hyperliquid": {"step": "trade", "coin": "ETH", "is_buy": "yes", "sz": "1",'
            b' "px": "1"}}',
            "line 1 (hyperliquid trade): is_buy must be true or false",
        ),
        (
            b'{"hyperliquid": {"step": "trade", "coin": "ETH", "is_buy": true, "sz": "NaN",'
            b' "px": "1"}}',
            "line 1 (hyperliquid trade): sz must be a decimal string",
        ),
    ],
)
def test_a_demo_scenario_that_cannot_be_played_is_refused_with_its_line(
    content: bytes,
    message: str,
    store: str,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    scenario = tmp_path / "scenario.jsonl"
    scenario.write_bytes(content)

    line = refused(capfd, store, "demo", "--scenario", str(scenario))

    assert line.startswith(f"trueup: demo scenario {scenario}: {message}"), line


@pytest.mark.parametrize("where", ["nowhere.jsonl", "."])
def test_a_demo_scenario_that_is_not_a_file_is_refused(
    where: str, store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / where

    line = refused(capfd, store, "demo", "--scenario", str(scenario))

    assert line.startswith(f"trueup: demo scenario {scenario}: cannot read it: ")


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (b'{"bybit": {"step": "fill", "order": "nobody"}}', "line 2 (fill): no order"),
        (b'{"hyperliquid": {"step": "liquidate", "coin": "ETH"}}', "line 2 (liquidate): "),
    ],
)
def test_a_step_the_simulator_refuses_stops_the_demo_with_its_line(
    step: bytes, message: str, store: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.jsonl"
    scenario.write_bytes(b'{"wait_ms": 10, "note": "a first step that plays"}\n' + step + b"\n")

    demo = trueup("--store", store, "demo", "--scenario", str(scenario))

    assert one_stderr_line(demo).startswith(f"trueup: demo scenario {scenario}: {message}")
    assert "a first step that plays" in demo.stdout.decode()


def test_a_writer_that_fails_stops_the_demo_with_one_line_and_no_thread_traceback(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def journal_gone(_live: LiveIngest, _stop: threading.Event) -> None:
        raise StoreError("cannot append to the journal: it went away")

    monkeypatch.setattr(LiveIngest, "run", journal_gone)
    scenario = tmp_path / "scenario.jsonl"
    scenario.write_bytes(b'{"wait_ms": 2000, "note": "never played"}\n')

    code = main(["--store", store, "demo", "--scenario", str(scenario)])

    out, err = capfd.readouterr()
    assert code == 2
    assert err == "trueup: cannot append to the journal: it went away\n"
    assert "never played" not in out


# --- captures for ingest: anything readable but a directory --------------------------------------


def test_ingest_reads_a_character_device(store: str, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["--store", store, "ingest", os.devnull]) == 0

    assert capfd.readouterr().out.splitlines()[0] == "ingested 0 lines: 0 accepted, 0 rejected"


def test_ingest_reads_a_pipe_as_dev_stdin(store: str) -> None:
    ingest = trueup("--store", store, "ingest", "/dev/stdin", stdin=b"\n".join(USABLE) + b"\n")

    assert (ingest.returncode, ingest.stderr) == (0, b"")
    assert ingest.stdout.decode().startswith("ingested 4 lines: 4 accepted, 0 rejected")


def test_a_directory_as_capture_is_refused(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, "ingest", str(tmp_path))

    assert line == f"trueup: capture {tmp_path} is a directory, not a file"


def test_a_capture_without_read_permission_is_refused(store: str, tmp_path: Path) -> None:
    capture = tmp_path / "secret.jsonl"
    capture.write_bytes(USABLE[0] + b"\n")
    capture.chmod(0o000)

    done = subprocess.run(
        as_a_user([str(TRUEUP), "--store", store, "ingest", str(capture)]),
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert one_stderr_line(done) == f"trueup: cannot read capture file {capture}: permission denied"


def test_no_capture_is_ingested_when_one_of_them_cannot_be_read(
    store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "good.jsonl"
    capture.write_bytes(USABLE[0] + b"\n")

    refused(capfd, store, "ingest", str(capture), str(tmp_path))

    assert not Path(store).exists()  # refused before the journal is even made


# --- instants: within the years trueup reads -----------------------------------------------------

AT_COMMANDS = [
    ("can-open", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT", "--at"),
    ("audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT", "--as-of"),
    ("diagnose", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT", "--at"),
    ("fix-stale", "--dry-run", "--at"),
]


@pytest.mark.parametrize("command", AT_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    "instant",
    [
        "-5",
        "0",
        str(EARLIEST_MS - 1),
        str(LATEST_MS + 1),
        "99999999999999999999",
        "1.7e12",
        "now",
        "1999-12-31T23:59:59Z",
        "2025-11-03T19:45:10",  # no time zone: which instant it names depends on the machine
        "2025-13-03T19:45:10Z",
    ],
)
def test_an_instant_outside_the_years_2000_to_2200_is_refused(
    command: tuple[str, ...], instant: str, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    line = refused(capfd, store, *command, instant)

    assert line.startswith(
        f"trueup: argument {command[-1]}: must be an ISO 8601 instant with its time zone "
        "(2025-11-03T19:45:10Z) or epoch milliseconds, between"
    )


@pytest.mark.parametrize(
    "instant", ["2025-11-03T19:45:10.123Z", "2025-11-03T20:45:10.123+01:00", "1762199110123"]
)
def test_an_instant_is_iso_8601_with_its_zone_or_epoch_milliseconds(instant: str) -> None:
    assert epoch_ms(instant) == 1762199110123


@pytest.mark.parametrize("instant", [EARLIEST_MS, LATEST_MS])
def test_the_first_and_last_instants_are_taken(
    instant: int, store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    can_open = AT_COMMANDS[0]
    Journal.open(store).close()

    # Taken, and answered: no, since the journal knows no account at all.
    assert main(["--store", store, *can_open, str(instant)]) == 1
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(("last", "shown"), [("0", 0), ("1", 1), ("50", 2)])
def test_diagnose_last_shows_that_many_recent_events(
    last: str, shown: int, store: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes(b"\n".join([*USABLE, *REJECTED]) + b"\n")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    capfd.readouterr()

    diagnose = ("diagnose", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT")
    code = main(["--store", store, *diagnose, "--last", last, "--json"])

    report = orjson.loads(capfd.readouterr().out)
    assert code == 0
    assert len(report["rejected_inputs"]) == shown  # two of the three name the account


# --- argparse's own errors: one line too ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("teleport",), "argument COMMAND: invalid choice: 'teleport'"),
        (("run",), "the following arguments are required: --venue, --account"),
        (("run", "--venue", "kraken", "--account", "a"), "argument --venue: invalid choice"),
        (("events", "--colour"), "unrecognized arguments: --colour"),
    ],
)
def test_a_misused_command_line_is_one_line_with_where_to_look(
    args: tuple[str, ...], message: str, store: str
) -> None:
    line = one_stderr_line(trueup("--store", store, *args))

    assert line.startswith(f"trueup: {message}")
    assert line.endswith("--help)")


# --- a reader that leaves early ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [(), ("--json",)], ids=["text", "json"])
def test_events_piped_into_head_ends_quietly(
    fmt: tuple[str, ...], store: str, tmp_path: Path
) -> None:
    capture = tmp_path / "many.jsonl"
    capture.write_bytes(b"".join(b"garbage %d\n" % n for n in range(3_000)))
    assert trueup("--store", store, "ingest", str(capture)).returncode == 0

    events = subprocess.Popen(
        [str(TRUEUP), "--store", store, "events", *fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert events.stdout is not None and events.stderr is not None
    first = events.stdout.readline()  # what `head -1` reads before it exits
    events.stdout.close()
    err = events.stderr.read()
    events.wait(timeout=60)

    assert b"InputRejected" in first
    assert err == b""
    assert events.returncode == EXIT_BROKEN_PIPE


@pytest.mark.parametrize(
    ("asked", "meant"),
    [
        ("CONSISTENCY_DIRFT", "CONSISTENCY_DRIFT"),
        ("position_closed", "POSITION_CLOSED"),
        ("positionsreported", "PositionsReported"),
        ("PositionReported", "PositionsReported"),
    ],
)
def test_events_of_a_mistyped_type_is_an_error_that_names_the_type_meant(
    store: str, capfd: pytest.CaptureFixture[str], asked: str, meant: str
) -> None:
    Journal.open(store).close()
    line = refused(capfd, store, "events", "--type", asked)

    assert line.startswith(
        f"trueup: argument --type: {asked!r} is not a type of event (did you mean {meant}?): "
        "one of AccountModeSet, CONSISTENCY_DRIFT,"
    )


def test_events_of_a_type_like_none_names_no_guess(
    store: str, capfd: pytest.CaptureFixture[str]
) -> None:
    Journal.open(store).close()
    line = refused(capfd, store, "events", "--type", "FILLS")

    assert line.startswith("trueup: argument --type: 'FILLS' is not a type of event: one of ")
