"""The operator's tools, as an operator woken at 3 a.m. by a blocked bot would use them."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import (
    T0,
    execution_frame,
    intent,
    line,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.domain.instants import iso
from trueup.runners.cli import main
from trueup_simulators.bybit.simulator import BybitSimulator

KEY, SECRET = "test-key-not-real", "test-secret-not-real"

ENTRY = {"category": "linear", "position_idx": 0, "side": "Buy", "mode": "LIVE"}


def write_capture(path: Path, records: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(line(r) for r in records) + b"\n")
    return path


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A journal holding a night's trouble: a stop-loss on ETH, a paper leftover, BTC held."""
    records = [
        intent(T0 + 1_000, kind="account_mode", mode="LIVE"),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-sol",
            symbol="SOLUSDT",
            qty="3",
            **{**ENTRY, "mode": "PAPER"},
        ),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-eth",
            symbol="ETHUSDT",
            qty="2",
            timeframe="1h",
            **ENTRY,
        ),
        position_frame(
            T0 + 2_000, symbol="ETHUSDT", side="Buy", size="2", seq=1, updated_time=T0 + 2_000
        ),
        position_frame(
            T0 + 9_000, symbol="ETHUSDT", side="", size="0", seq=2, updated_time=T0 + 9_000
        ),
        intent(
            T0 + 9_500,
            kind="position_opened",
            position_id="p-btc",
            symbol="BTCUSDT",
            qty="1",
            **ENTRY,
        ),
        position_frame(
            T0 + 9_600, symbol="BTCUSDT", side="Buy", size="1", seq=3, updated_time=T0 + 9_600
        ),
        # No fill said why ETH closed: reported on the tick past close_cause_grace_ms.
        {"at": T0 + 12_000, "venue": "bybit", "account": "main", "channel": "clock"},
    ]
    url = str(tmp_path / "journal.db")
    assert (
        main(["--store", url, "ingest", str(write_capture(tmp_path / "night.jsonl", records))]) == 0
    )
    return url


def run_json(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> tuple[int, list[dict[str, Any]]]:
    code = main(args)
    out = capsys.readouterr().out
    return code, [orjson.loads(row) for row in out.splitlines()]


def test_positions_shows_local_beside_exchange_with_findings(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows = run_json(capsys, ["--store", store, "positions", "--json"])
    assert code == 0
    by_symbol = {row["symbol"]: row for row in rows}
    assert (by_symbol["BTCUSDT"]["local_qty"], by_symbol["BTCUSDT"]["exchange_qty"]) == ("1", "1")
    assert by_symbol["BTCUSDT"]["findings"] == []
    # Reported closed (a stop-loss on the exchange), and held closed: nothing left to find.
    assert (by_symbol["ETHUSDT"]["local_qty"], by_symbol["ETHUSDT"]["findings"]) == ("0", [])
    assert by_symbol["SOLUSDT"]["findings"] == ["STALE p-sol (PAPER_LEFTOVER)"]


def test_can_open_says_no_with_every_reason_and_exits_1(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, (verdict,) = run_json(
        capsys,
        [
            "--store",
            store,
            "can-open",
            "--venue",
            "bybit",
            "--account",
            "main",
            "--symbol",
            "ETHUSDT",
            "--at",
            str(T0 + 12_000),  # the close reported, on the tick past its grace
            "--json",
        ],
    )
    assert code == 1
    assert verdict["allowed"] is False
    until = f"cooldown on ETHUSDT until {iso(T0 + 1_809_000)}"
    assert any(until in r for r in verdict["reasons"])
    assert not any("p-eth" in n for n in verdict["notes"])  # closed in trueup's view


def test_can_open_says_yes_once_the_cooldown_is_over_despite_the_stale_record(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The exchange asked again just before: BTCUSDT held still, nothing else.
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "1", "seq": 3, "updated_time": T0 + 9_600}
    fresh = write_capture(tmp_path / "poll.jsonl", [position_snapshot(T0 + 1_995_000, held)])
    assert main(["--store", store, "ingest", str(fresh)]) == 0
    capsys.readouterr()
    code, (verdict,) = run_json(
        capsys,
        [
            "--store",
            store,
            "can-open",
            "--venue",
            "bybit",
            "--account",
            "main",
            "--symbol",
            "ETHUSDT",
            "--at",
            str(T0 + 2_000_000),
            "--json",
        ],
    )
    assert (code, verdict["allowed"], verdict["reasons"]) == (0, True, [])


def test_can_open_refuses_a_symbol_the_exchange_holds(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--store",
            store,
            "can-open",
            "--venue",
            "bybit",
            "--account",
            "main",
            "--symbol",
            "BTCUSDT",
            "--at",
            str(T0 + 10_000),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("no: BTCUSDT")
    assert "the exchange holds LONG 1 BTCUSDT" in out


def test_can_open_refuses_while_a_live_entry_is_in_flight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        intent(T0 + 1_000, kind="account_mode", mode="LIVE"),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-1",
            symbol="XRPUSDT",
            qty="10",
            **ENTRY,
        ),
        intent(
            T0 + 1_000,
            kind="order_placed",
            position_id="p-1",
            order_link_id="p-1-entry",
            category="linear",
            symbol="XRPUSDT",
            purpose="ENTRY",
            side="Buy",
            qty="10",
        ),
        order_frame(
            T0 + 1_100,
            symbol="XRPUSDT",
            order_id="o-1",
            order_link_id="p-1-entry",
            side="Buy",
            qty="10",
            status="New",
            updated_time=T0 + 1_100,
        ),
        position_snapshot(T0 + 1_500),  # the exchange holds nothing yet
    ]
    store = str(tmp_path / "j.db")
    main(["--store", store, "ingest", str(write_capture(tmp_path / "c.jsonl", records))])
    capsys.readouterr()
    code, (verdict,) = run_json(
        capsys,
        [
            "--store",
            store,
            "can-open",
            "--venue",
            "bybit",
            "--account",
            "main",
            "--symbol",
            "XRPUSDT",
            "--at",
            str(T0 + 2_000),
            "--json",
        ],
    )
    assert code == 1
    assert verdict["reasons"] == [
        f"LIVE entry p-1-entry in flight (ACCEPTED) since {iso(T0 + 1_000)}"
    ]


def test_fix_stale_dry_run_lists_and_changes_nothing(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", store, "fix-stale", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "p-sol: PAPER_LEFTOVER" in out
    assert "p-eth" not in out  # trueup reported it closed, and holds it closed
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert cleaned == []


@pytest.fixture
def exchange(monkeypatch: pytest.MonkeyPatch) -> Iterator[BybitSimulator]:
    """Bybit, as trueup's own client reaches it: holding BTCUSDT, as the journal says."""
    monkeypatch.setenv("BYBIT_API_KEY", KEY)
    monkeypatch.setenv("BYBIT_API_SECRET", SECRET)
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.open_position("BTCUSDT", "Buy", "1", "100")
        yield simulator


def check_exchange(store: str, exchange: BybitSimulator, *more: str) -> list[str]:
    return [
        *("--store", store, "fix-stale", "--check-exchange"),
        *("--venue", "bybit", "--account", "main", "--base-url", exchange.base_url, *more),
    ]


def test_fix_stale_check_exchange_closes_what_the_exchange_does_not_hold_and_records_who(
    store: str, exchange: BybitSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(check_exchange(store, exchange, "--operator", "alice")) == 0
    assert "asked bybit/main: " in capsys.readouterr().out
    _, asked = run_json(
        capsys, ["--store", store, "events", "--type", "PositionsReported", "--json"]
    )
    assert "/v5/position/list" in asked[-1]["raw"]  # the answer, kept as an input
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert {(c["position_id"], c["exit_reason"], c["operator"]) for c in cleaned} == {
        ("p-sol", "STALE_CLEANUP", "alice"),
    }
    _, rows = run_json(capsys, ["--store", store, "positions", "--json"])
    assert all(row["findings"] == [] for row in rows)
    assert (
        main(
            [
                "--store",
                store,
                "audit",
                "--venue",
                "bybit",
                "--account",
                "main",
                "--symbol",
                "SOLUSDT",
            ]
        )
        == 0
    )
    assert "LocalPositionCleaned" in capsys.readouterr().out


def test_fix_stale_check_exchange_leaves_open_what_the_snapshot_it_took_does_not_cover(
    store: str, tmp_path: Path, exchange: BybitSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # A paper leftover on a USDC perpetual: the exchange is asked for its linear USDT
    # contracts (what `trueup run` asks), which say nothing of BTCPERP.
    leftover = intent(
        T0 + 1_000,
        kind="position_opened",
        position_id="p-perp",
        symbol="BTCPERP",
        qty="1",
        **{**ENTRY, "mode": "PAPER"},
    )
    capture = write_capture(tmp_path / "perp.jsonl", [leftover])
    assert main(["--store", store, "ingest", str(capture)]) == 0
    capsys.readouterr()

    assert main(check_exchange(store, exchange, "--operator", "alice")) == 0

    out = capsys.readouterr().out
    assert (
        "bybit/main p-perp: not closed: the exchange was asked for linear USDT-settled "
        "contracts; BTCPERP is not among them, so whether it holds it is unknown"
    ) in out
    assert "closed 1 local record(s) with STALE_CLEANUP by alice" in out
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert [c["position_id"] for c in cleaned] == ["p-sol"]
    assert main(["--store", store, "fix-stale", "--dry-run"]) == 0
    assert "bybit/main p-perp: PAPER_LEFTOVER" in capsys.readouterr().out


def test_fix_stale_check_exchange_closes_nothing_when_the_exchange_will_not_answer_whole(
    store: str, exchange: BybitSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    exchange.rate_limit(10, how="retCode")

    assert main(check_exchange(store, exchange, "--operator", "alice")) == 1

    err = capsys.readouterr().err
    assert err.startswith("trueup: nothing closed: /v5/position/list refused: ")
    assert "10006" in err
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert cleaned == []


def test_fix_stale_check_exchange_names_the_account_to_ask(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--store", store, "fix-stale", "--check-exchange"]) == 2
    assert "name its --venue and --account" in capsys.readouterr().err


def test_fix_stale_force_asks_first_and_refuses_without_a_terminal(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["--store", store, "fix-stale", "--force"]) == 2
    assert "pass --yes" in capsys.readouterr().err
    assert main(["--store", store, "fix-stale", "--force", "--yes", "--operator", "bob"]) == 0
    assert "closed 1 local record(s) with MANUAL_CLEANUP by bob" in capsys.readouterr().out
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert {c["exit_reason"] for c in cleaned} == {"MANUAL_CLEANUP"}


def test_fix_stale_of_one_account_lists_and_closes_that_accounts_records_alone(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Five bots on one journal: the operator cleaning one closes nothing of the others."""
    other = intent(
        T0 + 13_000,
        kind="position_opened",
        position_id="p-sol-2",
        symbol="SOLUSDT",
        qty="1",
        **{**ENTRY, "mode": "PAPER"},
    ) | {"account": "bot2"}
    live = intent(T0 + 12_500, kind="account_mode", mode="LIVE") | {"account": "bot2"}
    capture = write_capture(tmp_path / "bot2.jsonl", [live, other])
    assert main(["--store", store, "ingest", str(capture)]) == 0
    only = ["--venue", "bybit", "--account", "bot2"]
    capsys.readouterr()
    assert main(["--store", store, "fix-stale", "--dry-run", *only]) == 0
    listed = capsys.readouterr().out
    assert "bybit/bot2 p-sol-2: PAPER_LEFTOVER" in listed and "p-sol:" not in listed
    fix = ["--store", store, "fix-stale", "--force", "--yes", "--operator", "bob", *only]
    assert main(fix) == 0
    assert "closed 1 local record(s) with MANUAL_CLEANUP by bob" in capsys.readouterr().out
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert [(c["account"], c["position_id"]) for c in cleaned] == [("bot2", "p-sol-2")]


@pytest.mark.parametrize(
    ("operator", "fault"),
    [
        ("a\x07b", "holds a control character ('\\x07') at offset 1"),
        ("x" * 201, "is 201 characters long, more than 200"),
        ("", "is empty"),
    ],
)
def test_an_operator_name_no_input_can_carry_is_refused_before_anything_is_closed(
    store: str, capsys: pytest.CaptureFixture[str], operator: str, fault: str
) -> None:
    """Not stored as a refused line while the command says it closed the records."""
    fix = ["--store", store, "fix-stale", "--force", "--yes", "--operator", operator]
    assert main(fix) == 2
    assert f"--operator: the operator's name {fault}" in capsys.readouterr().err
    _, refused = run_json(capsys, ["--store", store, "events", "--type", "InputRejected", "--json"])
    _, cleaned = run_json(
        capsys, ["--store", store, "events", "--type", "POSITION_CLEANED", "--json"]
    )
    assert (refused, cleaned) == ([], [])


def test_fix_stale_force_closes_nothing_when_the_operator_says_no(
    store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    assert main(["--store", store, "fix-stale", "--force"]) == 1
    assert "nothing closed" in capsys.readouterr().out


def test_diagnose_explains_everything_about_a_symbol(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "--store",
                store,
                "diagnose",
                "--venue",
                "bybit",
                "--account",
                "main",
                "--symbol",
                "ETHUSDT",
                "--at",
                str(T0 + 12_000),  # the close reported, on the tick past its grace
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "ETHUSDT: may NOT open" in out
    assert "POSITION_CLOSED" in out and "STOP_LOSS" in out
    assert "COOLDOWN_STARTED" in out


def diagnosed(
    capsys: pytest.CaptureFixture[str], store: str, symbol: str, at: int
) -> tuple[str, dict[str, Any]]:
    """What diagnose says of ``symbol`` as of ``at``: its text, and its JSON document."""
    where = ["--venue", "bybit", "--account", "main", "--symbol", symbol, "--at", str(at)]
    capsys.readouterr()
    assert main(["--store", store, "diagnose", *where]) == 0
    text = capsys.readouterr().out
    _, (report,) = run_json(capsys, ["--store", store, "diagnose", *where, "--json"])
    return text, report


# ETH's stop-loss showed flat at T0 + 9_000: cooled down for 30 minutes from then.
COOLDOWN_OVER = T0 + 9_000 + 1_800_000


@pytest.mark.parametrize("at", [COOLDOWN_OVER, COOLDOWN_OVER + 60_000])
def test_diagnose_says_a_cooldown_run_out_by_the_instant_asked_is_over(
    store: str, capsys: pytest.CaptureFixture[str], at: int
) -> None:
    text, report = diagnosed(capsys, store, "ETHUSDT", at)
    assert f"  cooldown ended {iso(COOLDOWN_OVER)} (over as of {iso(at)})" in text
    assert "cooldown until" not in text
    assert (report["at"], report["cooldown_until"], report["cooldown_over"]) == (
        at,
        COOLDOWN_OVER,
        True,
    )


def test_diagnose_says_a_cooldown_still_running_lasts_until_its_end(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, report = diagnosed(capsys, store, "ETHUSDT", COOLDOWN_OVER - 1)
    assert f"  cooldown until {iso(COOLDOWN_OVER)}\n" in text
    assert (report["cooldown_until"], report["cooldown_over"]) == (COOLDOWN_OVER, False)
    assert diagnosed(capsys, store, "BTCUSDT", COOLDOWN_OVER)[1]["cooldown_over"] is None


@pytest.fixture
def pending(tmp_path: Path) -> str:
    """A journal whose last input leaves three findings in their grace, each ending at
    T0 + 5_000: XRP's sides apart, DOGE held with no LIVE intent, ETH shown flat with no fill
    to say why. No input comes after to judge them."""
    records = [
        intent(T0 + 1_000, kind="account_mode", mode="LIVE"),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-xrp",
            symbol="XRPUSDT",
            qty="100",
            **ENTRY,
        ),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-eth",
            symbol="ETHUSDT",
            qty="2",
            **ENTRY,
        ),
        position_frame(
            T0 + 1_500, symbol="ETHUSDT", side="Buy", size="2", seq=1, updated_time=T0 + 1_500
        ),
        position_frame(
            T0 + 2_000, symbol="XRPUSDT", side="Buy", size="60", seq=2, updated_time=T0 + 2_000
        ),
        position_frame(
            T0 + 2_000, symbol="DOGEUSDT", side="Buy", size="1500", seq=3, updated_time=T0 + 2_000
        ),
        position_frame(
            T0 + 2_000, symbol="ETHUSDT", side="", size="0", seq=4, updated_time=T0 + 2_000
        ),
    ]
    url = str(tmp_path / "journal.db")
    assert main(["--store", url, "ingest", str(write_capture(tmp_path / "p.jsonl", records))]) == 0
    return url


@pytest.mark.parametrize(
    ("symbol", "finding"),
    [
        ("XRPUSDT", f"DRIFT_PENDING local 100 vs exchange 60: DRIFT at {iso(T0 + 5_000)}"),
        (
            "DOGEUSDT",
            f"UNTRACKED_PENDING exchange holds 1500, no LIVE local position: "
            f"UNTRACKED at {iso(T0 + 5_000)}",
        ),
        (
            "ETHUSDT",
            f"CLOSE_PENDING p-eth: the exchange showed it flat at {iso(T0 + 2_000)}: "
            f"POSITION_CLOSED on the fill that says why, else at {iso(T0 + 5_000)}",
        ),
    ],
    ids=["drift", "untracked", "close"],
)
def test_diagnose_says_a_finding_pending_past_its_grace_is_overdue(
    pending: str, capsys: pytest.CaptureFixture[str], symbol: str, finding: str
) -> None:
    """Named as of the journal's last input, the instant its grace ends is past by the instant
    asked: the detectors judge it at the account's next input, which has not come."""
    within, before = diagnosed(capsys, pending, symbol, T0 + 4_999)
    (shown,) = before["positions"][0]["findings"]
    assert shown.startswith(finding)
    assert before["positions"][0]["overdue"] == []
    assert f"  finding: {shown}\n" in within
    past, after = diagnosed(capsys, pending, symbol, T0 + 5_000)
    assert after["positions"][0]["findings"] == [shown]
    assert after["positions"][0]["overdue"] == [shown]
    late = f"(overdue as of {iso(T0 + 5_000)}: judged at the account's next input)"
    assert f"  finding: {shown} {late}\n" in past


def test_ingest_runs_the_projections_and_events_lists_what_they_emitted(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, emitted = run_json(capsys, ["--store", store, "events", "--json"])
    kinds = [e["type"] for e in emitted if e["type"].isupper()]
    assert kinds == ["STALE_POSITION", "POSITION_CLOSED", "COOLDOWN_STARTED"]
    closed = next(e for e in emitted if e["type"] == "POSITION_CLOSED")
    assert {
        "type",
        "venue",
        "account",
        "at",
        "cause",
        "category",
        "symbol",
        "position_idx",
        "position_id",
        "exit_reason",
    } <= closed.keys()


def test_the_fill_in_flight_case_needs_no_cleanup(tmp_path: Path) -> None:
    records = [
        intent(T0 + 1_000, kind="account_mode", mode="LIVE"),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-1",
            symbol="BTCUSDT",
            qty="1",
            **ENTRY,
        ),
        execution_frame(
            T0 + 1_050,
            {
                "symbol": "BTCUSDT",
                "exec_id": "e-1",
                "order_id": "o-1",
                "side": "Buy",
                "exec_price": "100",
                "exec_qty": "1",
                "exec_time": T0 + 1_050,
                "seq": 2,
            },
        ),
    ]
    store = str(tmp_path / "j.db")
    assert (
        main(["--store", store, "ingest", str(write_capture(tmp_path / "c.jsonl", records))]) == 0
    )
    assert main(["--store", store, "fix-stale", "--dry-run"]) == 0


def test_rule_thresholds_come_from_a_rules_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("cooldown_ms = 60000\ndrift_threshold_pct = 5\n")
    records = [
        intent(T0 + 1_000, kind="account_mode", mode="LIVE"),
        intent(
            T0 + 1_000,
            kind="position_opened",
            position_id="p-eth",
            symbol="ETHUSDT",
            qty="2",
            **ENTRY,
        ),
        position_frame(
            T0 + 2_000, symbol="ETHUSDT", side="Buy", size="2", seq=1, updated_time=T0 + 2_000
        ),
        position_frame(
            T0 + 9_000, symbol="ETHUSDT", side="", size="0", seq=2, updated_time=T0 + 9_000
        ),
        {"at": T0 + 12_000, "venue": "bybit", "account": "main", "channel": "clock"},
    ]
    store = str(tmp_path / "j.db")
    capture = str(write_capture(tmp_path / "c.jsonl", records))
    assert main(["--store", store, "--rules", str(rules), "ingest", capture]) == 0
    capsys.readouterr()
    _, (cooldown,) = run_json(
        capsys, ["--store", store, "events", "--type", "COOLDOWN_STARTED", "--json"]
    )
    assert cooldown["until"] == T0 + 9_000 + 60_000


def test_an_unknown_rule_setting_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("cooldown_minutes = 30\n")
    assert main(["--store", str(tmp_path / "j.db"), "--rules", str(rules), "positions"]) == 2
    assert "unknown settings ['cooldown_minutes']" in capsys.readouterr().err


@pytest.mark.parametrize(("side", "allowed"), [("short", True), ("Sell", True), ("long", False)])
def test_can_open_in_hedge_mode_weighs_only_the_leg_asked_for(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], side: str, allowed: bool
) -> None:
    held = {"symbol": "BTCUSDT", "side": "Buy", "size": "1", "seq": 3, "updated_time": T0 + 9_600}
    hedged = {"symbol": "ADAUSDT", "side": "Buy", "size": "5", "seq": 4, "position_idx": 1}
    hedged["updated_time"] = T0 + 1_990_000
    poll = [position_snapshot(T0 + 1_995_000, held, hedged)]
    assert main(["--store", store, "ingest", str(write_capture(tmp_path / "p.jsonl", poll))]) == 0
    capsys.readouterr()
    args = ["--store", store, "can-open", "--venue", "bybit", "--account", "main"]
    args += ["--symbol", "ADAUSDT", "--side", side, "--at", str(T0 + 2_000_000), "--json"]
    code, (verdict,) = run_json(capsys, args)
    assert (code == 0, verdict["allowed"]) == (allowed, allowed)
    if not allowed:
        assert verdict["reasons"] == ["the exchange holds LONG 5 ADAUSDT (idx 1, seq 4)"]


def test_can_open_refuses_a_side_it_does_not_know(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--store", store, "can-open", "--venue", "bybit", "--account", "main"]
    assert main([*args, "--symbol", "ADAUSDT", "--side", "sideways"]) == 2
    assert "'sideways' is not a side" in capsys.readouterr().err
