"""can-open weighs what trueup's own fills say, not only the exchange's reports: a position its
fills opened is held until a report of the exchange newer than them says otherwise (a
position push, or a complete list served long enough after them), so a bot whose position
stream lost a frame is not told to stack a second position on the first."""

from typing import Any

import pytest

from tests.inputs import (
    T0,
    accepted,
    execution_frame,
    intent,
    line,
    opened,
    position_frame,
    position_snapshot,
    tick,
)
from tests.test_can_open_honesty import fresh_account
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.pnl import closed_unseen
from trueup.domain.position import LIST_SETTLES_MS
from trueup.domain.reconciler import Reconciler

FILLED = T0 + 1_000  # the buy's execution time, and when its frame was recorded
ASKED = FILLED + 1_000


def fill(exec_id: str, side: str, qty: str, at: int = FILLED, **more: Any) -> dict[str, Any]:
    item = {
        "symbol": "BTCUSDT",
        "exec_id": exec_id,
        "order_id": f"o-{exec_id}",
        "side": side,
        "exec_price": "100000",
        "exec_qty": qty,
        "exec_time": at,
        "seq": at - T0,  # Bybit's cross sequence, which its position pushes carry too
        **more,
    }
    return execution_frame(at, item)


def asked(
    journal: Journal, *later: dict[str, Any], at: int = ASKED, **more: Any
) -> tuple[bool, list[str]]:
    """can-open BTCUSDT at ``at``, on an account flat at T0, after a buy of 0.1 at FILLED and
    ``later``: from the views (now), and by replay (an instant before a later tick), which
    must agree."""
    service = TrueupService(journal, clock=lambda: at)
    service.ingest([[*fresh_account(), line(fill("e-1", "Buy", "0.1")), *map(line, later)]])
    now = service.can_open("bybit", "main", "BTCUSDT", **more)
    service.ingest([[line(tick(at + 1))]])  # the views move past ``at``: it is replayed
    past = service.can_open("bybit", "main", "BTCUSDT", at=at, **more)
    assert (past.allowed, past.reasons) == (now.allowed, now.reasons)
    return now.allowed, now.reasons


def test_a_position_trueup_s_fills_opened_before_any_report_of_it_is_a_no(
    journal: Journal,
) -> None:
    assert asked(journal) == (
        False,
        [
            "trueup's fills opened LONG 0.1 BTCUSDT (idx 0) at 2025-11-03T19:43:21.000Z and no "
            "report of the exchange has named it since: it is taken as held"
        ],
    )


def test_fills_that_take_it_flat_again_leave_the_symbol_open(journal: Journal) -> None:
    sold = fill("e-2", "Sell", "0.1", FILLED + 200, closed_size="0.1")
    assert asked(journal, sold) == (True, [])


def test_a_push_after_the_fill_speaks_for_the_key(journal: Journal) -> None:
    held = position_frame(
        FILLED + 5, symbol="BTCUSDT", side="Buy", size="0.1", entry_price="100000", seq=1_005,
        updated_time=FILLED + 5,
    )  # fmt: skip
    allowed, reasons = asked(journal, held)
    assert not allowed
    assert reasons == ["the exchange holds LONG 0.1 BTCUSDT (idx 0, seq 1005)"]


def test_a_flat_push_after_the_fill_says_a_close_trueup_did_not_see(journal: Journal) -> None:
    flat = position_frame(
        FILLED + 300, symbol="BTCUSDT", side="", size="0", entry_price="0", seq=1_300,
        updated_time=FILLED + 300,
    )  # fmt: skip
    assert asked(journal, flat) == (True, [])


def test_a_list_served_right_after_the_fill_may_not_show_it_yet(journal: Journal) -> None:
    # Served 150 ms after the fill, the list may not have caught up with it yet.
    allowed, reasons = asked(journal, position_snapshot(FILLED + 150))
    assert not allowed
    assert reasons[0].startswith("trueup's fills opened LONG 0.1 BTCUSDT")


def test_a_list_served_long_enough_after_the_fill_that_omits_it_is_the_exchange_s_word(
    journal: Journal,
) -> None:
    served = FILLED + LIST_SETTLES_MS + 1
    assert asked(journal, position_snapshot(served), at=served + 1_000) == (True, [])


@pytest.mark.parametrize(
    ("served", "closed"), [(FILLED + 150, False), (FILLED + LIST_SETTLES_MS + 1, True)]
)
def test_a_list_that_omits_the_fills_position_closes_it_at_the_venue_once_settled(
    served: int, closed: bool
) -> None:
    """The PnL ledger reads the settled list as a close it did not see the fill of (its
    lifecycle shows closed at the venue); one served too soon after the fill, as nothing."""
    reconciler = Reconciler()
    for captured in (*fresh_account(), line(fill("e-1", "Buy", "0.1"))):
        reconciler.apply(decode_line(captured))
    reconciler.apply(accepted(position_snapshot(served)))
    book = reconciler.book("bybit", "main")
    position = book.position(book.key("linear", "BTCUSDT", 0))
    ledger = book.pnl.keys[position.key]
    assert closed_unseen(ledger, position.exchange, position.exchange_at) is closed


def test_a_flat_push_older_than_the_fill_by_the_venue_s_sequence_is_no_word_on_it(
    journal: Journal,
) -> None:
    # Recorded after the fill, but made before it (Bybit's sequence says so).
    flat = position_frame(
        FILLED + 300, symbol="BTCUSDT", side="", size="0", entry_price="0", seq=900,
        updated_time=FILLED - 100,
    )  # fmt: skip
    allowed, reasons = asked(journal, flat)
    assert not allowed
    assert reasons[0].startswith("trueup's fills opened LONG 0.1 BTCUSDT")


def test_a_list_served_right_after_the_fill_says_nothing_of_a_key_the_bot_named_too(
    journal: Journal,
) -> None:
    # The bot's intent gives the key a place in the book before any report of it: the list's
    # omission, 150 ms after the fill, is no more a word on it for that.
    claimed = opened(FILLED + 10, "p-1", "BTCUSDT", "0.1")
    allowed, reasons = asked(journal, claimed, position_snapshot(FILLED + 150))
    assert not allowed
    assert reasons[0].startswith("trueup's fills opened LONG 0.1 BTCUSDT")


def test_the_bot_s_record_of_the_fills_position_is_not_noted_as_held_by_nobody(
    journal: Journal,
) -> None:
    # The exchange's silence is no word on a key trueup's fills hold: its record is not
    # "OPEN but the exchange has not shown it" beside the reason that says it is held.
    claimed = opened(FILLED + 10, "p-1", "BTCUSDT", "0.1")
    service = TrueupService(journal, clock=lambda: ASKED)
    service.ingest([[*fresh_account(), line(fill("e-1", "Buy", "0.1")), line(claimed)]])
    verdict = service.can_open("bybit", "main", "BTCUSDT")
    assert not verdict.allowed
    assert not [note for note in verdict.notes if "has not shown it" in note]


def test_a_fill_made_just_before_a_list_that_settled_the_earlier_ones_is_held(
    journal: Journal,
) -> None:
    """The list, served 6 s after the first buy, shows it closed by fills trueup did not
    see; but a second buy 500 ms before it, come after it, is one it need not show yet."""
    served = FILLED + 6_000
    late = fill("e-2", "Buy", "0.1", FILLED + 5_500)
    late["at"] = served + 500  # its frame came after the list
    allowed, reasons = asked(journal, position_snapshot(served), late, at=served + 1_000)
    assert not allowed
    assert reasons[0].startswith("trueup's fills opened LONG 0.2 BTCUSDT")


def test_a_list_served_long_enough_after_the_fill_that_lists_the_key_flat_is_its_word(
    journal: Journal,
) -> None:
    """As an omission: Aster's positionRisk lists every symbol, one flat with an updateTime
    of 0, older than any fill, which must not leave the fill's position held for ever."""
    served = FILLED + LIST_SETTLES_MS + 1
    flat = {"symbol": "BTCUSDT", "side": "", "size": "0", "seq": 1, "updated_time": 0}
    assert asked(journal, position_snapshot(served, flat), at=served + 1_000) == (True, [])


def test_a_spot_buy_opens_no_position_can_open_waits_on(journal: Journal) -> None:
    """Bybit's spot has no positions: no list will ever name its BTCUSDT, and the linear
    BTCUSDT is not held by it."""
    spot = fill("e-9", "Buy", "0.1", category="spot")
    service = TrueupService(journal, clock=lambda: ASKED)
    service.ingest([[*fresh_account(), line(spot)]])
    assert service.can_open("bybit", "main", "BTCUSDT").allowed


def test_fills_before_the_first_list_of_positions_are_weighed_once_one_comes(
    journal: Journal,
) -> None:
    """The fills came before trueup had ever listed the account's positions; the first list,
    served right after them, vouches for the symbol but may not show them yet. The views
    answered yes there, for the list touched no key (hypothesis found it): a replay, no."""
    mode = intent(T0, kind="account_mode", mode="LIVE")
    service = TrueupService(journal, clock=lambda: ASKED)
    service.ingest([[line(mode), line(fill("e-1", "Buy", "0.1"))]])
    service.ingest([[line(position_snapshot(FILLED + 150))]])  # the views written in between
    now = service.can_open("bybit", "main", "BTCUSDT")
    service.ingest([[line(tick(ASKED + 1))]])  # the views move past ASKED: it is replayed
    past = service.can_open("bybit", "main", "BTCUSDT", at=ASKED)
    assert (now.allowed, now.reasons) == (past.allowed, past.reasons)
    assert not now.allowed and now.reasons[0].startswith("trueup's fills opened LONG 0.1 BTCUSDT")


def test_a_record_the_exchange_never_showed_is_noted_so_before_any_list_too(
    journal: Journal,
) -> None:
    """Before any list of positions what the exchange holds is unknown: the note said it
    "holds nothing", beside the reason saying it is unknown (a walkthrough)."""
    service = TrueupService(journal, clock=lambda: ASKED)
    mode = intent(T0, kind="account_mode", mode="LIVE")
    service.ingest([[line(mode), line(opened(FILLED, "a1", "BTCUSDT", "0.1"))]])
    verdict = service.can_open("bybit", "main", "BTCUSDT")
    assert not verdict.allowed
    assert verdict.reasons[0].endswith("what it holds is unknown")
    assert verdict.notes == ["local record a1 is OPEN but the exchange has not shown it"]


def test_positions_lists_a_position_trueup_s_fills_opened_as_held_until_a_report_names_it(
    journal: Journal,
) -> None:
    service = TrueupService(journal, clock=lambda: ASKED)
    service.ingest([[*fresh_account(), line(fill("e-1", "Buy", "0.1"))]])
    [row] = service.positions(venue="bybit", account="main", symbol="BTCUSDT")
    # The exchange column's 0 is no report's word: the finding says what can-open weighs.
    assert row["exchange_qty"] == "0"
    assert row["findings"] == [
        "UNREPORTED LONG 0.1: trueup's fills opened it at 2025-11-03T19:43:21.000Z and no "
        "report of the exchange has named it since: taken as held"
    ]
    held = position_frame(
        FILLED + 5, symbol="BTCUSDT", side="Buy", size="0.1", entry_price="100000", seq=1_005,
        updated_time=FILLED + 5,
    )  # fmt: skip
    service.ingest([[line(held)]])
    [row] = service.positions(venue="bybit", account="main", symbol="BTCUSDT")
    assert row["exchange_qty"] == "0.1"
    assert not any(f.startswith("UNREPORTED") for f in row["findings"])  # the venue's word now


def test_before_any_list_positions_summary_and_can_open_all_hold_what_trueup_s_fills_opened(
    journal: Journal,
) -> None:
    """No list of the venue's taken yet: no word against the fills, so every answer takes
    the position as held (a walkthrough found a flat, clean row beside summary's count)."""
    service = TrueupService(journal, clock=lambda: ASKED)
    mode = line(intent(T0, kind="account_mode", mode="LIVE"))
    service.ingest([[mode, line(fill("e-1", "Buy", "0.1"))]])

    [row] = service.positions(venue="bybit", account="main", symbol="BTCUSDT")
    assert [f.split(":")[0] for f in row["findings"]] == ["UNREPORTED LONG 0.1"]
    assert service.summary(venue="bybit", account="main").unreported == 1
    reasons = service.can_open("bybit", "main", "BTCUSDT").reasons
    assert any(r.startswith("trueup's fills opened LONG 0.1 BTCUSDT") for r in reasons)
