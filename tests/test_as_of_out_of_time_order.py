"""Answers as of an instant over inputs stored out of time order: the replay as of T folds
the inputs dated by T, and where that adds up to a close or a cooldown trueup never emitted
(it took some of those inputs after later ones), the answer says so."""

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import T0, opened, position_frame, position_snapshot, tick
from trueup.domain.rules.config import RuleConfig
from trueup.runners.cli import main

JSON = dict[str, Any]
BTC = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]
GRACE = RuleConfig().close_cause_grace_ms
# As of this instant, the inputs dated by it add up to BTCUSDT closed on the exchange (a REST
# snapshot showing it flat, dated before the stream frame that showed it open again).
BEFORE_THE_REOPEN = T0 + 3_000 + GRACE + 1
HELD = {"symbol": "BTCUSDT", "side": "Buy", "size": "1"}
OPENED = [
    opened(T0, "p-1", "BTCUSDT", "1"),
    position_frame(T0 + 1_000, **HELD, seq=2, updated_time=T0 + 1_000),
]
FLAT = position_snapshot(
    T0 + 3_000, {"symbol": "BTCUSDT", "side": "", "size": "0", "seq": 3, "updated_time": T0 + 2_500}
)
REOPENED = position_frame(T0 + 10_000, **HELD, seq=5, updated_time=T0 + 10_000)
TICKS = [tick(BEFORE_THE_REOPEN), tick(T0 + 10_000 + 2 * GRACE)]


def ingested(tmp_path: Path, records: list[JSON]) -> str:
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    url = str(tmp_path / "journal.db")
    assert main(["--store", url, "ingest", str(capture)]) == 0
    return url


@pytest.fixture
def stored_out_of_order(tmp_path: Path) -> str:
    """The snapshot that shows BTCUSDT flat stored after the later frame that shows it held:
    the reconciler, which took the frame first, never closed it."""
    return ingested(tmp_path, [*OPENED, REOPENED, FLAT, *TICKS])


@pytest.fixture
def stored_in_order(tmp_path: Path) -> str:
    """The same inputs stored in time order: the close, and its cooldown, were emitted."""
    return ingested(tmp_path, [*OPENED, FLAT, TICKS[0], REOPENED, TICKS[1]])


def cli(store: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    main(["--store", store, *args])
    return capsys.readouterr().out


def cli_json(store: str, capsys: pytest.CaptureFixture[str], *args: str) -> list[JSON]:
    return [orjson.loads(text) for text in cli(store, capsys, *args, "--json").splitlines()]


def emitted_types(store: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [e["type"] for e in cli_json(store, capsys, "events", "--emitted")]


def test_a_close_the_inputs_dated_by_then_make_but_trueup_never_emitted_is_told_apart(
    stored_out_of_order: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "POSITION_CLOSED" not in emitted_types(stored_out_of_order, capsys)
    asked = [*BTC, "--as-of", str(BEFORE_THE_REOPEN)]
    (document,) = cli_json(stored_out_of_order, capsys, "audit", *asked)
    last = document["timeline"][-1]
    assert (last["at"], last["type"]) == (BEFORE_THE_REOPEN, "ClockTicked")
    assert last["state"]["local"] == {"qty": "0", "positions": []}
    (unemitted,) = last["closes_not_emitted"]
    assert (unemitted["type"], unemitted["position_id"]) == ("POSITION_CLOSED", "p-1")
    assert all(entry["closed_by"] == [] for entry in document["timeline"])

    text = cli(stored_out_of_order, capsys, "audit", *asked)
    (closing,) = [line for line in text.splitlines() if "POSITION_CLOSED" in line]
    assert closing.endswith("| closes, never emitted: POSITION_CLOSED p-1 (STOP_LOSS)")
    assert "  never emitted: the inputs dated by then add up to that close" in text


def test_a_close_trueup_emitted_is_named_as_closing_the_position(
    stored_in_order: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "POSITION_CLOSED" in emitted_types(stored_in_order, capsys)
    asked = [*BTC, "--as-of", str(BEFORE_THE_REOPEN)]
    (document,) = cli_json(stored_in_order, capsys, "audit", *asked)
    last = document["timeline"][-1]
    (closed,) = last["closed_by"]
    assert (closed["type"], closed["position_id"]) == ("POSITION_CLOSED", "p-1")
    assert last["closes_not_emitted"] == []
    assert "never emitted" not in cli(stored_in_order, capsys, "audit", *asked)


def test_the_audit_of_now_over_inputs_stored_out_of_time_order_closes_nothing(
    stored_out_of_order: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (document,) = cli_json(stored_out_of_order, capsys, "audit", *BTC)
    assert document["state"]["local"]["qty"] == "1"
    assert all(
        entry["closed_by"] == entry["closes_not_emitted"] == [] for entry in document["timeline"]
    )


NEVER_STARTED = (
    "the cooldown is how the inputs dated by then add up: trueup, which took some of them "
    "after later inputs (stored out of time order), never started it"
)


@pytest.mark.parametrize(
    ("journal", "noted"), [("stored_out_of_order", [NEVER_STARTED]), ("stored_in_order", [])]
)
def test_can_open_as_of_an_instant_says_whether_trueup_started_the_cooldown_it_finds(
    journal: str,
    noted: list[str],
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = request.getfixturevalue(journal)
    asked = [*BTC, "--side", "long", "--at", str(T0 + 9_000)]
    (answer,) = cli_json(store, capsys, "can-open", *asked)
    assert answer["allowed"] is False
    assert any(reason.startswith("cooldown on BTCUSDT until ") for reason in answer["reasons"])
    assert [note for note in answer["notes"] if "cooldown" in note] == noted
