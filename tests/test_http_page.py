"""The page at `/` of `trueup serve`, in a real headless browser: the reconciled positions
of a known capture, findings highlighted, a row that turns as soon as a closing snapshot is
posted, and the chosen position's audit chart with one marker per emitted event."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import Tab, tab
from tests.http_server import TOKEN, running_server
from tests.inputs import T0, line, position_frame, position_snapshot
from tests.inputs import opened as claimed
from trueup.adapters.store.journal import Journal
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings

SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
SAMPLE_END = 1_762_199_335_000
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The base URL of a server over a journal holding the recorded Bybit session."""
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    with (
        Journal.open(store, create=False) as journal,
        running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END) as url,
    ):
        yield url


@pytest.fixture
def opened(served: str) -> Iterator[Tab]:
    with tab() as browser_tab:
        browser_tab.page.goto(served)
        browser_tab.page.wait_for_selector("#positions tbody[data-rows]")
        yield browser_tab


def row(opened: Tab, symbol: str) -> str:
    return f'#positions tr[data-key="bybit/main/{symbol}/0"]'


def test_the_page_shows_the_positions_of_the_capture_with_findings_highlighted(
    served: str, opened: Tab
) -> None:
    rows = httpx.get(f"{served}/v1/positions").json()["positions"]
    page = opened.page
    assert page.locator("#positions tbody tr").count() == len(rows) > 0
    for expected in rows:
        key = "/".join(str(expected[k]) for k in ("venue", "account", "symbol", "position_idx"))
        shown = page.locator(f'#positions tr[data-key="{key}"]')
        assert shown.locator("td.local").inner_text() == expected["local_qty"]
        assert shown.locator("td.exchange").inner_text() == expected["exchange_qty"]
        risk = expected["risk"] or {}
        assert shown.locator("td.score").inner_text() == (risk.get("score") or "-")
        assert shown.locator("td.leverage").inner_text() == (risk.get("leverage") or "-")
        unrealised = (expected["pnl"] or {}).get("unrealised_pnl")
        assert shown.locator("td.unrealised").inner_text() == (unrealised or "-")
        assert ("finding" in (shown.get_attribute("class") or "")) == bool(expected["findings"])
    assert opened.errors == []


def test_a_finding_within_its_grace_is_shown_but_not_as_an_alarm(tmp_path: Path) -> None:
    """1 BTCUSDT claimed, 0.5 held, and no input since: the drift is pending, not told."""
    capture = tmp_path / "apart.jsonl"
    held = position_frame(
        T0 + 1_000, symbol="BTCUSDT", side="Buy", size="0.5", seq=1, updated_time=T0 + 1_000
    )
    capture.write_bytes(line(claimed(T0, "p-1", "BTCUSDT", "1")) + b"\n" + line(held) + b"\n")
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    with (
        Journal.open(store, create=False) as journal,
        running_server(journal, ApiSettings(token=TOKEN), lambda: T0 + 1_500) as url,
        tab() as browser_tab,
    ):
        browser_tab.page.goto(url)
        browser_tab.page.wait_for_selector("#positions tbody[data-rows]")
        shown = browser_tab.page.locator('#positions tr[data-key="bybit/main/BTCUSDT/0"]')
        assert shown.locator("td.findings").inner_text().startswith("DRIFT_PENDING ")
        assert (shown.get_attribute("class") or "").split() == ["pending"]
        assert browser_tab.errors == []


def test_a_posted_closing_snapshot_turns_the_row_within_a_second(served: str, opened: Tab) -> None:
    page = opened.page
    doge = row(opened, "DOGEUSDT")
    assert page.inner_text(f"{doge} td.exchange") == "1500"
    closing = line(position_snapshot(SAMPLE_END - 1_000))  # the exchange holds nothing at all
    reply = httpx.post(f"{served}/v1/inputs", content=closing, headers=AUTH)
    assert reply.json()["accepted"] == 1
    page.wait_for_function(
        "selector => document.querySelector(selector).textContent === '0'",
        arg=f"{doge} td.exchange",
        timeout=1_000,
    )
    assert opened.errors == []


def test_a_chosen_position_shows_its_audit_with_one_marker_per_emitted_event(
    served: str, opened: Tab
) -> None:
    query = {"venue": "bybit", "account": "main", "symbol": "BTCUSDT"}
    said = httpx.get(f"{served}/v1/emitted", params=query).json()["events"]
    page = opened.page
    page.click(row(opened, "BTCUSDT"))
    page.wait_for_selector('#chart[data-ready="1"]')
    assert page.get_attribute("#chart", "data-markers") == str(len(said)) != "0"
    assert page.locator("tr.emitted").count() == len(said)
    assert "BTCUSDT" in page.inner_text('#audit [data-part="title"]')
    assert opened.errors == []


def test_while_the_server_is_down_the_rows_say_since_when_and_come_back_live(
    tmp_path: Path,
) -> None:
    """A walkthrough's page kept its rows as though live, its script throwing, while serve
    was down."""
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    with tab() as browser_tab, Journal.open(store, create=False) as journal:
        page = browser_tab.page
        with running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END) as url:
            page.goto(url)
            page.wait_for_selector("#positions tbody[data-rows]")
            page.wait_for_function("document.getElementById('live').textContent === 'live'")
            port = url.rsplit(":", 1)[1]
        page.wait_for_selector("#positions tbody.stale", timeout=10_000)
        assert page.inner_text("#live").startswith("trueup unreachable since ")
        assert page.locator("#positions tbody tr").count() > 0  # as of then, and said so
        with running_server(journal, ApiSettings(token=TOKEN), lambda: SAMPLE_END, int(port)):
            page.wait_for_selector("#positions tbody:not(.stale)", timeout=10_000)
    thrown = [e for e in browser_tab.errors if "TypeError" in e or "Uncaught" in e]
    assert thrown == []
