"""The ``trueup`` command line, driven as a user drives it, on SQLite and on PostgreSQL.

Exit status 0 on success and 2 for bad usage or input, with a one-line ``trueup: ...`` on
stderr and never a traceback; ``--json`` output is one JSON object a line.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import opened, position_frame
from trueup.adapters.bybit import messages
from trueup.runners.cli import main

ACCOUNT = "main"
T0 = 1_762_199_100_000
OPENED_AT = T0 + 1_000
FIRST_REPORT_AT = T0 + 2_000
SECOND_REPORT_AT = T0 + 5_000
INPUT_TYPES = {
    "AccountModeSet",
    "LocalPositionOpened",
    "PositionsReported",
    "InputRejected",
}
Json = dict[str, Any]


# --- a capture: a short BTCUSDT session, and three inputs that cannot be used ----------------


def btc_position(at: int, size: str, entry_price: str, seq: int) -> bytes:
    item = messages.position_item(
        symbol="BTCUSDT", side="Buy", size=size, entry_price=entry_price, seq=seq, updated_time=at
    )
    frame = messages.ws_frame("position", [item], message_id=f"pos-{seq}", creation_time=at)
    return orjson.dumps(messages.capture_ws(at, ACCOUNT, frame))


USABLE = [
    orjson.dumps(messages.capture_intent(T0, ACCOUNT, {"kind": "account_mode", "mode": "LIVE"})),
    orjson.dumps(
        messages.capture_intent(
            OPENED_AT,
            ACCOUNT,
            {
                "kind": "position_opened",
                "position_id": "p-1",
                "category": "linear",
                "symbol": "BTCUSDT",
                "position_idx": 0,
                "side": "Buy",
                "qty": "0.3",
                "mode": "LIVE",
                "timeframe": "1h",
            },
        )
    ),
    btc_position(FIRST_REPORT_AT, size="0.3", entry_price="65000", seq=100),
    btc_position(SECOND_REPORT_AT, size="0.5", entry_price="65100.5", seq=101),
]
MALFORMED = b'{"at": 1762199106000, "venue": "bybit", "account": "main", "channel": "ws", "data"'
UNKNOWN_TOPIC = orjson.dumps(
    messages.capture_ws(
        T0 + 7_000,
        ACCOUNT,
        messages.ws_frame("greeks", [{"baseCoin": "BTC"}], message_id="g-1", creation_time=T0),
    )
)
RATE_LIMITED = orjson.dumps(
    messages.capture_rest(
        T0 + 8_000,
        ACCOUNT,
        "/v5/position/list",
        {"category": "linear", "settleCoin": "USDT"},
        messages.rest_error(10006, "Too many visits!", time=T0 + 8_000),
    )
)
REJECTED = [MALFORMED, UNKNOWN_TOPIC, RATE_LIMITED]


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """The session as a capture file: one input a line, a blank line among them."""
    path = tmp_path / "session.jsonl"
    lines = [*USABLE[:2], b"", *USABLE[2:], *REJECTED]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def trueup(store_url: str, *args: str) -> int:
    return main(["--store", store_url, *args])


def json_lines(text: str) -> list[Json]:
    records = [orjson.loads(line) for line in text.splitlines()]
    assert all(isinstance(record, dict) for record in records)
    return records


def one_line_error(out: str, err: str) -> str:
    """The error a failed command reported: one ``trueup: ...`` line on stderr, nothing else."""
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("trueup: ")
    return lines[0]


@pytest.fixture
def ingested(store_url: str, capture: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The store, with the capture ingested into it."""
    assert trueup(store_url, "ingest", str(capture)) == 0
    capsys.readouterr()
    return store_url


# --- ingest -------------------------------------------------------------------------------------


def test_ingest_counts_accepted_and_rejected_lines(
    store_url: str, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(store_url, "ingest", str(capture))

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.splitlines()[0] == (
        "ingested 7 lines: 4 accepted, 3 rejected (1 blank lines skipped)"
    )
    assert captured.err == ""


def test_ingesting_a_capture_again_reports_every_line_already_in_the_journal(
    ingested: str, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(ingested, "ingest", str(capture))

    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "ingested 7 lines: 4 accepted, 3 rejected (7 already in the journal)"
        " (1 blank lines skipped)"
    )
    assert trueup(ingested, "events", "--json") == 0
    stored = [r for r in json_lines(capsys.readouterr().out) if r["type"] in INPUT_TYPES]
    assert len(stored) == 7


def test_the_store_may_be_given_by_the_TRUEUP_STORE_variable(
    store_url: str,
    capture: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRUEUP_STORE", store_url)

    assert main(["ingest", str(capture)]) == 0
    capsys.readouterr()

    assert trueup(store_url, "events", "--type", "LocalPositionOpened", "--json") == 0
    assert len(json_lines(capsys.readouterr().out)) == 1


def test_a_plain_sqlite_path_is_a_store(
    tmp_path: Path, capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plain.db"

    assert main(["--store", str(path), "ingest", str(capture)]) == 0

    assert "4 accepted" in capsys.readouterr().out
    assert path.is_file()


# --- events ---------------------------------------------------------------------------------------


def test_events_json_prints_one_object_a_line_in_the_order_stored(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(ingested, "events", "--json")

    records = json_lines(capsys.readouterr().out)
    assert code == 0
    for record in records:
        assert {"type", "venue", "account", "symbol", "at"} <= record.keys()
    inputs = [r for r in records if r["type"] in INPUT_TYPES]
    assert [r["type"] for r in inputs] == [
        "AccountModeSet",
        "LocalPositionOpened",
        "PositionsReported",
        "PositionsReported",
        "InputRejected",
        "InputRejected",
        "InputRejected",
    ]
    assert [r["at"] for r in inputs[:4]] == [T0, OPENED_AT, FIRST_REPORT_AT, SECOND_REPORT_AT]
    assert [r["symbol"] for r in inputs[1:4]] == ["BTCUSDT"] * 3
    assert {(r["venue"], r["account"]) for r in inputs[:4]} == {("bybit", ACCOUNT)}
    positions = [r["position"] for r in records]
    assert positions == sorted(positions)


def test_rejected_inputs_are_kept_and_listed_with_their_reason(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(ingested, "events", "--type", "InputRejected", "--json")

    malformed, unknown, rate_limited = json_lines(capsys.readouterr().out)
    assert code == 0
    assert "not JSON" in malformed["reason"]
    assert malformed["raw"] == MALFORMED.decode()
    assert "greeks" in unknown["reason"]
    assert (unknown["venue"], unknown["account"]) == ("bybit", ACCOUNT)
    assert rate_limited["ret_code"] == 10006
    assert "10006" in rate_limited["reason"]
    assert rate_limited["endpoint"] == "/v5/position/list"


def test_people_see_why_an_input_was_refused(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(ingested, "events", "--type", "InputRejected")

    malformed, unknown, rate_limited = capsys.readouterr().out.splitlines()
    assert code == 0
    assert "reason='not JSON" in malformed
    assert "greeks" in unknown
    assert "10006" in rate_limited and rate_limited.endswith("(/v5/position/list)")


def test_events_lists_one_line_per_event_for_people(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(ingested, "events", "--type", "PositionsReported")

    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(lines) == 2
    assert all("PositionsReported" in line and "BTCUSDT" in line for line in lines)


# --- audit ----------------------------------------------------------------------------------------


def audit_json(store_url: str, capsys: pytest.CaptureFixture[str], *args: str) -> Json:
    code = trueup(
        store_url,
        "audit",
        "--venue",
        "bybit",
        "--account",
        ACCOUNT,
        "--symbol",
        "BTCUSDT",
        "--json",
        *args,
    )
    (result,) = json_lines(capsys.readouterr().out)
    assert code == 0
    return result


def test_audit_json_gives_the_exchange_and_local_state_and_the_timeline_that_led_there(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = audit_json(ingested, capsys)

    exchange, local = result["state"]["exchange"], result["state"]["local"]
    assert exchange["side"] == "LONG"
    assert exchange["size"] == "0.5"
    assert exchange["entry_price"] == "65100.5"
    assert exchange["seq"] == 101
    assert local["qty"] == "0.3"
    assert [(p["position_id"], p["qty"]) for p in local["positions"]] == [("p-1", "0.3")]
    timeline = result["timeline"]
    assert [(e["at"], e["type"]) for e in timeline] == [
        (OPENED_AT, "LocalPositionOpened"),
        (FIRST_REPORT_AT, "PositionsReported"),
        (SECOND_REPORT_AT, "PositionsReported"),
    ]
    assert timeline[0]["state"]["exchange"] is None
    assert timeline[1]["state"]["exchange"]["size"] == "0.3"
    assert timeline[-1]["state"] == result["state"]


def test_audit_as_of_an_instant_gives_the_state_then(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    between = (FIRST_REPORT_AT + SECOND_REPORT_AT) // 2

    result = audit_json(ingested, capsys, "--as-of", str(between))

    exchange = result["state"]["exchange"]
    assert (exchange["size"], exchange["entry_price"], exchange["seq"]) == ("0.3", "65000", 100)
    assert result["state"]["local"]["qty"] == "0.3"
    assert [e["at"] for e in result["timeline"]] == [OPENED_AT, FIRST_REPORT_AT]
    assert result["as_of"] == between


def test_audit_for_people_shows_the_position_and_its_history(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(
        ingested, "audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT"
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "BTCUSDT" in out
    assert "LONG 0.5 @ 65100.5" in out


def audited_eth(
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
) -> str:
    """`trueup audit` of ETHUSDT, for people, once ``records`` are ingested."""
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert trueup(store_url, "ingest", str(path)) == 0
    capsys.readouterr()
    audit = ["audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "ETHUSDT"]
    assert trueup(store_url, *audit) == 0
    return capsys.readouterr().out


def test_a_key_a_snapshot_found_flat_is_shown_flat_by_that_snapshot_not_its_last_seq(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The flat report a snapshot's silence makes keeps the last report's seq, to order the
    pushes after it: shown, it named the report that held the position (a walkthrough)."""
    held = messages.position_item(
        symbol="ETHUSDT", side="Buy", size="1", seq=41, updated_time=T0, rest=True
    )
    lists = [
        messages.capture_rest(
            at, ACCOUNT, "/v5/position/list", {"category": "linear", "settleCoin": "USDT"},
            messages.rest_ok("linear", items, time=at),
        )
        for at, items in ((T0 + 1, [held]), (T0 + 2_000, []))
    ]  # fmt: skip
    out = audited_eth(store_url, tmp_path, capsys, lists)
    assert "flat (seq 41)" not in out
    assert "exchange: flat (by the snapshot of 2025-11-03T19:45:02.000Z)" in out


def test_an_audit_for_people_shows_no_seq_where_the_venue_gave_none(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Bybit's flat position on a symbol never traded: seq -1, its way of saying none.
    item = messages.position_item(symbol="ETHUSDT", side="", size="0", seq=-1, updated_time=T0)
    frame = messages.ws_frame("position", [item], message_id="eth", creation_time=T0)
    out = audited_eth(store_url, tmp_path, capsys, [messages.capture_ws(T0, ACCOUNT, frame)])
    assert "seq -1" not in out
    assert "exchange: flat (updated 2025-11-03T19:45:00.000Z)" in out


def hedged_bnb(store_url: str, tmp_path: Path) -> list[str]:
    """BNBUSDT held in hedge mode (long 1 at idx 1, short 2 at idx 2) ingested; the audit's
    arguments for it."""
    items = [
        messages.position_item(
            symbol="BNBUSDT", side=side, size=size, seq=idx, updated_time=T0, position_idx=idx
        )
        for idx, side, size in ((1, "Buy", "1"), (2, "Sell", "2"))
    ]
    frame = messages.ws_frame("position", items, message_id="bnb", creation_time=T0)
    path = tmp_path / "hedged.jsonl"
    path.write_bytes(orjson.dumps(messages.capture_ws(T0, ACCOUNT, frame)) + b"\n")
    assert trueup(store_url, "ingest", str(path)) == 0
    return ["audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BNBUSDT"]


def test_an_audit_document_of_a_hedged_symbol_asks_which_leg(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = hedged_bnb(store_url, tmp_path)
    capsys.readouterr()
    # One document is one position: which leg cannot be guessed (HTTP: 422, the same words).
    assert trueup(store_url, *audit, "--json") == 2
    assert one_line_error(*capsys.readouterr()) == (
        "trueup: BNBUSDT has positions at idx 1, 2: pass --position-idx"
    )
    assert trueup(store_url, *audit, "--json", "--position-idx", "2") == 0
    (leg,) = json_lines(capsys.readouterr().out)
    assert (leg["position_idx"], leg["state"]["exchange"]["side"]) == (2, "SHORT")


def test_an_audit_of_an_idx_the_symbol_has_no_position_at_names_those_it_has(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = hedged_bnb(store_url, tmp_path)
    capsys.readouterr()
    # Not "no position BNBUSDT", which it has: at idx 1 and 2, not 0.
    assert trueup(store_url, *audit, "--position-idx", "0") == 2
    assert one_line_error(*capsys.readouterr()) == (
        f"trueup: no position BNBUSDT at idx 0 for bybit/{ACCOUNT} in the journal"
        " (BNBUSDT has positions at idx 1, 2)"
    )


def test_an_audit_for_people_of_a_hedged_symbol_shows_each_leg_under_its_idx(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = hedged_bnb(store_url, tmp_path)
    capsys.readouterr()
    assert trueup(store_url, *audit) == 0
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if not line.startswith(" ")]
    assert headers == ["bybit/main linear BNBUSDT idx=1", "bybit/main linear BNBUSDT idx=2"]
    assert "LONG 1 @" in out and "SHORT 2 @" in out


# --- errors: exit 2, one line on stderr, no traceback, no password --------------------------------


def test_a_missing_capture_file_is_a_usage_error(
    store_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.jsonl"

    code = trueup(store_url, "ingest", str(missing))

    assert code == 2
    assert one_line_error(*capfd.readouterr()) == f"trueup: no such capture file: {missing}"


def test_a_missing_capture_file_makes_no_journal(tmp_path: Path) -> None:
    journal = tmp_path / "new.db"

    code = trueup(str(journal), "ingest", str(tmp_path / "nowhere.jsonl"))

    assert code == 2
    assert list(tmp_path.iterdir()) == []


def test_an_audit_of_a_symbol_never_seen_is_a_usage_error(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = trueup(
        ingested, "audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "XRPUSDT"
    )

    assert code == 2
    assert "no position XRPUSDT" in one_line_error(*capsys.readouterr())


def test_an_unsupported_store_url_is_a_usage_error_that_hides_the_password(
    capture: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["--store", "mysql://trader:secret@db.example/trueup", "ingest", str(capture)])

    captured = capfd.readouterr()
    assert code == 2
    assert "unsupported store URL" in one_line_error(*captured)
    assert "secret" not in captured.out + captured.err


def test_an_unreachable_database_is_a_usage_error_that_hides_the_password(
    capfd: pytest.CaptureFixture[str],
) -> None:
    code = main(["--store", "postgresql://u:secret@127.0.0.1:1/x", "events"])

    captured = capfd.readouterr()
    assert code == 2
    assert "cannot open the journal at postgresql://u:***@127.0.0.1:1/x" in one_line_error(
        *captured
    )
    assert "secret" not in captured.out + captured.err


# --- the installed console script ----------------------------------------------------------------


def test_the_installed_trueup_command_ingests_and_lists(
    store_url: str, capture: Path, tmp_path: Path
) -> None:
    command = Path(sys.executable).with_name("trueup")
    env = {k: v for k, v in os.environ.items() if k != "TRUEUP_STORE"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(command), "--store", store_url, *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=120,
            check=False,
        )

    ingest = run("ingest", str(capture))
    listed = run("events", "--type", "InputRejected", "--json")
    missing = run("ingest", str(tmp_path / "nowhere.jsonl"))

    assert (ingest.returncode, ingest.stderr) == (0, "")
    assert ingest.stdout.splitlines()[0].startswith("ingested 7 lines: 4 accepted, 3 rejected")
    assert listed.returncode == 0
    assert len(json_lines(listed.stdout)) == 3
    assert missing.returncode == 2
    assert missing.stderr.startswith("trueup: no such capture file")
    assert "Traceback" not in missing.stderr
    assert not (tmp_path / "trueup.db").exists()


def test_the_command_exits_with_its_code_leaving_what_it_built_to_the_os() -> None:
    """Garbage left in cycles (a reconciler's state is) is not walked at exit: its finalizers
    do not run, which is why files and the journal are closed before."""
    program = (
        "from trueup.runners.gc_policy import exit_uncollected\n"
        "class Held:\n"
        "    def __del__(self): print('collected', flush=True)\n"
        "held = Held(); held.me = held; del held\n"
        "print('done', flush=True)\n"
        "exit_uncollected(3)\n"
    )
    exited = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )

    assert (exited.returncode, exited.stdout, exited.stderr) == (3, "done\n", "")


# --- positions: a finding is claimed only once its grace is over ----------------------------


def untracked_btc(at: int) -> list[dict[str, Any]]:
    """The exchange shows BTCUSDT 0.1 that no intent opened; a clock tick ``at``."""
    held = position_frame(T0, symbol="BTCUSDT", side="Buy", size="0.1", seq=1, updated_time=T0)
    return [held, {"at": at, "channel": "clock", "venue": "bybit", "account": ACCOUNT}]


@pytest.mark.parametrize(
    ("tick_at", "finding"),
    [
        (
            T0 + 2_999,
            "UNTRACKED_PENDING exchange holds 0.1, no LIVE local position: "
            "UNTRACKED at 2025-11-03T19:45:03.000Z unless the bot claims it",
        ),
        (T0 + 3_000, "UNTRACKED exchange holds 0.1, no LIVE local position"),
    ],
)
def test_positions_claims_untracked_only_once_untracked_position_is_told(
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tick_at: int,
    finding: str,
) -> None:
    """Within untracked_grace_ms (3 s) of the exchange first showing it, the position is
    pending, with the instant it becomes UNTRACKED; from then on, as the event says, it is."""
    told, findings, line = told_and_shown(store_url, tmp_path, capsys, untracked_btc(tick_at))
    assert told == ([] if finding.startswith("UNTRACKED_PENDING") else ["UNTRACKED_POSITION"])
    assert findings == [finding]
    assert line.endswith(finding)


def told_and_shown(
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    records: list[dict[str, Any]],
) -> tuple[list[str], list[str], str]:
    """``records`` ingested: the types emitted, and BTCUSDT's findings as `positions --json`
    lists them and its line as `positions` prints it."""
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert trueup(store_url, "ingest", str(path)) == 0
    capsys.readouterr()
    assert trueup(store_url, "events", "--emitted", "--json") == 0
    told = [e["type"] for e in json_lines(capsys.readouterr().out)]
    assert trueup(store_url, "positions", "--json") == 0
    (row,) = json_lines(capsys.readouterr().out)
    assert trueup(store_url, "positions") == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "BTCUSDT" in line]
    return told, row["findings"], line


def drifting_btc(at: int) -> list[dict[str, Any]]:
    """The bot opened BTCUSDT 0.1; a second later the exchange shows 0.2; a clock tick ``at``."""
    claimed = opened(T0, "p-1", "BTCUSDT", "0.1")
    held = position_frame(
        T0 + 1_000, symbol="BTCUSDT", side="Buy", size="0.2", seq=1, updated_time=T0 + 1_000
    )
    return [claimed, held, {"at": at, "channel": "clock", "venue": "bybit", "account": ACCOUNT}]


@pytest.mark.parametrize(
    ("tick_at", "finding"),
    [
        (
            T0 + 3_999,
            "DRIFT_PENDING local 0.1 vs exchange 0.2: "
            "DRIFT at 2025-11-03T19:45:04.000Z unless resolved",
        ),
        (T0 + 4_000, "DRIFT local 0.1 vs exchange 0.2"),
    ],
)
def test_positions_claims_drift_only_once_consistency_drift_is_told(
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tick_at: int,
    finding: str,
) -> None:
    """Within drift_grace_ms (3 s) of the sides first differing, the drift is pending, with
    the instant it becomes DRIFT; from then on, as the event says, it is. can-open says no
    all along, for what the exchange holds, but names the drift only once it is told."""
    emitted, findings, line = told_and_shown(store_url, tmp_path, capsys, drifting_btc(tick_at))
    told = finding.startswith("DRIFT ")
    assert emitted == (["CONSISTENCY_DRIFT"] if told else [])
    assert findings == [finding]
    assert line.endswith(finding)
    where = ["--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT"]
    assert trueup(store_url, "can-open", *where, "--at", str(tick_at), "--json") == 1
    (verdict,) = json_lines(capsys.readouterr().out)
    assert verdict["reasons"] == [
        "no complete snapshot of the exchange's positions has been taken: what it holds is unknown",
        "the exchange holds LONG 0.2 BTCUSDT (idx 0, seq 1)",
        *(
            ["unresolved drift on idx 0: local 0.1 vs exchange 0.2 since 2025-11-03T19:45:01.000Z"]
            if told
            else []
        ),
    ]


def test_the_journals_options_may_follow_the_commands_name(
    ingested: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["positions", "--json", "--store", ingested, "--give-up-after", "5"]) == 0
    after = json_lines(capsys.readouterr().out)
    assert main(["--store", ingested, "positions", "--json"]) == 0
    assert after and after == json_lines(capsys.readouterr().out)
    # Given both before and after, the one after the command's name is the one taken.
    elsewhere = str(tmp_path / "elsewhere.db")
    assert main(["--store", elsewhere, "positions", "--json", "--store", ingested]) == 0
    assert json_lines(capsys.readouterr().out) == after
    assert not (tmp_path / "elsewhere.db").exists()
