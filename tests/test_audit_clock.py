"""Audits of inputs stored out of time order (captures merged, a clock stepped back): the
journal keeps the account's clock with each such input, and an audit, which folds only the
inputs that may concern its symbol, catches its book up to it, so that it lets go of what
the account's fold had let go of there (adapters/store/account_clock.py).

Each store-backed test runs on SQLite and on PostgreSQL (conftest.py).
"""

from typing import Any

import orjson
import pytest

from tests.inputs import (
    T0,
    accepted,
    event,
    execution_frame,
    line,
    order_frame,
    position_frame,
    position_snapshot,
)
from trueup.adapters.store import codec
from trueup.adapters.store.account_clock import (
    END_BYTES,
    START_BYTES,
    clock_after,
    clock_from_ends,
    stored_clock,
    with_clock,
)
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.keys import PositionKey
from trueup.domain.reconciler import Reconciler
from trueup.domain.retention import FORGET_AFTER_MS
from trueup.projections.audit import Audit, audit
from trueup.projections.reconciliation import replay

KEY = PositionKey("bybit", "main", "linear", "SOLUSDT", 0)


def order(at: int, status: str, updated_time: int) -> dict[str, Any]:
    return order_frame(
        at, symbol="SOLUSDT", order_id="o-1", side="Buy", qty="1", status=status,
        updated_time=updated_time, price="150", order_type="Limit",
    )  # fmt: skip


def on_time() -> list[bytes]:
    """An order that filled, then, a retention window and more later, another symbol's
    report: the account's fold lets go of the order there."""
    later = T0 + 2 * FORGET_AFTER_MS
    other = position_frame(
        later, symbol="BTCUSDT", side="Buy", size="0.1", seq=1, updated_time=later
    )
    return [line(order(T0, "New", T0)), line(order(T0 + 1_000, "Filled", T0 + 1_000)), line(other)]


# Stored after the report of 20 minutes on: the order reported open again, as of before it
# filled. The account's fold no longer holds the order, and takes an open report as news.
LATE = line(order(T0 + 2_000, "New", T0 + 500))


def open_orders(result: Audit) -> list[str]:
    state = result.state(KEY)
    assert state is not None
    return [o["venue_order_id"] for o in state["open_orders"]]


def folded_open_orders(journal: Journal) -> list[str]:
    book = replay(journal).book("bybit", "main")
    return [o.key.venue_order_id for o in book.open_orders_for(KEY)]


def test_an_input_stored_after_later_ones_is_audited_at_the_accounts_clock_then(
    journal: Journal,
) -> None:
    TrueupService(journal).ingest([[*on_time(), LATE]])
    assert folded_open_orders(journal) == ["o-1"]
    assert open_orders(TrueupService(journal).audit("bybit", "main", "SOLUSDT")) == ["o-1"]
    # An account an older trueup began is audited by a full read: the same clocks.
    clocks: dict[int, int] = {}
    read = journal.account_inputs("bybit", "main", "SOLUSDT", clocks)
    assert open_orders(audit("bybit", "main", read, symbol="SOLUSDT", clocks=clocks)) == ["o-1"]
    # Without them, the audit folded the late report at its own instant: the order was
    # still held there, and the report older than its fill changed nothing.
    read = journal.account_inputs("bybit", "main", "SOLUSDT")
    assert open_orders(audit("bybit", "main", read, symbol="SOLUSDT")) == []


def test_the_accounts_clock_outlives_the_process_that_appended_up_to_it(store_url: str) -> None:
    with Journal.open(store_url) as journal:
        TrueupService(journal).ingest([on_time()])
    with Journal.open(store_url) as journal:  # another process: it reads the clock back
        TrueupService(journal).ingest([[LATE]])
        assert folded_open_orders(journal) == ["o-1"]
        assert open_orders(TrueupService(journal).audit("bybit", "main", "SOLUSDT")) == ["o-1"]


def held(symbol: str, at: int) -> dict[str, Any]:
    return {"symbol": symbol, "side": "Buy", "size": "1", "seq": 1, "updated_time": at}


def many_symbols(at: int, count: int) -> dict[str, Any]:
    """Fills of ``count`` symbols in one frame: a stored form whose named symbols alone
    outrun START_BYTES."""
    fills = [
        {
            "symbol": f"S{i:03d}USDT",
            "exec_id": f"x-{at}-{i}",
            "order_id": f"o-{i}",
            "side": "Buy",
            "exec_price": "1",
            "exec_qty": "1",
            "exec_time": at,
            "seq": i + 1,
        }
        for i in range(count)
    ]
    return execution_frame(at, *fills)


def stored_forms() -> list[bytes]:
    """Stored forms of every shape an account's last input takes: small, a position snapshot
    of a hundred positions, one naming many symbols, and each with a kept clock."""
    big = position_snapshot(T0, *(held(f"S{i:03d}USDT", T0) for i in range(100)))
    forms = [
        codec.encode(accepted(record))
        for record in (
            order(T0, "New", T0),
            big,
            many_symbols(T0, 60),
            {"at": T0, "channel": "clock"},
        )
    ]
    return forms + [with_clock(form, T0 + 60_000) for form in forms]


@pytest.mark.parametrize("state", stored_forms())
def test_the_ends_of_a_stored_form_tell_its_clock_or_leave_it_to_the_whole(state: bytes) -> None:
    told = clock_from_ends(state[:START_BYTES], state[-END_BYTES:])
    assert told in (None, clock_after(state))
    # Left to the whole only where neither end tells: no clock kept, and more symbols named
    # than the start holds.
    whole = stored_clock(state) is None and b'"input_id"' not in state[:START_BYTES]
    assert (told is None) == whole


def test_a_symbol_spelled_with_brackets_or_quotes_is_never_read_as_the_instant() -> None:
    spelled = (
        b'{"type":"X","symbols":["A],\\"input_id\\":\\"x\\",\\"at\\":5"],"input_id":"i","at":7}'
    )
    assert clock_from_ends(spelled, spelled[-END_BYTES:]) is None
    assert clock_after(spelled) == 7


@pytest.mark.parametrize("last", ["snapshot", "many symbols", "late"])
def test_a_new_process_takes_up_the_accounts_clock_whatever_its_last_input(
    store_url: str, last: str
) -> None:
    later = T0 + 2 * FORGET_AFTER_MS
    inputs = {
        "snapshot": [
            *on_time(),
            line(position_snapshot(later, held("BTCUSDT", later))),
        ],
        "many symbols": [*on_time(), line(many_symbols(later, 60))],
        "late": [*on_time(), LATE],  # stored with the clock kept after it
    }[last]
    with Journal.open(store_url) as journal:
        TrueupService(journal).ingest([inputs])
    with Journal.open(store_url) as journal:  # another process: it reads the clock back
        TrueupService(journal).ingest([[line(order(T0 + 3_000, "New", T0 + 600))]])
        states = list(journal.account_states("bybit", "main"))
    assert stored_clock(states[-1]) == later


def test_only_an_input_whose_instant_is_not_the_accounts_clock_keeps_one(journal: Journal) -> None:
    TrueupService(journal).ingest([[*on_time(), LATE]])
    states = list(journal.account_states("bybit", "main"))
    later = T0 + 2 * FORGET_AFTER_MS
    assert [stored_clock(s) for s in states] == [None, None, None, later]
    assert [clock_after(s) for s in states] == [T0, T0 + 1_000, later, later]


def test_a_notification_record_moves_no_clock_and_keeps_the_one_it_found(journal: Journal) -> None:
    notified = {
        "at": T0 + 5_000, "channel": "notification", "venue": "bybit", "account": "main",
        "data": {"notifier": "default", "target": "phone", "event_id": "e-1",
                 "event_type": "POSITION_CLOSED", "attempt": 1, "outcome": "delivered",
                 "elapsed_ms": 12},
    }  # fmt: skip
    TrueupService(journal).ingest([[line(order(T0, "New", T0)), orjson.dumps(notified)]])
    states = list(journal.account_states("bybit", "main"))
    assert [stored_clock(s) for s in states] == [None, T0]


def test_a_kept_clock_is_passed_over_by_a_read_of_the_inputs_fields() -> None:
    late = event(order(T0 + 2_000, "New", T0 + 500))
    state = with_clock(codec.encode(late), T0 + 60_000)
    assert codec.decode(state) == late
    assert stored_clock(state) == T0 + 60_000
    assert stored_clock(codec.encode(late)) is None


@pytest.mark.parametrize("raw_tail", [',"clock":5}', ',\\"clock\\":5}'])
def test_text_of_an_input_is_never_read_as_a_kept_clock(raw_tail: str) -> None:
    tick = event({"at": T0, "channel": "clock", "note": raw_tail})
    assert stored_clock(codec.encode(tick)) is None


def test_an_accounts_tick_and_its_feeds_word_move_its_clock() -> None:
    reconciler = Reconciler()
    reconciler.apply(event(order(T0, "New", T0)))
    reconciler.apply(event({"at": T0 + 9_000, "venue": "bybit", "account": "main",
                            "channel": "clock"}))  # fmt: skip
    assert reconciler.book("bybit", "main").clock == T0 + 9_000
    reconciler.apply(event({"at": T0 + 12_000, "channel": "clock"}))  # every account's timers
    assert reconciler.book("bybit", "main").clock == T0 + 9_000
    down = {"at": T0 + 15_000, "venue": "bybit", "account": "main", "channel": "feed",
            "data": {"event": "down", "stream": "private", "reason": "timeout"}}  # fmt: skip
    reconciler.apply(event(down))
    assert reconciler.book("bybit", "main").clock == T0 + 15_000
