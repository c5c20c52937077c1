"""A position trueup did not see open (opened before it watched): a fill that closes some of
it opens no lifecycle the other way and realises nothing of trueup's; its unrealised PnL is
the venue's until the key is flat, and a position opened after that is trueup's own again."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli_output import json_lines, text_lines
from tests.inputs import ACCOUNT, T0, accepted, execution_frame, position_frame
from tests.triggers import add, price
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages
from trueup.adapters.hyperliquid import messages as hl
from trueup.domain.emitted import Emitted, PnlMismatch, TriggerFired
from trueup.domain.keys import PositionKey
from trueup.domain.pnl import differs_at_venue, unrealised
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import DEFAULTS
from trueup.domain.vocabulary import Whose
from trueup.runners.cli import main
from trueup.runners.output import PARTIAL_RECORD

Json = dict[str, Any]
KEY = PositionKey("bybit", ACCOUNT, "linear", "BTCUSDT", 0)
BEFORE = T0 - 3_600_000  # when the long was opened: an hour before trueup's capture starts


def position_list(at: int) -> Json:
    """/v5/position/list at trueup's start: a BTCUSDT long of 1 at 100000."""
    item = messages.position_item(
        symbol="BTCUSDT", side="Buy", size="1", seq=100, updated_time=BEFORE,
        entry_price="100000", mark_price="100000", unrealised_pnl="0", rest=True,
    )  # fmt: skip
    body = messages.rest_ok("linear", [item], time=at)
    return messages.capture_rest(at, ACCOUNT, "/v5/position/list", {"category": "linear"}, body)


def sell(at: int, n: int, qty: str, price: str, *, pnl: str, closed: str | None = None) -> Json:
    """A Sell that the venue says closed ``closed`` (all of it by default), realising ``pnl``."""
    return execution_frame(
        at,
        dict(
            symbol="BTCUSDT", order_id=f"o-{n}", exec_id=f"s{n}", side="Sell", exec_qty=qty,
            exec_price=price, exec_fee="1", closed_size=closed or qty, exec_pnl=pnl,
            exec_time=at, seq=100 + n,
        ),
    )  # fmt: skip


def buy(at: int, n: int, qty: str, price: str) -> Json:
    return execution_frame(
        at,
        dict(
            symbol="BTCUSDT", order_id=f"o-{n}", exec_id=f"b{n}", side="Buy", exec_qty=qty,
            exec_price=price, exec_fee="1", closed_size="0", exec_pnl="0", exec_time=at,
            seq=100 + n,
        ),
    )  # fmt: skip


def held(at: int, n: int, side: str, size: str, *, mark: str, upnl: str, entry: str) -> Json:
    """The position push after fill ``n`` (the same cross sequence)."""
    return position_frame(
        at, symbol="BTCUSDT", side=side, size=size, seq=100 + n, updated_time=at,
        entry_price=entry, mark_price=mark, unrealised_pnl=upnl,
    )  # fmt: skip


# The walkthrough's capture: the long held from before, a protective half taken at 101500
# (the venue's +750 on the half left), the rest closed at 101000, then a long opened anew.
REDUCED = [
    position_list(T0),
    sell(T0 + 1_000, 1, "0.5", "101500", pnl="750"),
    held(T0 + 1_001, 1, "Buy", "0.5", mark="101500", upnl="750", entry="100000"),
]
REOPENED = [
    *REDUCED,
    sell(T0 + 2_000, 2, "0.5", "101000", pnl="500"),
    held(T0 + 2_001, 2, "", "0", mark="101000", upnl="0", entry="0"),
    buy(T0 + 3_000, 3, "0.2", "102000"),
    held(T0 + 3_001, 3, "Buy", "0.2", mark="102500", upnl="100", entry="102000"),
]


def ingested(store_url: str, tmp_path: Path, records: list[Json]) -> str:
    path = tmp_path / "capture.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in records))
    assert main(["--store", store_url, "ingest", str(path)]) == 0
    return store_url


def test_a_reduce_of_a_position_opened_before_trueup_watched_shows_the_venues_unrealised(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, REDUCED)
    (row,) = json_lines(capsys, url, "positions", "--json")
    pnl = row["pnl"]
    # Not a short opened by the Sell, worth 0 at its own price: no lifecycle trueup saw open,
    # so the venue's +750, saying so; and no realised PnL of trueup's made up for the half.
    assert pnl["open"] is None
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("750", "venue")
    assert (Decimal(pnl["realised_pnl"]), Decimal(pnl["fees"])) == (Decimal(0), Decimal(1))
    (summary,) = json_lines(capsys, url, "summary", "--json")
    assert (summary["unrealised_pnl"], summary["unrealised_from_venue"]) == ("750", 1)
    (ccxt,) = json_lines(capsys, url, "positions", "--format", "ccxt")
    assert (ccxt["side"], ccxt["contracts"], ccxt["unrealizedPnl"]) == ("long", 0.5, 750.0)


def test_once_flat_a_position_trueup_sees_open_is_trueups_own_again(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, REOPENED)
    (row,) = json_lines(capsys, url, "positions", "--json")
    pnl = row["pnl"]
    # (102500 - 102000) x 0.2 from its own fill; the key's realised PnL is none of the two
    # closes of the long trueup never saw open (their fees it saw paid).
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("100.0", "trueup")
    assert (pnl["open"]["side"], pnl["open"]["size"], pnl["open"]["lifecycle"]) == (
        "LONG",
        "0.2",
        1,
    )
    assert (Decimal(pnl["realised_pnl"]), Decimal(pnl["fees"])) == (Decimal(0), Decimal(3))


def run(records: list[Json], reconciler: Reconciler) -> list[Emitted]:
    return [e for record in records for e in reconciler.apply(accepted(record))]


def test_a_profit_trigger_fires_on_the_venues_figure_after_the_reduce() -> None:
    reconciler = Reconciler()
    emitted = run(REDUCED, reconciler)
    trigger = add(T0 + 2_000, kind="profit", level="500")
    emitted += run([trigger, price(T0 + 3_000, "101500")], reconciler)
    (fired,) = [e for e in emitted if isinstance(e, TriggerFired)]
    assert fired.unrealised_pnl == Decimal(750)
    # The venue says the Sell closed what trueup never saw opened: told once, when no entry
    # fill has come for it within pnl_settle_ms (the next input of the account after that).
    assert not [e for e in emitted if isinstance(e, PnlMismatch)]
    emitted = run([price(T0 + 1_000 + DEFAULTS.pnl_settle_ms, "101500")], reconciler)
    (mismatch,) = [e for e in emitted if isinstance(e, PnlMismatch)]
    assert (mismatch.trade_id, mismatch.venue_pnl, mismatch.trueup_pnl) == (
        "s1",
        Decimal(750),
        Decimal(0),
    )
    later = run([price(T0 + 2 * DEFAULTS.pnl_settle_ms, "101500")], reconciler)
    assert not [e for e in later if isinstance(e, PnlMismatch)]  # told once


def ledger_after(records: list[Json]) -> tuple[Reconciler, Any]:
    reconciler = Reconciler()
    run(records, reconciler)
    book = reconciler.book("bybit", ACCOUNT)
    return reconciler, book


def test_a_sell_through_zero_opens_trueups_own_short_with_what_it_opened() -> None:
    # The long of 1 sold 1.3 at once: the venue closed 1, and 0.3 opened a short trueup sees.
    _, book = ledger_after(
        [position_list(T0), sell(T0 + 1_000, 1, "1.3", "101000", pnl="1000", closed="1")]
    )
    ledger = book.pnl.key(KEY)
    life = ledger.open
    assert (life.side.value, life.size, life.cost) == ("SHORT", Decimal("0.3"), Decimal("30300"))
    # Its share of the fee, the rest the close's: the fee is all paid, once.
    assert Decimal("0.23") < life.fees < Decimal("0.24") and ledger.fees == 1
    assert ledger.unseen is None and ledger.realised == 0


def test_the_flat_push_before_the_closing_fill_still_ends_the_unseen_position() -> None:
    # The position topic's flat push came before the execution that made it flat.
    records = [
        *REDUCED,
        held(T0 + 2_000, 2, "", "0", mark="101000", upnl="0", entry="0"),
        sell(T0 + 2_001, 2, "0.5", "101000", pnl="500"),
        buy(T0 + 3_000, 3, "0.2", "102000"),
    ]
    _, book = ledger_after(records)
    life = book.pnl.key(KEY).open
    assert (life.side.value, life.size) == ("LONG", Decimal("0.2"))


def test_a_flat_push_older_than_the_last_fill_does_not_end_the_unseen_position() -> None:
    # An add to the long trueup did not see open, then a flat push older than it (a close on
    # its way): still not a position trueup saw whole, so still the venue's figure.
    records = [
        *REDUCED,
        buy(T0 + 2_000, 3, "0.2", "101200"),
        held(T0 + 2_001, 2, "", "0", mark="101000", upnl="0", entry="0"),
        held(T0 + 2_002, 3, "Buy", "0.7", mark="101200", upnl="840", entry="100000"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert ledger.open is None and ledger.unseen is not None
    report, received = book.positions[KEY].exchange, book.positions[KEY].exchange_at
    assert unrealised(ledger, report, received) == (Decimal(840), Whose.VENUE)


def test_without_a_report_the_unrealised_of_an_unseen_position_is_unknown_not_0() -> None:
    _, book = ledger_after([sell(T0 + 1_000, 1, "0.5", "101500", pnl="750")])
    assert unrealised(book.pnl.key(KEY), None, 0) == (None, None)


def test_an_over_close_of_trueups_lifecycle_opens_nothing_the_other_way() -> None:
    # trueup saw 0.1 of a long of 0.3 bought (two fills missed): the venue closed 0.3.
    records = [buy(T0, 1, "0.1", "100"), sell(T0 + 1_000, 2, "0.3", "110", pnl="3", closed="0.3")]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert ledger.open is None and ledger.unseen is not None
    (closed,) = book.pnl.take_closed()
    assert (closed.side, closed.max_size, closed.realised_pnl) == ("LONG", Decimal("0.1"), 1)


def test_an_add_to_a_position_trueup_did_not_see_open_opens_no_lifecycle_of_its_own(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The long of 1 at 100000 held from before; the bot buys 1 more at 101000 (closing
    # nothing). The venue holds 2 at 100500: not trueup's long of 1 at 101000, worth
    # (102000 - 101000) x 1 = 1000, but the venue's +3000, saying so.
    records = [
        position_list(T0),
        buy(T0 + 1_000, 1, "1", "101000"),
        held(T0 + 1_001, 1, "Buy", "2", mark="102000", upnl="3000", entry="100500"),
    ]
    url = ingested(store_url, tmp_path, records)
    (row,) = json_lines(capsys, url, "positions", "--json")
    pnl = row["pnl"]
    assert pnl["open"] is None
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("3000", "venue")


def test_once_the_added_to_position_is_flat_the_next_is_trueups_own() -> None:
    records = [
        position_list(T0),
        buy(T0 + 1_000, 1, "1", "101000"),
        sell(T0 + 2_000, 2, "2", "102000", pnl="3000"),
        held(T0 + 2_001, 2, "", "0", mark="102000", upnl="0", entry="0"),
        buy(T0 + 3_000, 3, "0.2", "102000"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert ledger.open is not None and ledger.open.size == Decimal("0.2")
    assert ledger.realised == 0


def test_a_position_push_before_the_fill_that_opened_it_leaves_the_position_trueups() -> None:
    # Bybit orders no topic against another: the push of the long (seq 101) before its
    # execution (seq 101). The push shows the fill's own position, not one held before it.
    records = [
        held(T0 + 1_000, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        buy(T0 + 1_001, 1, "1", "100000"),
    ]
    _, book = ledger_after(records)
    life = book.pnl.key(KEY).open
    assert life is not None and life.size == 1


def test_a_push_of_trueups_closed_long_arriving_late_leaves_the_next_long_trueups() -> None:
    # trueup's long of 1 opened (seq 101) and closed (seq 102) by fills; the push of the
    # long (seq 101) is still the last word when the next long opens (seq 103): that push
    # shows the long trueup closed, not a position it did not see open.
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        sell(T0 + 2_000, 2, "1", "100500", pnl="500"),
        buy(T0 + 3_000, 3, "0.5", "100400"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert ledger.open is not None and ledger.open.size == Decimal("0.5")
    assert ledger.realised == 500


# --- Aster: no closedSize; its realised profit rp, or a reduce-only order, says a close ----

ASTER = "m"
ASTER_KEY = PositionKey("aster", ASTER, "perp", "BTCUSDT", 0)


def aster_lines(reduce_only: bool, rp: str) -> list[Json]:
    risk = aster.position_risk(
        symbol="BTCUSDT", position_amt="1", update_time=BEFORE, entry_price="100000",
        mark_price="100000", unrealized_profit="0",
    )  # fmt: skip
    trade = aster.order_trade_update(
        event_time=T0 + 1_001, transaction_time=T0 + 1_000, symbol="BTCUSDT", order_id=7,
        side="SELL", qty="0.5", execution_type="TRADE", status="FILLED", last_qty="0.5",
        last_price="101500", filled_qty="0.5", avg_price="101500", commission="1",
        trade_id=70, reduce_only=reduce_only, realized_profit=rp,
    )  # fmt: skip
    position = aster.account_position(
        symbol="BTCUSDT", amount="0.5", entry_price="100000", unrealized="750"
    )
    update = aster.account_update(
        event_time=T0 + 1_003, transaction_time=T0 + 1_002, reason="ORDER",
        balances=[aster.balance("USDT", "1000")], positions=[position],
    )  # fmt: skip
    return [
        aster.capture_rest(T0, ASTER, "/fapi/v2/positionRisk", {}, [risk]),
        aster.capture_ws(T0 + 1_001, ASTER, trade),
        aster.capture_ws(T0 + 1_003, ASTER, update),
    ]


# The last: a fill of an order not reduce-only with no realised profit (rp 0, as a close at
# the entry price has): only the venue's position held before it says it closed some.
@pytest.mark.parametrize(("reduce_only", "rp"), [(False, "750"), (True, "0"), (False, "0")])
def test_on_aster_a_close_of_what_trueup_did_not_see_open_opens_nothing(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], reduce_only: bool, rp: str
) -> None:
    url = ingested(store_url, tmp_path, aster_lines(reduce_only, rp))
    (row,) = json_lines(capsys, url, "positions", "--json")
    pnl = row["pnl"]
    assert pnl["open"] is None
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("750", "venue")


def aster_flip(mark: str) -> list[Json]:
    """The long of 1 at 100000 held from before; the bot sells 3 at 101000 at once (rp: the
    close of the 1, +1000), and the account update after it shows the short of 2 at 101000."""
    risk = aster.position_risk(
        symbol="BTCUSDT", position_amt="1", update_time=BEFORE, entry_price="100000",
        mark_price="100000", unrealized_profit="0",
    )  # fmt: skip
    trade = aster.order_trade_update(
        event_time=T0 + 1_001, transaction_time=T0 + 1_000, symbol="BTCUSDT", order_id=8,
        side="SELL", qty="3", execution_type="TRADE", status="FILLED", last_qty="3",
        last_price="101000", filled_qty="3", avg_price="101000", commission="1.5",
        trade_id=80, realized_profit="1000",
    )  # fmt: skip
    unrealized = str((Decimal("101000") - Decimal(mark)) * 2)
    short = aster.account_position(
        symbol="BTCUSDT", amount="-2", entry_price="101000", unrealized=unrealized
    )
    update = aster.account_update(
        event_time=T0 + 1_002, transaction_time=T0 + 1_000, reason="ORDER",
        balances=[aster.balance("USDT", "1000")], positions=[short],
    )  # fmt: skip
    priced = aster.position_risk(
        symbol="BTCUSDT", position_amt="-2", update_time=T0 + 1_000, entry_price="101000",
        mark_price=mark, unrealized_profit=unrealized,
    )  # fmt: skip
    return [
        aster.capture_rest(T0, ASTER, "/fapi/v2/positionRisk", {}, [risk]),
        aster.capture_ws(T0 + 1_001, ASTER, trade),
        aster.capture_ws(T0 + 1_002, ASTER, update),
        aster.capture_rest(T0 + 2_000, ASTER, "/fapi/v2/positionRisk", {}, [priced]),
    ]


def test_on_aster_a_flip_of_a_long_trueup_did_not_see_open_opens_its_short() -> None:
    # Aster names no closed size: the venue's position before the fill (the long of 1 its
    # positionRisk showed) says 1 of the 3 closed what trueup never saw opened, and the 2
    # past zero are a short trueup sees whole, at 101000, as on Bybit and Hyperliquid.
    _, book = ledger_after_on("aster", ASTER, aster_flip(mark="100500"))
    ledger = book.pnl.key(ASTER_KEY)
    life = ledger.open
    assert life is not None and ledger.unseen is None
    assert (life.side.value, life.size, life.cost) == ("SHORT", Decimal("2"), Decimal("202000"))
    assert (ledger.past_fees, life.fees) == (Decimal("0.5"), Decimal("1.0"))
    assert ledger.realised == 0


def test_on_aster_the_short_a_flip_opened_shows_trueups_figures(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, aster_flip(mark="100500"))
    (row,) = json_lines(capsys, url, "positions", "--json")
    pnl = row["pnl"]
    assert (pnl["open"]["side"], pnl["open"]["size"]) == ("SHORT", "2")
    # (101000 - 100500) x 2, from its own fill and the mark: trueup's, not only the venue's.
    assert (Decimal(pnl["unrealised_pnl"]), pnl["unrealised_source"]) == (Decimal(1000), "trueup")


def test_on_aster_a_report_older_than_the_last_unseen_fill_sizes_no_flip() -> None:
    # Two sells backfilled together (userTrades after a reconnect), no update between: the
    # long of 1 the report shows is not what the second sold against (the first took 0.5 of
    # it), so it opens no short of a size the venue never held; the venue's word stands.
    risk, flip = aster_flip(mark="100500")[:2]
    first = aster.order_trade_update(
        event_time=T0 + 501, transaction_time=T0 + 500, symbol="BTCUSDT", order_id=7,
        side="SELL", qty="0.5", execution_type="TRADE", status="FILLED", last_qty="0.5",
        last_price="100800", filled_qty="0.5", avg_price="100800", commission="0.25",
        trade_id=70, realized_profit="400",
    )  # fmt: skip
    records = [risk, aster.capture_ws(T0 + 501, ASTER, first), flip]
    _, book = ledger_after_on("aster", ASTER, records)
    ledger = book.pnl.key(ASTER_KEY)
    assert ledger.open is None and ledger.unseen is not None


def aster_short(at: int, amount: str) -> Json:
    """The account update of the transaction at ``at``: the venue holds ``amount`` (signed)."""
    short = aster.account_position(symbol="BTCUSDT", amount=amount, entry_price="101000")
    update = aster.account_update(
        event_time=at + 2, transaction_time=at, reason="ORDER",
        balances=[aster.balance("USDT", "1000")], positions=[short],
    )  # fmt: skip
    return aster.capture_ws(at + 2, ASTER, update)


def short_of(book: Any, size: str) -> None:
    """The flip's short is trueup's own, of ``size`` at 101000; a third of the fee of the
    sell of 3 went with each 1 it closed of what trueup did not see open."""
    ledger = book.pnl.key(ASTER_KEY)
    life = ledger.open
    assert life is not None and ledger.unseen is None
    assert (life.side.value, life.size, life.cost) == (
        "SHORT",
        Decimal(size),
        Decimal(size) * 101000,
    )
    assert ledger.past_fees + life.fees == Decimal("1.5")
    assert life.fees == Decimal("1.5") * Decimal(size) / 3
    assert ledger.realised == 0


@pytest.mark.parametrize("whole", [True, False])
def test_on_aster_a_flip_whose_account_update_came_before_it_opens_its_short(whole: bool) -> None:
    # The user stream sends the update after the fill before the fill itself: the long of 1
    # that positionRisk showed before the fill still says 1 of the 3 closed it, whether the
    # sell of 3 filled its order or part of it (an order of 4).
    risk, trade, update, _ = aster_flip(mark="100500")
    if not whole:
        trade["data"]["o"].update({"q": "4", "X": "PARTIALLY_FILLED"})
    _, book = ledger_after_on("aster", ASTER, [risk, update, trade])
    short_of(book, "2")


@pytest.mark.parametrize("order", ["update, fill", "fill, update", "fill, positionRisk"])
def test_on_aster_a_flip_is_sized_by_the_venues_position_after_it_in_either_order(
    order: str,
) -> None:
    # No report of the position before the fill (trueup started after): the venue's position
    # as of the fill's own transaction, the short of 2, is what the sell of 3 left, the fill
    # alone its order's: 3 - 2 = 1 closed the long trueup never saw, 2 opened past zero.
    _, trade, update, priced = aster_flip(mark="100500")
    records = {
        "update, fill": [update, trade],
        "fill, update": [trade, update],
        "fill, positionRisk": [trade, priced],
    }[order]
    _, book = ledger_after_on("aster", ASTER, records)
    short_of(book, "2")


def test_on_aster_a_late_older_fill_folds_the_flip_again_split_as_the_venue_says() -> None:
    # The long of 1, then a buy of 0.5 (T0 + 500) whose update came but whose fill came
    # only later by userTrades, then the sell of 3: the venue's short of 1.5 after it. Folded
    # again in the venue's order, the buy adds to the long trueup did not see open, and the
    # sell closes 1.5 of it and opens the short of 1.5 (not 2, nor a long of 0.5 of its own).
    risk, trade, _, _ = aster_flip(mark="100500")
    bought = aster.user_trade(
        symbol="BTCUSDT", trade_id=60, order_id=6, side="BUY", price="100600", qty="0.5",
        time=T0 + 500, commission="0",
    )  # fmt: skip
    late = aster.capture_rest(T0 + 3_000, ASTER, "/fapi/v1/userTrades", {}, [bought])
    records = [risk, aster_short(T0 + 500, "1.5"), trade, aster_short(T0 + 1_000, "-1.5"), late]
    _, book = ledger_after_on("aster", ASTER, records)
    short_of(book, "1.5")


@pytest.mark.parametrize("what", ["part of its order", "a report made later"])
def test_on_aster_a_report_that_may_count_other_fills_sizes_no_flip(what: str) -> None:
    # A fill of 3 of an order of 4 (the rest may have filled in the same transaction), or a
    # report of a later transaction (other fills may have come between): the short of 2 it
    # shows does not tell what this fill opened, and nothing older does. The venue's word.
    _, trade, update, _ = aster_flip(mark="100500")
    if what == "part of its order":
        trade["data"]["o"].update({"q": "4", "X": "PARTIALLY_FILLED"})
    else:
        update = aster_short(T0 + 1_500, "-2")
    _, book = ledger_after_on("aster", ASTER, [update, trade])
    ledger = book.pnl.key(ASTER_KEY)
    assert ledger.open is None and ledger.unseen is not None


# --- Hyperliquid: no closedSize; its startPosition (the position before the fill) says ------

HL_USER = "0x" + "ab" * 20
HL_KEY = PositionKey("hyperliquid", HL_USER, "perp", "ETH", 0)


def hl_long_held(at: int) -> Json:
    """clearinghouseState at trueup's start: an ETH long of 1 at 3000 it did not see open."""
    position = hl.asset_position(
        coin="ETH", szi="1.0", entry_px="3000.0", position_value="3000.0", unrealized_pnl="0.0"
    )
    state = hl.clearinghouse_state([position], time=at, account_value="10000.0")
    return hl.capture_rest(at, HL_USER, "clearinghouseState", {"user": HL_USER}, state)


def hl_sell(at: int, tid: int, sz: str, px: str, *, direction: str, closed_pnl: str) -> Json:
    fill = hl.user_fill(
        coin="ETH", px=px, sz=sz, side="A", time=at, oid=tid, tid=tid, start_position="1.0",
        direction=direction, closed_pnl=closed_pnl, fee="1.35",
    )  # fmt: skip
    return hl.capture_ws(at, HL_USER, hl.user_fills_frame(HL_USER, [fill]))


def test_on_hyperliquid_a_close_at_the_entry_price_opens_no_short() -> None:
    # "Close Long" at 3000, the long's own entry: closedPnl 0.0, so only startPosition tells
    # it closed something. Not a short of 1 opened at 3000 while the venue is flat.
    _, book = ledger_after_on(
        "hyperliquid",
        HL_USER,
        [
            hl_long_held(T0),
            hl_sell(T0 + 1_000, 1, "1.0", "3000.0", direction="Close Long", closed_pnl="0.0"),
        ],
    )
    ledger = book.pnl.key(HL_KEY)
    assert ledger.open is None and ledger.unseen is not None
    assert (ledger.realised, ledger.fees) == (0, Decimal("1.35"))


def test_on_hyperliquid_a_flip_of_a_long_trueup_did_not_see_open_opens_its_short() -> None:
    # "Long > Short": 3 sold against a long of 1 (startPosition 1.0): 1 closed what trueup
    # never saw opened, and the 2 past zero are a short trueup sees whole, at 3100.
    _, book = ledger_after_on(
        "hyperliquid",
        HL_USER,
        [
            hl_long_held(T0),
            hl_sell(T0 + 1_000, 1, "3.0", "3100.0", direction="Long > Short", closed_pnl="100.0"),
        ],
    )
    ledger = book.pnl.key(HL_KEY)
    life = ledger.open
    assert life is not None and ledger.unseen is None
    assert (life.side.value, life.size, life.cost) == ("SHORT", Decimal("2.0"), Decimal("6200.00"))
    # The fee split by quantity: a third to the close trueup did not see open, the rest its own.
    assert (ledger.past_fees, life.fees) == (Decimal("0.45"), Decimal("0.90"))


def test_on_hyperliquid_a_buy_adding_to_a_long_trueup_did_not_see_open_opens_nothing() -> None:
    # The fill before any report of the position: its startPosition (1.0) says the venue held
    # a long it adds to. Not a lifecycle of 1 at 3100 vouched for beside the venue's 2.
    fill = hl.user_fill(
        coin="ETH", px="3100.0", sz="1.0", side="B", time=T0, oid=7, tid=7,
        start_position="1.0", direction="Open Long", closed_pnl="0.0", fee="1.35",
    )  # fmt: skip
    position = hl.asset_position(
        coin="ETH", szi="2.0", entry_px="3050.0", position_value="6300.0", unrealized_pnl="200.0"
    )
    state = hl.clearinghouse_state([position], time=T0 + 1_000, account_value="10000.0")
    records = [
        hl.capture_ws(T0, HL_USER, hl.user_fills_frame(HL_USER, [fill])),
        hl.capture_rest(T0 + 1_000, HL_USER, "clearinghouseState", {"user": HL_USER}, state),
    ]
    _, book = ledger_after_on("hyperliquid", HL_USER, records)
    ledger = book.pnl.key(HL_KEY)
    assert ledger.open is None and ledger.unseen is not None
    assert ledger.fees == Decimal("1.35")
    assert unrealised(
        ledger, book.positions[HL_KEY].exchange, book.positions[HL_KEY].exchange_at
    ) == (Decimal(200), Whose.VENUE)


def ledger_after_on(venue: str, account: str, records: list[Json]) -> tuple[Reconciler, Any]:
    reconciler = Reconciler()
    run(records, reconciler)
    return reconciler, reconciler.book(venue, account)


# A long trueup saw opened, then closed while the stream was down: the re-sync's position
# list omits it and no fill of the close came (no catch-up of executions).
def flat_list(at: int) -> Json:
    """/v5/position/list listing nothing: every linear position flat."""
    body = messages.rest_ok("linear", [], time=at)
    return messages.capture_rest(at, ACCOUNT, "/v5/position/list", {"category": "linear"}, body)


WHERE = ("--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT")
OPENED_THEN_FLAT = [
    buy(T0 + 1_000, 1, "1", "100000"),
    held(T0 + 1_001, 1, "Buy", "1", mark="99950", upnl="-50", entry="100000"),
    flat_list(T0 + 60_000),
]


def test_a_lifecycle_the_venue_shows_flat_with_no_closing_fill_holds_no_unrealised(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ingested(store_url, tmp_path, OPENED_THEN_FLAT)
    pnl, summarised, line = shown_pnl(capsys, url)
    # Not the -50 of a long the venue no longer holds: nothing held, nothing unrealised, as
    # `summary` says too; the lifecycle stays open, marked, for the fill that closed it.
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("0", "venue")
    assert (pnl["open"]["size"], pnl["open"]["closed_at_venue"]) == ("1", True)
    assert summarised == 0
    assert "open lifecycle 1 LONG 1, flat at the venue (its closing fill not seen)" in line


def shown_pnl(capsys: pytest.CaptureFixture[str], url: str) -> tuple[Json, Decimal, str]:
    """The key's PnL as `positions --json` gives it, the unrealised PnL `summary` sums, and
    the line `diagnose` says it in."""
    (row,) = json_lines(capsys, url, "positions", "--json")
    (summary,) = json_lines(capsys, url, "summary", "--json")
    (line,) = [x for x in text_lines(capsys, url, "diagnose", *WHERE) if "pnl:" in x]
    return row["pnl"], Decimal(summary["unrealised_pnl"]), line


def test_an_add_before_any_report_of_a_position_held_from_before_shows_the_venues_unrealised(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # No report of the long of 1 at 100000 yet when the bot buys 1 more at 101000: the fill
    # opens a lifecycle of 1. The push after it holds 2 at 100500: the ledger's (102000 -
    # 101000) x 1 = 1000 is not what is held, the venue's +3000 is, saying so.
    records = [
        buy(T0 + 1_000, 1, "1", "101000"),
        held(T0 + 1_001, 1, "Buy", "2", mark="102000", upnl="3000", entry="100500"),
    ]
    pnl, summarised, line = shown_pnl(capsys, ingested(store_url, tmp_path, records))
    assert (pnl["unrealised_pnl"], pnl["unrealised_source"]) == ("3000", "venue")
    assert (pnl["open"]["size"], pnl["open"]["differs_at_venue"]) == ("1", True)
    assert summarised == 3000
    assert "open lifecycle 1 LONG 1, another position at the venue (another size or" in line


def test_the_next_add_does_not_hide_that_the_lifecycle_is_not_the_whole_position() -> None:
    # The push of the first add's own transaction held 2 where the lifecycle held 1: after a
    # second add the venue holds 3 at 101000, +3000 at 102000, not the lifecycle's +1000.
    records = [
        buy(T0 + 1_000, 1, "1", "101000"),
        held(T0 + 1_001, 1, "Buy", "2", mark="102000", upnl="3000", entry="100500"),
        buy(T0 + 2_000, 2, "1", "102000"),
    ]
    _, book = ledger_after(records)
    assert (
        unrealised(
            book.pnl.key(KEY), book.positions[KEY].exchange, book.positions[KEY].exchange_at
        )[1]
        is Whose.VENUE
    )
    later = held(T0 + 2_001, 2, "Buy", "3", mark="102000", upnl="3000", entry="101000")
    _, book = ledger_after([*records, later])
    assert unrealised(
        book.pnl.key(KEY), book.positions[KEY].exchange, book.positions[KEY].exchange_at
    ) == (
        Decimal(3000),
        Whose.VENUE,
    )


def test_a_lifecycle_that_was_not_the_whole_position_is_recorded_as_partial(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The long of 1 at 100000 held from before, two adds seen (the pushes of their own
    # transactions holding 2, then 3), and a sell of all 3 at 104000: trueup's lifecycle of
    # 2 realised 5000, where the venue realised 9000 on 3. The record says it is partial.
    records = [
        buy(T0 + 1_000, 1, "1", "101000"),
        held(T0 + 1_001, 1, "Buy", "2", mark="101000", upnl="1000", entry="100500"),
        buy(T0 + 2_000, 2, "1", "102000"),
        held(T0 + 2_001, 2, "Buy", "3", mark="102000", upnl="3000", entry="101000"),
        sell(T0 + 3_000, 3, "3", "104000", pnl="9000"),
        held(T0 + 3_001, 3, "", "0", mark="104000", upnl="0", entry="0"),
    ]
    url = ingested(store_url, tmp_path, records)
    (record,) = json_lines(capsys, url, "history", "--json")
    assert (record["max_size"], record["realised_pnl"], record["partial"]) == ("2", "5000", True)
    assert record["venue_realised_pnl"] == "9000"  # the venue's, of all 3
    (line,) = text_lines(capsys, url, "history")[1:]
    assert line.endswith("MANUAL" + PARTIAL_RECORD)


def test_an_entry_a_few_units_off_at_a_six_figure_price_is_another_position() -> None:
    # Bought 1 at 105000; the venue holds 1 at 105008.0 (".0" its padding): closed and
    # reopened 8 higher, unseen, beyond a unit of its digits and 1/100,000 of the price.
    records = [
        buy(T0 + 1_000, 1, "1", "105000"),
        held(T0 + 9_001, 4, "Buy", "1", mark="105100", upnl="92", entry="105008.0"),
    ]
    _, book = ledger_after(records)
    assert differs_at_venue(
        book.pnl.key(KEY), book.positions[KEY].exchange, book.positions[KEY].exchange_at
    )


def test_one_order_filled_in_two_executions_around_its_push_is_the_whole_position() -> None:
    # Two executions of one order (the same seq), the push of their transaction between
    # them: once both are folded the lifecycle is what the venue holds, and its record whole.
    def execution(at: int, exec_id: str, qty: str) -> Json:
        fields = dict(
            symbol="BTCUSDT", order_id="o-1", exec_id=exec_id, side="Buy", exec_qty=qty,
            exec_price="100000", exec_fee="1", closed_size="0", exec_pnl="0", exec_time=at,
            seq=200,
        )  # fmt: skip
        return execution_frame(at, fields)

    records = [
        execution(T0 + 1_000, "a", "0.1"),
        position_frame(
            T0 + 1_001,
            symbol="BTCUSDT",
            side="Buy",
            size="0.3",
            seq=200,
            updated_time=T0 + 1_000,
            entry_price="100000",
            mark_price="101000",
            unrealised_pnl="300",
        ),
        execution(T0 + 1_000, "b", "0.2"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert ledger.open is not None and not ledger.open.partial
    assert unrealised(ledger, book.positions[KEY].exchange, book.positions[KEY].exchange_at) == (
        Decimal(300),
        Whose.TRUEUP,
    )


def test_a_position_page_that_lags_the_fill_leaves_its_round_trip_recorded(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A long of 1 bought; a complete position list recorded after it (its reply undated,
    # served before the fill reached it) lists no BTCUSDT; the push of the fill's own
    # transaction, then a list holding it; sold a minute later. The round trip is trueup's.
    def page(at: int, *items: Json) -> Json:
        body = messages.rest_ok("linear", list(items), time=at)
        del body["time"]
        query = {"category": "linear", "settleCoin": "USDT"}
        return messages.capture_rest(at, ACCOUNT, "/v5/position/list", query, body)

    btc = messages.position_item(
        symbol="BTCUSDT", side="Buy", size="1", seq=101, updated_time=T0 + 1_000,
        entry_price="100000", mark_price="100500", unrealised_pnl="500", rest=True,
    )  # fmt: skip
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        page(T0 + 1_200),
        held(T0 + 1_300, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        page(T0 + 5_000, btc),
        sell(T0 + 61_000, 2, "1", "101000", pnl="1000"),
        held(T0 + 61_001, 2, "", "0", mark="101000", upnl="0", entry="0"),
    ]
    url = ingested(store_url, tmp_path, records)
    (record,) = json_lines(capsys, url, "history", "--json")
    assert (record["side"], record["realised_pnl"], record["partial"]) == ("LONG", "1000", False)


def test_a_push_older_than_the_last_fill_leaves_the_ledgers_unrealised() -> None:
    # The last push, of the size before the second buy, is older than it: that fill is on
    # its way into the venue's figures, not a fill trueup missed.
    records = [
        buy(T0 + 1_000, 1, "1", "101000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="102000", upnl="1000", entry="101000"),
        buy(T0 + 2_000, 2, "1", "101000"),
    ]
    _, book = ledger_after(records)
    report, received = book.positions[KEY].exchange, book.positions[KEY].exchange_at
    assert unrealised(book.pnl.key(KEY), report, received) == (Decimal(2000), Whose.TRUEUP)


def test_a_close_and_reopen_of_the_same_size_not_seen_shows_the_venues_unrealised() -> None:
    # Long 1 at 100000, the push in step with it; a sell and a rebuy of 1 at 120000 missed
    # while the stream was down. The next push holds 1 again, at the venue's entry of 120000:
    # the lifecycle's (121000 - 100000) x 1 = 21000 is not what is held, the venue's 1000 is.
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        held(T0 + 9_001, 4, "Buy", "1", mark="121000", upnl="1000", entry="120000"),
    ]
    _, book = ledger_after(records)
    ledger, report = book.pnl.key(KEY), book.positions[KEY].exchange
    received = book.positions[KEY].exchange_at
    assert unrealised(ledger, report, received) == (Decimal(1000), Whose.VENUE)
    assert differs_at_venue(ledger, report, received)


def test_a_reopen_not_seen_stays_told_after_the_next_add() -> None:
    # As above, then an add of 1 at 130000 that trueup sees, and its own push: 2 at 125000.
    # The lifecycle holds 2 too, but at 115000: not the whole story, even once the next
    # fill makes that push older than it.
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        buy(T0 + 9_000, 4, "1", "130000"),
        held(T0 + 9_001, 4, "Buy", "2", mark="130000", upnl="10000", entry="125000"),
        buy(T0 + 10_000, 5, "1", "130000"),
    ]
    _, book = ledger_after(records)
    assert (
        unrealised(
            book.pnl.key(KEY), book.positions[KEY].exchange, book.positions[KEY].exchange_at
        )[1]
        is Whose.VENUE
    )


@pytest.mark.parametrize(
    "entry", ["100000.16666667", "100000.17", "100000.2", "100000", "100000.0", "100000.00000"]
)
def test_the_venues_entry_rounded_to_the_digits_it_gives_is_the_lifecycles(entry: str) -> None:
    # 1 at 100000.1 and 2 at 100000.2 average 100000.1666...: each venue rounds it to its own
    # last digit (Hyperliquid writes "100000.0", Aster pads to five decimals), which is no
    # other position.
    records = [
        buy(T0 + 1_000, 1, "1", "100000.1"),
        buy(T0 + 2_000, 2, "2", "100000.2"),
        held(T0 + 2_001, 2, "Buy", "3", mark="100001", upnl="2.5", entry=entry),
    ]
    _, book = ledger_after(records)
    ledger, report = book.pnl.key(KEY), book.positions[KEY].exchange
    received = book.positions[KEY].exchange_at
    assert not differs_at_venue(ledger, report, received)
    assert unrealised(ledger, report, received) == (Decimal("2.5"), Whose.TRUEUP)


def test_a_missed_add_backfilled_hours_after_its_close_counts_its_fee_and_opens_nothing() -> None:
    # Bought 1; a second buy of 1 missed; sold 2, the venue closing both; flat. Hours later a
    # REST list brings the three: the lifecycle's figures are no longer kept to fold the add
    # into, and it opens none of its own (the venue showed the key flat after it was made).
    minute = 60_000
    b1: Json = dict(symbol="BTCUSDT", order_id="o-1", exec_id="b1", side="Buy", exec_qty="1",
              exec_price="100000", exec_fee="1", closed_size="0", exec_pnl="0",
              exec_time=T0 + 1_000, seq=101)  # fmt: skip
    b2 = {**b1, "order_id": "o-2", "exec_id": "b2", "exec_price": "110000",
          "exec_time": T0 + 30 * minute, "seq": 102}  # fmt: skip
    s3 = {**b1, "order_id": "o-3", "exec_id": "s3", "side": "Sell", "exec_qty": "2",
          "exec_price": "120000", "closed_size": "2", "exec_pnl": "30000",
          "exec_time": T0 + 60 * minute, "seq": 103}  # fmt: skip
    listed = [messages.execution_item(**item, rest=True) for item in (s3, b2, b1)]
    body = messages.rest_ok("linear", listed, time=T0 + 180 * minute)
    backfill = messages.capture_rest(
        T0 + 180 * minute, ACCOUNT, "/v5/execution/list", {"category": "linear"}, body
    )
    records = [
        execution_frame(T0 + 1_000, b1),
        held(T0 + 1_001, 1, "Buy", "1", mark="100000", upnl="0", entry="100000"),
        execution_frame(T0 + 60 * minute, s3),
        held(T0 + 60 * minute + 1, 3, "", "0", mark="120000", upnl="0", entry="0"),
        backfill,
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    assert (ledger.open, ledger.lifecycles, ledger.fees) == (None, 1, Decimal(3))


def test_the_late_closing_fill_closes_that_lifecycle_at_its_own_price() -> None:
    late = sell(T0 + 50_000, 2, "1", "99000", pnl="-1000")
    _, book = ledger_after([*OPENED_THEN_FLAT, late])
    ledger = book.pnl.key(KEY)
    assert ledger.open is None and ledger.realised == Decimal(-1000)
    assert unrealised(ledger, book.positions[KEY].exchange, book.positions[KEY].exchange_at) == (
        Decimal(0),
        Whose.TRUEUP,
    )


def test_a_flat_report_older_than_the_opening_fill_leaves_the_lifecycle_held() -> None:
    # The flat push of the transaction before the buy (seq 100), come after it.
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="99950", upnl="-50", entry="100000"),
        held(T0 + 1_002, 0, "", "0", mark="99950", upnl="0", entry="0"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    report, received = book.positions[KEY].exchange, book.positions[KEY].exchange_at
    assert not report.size or report.seq == 101  # whichever the book keeps as the latest
    assert unrealised(ledger, report, received) == (Decimal(-50), Whose.TRUEUP)


# After that flat, a new long opened: the venue's position is that one alone.
REOPENED_AFTER_FLAT = [
    *OPENED_THEN_FLAT,
    buy(T0 + 70_000, 5, "0.5", "101000"),
    held(T0 + 70_001, 5, "Buy", "0.5", mark="101200", upnl="100", entry="101000"),
]


def test_a_position_opened_after_a_close_trueup_did_not_see_is_a_lifecycle_of_its_own() -> None:
    _, book = ledger_after(REOPENED_AFTER_FLAT)
    ledger = book.pnl.key(KEY)
    life = ledger.open
    # Not a long of 1.5 at an average of the two: the first closed unseen, set aside.
    assert (life.number, life.size, life.cost) == (2, Decimal("0.5"), Decimal("50500"))
    assert unrealised(ledger, book.positions[KEY].exchange, book.positions[KEY].exchange_at) == (
        Decimal(100),
        Whose.TRUEUP,
    )
    assert (ledger.fees, ledger.realised) == (Decimal(2), Decimal(0))
    assert not book.pnl.take_closed()  # its close not known: no record of it


def test_the_late_fill_of_that_close_records_it_and_leaves_the_new_position_as_it_is() -> None:
    late = sell(T0 + 50_000, 2, "1", "99000", pnl="-1000")
    _, book = ledger_after([*REOPENED_AFTER_FLAT, late])
    ledger = book.pnl.key(KEY)
    (closed,) = book.pnl.take_closed()
    assert (closed.number, closed.realised_pnl, closed.avg_exit) == (1, Decimal(-1000), 99000)
    life = ledger.open
    assert (life.number, life.size, life.cost) == (2, Decimal("0.5"), Decimal("50500"))
    assert (ledger.fees, ledger.realised) == (Decimal(3), Decimal(-1000))


def test_a_fill_made_after_that_flat_is_not_its_late_close_whatever_its_side() -> None:
    # A short opened after the flat (closedSize 0), or a sell of a long opened during the
    # gap (closedSize 0.5 of what trueup did not see open): neither closes lifecycle 1.
    short = sell(T0 + 70_000, 6, "1", "101000", pnl="0", closed="0")
    _, book = ledger_after([*OPENED_THEN_FLAT, short])
    life = book.pnl.key(KEY).open
    assert (life.number, life.side.value, life.size) == (2, "SHORT", Decimal(1))
    reduce = sell(T0 + 70_000, 6, "0.5", "102000", pnl="500", closed="0.5")
    _, book = ledger_after([*OPENED_THEN_FLAT, reduce])
    ledger = book.pnl.key(KEY)
    assert ledger.open is None and ledger.unseen is not None
    assert (ledger.realised, ledger.fees) == (Decimal(0), Decimal(2))
    assert not book.pnl.take_closed()


def test_a_late_close_come_after_its_run_was_let_go_leaves_the_next_lifecycle_as_it_is() -> None:
    # Fetched 11 minutes on, the fill of T0 + 50 s that closed lifecycle 1: lifecycle 2,
    # opened at T0 + 70 s, is not what it closed. Only its fee is the key's now.
    late = {
        "symbol": "BTCUSDT", "exec_id": "s2", "order_id": "o-2", "side": "Sell",
        "exec_qty": "1", "exec_price": "99000", "exec_fee": "1", "closed_size": "1",
        "exec_pnl": "-1000", "exec_time": T0 + 50_000, "seq": 102,
    }  # fmt: skip
    records = [*REOPENED_AFTER_FLAT, execution_frame(T0 + 690_000, late)]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    life = ledger.open
    assert (life.number, life.size, life.cost) == (2, Decimal("0.5"), Decimal("50500"))
    assert (ledger.fees, ledger.realised) == (Decimal(3), Decimal(0))
    assert not book.pnl.take_closed()


def test_a_flat_that_comes_after_the_next_fill_sets_the_lifecycle_aside_all_the_same() -> None:
    # The flat push (seq 103) delivered after the buy made after it (seq 105), as a venue's
    # streams may deliver them: the buy is the next position's, not an add to lifecycle 1.
    records = [
        buy(T0 + 1_000, 1, "1", "100000"),
        held(T0 + 1_001, 1, "Buy", "1", mark="99950", upnl="-50", entry="100000"),
        buy(T0 + 70_000, 5, "0.5", "101000"),
        held(T0 + 60_000, 3, "", "0", mark="100000", upnl="0", entry="0"),
        held(T0 + 70_001, 5, "Buy", "0.5", mark="101200", upnl="100", entry="101000"),
    ]
    _, book = ledger_after(records)
    ledger = book.pnl.key(KEY)
    life = ledger.open
    assert (life.number, life.size, life.cost) == (2, Decimal("0.5"), Decimal("50500"))
    assert unrealised(ledger, book.positions[KEY].exchange, book.positions[KEY].exchange_at) == (
        Decimal(100),
        Whose.TRUEUP,
    )
