"""The application layer: every use case takes typed arguments and gives a typed answer,
with no argparse and no printing, so the CLI, HTTP and NATS can all stand on it."""

from pathlib import Path

import pytest

from tests.inputs import T0, intent, line, opened, position_frame, position_snapshot
from tests.scenarios import busy_session
from trueup.adapters.feed import Sink
from trueup.adapters.store.journal import Journal
from trueup.application.answers import Cleanup, StaleRecord
from trueup.application.can_open import CanOpenAnswer
from trueup.application.service import ExchangeSource, TrueupService
from trueup.domain.emitted import Emitted
from trueup.domain.rules.config import RuleConfig


@pytest.fixture
def service(journal: Journal) -> TrueupService:
    return TrueupService(journal, clock=lambda: T0 + 60_000)


def held_btc() -> list[bytes]:
    claim = opened(T0 + 1_000, "p-1", "BTCUSDT", "0.3")
    shown = position_frame(
        T0 + 2_000, symbol="BTCUSDT", side="Buy", size="0.3", seq=1, updated_time=T0 + 2_000
    )
    mode = intent(T0, kind="account_mode", mode="LIVE")
    # And the exchange asked for all its positions since: what it holds is known.
    return [line(mode), line(claim), line(shown), line(held_now())]


def paper_leftover() -> list[bytes]:
    claim = opened(T0 + 3_000, "p-paper", "SOLUSDT", "5", mode="PAPER")
    return [line(claim), line({"at": T0 + 10_000, "channel": "clock"})]


def test_ingest_reports_its_counts_and_what_the_detectors_emitted(service: TrueupService) -> None:
    report = service.ingest([held_btc(), [b"", b"not json"]])
    assert (report.accepted, report.rejected, report.blank, report.lines) == (4, 1, 1, 5)
    assert report.detected_here
    again = service.ingest([held_btc()])
    assert again.duplicates == 4


def test_can_open_answers_no_with_every_reason_while_the_exchange_holds_it(
    service: TrueupService,
) -> None:
    service.ingest([held_btc()])
    answer = service.can_open("bybit", "main", "BTCUSDT")
    assert isinstance(answer, CanOpenAnswer)
    assert not answer.allowed
    assert any("the exchange holds LONG 0.3 BTCUSDT" in r for r in answer.reasons)
    assert service.can_open("bybit", "main", "ETHUSDT").allowed


def test_a_declined_cleanup_closes_nothing_and_a_confirmed_one_is_in_the_audit(
    service: TrueupService,
) -> None:
    service.ingest([held_btc(), paper_leftover()])
    seen: list[list[StaleRecord]] = []

    def decline(stale: list[StaleRecord]) -> bool:
        seen.append(stale)
        return False

    declined = service.clean_stale(Cleanup.ALL, "alice", confirm=decline)
    assert [r.position_id for r in declined.stale] == ["p-paper"]
    assert declined.closed == [] and len(seen) == 1
    done = service.clean_stale(Cleanup.NOT_ON_EXCHANGE, "alice", exchange=asked(held_now()))
    assert done.exchange is not None and done.exchange.complete
    assert [r.position_id for r in done.closed] == ["p-paper"]
    assert done.exit_reason == "STALE_CLEANUP"
    assert service.stale_records() == []
    history = service.audit("bybit", "main", "SOLUSDT")
    assert [e.type for e in history.timeline][-1] == "LocalPositionCleaned"


def held_now(*, next_cursor: str = "") -> dict[str, object]:
    """What the exchange answers when asked now: BTCUSDT still held, on one page (or the
    first of several, with ``next_cursor``)."""
    item = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 2}
    return position_snapshot(
        T0 + 50_000, {**item, "updated_time": T0 + 2_000}, next_cursor=next_cursor
    )


def asked(*replies: dict[str, object]) -> ExchangeSource:
    """The account's exchange, answering a fetch with these replies."""

    def fetch(sink: Sink) -> None:
        for reply in replies:
            sink(dict(reply))

    return ExchangeSource("bybit", "main", fetch)


@pytest.mark.parametrize(
    ("replies", "why_not"),
    [
        ((), "no position list came back"),
        ((held_now(next_cursor="page-2"),), "a position list was left unfinished (pages missing)"),
    ],
    ids=["nothing", "unfinished"],
)
def test_closing_what_the_exchange_does_not_hold_closes_nothing_without_a_complete_answer(
    service: TrueupService, replies: tuple[dict[str, object], ...], why_not: str
) -> None:
    service.ingest([held_btc(), paper_leftover()])
    done = service.clean_stale(Cleanup.NOT_ON_EXCHANGE, "alice", exchange=asked(*replies))
    assert done.exchange is not None and not done.exchange.complete
    assert done.exchange.why_not == why_not
    assert done.closed == []
    assert [r.position_id for r in service.stale_records()] == ["p-paper"]


def test_a_refused_answer_is_recorded_and_closes_nothing(service: TrueupService) -> None:
    service.ingest([held_btc(), paper_leftover()])
    refused = {**held_now(), "data": {"retCode": 10006, "retMsg": "Too many visits!"}}
    done = service.clean_stale(Cleanup.NOT_ON_EXCHANGE, "alice", exchange=asked(refused))
    assert done.exchange is not None and done.exchange.why_not is not None
    assert "10006" in done.exchange.why_not
    assert done.closed == []
    assert [e.type for _, e in service.journal.all_events()].count("InputRejected") == 1


def test_events_after_a_cursor_page_through_the_journal_once_each_in_order(
    service: TrueupService, tmp_path: Path
) -> None:
    service.ingest([[line(r) for r in busy_session(600)]])
    everything = [position for position, _ in service.journal.all_events()]
    seen: list[int] = []
    after = 0
    while page := service.events_after(after, limit=100).events:
        seen += [position for position, _ in page]
        after = service.events_after(after, limit=100).next_after
    assert seen == everything
    emitted = service.events_after(0, emitted_only=True, limit=10_000).events
    assert emitted and all(isinstance(e, Emitted) for _, e in emitted)


def test_rules_are_put_in_force_once(service: TrueupService) -> None:
    rules = RuleConfig(cooldown_ms=60_000)
    assert service.put_rules_in_force(rules, "test")
    assert not service.put_rules_in_force(rules, "test")
    assert service.journal.rules_in_force() == rules


def test_a_diagnosis_gathers_state_findings_and_the_verdict(service: TrueupService) -> None:
    service.ingest([held_btc()])
    report = service.diagnose("bybit", "main", "BTCUSDT", last=5).report
    assert report["symbol"] == "BTCUSDT"
    assert report["can_open"]["allowed"] is False
    assert report["positions"][0]["state"]["exchange"]["size"] == "0.3"


def test_a_diagnosis_of_a_past_instant_shows_that_instant_alone(service: TrueupService) -> None:
    held = held_btc()
    closed = position_frame(
        T0 + 20_000, symbol="BTCUSDT", side="", size="0", seq=2, updated_time=T0 + 20_000
    )
    # No fill says why: reported on the tick past close_cause_grace_ms.
    ticked = {"at": T0 + 23_000, "venue": "bybit", "account": "main", "channel": "clock"}
    service.ingest([held, [line(closed), line(ticked)]])
    now = service.diagnose("bybit", "main", "BTCUSDT").report
    assert "POSITION_CLOSED" in {e["type"] for e in now["emitted"]}
    before = service.diagnose("bybit", "main", "BTCUSDT", at=T0 + 10_000).report
    assert before["positions"][0]["state"]["exchange"]["size"] == "0.3"
    assert before["cooldown_until"] is None
    assert all(e["at"] <= T0 + 10_000 for e in before["emitted"])
    assert "POSITION_CLOSED" not in {e["type"] for e in before["emitted"]}


@pytest.mark.parametrize("detect", [True, False], ids=["from the views", "by replay"])
def test_positions_of_one_account_or_symbol_are_those_rows_of_all(
    service: TrueupService, detect: bool
) -> None:
    service.ingest([[line(record) for record in busy_session(600, seed=31)]], detect=detect)
    every = service.positions()
    assert every
    for venue, account in sorted({(row["venue"], row["account"]) for row in every}):
        mine = [row for row in every if (row["venue"], row["account"]) == (venue, account)]
        assert service.positions(venue=venue, account=account) == mine
        symbol = mine[0]["symbol"]
        assert service.positions(venue=venue, account=account, symbol=symbol) == [
            row for row in mine if row["symbol"] == symbol
        ]
    assert service.positions(venue="bybit", account="nobody") == []
