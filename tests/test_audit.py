"""The audit: every input that changed a position, and the position as the reconciler held it
after each: its local side closed where a rule closed it (the exchange closed the position by
hand, a liquidation, a stop-loss the bot never saw), with the event that said so."""

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import (
    T0,
    accepted,
    event,
    execution_frame,
    opened,
    position_frame,
    position_snapshot,
    tick,
)
from tests.scenarios import SYMBOLS, busy_session
from trueup.adapters import rule_changes
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted, PositionCleaned, PositionClosed
from trueup.domain.events import InputEvent
from trueup.domain.keys import PositionKey
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig
from trueup.projections.audit import audit, audit_marked, position_state
from trueup.projections.position_json import pnl_state
from trueup.runners.cli import main

EVENTS = [event(record) for record in busy_session(400)]
SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"
JSON = dict[str, Any]


def about(emitted: Emitted, key: PositionKey) -> bool:
    return (emitted.category, emitted.symbol, emitted.position_idx) == (
        key.category,
        key.symbol,
        key.position_idx,
    )


def test_each_timeline_entry_holds_the_state_the_reconciler_held_after_its_input() -> None:
    audits = {
        symbol: audit("bybit", "main", enumerate(EVENTS, 1), symbol=symbol) for symbol in SYMBOLS
    }
    entries = {(e.input_id, e.key): e for result in audits.values() for e in result.timeline}
    reconciler, closes, compared = Reconciler(), [], 0
    for input_ in EVENTS:
        emitted = reconciler.apply(input_)
        closes += [e for e in emitted if isinstance(e, PositionClosed | PositionCleaned)]
        book = reconciler.book("bybit", "main")
        for key in book.positions:
            entry = entries.get((input_.input_id, key))
            if entry is None:
                continue
            compared += 1
            assert entry.state == position_state(book, book.positions[key])
            assert list(entry.closed_by) == [
                e for e in emitted if isinstance(e, PositionClosed) and about(e, key)
            ]
    assert compared == len(entries) > 250
    told = [e for result in audits.values() for entry in result.timeline for e in entry.closed_by]
    assert sorted(e.event_id for e in told) == sorted(e.event_id for e in closes)
    assert len(closes) > 20  # the rules closed many local positions the inputs left open


def test_as_of_an_instant_gives_the_state_then() -> None:
    instant = EVENTS[len(EVENTS) // 2].at
    result = audit("bybit", "main", enumerate(EVENTS, 1), symbol="BTCUSDT", as_of=instant)
    reconciler = Reconciler()
    for input_ in EVENTS:
        if input_.at <= instant:
            reconciler.apply(input_)
    book = reconciler.book("bybit", "main")
    (key,) = result.keys
    assert result.state(key) == position_state(book, book.positions[key])
    assert all(entry.at <= instant for entry in result.timeline)


def test_an_input_that_changes_nothing_is_not_in_the_timeline() -> None:
    twice = EVENTS + EVENTS
    assert len(audit("bybit", "main", enumerate(twice, 1), symbol="BTCUSDT").timeline) == len(
        audit("bybit", "main", enumerate(EVENTS, 1), symbol="BTCUSDT").timeline
    )


# --- positions the exchange closed, the trading system none the wiser -----------------------


def held(at: int, size: str, seq: int) -> dict[str, Any]:
    side = "Buy" if size != "0" else ""
    return position_frame(at, symbol="BTCUSDT", side=side, size=size, seq=seq, updated_time=at)


def closing_fill(exec_type: str, create_type: str = "CreateByUser") -> dict[str, Any]:
    fill = {
        "symbol": "BTCUSDT", "exec_id": f"e-{exec_type}", "order_id": "o-x", "side": "Sell",
        "exec_price": "60000", "exec_qty": "1", "exec_type": exec_type, "exec_time": T0 + 2_900,
        "seq": 9, "create_type": create_type,
    }  # fmt: skip
    return execution_frame(T0 + 2_900, fill)


# With no fill to say why, the close awaits one for close_cause_grace_ms (3 s): the clock
# tick past it reports it, and the audit shows it closed on that tick.
def liquidation_after_the_flat() -> dict[str, Any]:
    """The liquidation's fill, half a second after the key read flat (the stream's fill
    behind a poll)."""
    fill = {
        "symbol": "BTCUSDT", "exec_id": "e-late", "order_id": "o-liq", "side": "Sell",
        "exec_price": "60000", "exec_qty": "1", "exec_type": "BustTrade",
        "exec_time": T0 + 2_900, "seq": 9,
    }  # fmt: skip
    return execution_frame(T0 + 3_500, fill)


FLAT_BY_REPORT = [held(T0 + 3_000, "0", 10)]
# Complete, and BTCUSDT not in it: served long enough after the push of 1 (at T0 + 1_000)
# to have caught up with it.
FLAT_BY_SNAPSHOT = [position_snapshot(T0 + 6_100)]
TICKED = [tick(T0 + 6_000)]
CLOSES = {
    "by hand": ([closing_fill("Trade", "CreateByClosing")], FLAT_BY_REPORT, "MANUAL", T0 + 3_000),
    "liquidated": ([closing_fill("BustTrade")], FLAT_BY_REPORT, "LIQUIDATION", T0 + 3_000),
    "a stop-loss the bot never saw": (
        [closing_fill("Trade", "CreateByStopLoss")],
        FLAT_BY_REPORT,
        "STOP_LOSS",
        T0 + 3_000,
    ),
    "nothing shows why": ([], FLAT_BY_REPORT + TICKED, "STOP_LOSS", T0 + 6_000),
    "left out of a complete snapshot": (
        [],
        [*FLAT_BY_SNAPSHOT, tick(T0 + 9_200)],
        "STOP_LOSS",
        T0 + 9_200,
    ),
    "liquidated, the fill after the flat": (
        [],
        [*FLAT_BY_REPORT, liquidation_after_the_flat()],
        "LIQUIDATION",
        T0 + 3_500,
    ),
}


@pytest.mark.parametrize(
    ("fills", "flat", "reason", "closed_at"), CLOSES.values(), ids=CLOSES.keys()
)
def test_a_position_the_exchange_closed_is_closed_locally_when_the_rule_closed_it(
    fills: list[dict[str, Any]], flat: list[dict[str, Any]], reason: str, closed_at: int
) -> None:
    records = [opened(T0, "p-1", "BTCUSDT", "1"), held(T0 + 1_000, "1", 2), *fills, *flat]
    inputs: list[InputEvent] = [accepted(r) for r in records]
    reconciler = Reconciler()
    (closed,) = [e for i in inputs for e in reconciler.apply(i) if isinstance(e, PositionClosed)]
    assert closed.exit_reason == reason

    result = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT")
    (key,) = result.keys
    *before, last = [e for e in result.timeline if e.key == key]
    assert (last.at, last.input_id) == (closed_at, inputs[-1].input_id)
    assert last.closed_by == (closed,)  # the very event the reconciler emitted
    assert last.state["local"] == {"qty": "0", "positions": []}
    assert result.state(key)["local"] == {"qty": "0", "positions": []}
    assert not [e for e in before if e.closed_by]
    assert before[-1].state["local"]["qty"] == "1"
    # Just before the close, the audit shows it open still (the flat awaiting its cause).
    then = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT", as_of=closed_at - 1)
    assert [p["position_id"] for p in then.state(key)["local"]["positions"]] == ["p-1"]


def test_a_fill_after_the_close_that_changes_only_the_positions_pnl_is_in_the_timeline() -> None:
    """Its close judged already (no fill had said why), the late fill closes trueup's PnL
    lifecycle and realises its loss: the audit names the input behind that change."""
    opening = {
        "symbol": "BTCUSDT", "exec_id": "e-open", "order_id": "o-open", "side": "Buy",
        "exec_price": "60000", "exec_qty": "1", "exec_time": T0 + 500, "seq": 1,
    }  # fmt: skip
    late = {
        "symbol": "BTCUSDT", "exec_id": "e-late", "order_id": "o-late", "side": "Sell",
        "exec_price": "59000", "exec_qty": "1", "closed_size": "1", "exec_time": T0 + 2_900,
        "seq": 9, "create_type": "CreateByClosing",
    }  # fmt: skip
    records = [
        opened(T0, "p-1", "BTCUSDT", "1"),
        execution_frame(T0 + 500, opening),
        held(T0 + 1_000, "1", 2),
        *FLAT_BY_REPORT,
        *TICKED,
        execution_frame(T0 + 9_000, late),
    ]
    inputs: list[InputEvent] = [accepted(r) for r in records]

    result = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT")

    (key,) = result.keys
    last = [e for e in result.timeline if e.key == key][-1]
    assert (last.at, last.input_id) == (T0 + 9_000, inputs[-1].input_id)
    assert last.state["local"] == {"qty": "0", "positions": []}  # the position: as it was


def test_the_fills_before_the_first_report_of_a_position_are_in_its_timeline() -> None:
    """A position trueup knows from its fills alone until the venue reports it: the audit
    shows the fills that opened it, and as of an instant between them, the key."""

    def bought(n: int, at: int, price: str) -> JSON:
        fill = {
            "symbol": "BTCUSDT", "exec_id": f"e-{n}", "order_id": f"o-{n}", "side": "Buy",
            "exec_price": price, "exec_qty": "1", "exec_fee": "55", "exec_time": at, "seq": n,
        }  # fmt: skip
        return execution_frame(at, fill)

    records = [bought(1, T0, "100000"), bought(2, T0 + 1_000, "101000"), held(T0 + 2_000, "2", 2)]
    inputs: list[InputEvent] = [accepted(r) for r in records]

    result = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT")

    (key,) = result.keys
    timeline = [e for e in result.timeline if e.key == key]
    assert [e.input_id for e in timeline] == [i.input_id for i in inputs]
    then = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT", as_of=T0 + 500)
    assert then.keys == [key]
    assert then.state(key)["exchange"] is None
    assert pnl_state(then.book, key)["open"]["size"] == "1"


def test_an_operators_clean_is_shown_with_the_event_that_acknowledged_it() -> None:
    clean = {
        "at": T0 + 2_000, "venue": "bybit", "account": "main", "channel": "operator",
        "data": {"action": "clean_position", "position_id": "p-1",
                 "exit_reason": "STALE_CLEANUP", "operator": "alice"},
    }  # fmt: skip
    inputs = [accepted(r) for r in (opened(T0, "p-1", "BTCUSDT", "1"), clean)]
    reconciler = Reconciler()
    (cleaned,) = [e for i in inputs for e in reconciler.apply(i)]
    assert isinstance(cleaned, PositionCleaned)
    result = audit("bybit", "main", enumerate(inputs, 1), symbol="BTCUSDT")
    assert [(e.type, e.closed_by) for e in result.timeline] == [
        ("LocalPositionOpened", ()),
        ("LocalPositionCleaned", (cleaned,)),
    ]
    assert result.timeline[-1].state["local"] == {"qty": "0", "positions": []}


# --- the sample: ETHUSDT closed by hand ------------------------------------------------------

ETH = ["--venue", "bybit", "--account", "main", "--symbol", "ETHUSDT"]
HAND_CLOSE_AT = 1_762_199_242_524  # 2025-11-03T19:47:22.524Z: Bybit's flat ETHUSDT push


@pytest.fixture(scope="module")
def sampled(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = str(tmp_path_factory.mktemp("audit") / "journal.db")
    assert main(["--store", url, "ingest", str(SAMPLE)]) == 0
    return url


def cli(store: str, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["--store", store, *args]) == 0
    return capsys.readouterr().out


def cli_json(store: str, capsys: pytest.CaptureFixture[str], *args: str) -> list[JSON]:
    return [orjson.loads(text) for text in cli(store, capsys, *args, "--json").splitlines()]


def test_the_audit_of_a_position_closed_by_hand_tells_what_positions_tells(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (row,) = cli_json(sampled, capsys, "positions", "--symbol", "ETHUSDT")
    (document,) = cli_json(sampled, capsys, "audit", *ETH)
    assert row["state"]["local"] == {"qty": "0", "positions": []}
    assert document["state"]["local"] == row["state"]["local"]
    (said,) = cli_json(sampled, capsys, "events", "--emitted", "--type", "POSITION_CLOSED")
    assert (said["symbol"], said["position_id"]) == ("ETHUSDT", "p-eth-1")
    assert said["at"] == HAND_CLOSE_AT
    *before, close = document["timeline"]
    assert (close["at"], close["type"], close["input_id"]) == (
        HAND_CLOSE_AT,
        "PositionsReported",
        said["cause"],
    )
    assert close["state"]["local"] == {"qty": "0", "positions": []}
    assert close["closed_by"] == [{k: v for k, v in said.items() if k != "position"}]
    assert all(entry["closed_by"] == [] for entry in before)
    assert before[-1]["state"]["local"]["qty"] == "-2"


@pytest.mark.parametrize(
    ("as_of", "held_open"), [(HAND_CLOSE_AT - 1, True), (HAND_CLOSE_AT, False)]
)
def test_the_audit_as_of_an_instant_before_the_hand_close_shows_the_position_open(
    sampled: str, capsys: pytest.CaptureFixture[str], as_of: int, held_open: bool
) -> None:
    (document,) = cli_json(sampled, capsys, "audit", *ETH, "--as-of", str(as_of))
    local = document["state"]["local"]
    if held_open:
        assert local["qty"] == "-2"
        assert [(p["position_id"], p["status"]) for p in local["positions"]] == [
            ("p-eth-1", "OPEN")
        ]
    else:
        assert local == {"qty": "0", "positions": []}


def test_the_audit_for_people_names_the_event_that_closed_the_position(
    sampled: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = cli(sampled, capsys, "audit", *ETH).splitlines()
    closing = [line for line in lines if "POSITION_CLOSED" in line]
    assert len(closing) == 1
    assert closing[0].startswith("  2025-11-03T19:47:22.524Z  PositionsReported(ws)")
    assert "local: 0 " in closing[0]
    assert "closed by POSITION_CLOSED p-eth-1 (MANUAL)" in closing[0]
    (now,) = [line for line in lines if line.startswith("  now: ")]
    assert now.startswith("  now: exchange: flat") and now.endswith("local: 0")


BTC = ["--venue", "bybit", "--account", "main", "--symbol", "BTCUSDT"]


def slow_snapshot(*, rules: dict[str, Any] | None) -> list[dict[str, Any]]:
    """BTCUSDT 0.3 held, then a two-page snapshot listing only ETHUSDT whose last page
    comes 20 s after its first: slower than the default pagination timeout (10 s)."""
    btc = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 10, "updated_time": T0}
    eth = {"symbol": "ETHUSDT", "side": "Sell", "size": "2", "seq": 11, "updated_time": T0}
    return [
        position_snapshot(T0 + 1_000, btc),
        *([rules] if rules else []),
        position_snapshot(T0 + 5_000, eth, next_cursor="c2"),
        position_snapshot(T0 + 25_000, cursor="c2"),
    ]


@pytest.mark.parametrize(
    ("rules", "exchange_qty"),
    [
        (None, "0.3"),  # the run timed out: it proves nothing, BTCUSDT is still held
        (rule_changes.record(T0 + 2_000, RuleConfig(pagination_timeout_ms=60_000), "r"), "0"),
    ],
)
def test_the_audit_waits_on_a_snapshots_pages_as_the_rules_in_force_then_said(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rules: dict[str, Any] | None,
    exchange_qty: str,
) -> None:
    capture = tmp_path / "slow-pages.jsonl"
    capture.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in slow_snapshot(rules=rules)))
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    (row,) = cli_json(store, capsys, "positions", "--symbol", "BTCUSDT")
    (document,) = cli_json(store, capsys, "audit", *BTC)
    assert row["state"]["exchange"]["qty"] == exchange_qty
    assert document["state"]["exchange"] == row["state"]["exchange"]


def rules_change_between_paginations() -> list[dict[str, Any]]:
    """BTCUSDT 0.3 held; rules waiting 60 s on a snapshot's pages; a snapshot listing only
    ETHUSDT whose last page comes 20 s after its first; rules back to the default (10 s);
    then another such snapshot."""
    btc = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 10, "updated_time": T0}
    eth = {"symbol": "ETHUSDT", "side": "Sell", "size": "2", "seq": 11, "updated_time": T0}
    patient = RuleConfig(pagination_timeout_ms=60_000)
    return [
        position_snapshot(T0 + 1_000, btc),
        rule_changes.record(T0 + 2_000, patient, "patient.toml"),
        position_snapshot(T0 + 5_000, eth, next_cursor="c2"),
        position_snapshot(T0 + 25_000, cursor="c2"),
        rule_changes.record(T0 + 30_000, RuleConfig(), "defaults.toml"),
        position_snapshot(T0 + 35_000, eth, next_cursor="c3"),
        position_snapshot(T0 + 55_000, cursor="c3"),
    ]


def test_the_audit_folds_each_snapshot_under_the_rules_in_force_when_it_came(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first snapshot finished within the 60 s then in force: it flattened BTCUSDT, as
    positions says, though the rules in force at the end would have called it timed out."""
    capture = tmp_path / "rules-between.jsonl"
    records = rules_change_between_paginations()
    capture.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    (row,) = cli_json(store, capsys, "positions", "--symbol", "BTCUSDT")
    (document,) = cli_json(store, capsys, "audit", *BTC)
    assert row["state"]["exchange"]["qty"] == "0"
    assert document["state"]["exchange"] == row["state"]["exchange"]
    flattened = [e for e in document["timeline"] if e["state"]["exchange"]["qty"] == "0"]
    assert [e["at"] for e in flattened] == [T0 + 25_000]
    with Journal.open(f"sqlite://{store}") as journal:  # by the full read an unindexed account gets
        inputs = journal.account_inputs("bybit", "main", "BTCUSDT")
        folded = audit("bybit", "main", inputs, symbol="BTCUSDT", rules=journal.rules_recorded())
    (key,) = folded.keys
    assert folded.state(key)["exchange"] == row["state"]["exchange"]


def rules_recorded_after_later_inputs() -> list[dict[str, Any]]:
    """p-1 opened on BTCUSDT 0.3 and the exchange holding it; rules waiting 60 s on a
    snapshot's pages; a snapshot listing only ETHUSDT whose last page comes 20 s after its
    first; then, recorded after those pages, rules back to the default (10 s) dated before
    them (a rules file read late, by a clock behind the feed's)."""
    btc = {"symbol": "BTCUSDT", "side": "Buy", "size": "0.3", "seq": 10, "updated_time": T0}
    eth = {"symbol": "ETHUSDT", "side": "Sell", "size": "2", "seq": 11, "updated_time": T0}
    return [
        opened(T0, "p-1", "BTCUSDT", "0.3"),
        position_snapshot(T0 + 1_000, btc),
        rule_changes.record(T0 + 1_500, RuleConfig(pagination_timeout_ms=60_000), "patient"),
        position_snapshot(T0 + 5_000, eth, next_cursor="c2"),
        position_snapshot(T0 + 25_000, cursor="c2"),
        rule_changes.record(T0 + 3_000, RuleConfig(), "defaults"),
        # No fill says why p-1 closed: the tick past close_cause_grace_ms reports it.
        tick(T0 + 28_000),
    ]


def test_the_audit_folds_each_input_under_the_rules_recorded_before_it_whatever_their_instants(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reconciler folded the snapshot's pages under the 60 s recorded before them: the
    run completed, flattened BTCUSDT and closed p-1 (reported once its grace was over, on
    the next tick). The defaults, recorded after the pages,
    are dated before them: by instant they would have timed the run out, and closed nothing."""
    capture = tmp_path / "rules-out-of-order.jsonl"
    records = rules_recorded_after_later_inputs()
    capture.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert main(["--store", store_url, "ingest", str(capture)]) == 0
    (row,) = cli_json(store_url, capsys, "positions", "--symbol", "BTCUSDT")
    (said,) = cli_json(store_url, capsys, "events", "--emitted", "--type", "POSITION_CLOSED")
    (document,) = cli_json(store_url, capsys, "audit", *BTC)
    assert row["state"]["exchange"]["qty"] == "0"
    assert row["state"]["local"] == {"qty": "0", "positions": []}
    assert (said["position_id"], said["at"]) == ("p-1", T0 + 28_000)
    assert {k: document["state"][k] for k in ("exchange", "local")} == {
        k: row["state"][k] for k in ("exchange", "local")
    }
    closes = [(e["at"], e["closed_by"]) for e in document["timeline"] if e["closed_by"]]
    assert closes == [(T0 + 28_000, [{k: v for k, v in said.items() if k != "position"}])]
    with Journal.open(store_url) as journal:
        assert journal.rules_recorded().at(T0 + 25_000) == RuleConfig()  # by instant: 10 s
        # The full read, an account an older trueup began gets, folds the same.
        folded = audit_marked(
            "bybit",
            "main",
            journal.symbol_inputs("bybit", "main", "BTCUSDT"),
            symbol="BTCUSDT",
            rules=journal.rules_recorded(),
        )
    (key,) = folded.keys
    assert folded.state(key) == {k: document["state"][k] for k in folded.state(key)}
    assert [(e.at, [c.event_id for c in e.closed_by]) for e in folded.timeline if e.closed_by] == [
        (T0 + 28_000, [said["event_id"]])
    ]
