"""`trueup serve`, spoken to over real HTTP: the same answers as the command line, writes only
with the token and within the body limit, bad queries refused naming the field, health and
metrics. On SQLite and on PostgreSQL, over the recorded Bybit session.
"""

import gzip
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.http_server import (
    AUTH,
    SAMPLE_END,
    TOKEN,
    closing_snapshot,
    running_server,
    serve_process,
)
from tests.inputs import event as input_event
from tests.inputs import line, opened
from tests.live_harness import wait_for
from tests.test_schemas import assert_valid, errors
from trueup.adapters.bybit import messages
from trueup.adapters.store.journal import PAGE, Journal
from trueup.application.following import Following
from trueup.application.loop_status import FAILURES_TOLD, LoopHeartbeat, executor_name
from trueup.application.service import TrueupService
from trueup.projections.partitions import ALL, tracker
from trueup.runners import http_projection
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

BODY_LIMIT = 64 * 1024
Json = dict[str, Any]

HTTP_EVENT = "http-event.schema.json"


@pytest.fixture
def api(sampled: str) -> Iterator[httpx.Client]:
    """A client of a server over the sampled journal, its clock at the sample's end."""
    settings = ApiSettings(token=TOKEN, max_body_bytes=BODY_LIMIT)
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, settings, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def cli_json(capsys: pytest.CaptureFixture[str], store_url: str, *args: str) -> list[Json]:
    """What `trueup ... --json` prints, one document a line."""
    capsys.readouterr()
    main(["--store", store_url, *args, "--json"])
    return [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]


# --- reads: the CLI's documents -------------------------------------------------------------


@pytest.mark.parametrize(
    "symbol",
    ["ETHUSDT", "BTCUSDT", "DOGEUSDT", "NEVERSEEN", "XRP/USDT:USDT", "xrpusdt", "XRPUSDT "],
)
def test_can_open_answers_as_the_cli_does(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    where = ["--venue", "bybit", "--account", "main", "--symbol", symbol]
    (expected,) = cli_json(capsys, sampled, "can-open", *where, "--at", str(SAMPLE_END))
    query: Json = {"venue": "bybit", "account": "main", "symbol": symbol, "at": SAMPLE_END}
    reply = api.get("/v1/can-open", params=query)
    assert reply.status_code == 200  # yes or no, the question was answered
    assert reply.json() == {"venue": "bybit", "account": "main", "symbol": symbol} | expected


def test_can_open_takes_its_instant_as_iso_8601_too(api: httpx.Client) -> None:
    query = {"venue": "bybit", "account": "main", "symbol": "ETHUSDT"}
    by_ms = api.get("/v1/can-open", params=query | {"at": SAMPLE_END}).json()
    by_iso = api.get("/v1/can-open", params=query | {"at": "2025-11-03T19:48:55Z"}).json()
    assert by_ms == by_iso
    assert not by_ms["allowed"]
    assert any("exchange view is 70 s old" in reason for reason in by_ms["reasons"])


def test_positions_are_the_cli_rows_filtered_as_asked(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = cli_json(capsys, sampled, "positions")
    with Journal.open(sampled, create=False) as journal:
        end = journal.last_position()
    assert api.get("/v1/positions").json() == {"positions": rows, "cursor": end}
    doge = api.get("/v1/positions", params={"venue": "bybit", "symbol": "DOGEUSDT"}).json()
    assert doge["positions"] == [row for row in rows if row["symbol"] == "DOGEUSDT"]
    assert doge["positions"][0]["exchange_qty"] == "1500"  # decimals as strings
    assert api.get("/v1/positions", params={"account": "other"}).json()["positions"] == []


def test_positions_in_ccxts_structure_are_the_clis(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    main(["--store", sampled, "positions", "--format", "ccxt"])
    expected = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    found = api.get("/v1/positions", params={"format": "ccxt"}).json()["positions"]
    assert found == expected
    assert {p["symbol"] for p in found} == {"DOGE/USDT:USDT", "XRP/USDT:USDT"}
    assert api.get("/v1/positions", params={"format": "csv"}).status_code == 422


def test_summary_is_the_clis(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (expected,) = cli_json(capsys, sampled, "summary")
    assert api.get("/v1/summary").json() == expected
    (doge,) = cli_json(capsys, sampled, "summary", "--symbol", "DOGEUSDT")
    assert api.get("/v1/summary", params={"symbol": "DOGEUSDT"}).json() == doge
    assert doge["positions"] == 1


def test_history_is_the_clis(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = cli_json(capsys, sampled, "history")
    assert api.get("/v1/history").json() == {"closed": expected}
    assert expected  # the sample closes BTCUSDT and ETHUSDT
    btc = api.get("/v1/history", params={"symbol": "BTCUSDT", "since": "2025-11-03T19:45:00Z"})
    assert btc.json()["closed"] == [c for c in expected if c["symbol"] == "BTCUSDT"]
    assert api.get("/v1/history", params={"since": "yesterday"}).status_code == 422


def test_triggers_are_commanded_as_the_cli_commands_them(api: httpx.Client) -> None:
    add = {
        "venue": "bybit", "account": "main", "command": "add", "operator": "alice",
        "trigger_id": "btc-trail", "symbol": "BTCUSDT", "direction": "long",
        "kind": "trailing", "distance": "2", "unit": "percent", "ratio": "0.5",
        "action": "reduce", "at": SAMPLE_END,
    }  # fmt: skip
    assert api.post("/v1/triggers", json=add).status_code == 401
    added = api.post("/v1/triggers", json=add, headers=AUTH)
    assert added.status_code == 200
    assert added.json() | {"input_id": ""} == {
        "trigger_id": "btc-trail", "input_id": "", "accepted": True, "refused": [],
        "emitted": [], "failed": [],
    }  # fmt: skip
    (row,) = api.get("/v1/triggers", params={"venue": "bybit"}).json()["triggers"]
    assert (row["trigger_id"], row["state"], row["operator"]) == ("btc-trail", "armed", "alice")
    again = api.post("/v1/triggers", json=add | {"at": SAMPLE_END + 1}, headers=AUTH)
    assert again.status_code == 409
    assert again.json()["refused"] == ["trigger btc-trail already exists"]
    # One that could never fire is refused as the CLI refuses it, and not recorded.
    nobody = api.post("/v1/triggers", json=add | {"account": "nobody"}, headers=AUTH)
    assert nobody.status_code == 409
    assert (nobody.json()["input_id"], nobody.json()["refused"]) == (
        "",
        ["trueup has never seen bybit/nobody: the journal holds nothing from its exchange "
         "or its bot"],
    )  # fmt: skip
    both = api.post("/v1/triggers", json=add | {"trigger_id": "x", "level": "3"}, headers=AUTH)
    assert both.json()["refused"] == [
        "line.data: a trailing trigger takes a distance (and its unit), not level"
    ]
    off = {"venue": "bybit", "account": "main", "command": "disable", "operator": "bob"}
    disabled = api.post("/v1/triggers", json=off | {"trigger_id": "btc-trail"}, headers=AUTH)
    assert disabled.status_code == 200
    (row,) = api.get("/v1/triggers").json()["triggers"]
    assert row["state"] == "disabled"


def test_a_trigger_change_posted_keeps_what_it_does_not_name(api: httpx.Client) -> None:
    command = {"venue": "bybit", "account": "main", "operator": "alice", "trigger_id": "sl"}
    add = command | {
        "command": "add", "symbol": "BTCUSDT", "direction": "long", "kind": "stop_loss",
        "level": "90", "ratio": "0.5", "action": "reduce", "auto_execute": True,
        "expires_at": SAMPLE_END + 60_000, "at": SAMPLE_END,
    }  # fmt: skip
    assert api.post("/v1/triggers", json=add, headers=AUTH).status_code == 200
    (before,) = api.get("/v1/triggers").json()["triggers"]
    change = command | {"command": "change", "level": "95", "at": SAMPLE_END + 1}
    assert api.post("/v1/triggers", json=change, headers=AUTH).status_code == 200
    (after,) = api.get("/v1/triggers").json()["triggers"]
    assert after == before | {"level": "95", "arming": 2}

    # Named as null, the expiry is taken off; a change of a trigger not there, not recorded.
    unexpiring = change | {"expires_at": None, "at": SAMPLE_END + 2}
    assert api.post("/v1/triggers", json=unexpiring, headers=AUTH).status_code == 200
    (after,) = api.get("/v1/triggers").json()["triggers"]
    assert (after["expires_at"], after["auto_execute"]) == (None, True)
    missing = api.post("/v1/triggers", json=change | {"trigger_id": "tp"}, headers=AUTH)
    assert (missing.status_code, missing.json()["input_id"], missing.json()["refused"]) == (
        409,
        "",
        ["no trigger tp on bybit/main"],
    )


def test_the_positions_cursor_is_where_the_events_that_change_them_follow(
    api: httpx.Client,
) -> None:
    cursor = api.get("/v1/positions").json()["cursor"]
    assert api.get("/v1/events", params={"after": cursor}).json()["events"] == []
    api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    after = api.get("/v1/events", params={"after": cursor}).json()["events"]
    assert "PositionsReported" in [event["type"] for event in after]
    assert api.get("/v1/positions").json()["cursor"] > cursor


def test_emitted_lists_what_trueup_said_about_one_position(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    every = cli_json(capsys, sampled, "events", "--emitted")
    about_btc = [e for e in every if (e["symbol"], e["position_idx"]) == ("BTCUSDT", 0)]
    query = {"venue": "bybit", "account": "main", "symbol": "BTCUSDT"}
    said = api.get("/v1/emitted", params=query).json()["events"]
    assert [e["event_id"] for e in said] == [e["event_id"] for e in about_btc]
    assert said and said[0]["at_iso"].endswith("Z")
    cut = said[1]["at"]
    earlier = api.get("/v1/emitted", params=query | {"as_of": cut}).json()["events"]
    assert earlier == [e for e in said if e["at"] <= cut]


def hedged_bnb(at: int) -> bytes:
    """A /v5/position/list page of BNBUSDT held in hedge mode: long 1 (idx 1), short 2 (idx 2)."""
    items = [
        messages.position_item(
            symbol="BNBUSDT", side=side, size=size, seq=idx, updated_time=at, position_idx=idx,
            rest=True,
        )
        for idx, side, size in ((1, "Buy", "1"), (2, "Sell", "2"))
    ]  # fmt: skip
    body = messages.rest_ok("linear", items, time=at)
    params = {"category": "linear"}
    return line(messages.capture_rest(at, "main", "/v5/position/list", params, body))


def test_emitted_about_a_hedged_symbol_is_422_naming_its_legs_unless_one_is_chosen(
    api: httpx.Client,
) -> None:
    pages = [hedged_bnb(SAMPLE_END - 10_000), hedged_bnb(SAMPLE_END - 5_000)]
    assert api.post("/v1/inputs", content=b"\n".join(pages), headers=AUTH).status_code == 200
    query = {"venue": "bybit", "account": "main", "symbol": "BNBUSDT"}
    # Untracked on both legs: which one is meant cannot be guessed, as the audit says.
    refused = api.get("/v1/emitted", params=query)
    assert refused.status_code == 422
    assert "BNBUSDT has positions at idx 1, 2" in refused.text and "position_idx" in refused.text
    for idx, qty in ((1, "1"), (2, "-2")):
        said = api.get("/v1/emitted", params=query | {"position_idx": idx}).json()["events"]
        assert [(e["type"], e["position_idx"], e["exchange_qty"]) for e in said] == [
            ("UNTRACKED_POSITION", idx, qty)
        ]
    assert api.get("/v1/audit", params=query).status_code == 422


def test_audit_is_the_cli_document(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]
    (expected,) = cli_json(capsys, sampled, "audit", *where)
    query: Json = {"venue": "bybit", "account": "main", "symbol": "BTCUSDT", "position_idx": 0}
    assert api.get("/v1/audit", params=query).json() == expected
    as_of = expected["timeline"][2]["at"]
    (then,) = cli_json(capsys, sampled, "audit", *where, "--as-of", str(as_of))
    assert api.get("/v1/audit", params=query | {"as_of": as_of}).json() == then


def test_audit_of_a_position_closed_by_hand_shows_it_closed_from_the_close_on(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = cli_json(capsys, sampled, "positions", "--symbol", "ETHUSDT")
    query: Json = {"venue": "bybit", "account": "main", "symbol": "ETHUSDT"}
    now = api.get("/v1/audit", params=query).json()
    assert now["state"]["local"] == row["state"]["local"] == {"qty": "0", "positions": []}
    (close,) = [e for e in now["timeline"] if e["closed_by"]]
    assert [(c["type"], c["position_id"]) for c in close["closed_by"]] == [
        ("POSITION_CLOSED", "p-eth-1")
    ]
    before = api.get("/v1/audit", params=query | {"as_of": close["at"] - 1}).json()
    assert before["state"]["local"]["qty"] == "-2"
    assert [p["position_id"] for p in before["state"]["local"]["positions"]] == ["p-eth-1"]


def test_audit_of_a_position_never_held_is_404(api: httpx.Client) -> None:
    query = {"venue": "bybit", "account": "main", "symbol": "NEVERSEEN"}
    reply = api.get("/v1/audit", params=query)
    assert reply.status_code == 404
    assert "NEVERSEEN" in reply.json()["detail"]


def test_events_page_from_a_cursor_to_the_end(
    api: httpx.Client, sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    everything = cli_json(capsys, sampled, "events")
    seen: list[Json] = []
    after = 0
    while True:
        page = api.get("/v1/events", params={"after": after, "limit": 7}).json()
        if not page["events"]:
            break
        seen += page["events"]
        after = page["next_after"]
    assert [{k: v for k, v in e.items() if k != "at_iso"} for e in seen] == everything
    assert seen[0]["at_iso"] == "2025-11-03T19:45:00.000Z"
    # Asked again from the end, nothing: a bot polls from its last cursor.
    assert api.get("/v1/events", params={"after": after}).json() == {
        "events": [],
        "next_after": after,
    }


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream"])
def test_a_cursor_past_the_journals_end_is_422_naming_the_end(
    api: httpx.Client, accept: str
) -> None:
    """A bot holding a cursor of another journal (or one restored) waited for ever on empty
    pages while events were stored below it (a walkthrough)."""
    end = api.get("/v1/positions").json()["cursor"]
    reply = api.get("/v1/events", params={"after": end + 1_000}, headers={"Accept": accept})
    assert reply.status_code == 422
    assert reply.json()["detail"] == (
        f"after={end + 1_000} is past the journal's end ({end}): a cursor of another journal, "
        f"or of this one before it was restored? Read on from after={end}, or from 0"
    )
    assert api.get("/v1/events", params={"after": end}).json()["events"] == []


def test_every_event_the_http_api_lists_matches_its_schema(api: httpx.Client) -> None:
    """schemas/http-event.schema.json: a line of `trueup events --json` with its `at_iso`."""
    listed, after = [], 0
    while page := api.get("/v1/events", params={"after": after, "limit": 2000}).json()["events"]:
        listed += page
        after = page[-1]["position"]
    query = {"venue": "bybit", "account": "main", "symbol": "ETHUSDT"}
    said = api.get("/v1/emitted", params=query).json()["events"]
    assert said, "the sample closed ETHUSDT: trueup said so"
    for event in listed + said:
        assert_valid(HTTP_EVENT, event)
    assert errors(HTTP_EVENT, {k: v for k, v in listed[0].items() if k != "at_iso"})
    assert errors(HTTP_EVENT, listed[0] | {"at_iso": "2025-11-03T19:45:00Z"})


def test_events_of_one_type_and_account(api: httpx.Client) -> None:
    page = api.get(
        "/v1/events", params={"type": "POSITION_CLOSED", "venue": "bybit", "account": "main"}
    ).json()
    assert [e["symbol"] for e in page["events"]] == ["ETHUSDT"]
    other = api.get("/v1/events", params={"type": "POSITION_CLOSED", "account": "x"}).json()
    assert other["events"] == []


SIDES = ("long", "LONG", "Long", "buy", "Buy", "BUY")


def test_a_side_is_taken_in_any_case_as_the_cli_takes_it(api: httpx.Client) -> None:
    query: Json = {"venue": "bybit", "account": "main", "symbol": "ETHUSDT", "at": SAMPLE_END}
    answers = [api.get("/v1/can-open", params=query | {"side": side}) for side in SIDES]
    assert {reply.status_code for reply in answers} == {200}
    assert len({reply.content for reply in answers}) == 1


# --- bad queries: 422, naming the field -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/positions", {"venu": "bybit"}, "venu"),
        ("/v1/can-open", {"venue": "bybit", "account": "main"}, "symbol"),
        ("/v1/can-open", {"venue": "bybit", "account": "main", "symbol": "X", "at": "soon"}, "at"),
        ("/v1/can-open", {"venue": "bybit", "account": "main", "symbol": "X", "at": 5}, "at"),
        (
            "/v1/can-open",
            {"venue": "bybit", "account": "main", "symbol": "X", "side": "Up"},
            "side",
        ),
        (
            "/v1/audit",
            {"venue": "b", "account": "m", "symbol": "X", "position_idx": 7},
            "position_idx",
        ),
        ("/v1/events", {"type": "PositionOpened"}, "type"),
        ("/v1/events", {"after": -1}, "after"),
        ("/v1/events", {"limit": 0}, "limit"),
        ("/v1/events", {"after": "the-start"}, "after"),
    ],
)
def test_a_bad_query_is_422_naming_the_field(
    api: httpx.Client, path: str, params: Json, field: str
) -> None:
    reply = api.get(path, params=params)
    assert reply.status_code == 422
    assert [problem["loc"] for problem in reply.json()["detail"]] == [["query", field]]


# --- writes ---------------------------------------------------------------------------------


def test_posting_a_closing_snapshot_changes_the_positions(api: httpx.Client) -> None:
    def doge() -> Json:
        (row,) = api.get("/v1/positions", params={"symbol": "DOGEUSDT"}).json()["positions"]
        assert isinstance(row, dict)
        return row

    assert doge()["exchange_qty"] == "1500"
    reply = api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    assert reply.status_code == 200
    report = reply.json()
    assert (report["accepted"], report["rejected"], report["duplicates"]) == (1, 0, 0)
    (taken,) = report["inputs"]
    assert taken["type"] == "PositionsReported"
    assert doge()["exchange_qty"] == "0"
    stored = api.get("/v1/events", params={"type": "PositionsReported"}).json()["events"]
    assert stored[-1]["input_id"] == taken["input_id"]


def test_the_same_lines_twice_are_stored_once(api: httpx.Client) -> None:
    body = closing_snapshot(SAMPLE_END - 1_000)
    first = api.post("/v1/inputs", content=body, headers=AUTH).json()
    again = api.post("/v1/inputs", content=body, headers=AUTH).json()
    assert first["duplicates"] == 0
    assert again["duplicates"] == 1
    assert again["inputs"] == first["inputs"]  # the same input id: the same input


def test_a_json_array_and_ndjson_are_the_same_inputs(api: httpx.Client) -> None:
    lines = [closing_snapshot(SAMPLE_END - 2_000), closing_snapshot(SAMPLE_END - 1_000)]
    as_ndjson = api.post("/v1/inputs", content=b"\n".join(lines), headers=AUTH).json()
    as_array = api.post("/v1/inputs", content=b"[" + b",".join(lines) + b"]", headers=AUTH).json()
    assert as_ndjson["accepted"] == 2
    assert as_array["duplicates"] == 2
    assert as_array["inputs"] == as_ndjson["inputs"]


def test_a_malformed_line_is_stored_as_a_rejected_input(api: httpx.Client) -> None:
    body = closing_snapshot(SAMPLE_END - 1_000) + b'\n{"at": 1762199334000, "venue\n\n'
    reply = api.post(
        "/v1/inputs", content=body, headers=AUTH | {"Content-Type": "application/x-ndjson"}
    )
    assert reply.status_code == 200
    report = reply.json()
    assert (report["accepted"], report["rejected"], report["blank"]) == (1, 1, 1)
    refused = report["inputs"][1]
    assert not refused["accepted"]
    assert refused["reason"].startswith("not JSON")
    stored = api.get("/v1/events", params={"type": "InputRejected"}).json()["events"]
    assert stored[-1]["input_id"] == refused["input_id"]
    assert stored[-1]["reason"] == refused["reason"]


@pytest.mark.parametrize(
    ("body", "blank"),
    [(b" ", 1), (b"\n", 1), (b" \n\t\n\n", 3), (b"\n\n%s\n\n", 3), (b"%s\n\n%s\n", 1)],
    ids=["a space", "a newline", "whitespace lines", "around one line", "between two"],
)
def test_blank_lines_are_counted_as_trueup_ingest_counts_them(
    api: httpx.Client, sampled: str, tmp_path: Path, body: bytes, blank: int
) -> None:
    body = body.replace(b"%s", closing_snapshot(SAMPLE_END - 1_000))
    capture = tmp_path / "capture.jsonl"
    capture.write_bytes(body)
    with Journal.open(sampled, create=False) as journal, capture.open("rb") as lines:
        ingested = TrueupService(journal).ingest([lines], detect=False)
    reply = api.post("/v1/inputs", content=body, headers=AUTH)
    assert reply.status_code == 200
    assert reply.json()["blank"] == ingested.blank == blank


def test_an_unknown_query_parameter_is_422_naming_it_and_stores_nothing(
    api: httpx.Client,
) -> None:
    before = api.get("/v1/events", params={"after": 0, "limit": 2000}).json()["next_after"]
    reply = api.post(
        "/v1/inputs",
        params={"dry_run": "true"},
        content=closing_snapshot(SAMPLE_END),
        headers=AUTH,
    )
    assert reply.status_code == 422
    assert [problem["loc"] for problem in reply.json()["detail"]] == [["query", "dry_run"]]
    assert api.get("/v1/events", params={"after": before}).json()["events"] == []


@pytest.mark.parametrize("encoding", ["gzip", "br", "x-unheard-of"])
def test_an_encoded_body_is_415_saying_what_is_taken_and_stores_nothing(
    api: httpx.Client, encoding: str
) -> None:
    before = api.get("/v1/events", params={"after": 0, "limit": 2000}).json()["next_after"]
    body = gzip.compress(closing_snapshot(SAMPLE_END))
    reply = api.post("/v1/inputs", content=body, headers=AUTH | {"Content-Encoding": encoding})
    assert reply.status_code == 415
    assert reply.headers["Accept-Encoding"] == "identity"
    assert encoding in reply.json()["detail"]
    assert "identity" in reply.json()["detail"]
    assert api.get("/v1/events", params={"after": before}).json()["events"] == []
    plain = {"Content-Encoding": "identity"}
    taken = api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END), headers=AUTH | plain)
    assert taken.json()["accepted"] == 1


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["no token", "a wrong token", "not a bearer"],
)
def test_writes_without_the_token_are_401_and_store_nothing(
    api: httpx.Client, headers: dict[str, str]
) -> None:
    before = api.get("/v1/events", params={"after": 0, "limit": 2000}).json()["next_after"]
    reply = api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END), headers=headers)
    assert reply.status_code == 401
    assert TOKEN not in reply.text
    after = api.get("/v1/events", params={"after": before}).json()
    assert after["events"] == []


def test_a_body_over_the_limit_is_413_declared_or_streamed(api: httpx.Client) -> None:
    over = b"\n".join([closing_snapshot(SAMPLE_END)] * (BODY_LIMIT // 100))
    assert len(over) > BODY_LIMIT
    declared = api.post("/v1/inputs", content=over, headers=AUTH)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(over), 4096):
            yield over[start : start + 4096]

    streamed = api.post("/v1/inputs", content=chunks(), headers=AUTH)
    assert streamed.status_code == 413
    assert (
        api.get("/v1/events", params={"type": "PositionsReported", "after": 0}).json()["events"][
            -1
        ]["at"]
        < SAMPLE_END
    )  # nothing of either was stored


@pytest.mark.parametrize("path", ["/v1/inputs", "/v1/triggers", "/v1/notify/test"])
def test_a_write_without_the_token_is_401_before_its_body_is_read(
    api: httpx.Client, path: str
) -> None:
    """Its headers alone are answered: a body of a gigabyte, never sent, is not waited
    for, read, held or parsed."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000000000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", api.base_url.port or 80), timeout=10) as client:
        client.sendall(head.encode() + b'{"venue": "')
        answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 401 ")
    assert b"a bearer token is required" in answer


def test_a_trigger_command_over_the_body_limit_is_413_declared_or_streamed(
    api: httpx.Client,
) -> None:
    over = orjson.dumps(
        {"venue": "bybit", "account": "main", "command": "add", "operator": "x" * BODY_LIMIT}
    )
    assert api.post("/v1/triggers", content=over, headers=AUTH).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(over), 4096):
            yield over[start : start + 4096]

    assert api.post("/v1/triggers", content=chunks(), headers=AUTH).status_code == 413
    assert api.get("/v1/triggers").json()["triggers"] == []


def test_a_422_names_the_field_without_echoing_a_long_value_back(api: httpx.Client) -> None:
    command = {"venue": "bybit", "account": "main", "command": "x" * 50_000, "operator": "a"}
    refused = api.post("/v1/triggers", json=command, headers=AUTH)
    assert refused.status_code == 422
    assert len(refused.content) < 2_000
    (error,) = refused.json()["detail"]
    assert (error["loc"], error["input"]) == (["body", "command"], "(50002 bytes, not echoed)")
    short = api.post("/v1/triggers", json=command | {"command": "bogus"}, headers=AUTH)
    assert short.json()["detail"][0]["input"] == "bogus"  # a short value still is


@pytest.mark.parametrize("field", ["operator", "trigger_id"])
def test_a_422_names_a_field_holding_a_lone_surrogate_without_echoing_it(
    api: httpx.Client, field: str
) -> None:
    # \ud800 is valid JSON text, but no Unicode: no JSON writer can send it back.
    command = b'{"venue": "bybit", "account": "main", "command": "add", "%s": "\\ud800"}'
    as_json = AUTH | {"Content-Type": "application/json"}
    refused = api.post("/v1/triggers", content=command % field.encode(), headers=as_json)
    assert refused.status_code == 422
    (error,) = [e for e in refused.json()["detail"] if e["loc"] == ["body", field]]
    assert error["input"] == "(not valid Unicode, not echoed)"


@pytest.mark.parametrize("path", ["/v1/inputs", "/v1/triggers"])
def test_a_client_that_leaves_mid_body_stores_nothing_and_costs_no_traceback(
    api: httpx.Client, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    line = closing_snapshot(SAMPLE_END)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH['Authorization']}\r\n"
        f"Content-Length: {len(line)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", api.base_url.port or 80)) as leaving:
        leaving.sendall(head.encode() + line[: len(line) // 2])
        time.sleep(0.2)  # the server reading the body
    time.sleep(0.2)  # and finding the client gone
    assert api.get("/health").status_code in (200, 503)  # still serving
    assert not [r for r in caplog.records if r.exc_info is not None]
    stored = api.get("/v1/events", params={"type": "PositionsReported", "after": 0}).json()
    assert stored["events"][-1]["at"] < SAMPLE_END  # nothing of it was stored


def test_the_openapi_document_is_served_but_no_page_that_loads_from_a_cdn(
    api: httpx.Client,
) -> None:
    """Swagger UI and ReDoc load their scripts from the internet, which trueup never reaches."""
    assert api.get("/openapi.json").json()["info"]["title"] == "trueup"
    assert api.get("/docs").status_code == 404
    assert api.get("/redoc").status_code == 404


# --- health and metrics ---------------------------------------------------------------------


def test_health_is_503_with_the_reasons_while_the_exchange_view_is_stale(
    api: httpx.Client,
) -> None:
    stale = api.get("/health")
    assert stale.status_code == 503
    document = stale.json()
    assert not document["healthy"]
    assert document["reasons"] == [
        "bybit/main: the exchange view is 70 s old (last complete snapshot at "
        "2025-11-03T19:47:45.000Z); answers need one within 15 s"
    ]
    api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    fresh = api.get("/health")
    assert fresh.status_code == 200
    (account,) = fresh.json()["accounts"]
    assert account["age_ms"] == 1_000
    assert account["complete_snapshot_iso"] == "2025-11-03T19:48:54.000Z"


DAY_MS = 24 * 60 * 60 * 1000


def account_line(at: int, account: str) -> bytes:
    """An intent of ``account`` (bybit): an account with input at ``at``, never a snapshot."""
    return line(opened(at, f"p-{account}", "BTCUSDT", "1") | {"account": account})


def test_health_judges_only_the_accounts_with_recent_input(api: httpx.Client) -> None:
    # An account quiet for longer than --quiet-after-ms (a day) has been retired: its stale
    # view no longer makes /health 503, yet it stays listed, with its last input.
    body = b"\n".join(
        [closing_snapshot(SAMPLE_END - 1_000), account_line(SAMPLE_END - DAY_MS - 1, "retired")]
    )
    api.post("/v1/inputs", content=body, headers=AUTH)
    quiet = api.get("/health")
    assert quiet.status_code == 200 and quiet.json()["reasons"] == []
    accounts = {a["account"]: a for a in quiet.json()["accounts"]}
    retired = accounts["retired"]
    assert (retired["followed"], retired["fresh"]) == (False, False)
    assert retired["last_input_at"] == SAMPLE_END - DAY_MS - 1
    assert accounts["main"]["followed"] and accounts["main"]["fresh"]
    # One with an input within the day is followed: its view never taken is a reason.
    api.post("/v1/inputs", content=account_line(SAMPLE_END - DAY_MS, "desk"), headers=AUTH)
    busy = api.get("/health")
    assert busy.status_code == 503
    assert [r.partition(":")[0] for r in busy.json()["reasons"]] == ["bybit/desk"]


def test_health_judges_an_account_serve_follows_however_quiet(sampled: str) -> None:
    following = Following(quiet_after_ms=60_000, accounts=frozenset({("bybit", "retired")}))
    settings = ApiSettings(token=TOKEN, following=following)
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, settings, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        body = b"\n".join(
            [
                closing_snapshot(SAMPLE_END - 1_000),
                account_line(SAMPLE_END - 60_001, "retired"),
                account_line(SAMPLE_END - 60_001, "other"),
            ]
        )
        client.post("/v1/inputs", content=body, headers=AUTH)
        health = client.get("/health")
    assert health.status_code == 503
    assert [r.partition(":")[0] for r in health.json()["reasons"]] == ["bybit/retired"]
    followed = {a["account"]: a["followed"] for a in health.json()["accounts"]}
    assert followed == {"main": True, "retired": True, "other": False}


def test_health_reports_each_executor_and_is_503_while_one_keeps_failing(
    api: httpx.Client, sampled: str
) -> None:
    api.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
    with Journal.open(sampled, create=False) as journal:
        beat = LoopHeartbeat(journal, executor_name("bybit", "main"), lambda: SAMPLE_END - 3)
        beat.success()
        healthy = api.get("/health").json()
        for _ in range(FAILURES_TOLD):
            beat.failure("ConnectionError: refused")
    (loop,) = healthy["loops"]
    assert (loop["name"], loop["last_success_at"], loop["problem"]) == (
        "executor.bybit.main",
        SAMPLE_END - 3,
        None,
    )
    assert healthy["healthy"] and healthy["accounts"][0]["last_trigger_fired_at"] is None
    failing = api.get("/health")
    assert failing.status_code == 503
    assert failing.json()["reasons"] == [
        "executor.bybit.main has failed 3 times in a row: ConnectionError: refused"
    ]


def test_metrics_count_requests_inputs_and_view_age(api: httpx.Client) -> None:
    api.get("/v1/positions")
    body = closing_snapshot(SAMPLE_END - 1_000) + b"\nnot json"
    api.post("/v1/inputs", content=body, headers=AUTH)
    reply = api.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    assert (
        'trueup_http_request_duration_seconds_count{endpoint="/v1/positions",method="GET"} 1.0'
        in text
    )
    assert 'trueup_api_inputs_total{channel="rest",outcome="accepted",venue="bybit"} 1.0' in text
    assert 'trueup_api_inputs_total{channel="other",outcome="rejected",venue="other"} 1.0' in text
    assert 'trueup_exchange_view_age_seconds{account="main",venue="bybit"} 1.0' in text
    assert 'trueup_exchange_view_fresh{account="main",venue="bybit"} 1.0' in text


# --- the command ----------------------------------------------------------------------------


def test_serve_refuses_another_host_without_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUEUP_API_TOKEN", raising=False)
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "TRUEUP_API_TOKEN" in capsys.readouterr().err


def test_serve_answers_on_loopback_and_keeps_the_token_out_of_its_log(tmp_path: Path) -> None:
    store = tmp_path / "journal.db"
    process, url = serve_process(str(store))
    try:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, timeout=30) as client:
            health = client.get("/health").json()
            assert (health["healthy"], health["reasons"], health["accounts"]) == (True, [], [])
            deadline = time.monotonic() + 10
            while len(health["projection"]["partitions_held"]) < len(ALL):
                assert time.monotonic() < deadline, "serve took no lease of the projection"
                time.sleep(0.05)
                health = client.get("/health").json()
            posted = client.post("/v1/inputs", content=closing_snapshot(SAMPLE_END), headers=AUTH)
            assert posted.json()["accepted"] == 1
            assert client.post("/v1/inputs", content=b"{}").status_code == 401
    finally:
        process.terminate()
        _, rest = process.communicate(timeout=30)
    assert process.returncode == 0
    assert TOKEN not in rest
    assert store.exists()  # serve takes inputs: it makes the journal, as ingest does
    with Journal.open(str(store), create=False) as journal:  # stopped, it let them go
        leases = journal.leases([tracker(n) for n in ALL])
        assert all(lease.acquire() for lease in leases.values())
        for lease in leases.values():
            lease.release()


@pytest.mark.parametrize("logged", [True, False], ids=["access-log", "no-access-log"])
def test_serve_logs_a_line_per_request_unless_told_not_to(tmp_path: Path, logged: bool) -> None:
    told = [] if logged else ["--no-access-log"]
    process, url = serve_process(str(tmp_path / "journal.db"), *told, stdout=subprocess.PIPE)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/v1/positions").status_code == 200
            assert client.get("/v1/can-open", params={"symbol": "x"}).status_code == 422
    finally:
        process.terminate()
        logged_lines, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert ('"GET /v1/positions HTTP/1.1" 200' in logged_lines) is logged
    assert ("/v1/can-open" in logged_lines) is logged


def test_a_server_without_the_projection_appends_and_leaves_detection_to_another(
    sampled: str,
) -> None:
    settings = ApiSettings(token=TOKEN, run_projection=False)
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, settings, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        report = client.post(
            "/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH
        ).json()
        assert report["accepted"] == 1
        assert report["emitted"] == {}  # nobody here detects: the process that runs it will
        health = client.get("/health").json()
        assert health["projection"]["runs_here"] is False
        assert health["projection"]["partitions_held"] == []
        assert health["projection"]["siblings"] == {}  # no --workers: none
        assert not any("projection" in reason for reason in health["reasons"])


def test_a_server_without_the_projection_says_when_nobody_processes_the_journal(
    sampled: str,
) -> None:
    """Under --no-projection /health and /metrics still tell how far behind the process that
    runs it is: a dead worker must not look like one keeping up."""
    settings = ApiSettings(token=TOKEN, run_projection=False, max_projection_lag_ms=300)
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, settings, lambda: SAMPLE_END) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        post = client.post("/v1/inputs", content=closing_snapshot(SAMPLE_END - 1_000), headers=AUTH)
        assert post.json()["accepted"] == 1

        def lagging() -> bool:
            return client.get("/health").status_code == 503

        wait_for("the server to see the input wait", lagging)
        health = client.get("/health").json()
        assert health["projection"]["runs_here"] is False
        assert health["projection"]["inputs_behind"] == 1
        (reason,) = [r for r in health["reasons"] if "projection" in r]
        assert reason.startswith("the projection is 1 input(s) behind the journal's end")
        assert "trueup_projection_lag_inputs 1.0" in client.get("/metrics").text

        with Journal.open(sampled, create=False) as worker:
            TrueupService(worker).detect()  # another process runs it, and catches up
        wait_for("the lag gone", lambda: client.get("/health").json()["projection"]["lag_ms"] == 0)
        assert not any("projection" in r for r in client.get("/health").json()["reasons"])


def test_a_post_another_server_detects_is_answered_once_it_has_processed_the_lines(
    sampled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page of inputs (each stored beside its marker) and, after them, the index rows
    # naming the new symbols: read back, those rows come on a page with no input.
    intents = [
        line(opened(SAMPLE_END - 2_000, f"bot-{n}", f"NEW{n}USDT", "1"))
        for n in range(PAGE // 2 - 1)
    ]
    body = b"\n".join([*intents, closing_snapshot(SAMPLE_END - 1_000)])
    settings = ApiSettings(token=TOKEN, max_body_bytes=BODY_LIMIT * 16)
    with (
        Journal.open(sampled, create=False) as held,
        running_server(held, settings, lambda: SAMPLE_END) as holder_url,
        httpx.Client(base_url=holder_url, timeout=30) as holder,
    ):

        def runs_all() -> bool:
            return bool(holder.get("/health").json()["projection"]["partitions_held"] == list(ALL))

        wait_for("the first server to run every partition", runs_all)
        # From here on nothing is recorded on a timer, only as inputs come: an answer that
        # waited for the journal's end (past the rows after its last input, recorded as
        # processed only with the next inputs) would wait out the limit.
        monkeypatch.setattr(http_projection, "RETRY_LEASES_S", float("inf"))
        waiting = replace(settings, max_projection_lag_ms=10_000)
        with (
            Journal.open(sampled, create=False) as journal,
            running_server(journal, waiting, lambda: SAMPLE_END) as url,
            httpx.Client(base_url=url, timeout=30) as client,
        ):
            answer = client.post("/v1/inputs", content=body, headers=AUTH).json()
            assert client.get("/health").json()["projection"]["partitions_held"] == []
    assert answer["accepted"] == PAGE // 2
    assert answer["detected"] is True  # not given up on
    assert answer["emitted"]["POSITION_CLOSED"] == 1  # detected by the other server


def test_inputs_appended_while_the_served_projection_catches_up_are_processed_at_its_next_poll(
    sampled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = input_event(opened(SAMPLE_END, "bot-late", "LATEUSDT", "1"))
    with (
        Journal.open(sampled, create=False) as journal,
        Journal.open(sampled, create=False) as writer,
    ):
        projection = http_projection.ServedProjection(journal, threading.Lock())
        catch_up = projection.leased.catch_up
        armed = threading.Event()
        appended: list[int] = []

        def then_an_append(*args: Any, **kwargs: Any) -> list[Any]:
            emitted = catch_up(*args, **kwargs)
            if armed.is_set() and not appended:
                writer.append([late])
                appended.append(writer.last_position())
            return emitted

        monkeypatch.setattr(projection.leased, "catch_up", then_an_append)
        projection.start()
        try:
            wait_for("every partition run", lambda: projection.leased.held == ALL)
            # From here on nothing is tried on a timer. An input wakes the projection; the
            # late one is appended by another process just after that step read the journal
            # to its end, and before the step asks where the end is now. Nothing more is
            # appended: only the next poll can find it.
            monkeypatch.setattr(http_projection, "RETRY_LEASES_S", float("inf"))
            armed.set()
            writer.append([input_event(opened(SAMPLE_END, "bot-first", "FIRSTUSDT", "1"))])
            wait_for("the late input appended", lambda: bool(appended))
            wait_for(
                "the late input processed",
                lambda: projection.leased.position >= appended[0],
                timeout=10,
            )
        finally:
            projection.stop()
