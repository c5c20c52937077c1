"""A paginated position snapshot closes a position only when its whole run was accepted.

Each case below once emitted POSITION_CLOSED (STOP_LOSS) and COOLDOWN_STARTED for an open
BTCUSDT 0.3 that the exchange still held. Times are real instants; pages are Bybit's
documented /v5/position/list replies.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.inputs import ACCOUNT, T0, event, position_frame, position_snapshot
from trueup.adapters.bybit import messages
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent, InputRejected
from trueup.domain.reconciler import Reconciler, reconcile

BTC = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 10, "updated_time": T0}
ETH = {"symbol": "ETHUSDT", "side": "Sell", "size": "2", "seq": 11, "updated_time": T0}


def page(
    at: int, *items: dict[str, Any], cursor: str = "", next_cursor: str = ""
) -> dict[str, Any]:
    """One /v5/position/list reply as a capture line (the request's cursor in params)."""
    return position_snapshot(at, *items, cursor=cursor, next_cursor=next_cursor)


def refused(record: dict[str, Any], how: str) -> dict[str, Any]:
    """The same request answered with an error: a rate limit, an HTML page, a bad field."""
    record = dict(record)
    if how == "rate_limit":
        record["data"] = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}}
    elif how == "html":
        record["status"], record["data"] = 502, "<html>Bad Gateway</html>"
    else:
        body = record["data"]
        item = dict(body["result"]["list"][0])
        del item["size"]
        record["data"] = {**body, "result": {**body["result"], "list": [item]}}
    return record


def holding_btc() -> list[InputEvent]:
    """A LIVE bot's BTCUSDT 0.3, confirmed by a complete single-page snapshot."""
    opened = {
        "kind": "position_opened",
        "position_id": "p-1",
        "category": "linear",
        "symbol": "BTCUSDT",
        "position_idx": 0,
        "side": "Buy",
        "qty": "0.3",
        "mode": "LIVE",
    }
    return [
        event(messages.capture_intent(T0, ACCOUNT, {"kind": "account_mode", "mode": "LIVE"})),
        event(messages.capture_intent(T0 + 1, ACCOUNT, opened)),
        event(page(T0 + 1_000, BTC)),
    ]


def types(emitted: list[Emitted]) -> list[str]:
    return [e.type for e in emitted]


def after_holding(*records: dict[str, Any]) -> list[str]:
    return types(reconcile(holding_btc() + [event(r) for r in records]))


def test_a_last_page_without_its_first_page_proves_nothing() -> None:
    emitted = after_holding(page(T0 + 5_000, ETH, cursor="c2"))
    assert "POSITION_CLOSED" not in emitted
    assert "COOLDOWN_STARTED" not in emitted
    assert "POSITION_SYNC_FAILED" in emitted


def test_a_refused_first_page_then_the_last_page_proves_nothing() -> None:
    for how in ("rate_limit", "html"):
        emitted = after_holding(
            refused(page(T0 + 5_000, BTC, next_cursor="c2"), how),
            page(T0 + 5_100, ETH, cursor="c2"),
        )
        assert "POSITION_CLOSED" not in emitted, how
        assert "COOLDOWN_STARTED" not in emitted, how


def test_a_last_page_answering_another_cursor_proves_nothing() -> None:
    emitted = after_holding(page(T0 + 5_000, ETH, next_cursor="c2"), page(T0 + 5_100, cursor="c3"))
    assert "POSITION_CLOSED" not in emitted
    assert emitted.count("POSITION_SYNC_FAILED") == 1


def test_a_first_page_rejected_for_a_missing_field_then_page_two_proves_nothing() -> None:
    first = refused(page(T0 + 5_000, BTC, next_cursor="c2"), "missing_field")
    assert isinstance(event(first), InputRejected)
    emitted = after_holding(first, page(T0 + 5_100, ETH, cursor="c2"))
    assert "POSITION_CLOSED" not in emitted


def test_a_refused_middle_page_breaks_the_run_even_if_its_retry_succeeds() -> None:
    emitted = after_holding(
        page(T0 + 5_000, ETH, next_cursor="c2"),
        refused(page(T0 + 5_100, next_cursor="c3", cursor="c2"), "rate_limit"),
        page(T0 + 5_200, ETH, cursor="c2", next_cursor="c3"),
        page(T0 + 5_300, cursor="c3"),
    )
    assert "POSITION_CLOSED" not in emitted


def test_cursors_that_loop_never_complete_a_run() -> None:
    emitted = after_holding(
        page(T0 + 5_000, ETH, next_cursor="c2"),
        page(T0 + 5_100, cursor="c2", next_cursor="c2"),
        page(T0 + 5_200, cursor="c2"),
    )
    assert "POSITION_CLOSED" not in emitted


def test_a_run_slower_than_the_pagination_timeout_proves_nothing() -> None:
    emitted = after_holding(page(T0 + 5_000, ETH, next_cursor="c2"), page(T0 + 60_000, cursor="c2"))
    assert "POSITION_CLOSED" not in emitted


def test_a_whole_run_of_pages_that_chain_does_close_what_it_omits() -> None:
    emitted = after_holding(
        page(T0 + 5_000, ETH, next_cursor="c2"),
        page(T0 + 5_100, {**ETH, "symbol": "SOLUSDT"}, cursor="c2", next_cursor="c3"),
        page(T0 + 5_200, cursor="c3"),
        {"at": T0 + 9_000, "channel": "clock"},  # past close_cause_grace_ms: no fill says why
    )
    assert emitted.count("POSITION_CLOSED") == 1


def test_a_run_closes_nothing_pushed_open_after_its_first_page_was_served() -> None:
    """The walkthrough's: SOLUSDT opened after page 1 was served, where page 1 would have
    listed it; page 2, served more than 5 s after the push, cannot list it. The run is as
    old as its first page: the push is newer news than anything it shows of SOLUSDT."""
    sol = {**BTC, "symbol": "SOLUSDT", "size": "1", "seq": 20, "updated_time": T0 + 20_000}
    claimed: dict[str, Any] = {"kind": "position_opened", "position_id": "p-sol"}
    claimed |= {"category": "linear", "symbol": "SOLUSDT", "position_idx": 0}
    claimed |= {"side": "Buy", "qty": "1", "mode": "LIVE"}
    inputs = [
        *holding_btc(),
        event(page(T0 + 19_000, BTC, next_cursor="c2")),
        event(messages.capture_intent(T0 + 19_500, ACCOUNT, claimed)),
        event(position_frame(T0 + 20_000, **sol)),
        event(page(T0 + 26_500, ETH, cursor="c2")),
        event({"at": T0 + 31_000, "channel": "clock"}),
    ]
    reconciler = Reconciler()
    emitted = [e for i in inputs for e in reconciler.apply(i)]

    assert "POSITION_CLOSED" not in types(emitted)
    book = reconciler.book("bybit", ACCOUNT)
    assert sorted(k.symbol for k in book.held_keys()) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


# --- the property: no mix of pages ever closes what the last complete snapshot showed ------


@st.composite
def page_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Pages of several runs over a book that always holds BTCUSDT, interleaved, some of them
    lost and some refused. Cursors are unique to their run, as Bybit's (page_args=<uuid>)."""
    others = ["ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]
    pages: list[tuple[int, int, dict[str, Any]]] = []  # (run, index, record)
    for run in range(draw(st.integers(1, 4))):
        held = draw(
            st.permutations(["BTCUSDT", *draw(st.lists(st.sampled_from(others), unique=True))])
        )
        size = draw(st.integers(1, 3))
        chunks = [held[i : i + size] for i in range(0, len(held), size)]
        for index, chunk in enumerate(chunks):
            items = [{**BTC, "symbol": symbol} for symbol in chunk]
            cursor = f"r{run}p{index}" if index else ""
            following = f"r{run}p{index + 1}" if index + 1 < len(chunks) else ""
            pages.append((run, index, {"items": items, "cursor": cursor, "next": following}))
    order = draw(st.permutations(range(len(pages))))
    stream: list[dict[str, Any]] = []
    for at_offset, position in enumerate(order):
        _, _, spec = pages[position]
        fate = draw(st.sampled_from(["kept", "kept", "kept", "lost", "refused"]))
        if fate == "lost":
            continue
        record = page(
            T0 + 2_000 + at_offset,
            *spec["items"],
            cursor=spec["cursor"],
            next_cursor=spec["next"],
        )
        if fate == "refused":
            how = draw(st.sampled_from(["rate_limit", "html", "missing_field"]))
            record = refused(record, how)
        stream.append(record)
    return stream


@settings(max_examples=300, deadline=None)
@given(page_streams())
def test_no_interleaving_of_runs_lost_or_refused_pages_closes_a_held_position(
    stream: list[dict[str, Any]],
) -> None:
    reconciler = Reconciler()
    emitted = [e for event in holding_btc() for e in reconciler.apply(event)]
    for record in stream:
        emitted += reconciler.apply(event(record))
    assert "POSITION_CLOSED" not in types(emitted)
    book = reconciler.book("bybit", ACCOUNT)
    btc = next(p for k, p in book.positions.items() if k.symbol == "BTCUSDT")
    assert btc.exchange_qty == btc.local_qty
