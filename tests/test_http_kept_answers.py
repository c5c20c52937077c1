"""`trueup serve` keeps can-open's facts and the positions documents while the journal's end
does not move, and never answers from before a change: whoever stored it (a POST, another
process), and whatever the clock has done meanwhile (a fresh view going stale turns a yes
into a no with no input at all). Through the real server, on SQLite and on PostgreSQL.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.http_server import AUTH, SAMPLE_END, TOKEN, closing_snapshot, running_server
from trueup.adapters.store.journal import Journal
from trueup.domain.rules.config import RuleConfig
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

FRESH_FOR_MS = RuleConfig().freshness_limit_ms
# A complete snapshot (the exchange holds nothing) a minute after the sample's end: the
# exchange view is fresh from then until FRESH_FOR_MS after it.
SNAPSHOT_AT = SAMPLE_END + 60_000
Json = dict[str, Any]


class Clock:
    """The server's clock, moved by the test."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(SNAPSHOT_AT + 1_000)


@pytest.fixture
def api(sampled: str, clock: Clock) -> Iterator[httpx.Client]:
    settings = ApiSettings(token=TOKEN)
    with (
        Journal.open(sampled, create=False) as journal,
        running_server(journal, settings, clock) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def kept(api: httpx.Client, endpoint: str, outcome: str) -> int:
    """How many requests to ``endpoint`` were answered from kept facts (hit) or by reading
    the journal (miss), as /metrics counts them."""
    pattern = (
        rf'^trueup_http_kept_answers_total\{{endpoint="{endpoint}",outcome="{outcome}"\}} (\S+)$'
    )
    found = re.search(pattern, api.get("/metrics").text, re.MULTILINE)
    assert found is not None, f"no {endpoint} {outcome} counter in /metrics"
    return int(float(found.group(1)))


def can_open(api: httpx.Client, symbol: str = "NEWUSDT", **more: Any) -> Json:
    query = {"venue": "bybit", "account": "main", "symbol": symbol} | more
    reply = api.get("/v1/can-open", params=query)
    assert reply.status_code == 200
    answer: Json = reply.json()
    return answer


def post(api: httpx.Client, body: bytes) -> None:
    reply = api.post("/v1/inputs", content=body, headers=AUTH)
    assert reply.status_code == 200
    assert reply.json()["accepted"] == 1


def test_the_same_question_at_the_same_journal_end_is_answered_from_what_was_read(
    api: httpx.Client,
) -> None:
    post(api, closing_snapshot(SNAPSHOT_AT))
    first = can_open(api)
    misses, hits = kept(api, "can-open", "miss"), kept(api, "can-open", "hit")
    assert can_open(api) == first
    assert can_open(api, side="long") == first  # the side is judged, not read: still kept
    assert kept(api, "can-open", "hit") == hits + 2
    assert kept(api, "can-open", "miss") == misses
    rows = api.get("/v1/positions").json()
    assert api.get("/v1/positions").json() == rows
    assert kept(api, "positions", "hit") >= 1


def test_a_kept_yes_turns_no_when_the_exchange_view_goes_stale_with_nothing_stored(
    api: httpx.Client, clock: Clock
) -> None:
    post(api, closing_snapshot(SNAPSHOT_AT))
    assert can_open(api)["allowed"], can_open(api)["reasons"]
    clock.now = SNAPSHOT_AT + FRESH_FOR_MS  # the last instant the view is fresh
    assert can_open(api)["allowed"]
    hits = kept(api, "can-open", "hit")
    clock.now = SNAPSHOT_AT + FRESH_FOR_MS + 1
    stale = can_open(api)
    assert not stale["allowed"]
    assert any("exchange view is 15.001 s old" in reason for reason in stale["reasons"])
    assert kept(api, "can-open", "hit") == hits + 1  # the journal had not moved: kept facts
    clock.now += 4_000
    assert any("exchange view is 19.001 s old" in r for r in can_open(api)["reasons"])
    # A new complete snapshot, and the answer is yes again.
    post(api, closing_snapshot(clock.now - 500))
    assert can_open(api)["allowed"]


def test_a_post_is_seen_by_the_next_answer(api: httpx.Client) -> None:
    held = can_open(api, "DOGEUSDT")
    assert any("the exchange holds" in reason for reason in held["reasons"])
    rows = api.get("/v1/positions", params={"symbol": "DOGEUSDT"}).json()
    assert rows["positions"][0]["exchange_qty"] == "1500"
    assert can_open(api, "DOGEUSDT") == held  # kept, while nothing moved

    post(api, closing_snapshot(SNAPSHOT_AT))
    closed = can_open(api, "DOGEUSDT")
    assert not any("the exchange holds" in reason for reason in closed["reasons"])
    after = api.get("/v1/positions", params={"symbol": "DOGEUSDT"}).json()
    assert after["positions"][0]["exchange_qty"] == "0"
    assert after["cursor"] > rows["cursor"]


def test_what_another_process_stores_is_seen_by_the_next_answer(
    api: httpx.Client, sampled: str, tmp_path: Path
) -> None:
    before = api.get("/v1/positions", params={"symbol": "DOGEUSDT"}).json()
    assert can_open(api, "DOGEUSDT") == can_open(api, "DOGEUSDT")
    capture = tmp_path / "closing.jsonl"
    capture.write_bytes(closing_snapshot(SNAPSHOT_AT) + b"\n")
    # `trueup ingest` on the same journal, not through the server: no request of the
    # server's has seen it coming.
    assert main(["--store", sampled, "ingest", "--no-projections", str(capture)]) == 0
    after = api.get("/v1/positions", params={"symbol": "DOGEUSDT"}).json()
    assert after["cursor"] > before["cursor"]
    assert after["positions"][0]["exchange_qty"] == "0"
    assert not any("the exchange holds" in r for r in can_open(api, "DOGEUSDT")["reasons"])


def test_a_question_as_of_an_instant_is_kept_apart_from_now(api: httpx.Client) -> None:
    post(api, closing_snapshot(SNAPSHOT_AT))
    now = can_open(api, "DOGEUSDT")
    before = can_open(api, "DOGEUSDT", at=SAMPLE_END)
    assert not any("the exchange holds" in r for r in now["reasons"])
    assert any("the exchange holds" in r for r in before["reasons"])
    assert can_open(api, "DOGEUSDT") == now
