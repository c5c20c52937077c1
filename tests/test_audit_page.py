"""`trueup audit --html FILE`: one self-contained page for a bug report, the position's
timeline as a chart of local and exchange quantity with what trueup said as markers, tested
in a real headless browser."""

import re
from pathlib import Path

import pytest

from tests.browser import tab
from trueup.adapters.store.codec import as_json
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.runners.audit_page import audit_page
from trueup.runners.cli import main

SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
BTC = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("audit-page") / "journal.db")
    assert main(["--store", url, "ingest", str(SAMPLE)]) == 0
    return url


def said_about_btc(store: str) -> int:
    with Journal.open(f"sqlite://{store}") as journal:
        return len(TrueupService(journal).emitted_about("bybit", "main", "BTCUSDT", 0))


def write_page(store: str, tmp_path: Path) -> Path:
    page = tmp_path / "btc.html"
    assert main(["--store", store, "audit", *BTC, "--html", str(page)]) == 0
    return page


def test_the_page_is_one_file_that_fetches_nothing(store: str, tmp_path: Path) -> None:
    html = write_page(store, tmp_path).read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert "url(http" not in html
    assert "uPlot" in html  # the chart library ships inside the page


def test_the_chart_draws_one_marker_per_emitted_event_and_a_row_per_input(
    store: str, tmp_path: Path
) -> None:
    emitted = said_about_btc(store)
    with Journal.open(f"sqlite://{store}") as journal:
        inputs = len(TrueupService(journal).audit("bybit", "main", "BTCUSDT").timeline)
    with tab() as opened:
        page = opened.page
        page.goto(write_page(store, tmp_path).as_uri())
        page.wait_for_selector('#chart[data-ready="1"]')
        assert emitted > 0
        assert page.get_attribute("#chart", "data-markers") == str(emitted)
        assert page.locator("tr.emitted").count() == emitted
        assert page.locator('[data-part="inputs"] tr').count() == inputs
        page.hover("#chart .u-over", position={"x": 1, "y": 100})  # the first input
        assert "LocalPositionOpened" in page.inner_text("#detail")  # its detail, on hover
        assert opened.errors == []


def test_an_input_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    hostile = '</script><script>document.title="pwned"</script><!--'
    state: dict[str, object] = {"exchange": None, "local": {"qty": "1", "positions": []}}
    state["open_orders"] = []
    audit = {
        "venue": "bybit",
        "account": "main",
        "category": "linear",
        "symbol": hostile,
        "position_idx": 0,
        "as_of": None,
        "state": state,
        "timeline": [
            {
                "at": 1762199110000,
                "type": "LocalPositionOpened",
                "source": None,
                "input_id": "b83b4e06-c0af-5408-b880-75afc2ceca45",
                "state": state,
            },
        ],
    }
    page_file = tmp_path / "hostile.html"
    page_file.write_text(audit_page(audit, []))
    with tab() as opened:
        opened.page.goto(page_file.as_uri())
        opened.page.wait_for_selector('#chart[data-ready="1"]')
        assert opened.page.title() == "trueup audit"  # no script of the input's ran
        assert opened.page.inner_text('[data-part="title"]') == f"bybit/main {hostile} (idx 0)"
        assert opened.errors == []


def test_what_trueup_said_about_a_position_is_its_own_events_up_to_the_instant_asked(
    store: str,
) -> None:
    with Journal.open(f"sqlite://{store}") as journal:
        service = TrueupService(journal)
        stored = service.emitted_about("bybit", "main", "BTCUSDT", 0)
        said = [event for _, event in stored]
        assert {(e.symbol, e.position_idx) for e in said} == {("BTCUSDT", 0)}
        assert [position for position, _ in stored] == sorted(p for p, _ in stored)
        cut = said[2].at
        assert service.emitted_about("bybit", "main", "BTCUSDT", 0, as_of=cut) == [
            (p, e) for p, e in stored if e.at <= cut
        ]
        assert [as_json(e)["type"] for e in said][:3] == [
            "ENTRY_SUBMITTED",
            "RISK_WARNING",  # at 10x, liquidation 9.5 % away
            "ENTRY_FILLED",
        ]


ETH = ["--venue", "bybit", "--account", "main", "--symbol", "ETHUSDT"]
HAND_CLOSE_AT = 1_762_199_242_524  # Bybit's flat ETHUSDT push: the rule closed p-eth-1 there


def test_the_chart_of_a_position_closed_by_hand_steps_the_local_side_to_flat_at_the_close(
    store: str, tmp_path: Path
) -> None:
    page_file = tmp_path / "eth.html"
    assert main(["--store", store, "audit", *ETH, "--html", str(page_file)]) == 0
    with tab() as opened:
        page = opened.page
        page.goto(page_file.as_uri())
        page.wait_for_selector('#chart[data-ready="1"]')
        xs, local = page.evaluate("(() => { const d = chart.plot.data; return [d[0], d[1]]; })()")
        steps = [(round(x * 1000), qty) for x, qty in zip(xs, local, strict=True)]
        held = [qty for at, qty in steps if at < HAND_CLOSE_AT]
        after = [qty for at, qty in steps if at >= HAND_CLOSE_AT]
        assert held[-1] == -2
        assert after and set(after) == {0}  # flat from the close on, as `positions` says
        # The close's input, on hover: what closed the local position, and why.
        index = next(i for i, (at, _) in enumerate(steps) if at >= HAND_CLOSE_AT)
        x = page.evaluate(f"chart.plot.valToPos(chart.plot.data[0][{index}], 'x')")
        # A hair short of it: what trueup said sits a microsecond after, other inputs 4 ms
        # before, both within the pixel a mouse can point at.
        page.evaluate(f"chart.plot.setCursor({{left: {x} - 0.001, top: 100}})")
        assert "closed p-eth-1 by POSITION_CLOSED: MANUAL" in page.inner_text("#detail")
        assert opened.errors == []
