"""One hostile line never blocks the journal: it is kept, rejected with its reason, and every
command reads, prints and folds what was stored, on both stores.

Each line below once crashed ingest for good (exit 1, nothing of the file stored, the same
crash on every rerun), or stored something that later broke a read command.
"""

import decimal
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from msgspec.structs import replace

from tests.inputs import execution_frame, order_frame
from trueup.adapters.aster import messages as aster
from trueup.adapters.bybit import messages
from trueup.adapters.capture import decode_line
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.events import PositionsReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.can_open_facts import can_open
from trueup.runners.cli import main

T0 = 1_762_199_000_000
ACCOUNT = "main"
AS_OF = str(T0 + 2_000)


def position_frame(at: int, **fields: Any) -> dict[str, Any]:
    item = messages.position_item(
        symbol="BTCUSDT", side="Buy", size="0.3", seq=7, updated_time=at, **fields
    )
    frame = messages.ws_frame("position", [item], message_id=f"p-{at}", creation_time=at)
    return messages.capture_ws(at, ACCOUNT, frame)


def with_item(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A position frame with fields of its one item replaced, verbatim."""
    data = record["data"]
    item = {**data["data"][0], **fields}
    return {**record, "data": {**data, "data": [item]}}


def hyperliquid_state(at: int, szi: str) -> dict[str, Any]:
    position = {
        "coin": "ETH",
        "szi": szi,
        "entryPx": "3000.0",
        "positionValue": "0",
        "unrealizedPnl": "0",
        "returnOnEquity": "0",
        "liquidationPx": None,
        "leverage": {"type": "cross", "value": 10},
        "marginUsed": "0",
        "maxLeverage": 50,
        "cumFunding": {"allTime": "0", "sinceOpen": "0", "sinceChange": "0"},
    }
    summary = {"accountValue": "0", "totalNtlPos": "0", "totalRawUsd": "0", "totalMarginUsed": "0"}
    state = {
        "assetPositions": [{"type": "oneWay", "position": position}],
        "marginSummary": summary,
        "crossMarginSummary": summary,
        "withdrawable": "0",
        "time": at,
    }
    return {
        "at": at,
        "venue": "hyperliquid",
        "account": "0xabc",
        "channel": "rest",
        "endpoint": "clearinghouseState",
        "params": {"user": "0xabc"},
        "data": state,
    }


def aster_position_risk(at: int, amount: str, update_time: object) -> dict[str, Any]:
    entry = aster.position_risk(symbol="BTCUSDT", position_amt=amount, update_time=0)
    return aster.capture_rest(
        at, "main", "/fapi/v2/positionRisk", {}, [entry | {"updateTime": update_time}]
    )


def aster_fill(at: int, **fields: object) -> dict[str, Any]:
    update = aster.order_trade_update(
        event_time=at,
        transaction_time=at,
        symbol="BTCUSDT",
        order_id=1,
        side="BUY",
        qty="1",
        execution_type="TRADE",
        status="FILLED",
        last_qty="1",
        last_price="65000.0",
        filled_qty="1",
        trade_id=1,
    )
    return aster.capture_ws(at, "main", update | {"o": update["o"] | fields})


HOSTILE: dict[str, bytes] = {
    "superscript digit as at": b'{"at": "\xc2\xb2", "channel": "clock"}',
    "arabic digits as updatedTime": orjson.dumps(
        with_item(position_frame(T0), updatedTime="\u0661\u0662")
    ),
    "devanagari digits as seq": orjson.dumps(with_item(position_frame(T0), seq="\u0967")),
    "nested 300 deep": b'{"at": 1762199000000, "x": ' + b"[" * 300 + b"]" * 300 + b"}",
    "nested 1000 deep": b'{"at": 1762199000000, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "size 1e999999999": orjson.dumps(with_item(position_frame(T0), size="1e999999999")),
    "size of 33 digits": orjson.dumps(with_item(position_frame(T0), size="9" * 33)),
    "hyperliquid szi 1e999999999": orjson.dumps(hyperliquid_state(T0, "1e999999999")),
    "negative size": orjson.dumps(with_item(position_frame(T0), size="-0.3")),
    "positionIdx of no position mode": orjson.dumps(with_item(position_frame(T0), positionIdx=3)),
    "positionIdx beyond 32 bits": orjson.dumps(with_item(position_frame(T0), positionIdx=2**40)),
    "aster positionAmt 1e999999999": orjson.dumps(aster_position_risk(T0, "1e999999999", T0)),
    "aster updateTime in year 10000": orjson.dumps(
        aster_position_risk(T0, "1", 253_402_300_800_000)
    ),
    "aster fill of superscript quantity": orjson.dumps(aster_fill(T0, l="\u00b2")),
    "aster order status unknown": orjson.dumps(aster_fill(T0, X="FILLED_ISH")),
    "aster trade id beyond 64 bits": orjson.dumps(aster_fill(T0, t=7)).replace(
        b'"t":7,', b'"t":18446744073709551616,'
    ),
    # PostgreSQL's text holds no NUL: a name carrying one failed the projection's step.
    "aster order symbol with a NUL": orjson.dumps(aster_fill(T0, s="BTC\x00USDT")),
    "bybit category with a NUL": orjson.dumps(with_item(position_frame(T0), category="lin\x00")),
    "bybit snapshot of a symbol with a NUL": orjson.dumps(
        messages.capture_rest(
            T0,
            ACCOUNT,
            "/v5/position/list",
            {"category": "linear", "symbol": "BTC\x00USDT"},
            messages.rest_ok("linear", [], time=T0),
        )
    ),
    "intent category with a NUL": orjson.dumps(
        messages.capture_intent(
            T0,
            ACCOUNT,
            {
                "kind": "position_opened",
                "position_id": "p-1",
                "category": "lin\x00ear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "qty": "1",
                "mode": "LIVE",
            },
        )
    ),
    "at in year 10000": orjson.dumps({"at": 253_402_300_800_000, "channel": "clock"}),
    "400-digit at": b'{"at": ' + b"9" * 400 + b', "channel": "clock"}',
    "400-digit at as text": b'{"at": "' + b"9" * 400 + b'", "channel": "clock"}',
    "invalid UTF-8": b'{"at": 1762199000000, "channel": "clock", "x": "\xff"}',
    "other invalid UTF-8": b'{"at": 1762199000000, "channel": "clock", "x": "\xfe"}',
}


@pytest.fixture
def store(store_url: str) -> str:
    return store_url


def ingest(store: str, tmp_path: Path, lines: list[bytes], name: str = "capture") -> int:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return main(["--store", store, "ingest", str(path)])


def test_every_hostile_line_is_rejected_with_its_reason_and_counted(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = list(HOSTILE.values())
    assert ingest(store, tmp_path, lines) == 0
    out = capsys.readouterr().out
    assert f"ingested {len(lines)} lines: 0 accepted, {len(lines)} rejected" in out


def test_a_rerun_after_hostile_lines_stores_nothing_twice(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = list(HOSTILE.values())
    assert ingest(store, tmp_path, lines) == 0
    assert ingest(store, tmp_path, lines) == 0
    assert f"({len(lines)} already in the journal)" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_after_a_hostile_line_every_read_command_still_works(
    name: str, store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = orjson.dumps(position_frame(T0 + 1_000))
    assert ingest(store, tmp_path, [HOSTILE[name], good]) == 0
    for command in (
        ["events"],
        ["events", "--json"],
        ["events", "--emitted"],
        ["positions"],
        ["positions", "--json"],
        ["can-open", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "ETHUSDT"],
        ["diagnose", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT"],
        ["audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT"],
        ["audit", "--venue", "bybit", "--account", ACCOUNT, "--symbol", "BTCUSDT", "--json"],
        [
            "audit",
            "--venue",
            "bybit",
            "--account",
            ACCOUNT,
            "--symbol",
            "BTCUSDT",
            "--as-of",
            AS_OF,
        ],
    ):
        assert main(["--store", store, *command]) in (0, 1), command
    assert "Traceback" not in capsys.readouterr().err


def test_a_leg_beyond_32_bits_never_stalls_the_projection(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An order on a positionIdx of 2**40, filled and closed, was stored, and its closed
    lifecycle's history row could not be written to PostgreSQL's INTEGER column: the
    projection failed at that step, every time it tried. The order is refused instead."""
    order = order_frame(
        T0, symbol="ETHUSDT", order_id="o-1", side="Buy", qty="1", status="Filled",
        updated_time=T0, position_idx=2**40, cum_exec_qty="1",
    )  # fmt: skip
    fills = [
        execution_frame(T0 + 1_000, dict(symbol="ETHUSDT", order_id="o-1", exec_id="a",
            side="Buy", exec_qty="1", exec_price="3000", exec_time=T0 + 1_000, seq=1)),
        execution_frame(T0 + 2_000, dict(symbol="ETHUSDT", order_id="o-1", exec_id="b",
            side="Sell", exec_qty="1", exec_price="3100", exec_time=T0 + 2_000, seq=2,
            closed_size="1")),
    ]  # fmt: skip
    assert ingest(store, tmp_path, [orjson.dumps(r) for r in (order, *fills)]) == 0
    out = capsys.readouterr().out
    assert "ingested 3 lines: 2 accepted, 1 rejected" in out
    assert main(["--store", store, "events", "--type", "InputRejected"]) == 0
    assert "positionIdx: must be 0, 1 or 2, got 1099511627776" in capsys.readouterr().out
    assert main(["--store", store, "history"]) == 0
    assert "ETHUSDT" in capsys.readouterr().out


def test_a_placement_record_of_an_account_no_other_line_can_name_is_kept_and_makes_no_book(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Records name their event's account as it was (an older journal's, say): one holding a
    NUL is stored, yet folded into no book, whose views PostgreSQL's text could not hold."""
    data = {
        "trigger_id": "t-1", "decision_id": "0c08d3a0-cc7d-5edd-92c5-9b5c302cec97",
        "symbol": "BTCUSDT", "client_order_id": "tu-1", "outcome": "accepted",
    }  # fmt: skip
    record = {"at": T0, "channel": "placement", "venue": "bybit", "account": "ma\x00in"}
    good = orjson.dumps(position_frame(T0 + 1_000))
    assert ingest(store, tmp_path, [orjson.dumps({**record, "data": data}), good]) == 0
    assert "ingested 2 lines: 2 accepted, 0 rejected" in capsys.readouterr().out
    with Journal.open(store) as journal:
        accounts = TrueupService(journal).exchange_freshness(now=T0 + 2_000)
    assert [(f.venue, f.account) for f in accounts] == [("bybit", ACCOUNT)]


def test_lines_differing_only_in_invalid_bytes_stay_two_inputs(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [HOSTILE["invalid UTF-8"], HOSTILE["other invalid UTF-8"]]
    assert ingest(store, tmp_path, lines) == 0
    out = capsys.readouterr().out
    assert "ingested 2 lines: 0 accepted, 2 rejected" in out
    assert "already in the journal" not in out


def test_blank_lines_are_counted_and_reported(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = orjson.dumps(position_frame(T0))
    assert ingest(store, tmp_path, [b"", good, b"   ", b""]) == 0
    assert "(3 blank lines skipped)" in capsys.readouterr().out


def untracked_on(account: str, at: int) -> bytes:
    record = position_frame(at)
    return orjson.dumps({**record, "account": account})


def test_two_accounts_untracked_on_one_tick_emit_events_of_their_own(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tick = orjson.dumps({"at": T0 + 10_000, "channel": "clock"})
    lines = [untracked_on("alice", T0), untracked_on("bob", T0), tick]
    assert ingest(store, tmp_path, lines) == 0
    assert "emitted 2 UNTRACKED_POSITION" in capsys.readouterr().out
    # A restart of the projection (a second ingest) must not collide on them either.
    assert ingest(store, tmp_path, lines, name="again") == 0


def test_an_input_the_rules_cannot_take_emits_nothing_and_blocks_can_open() -> None:
    # As a journal written before the bounds existed may hold: a size no quantize survives.
    opened = {
        "kind": "position_opened",
        "position_id": "p-1",
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "qty": "0.3",
        "mode": "LIVE",
    }
    good = decode_line(orjson.dumps(position_frame(T0 + 1_000)))
    assert isinstance(good, PositionsReported)
    huge = replace(good, reports=(replace(good.reports[0], size=Decimal("1E+999999999")),))
    reconciler = Reconciler()
    reconciler.apply(decode_line(orjson.dumps(messages.capture_intent(T0, ACCOUNT, opened))))
    assert reconciler.apply(huge) == []
    tick = decode_line(orjson.dumps({"at": T0 + 60_000, "channel": "clock"}))
    # Drift outlasts its grace here, and no percentage of such a size can be reported.
    assert reconciler.apply(tick) == []
    assert reconciler.book("bybit", ACCOUNT).fold_faults
    book = reconciler.book("bybit", ACCOUNT)
    verdict = can_open(book, reconciler.detectors("bybit", ACCOUNT), "ETHUSDT", T0 + 60_000)
    assert not verdict.allowed
    assert any("could not be folded" in r for r in verdict.reasons)


def test_a_reconciler_that_does_not_contain_faults_raises_where_the_fold_broke() -> None:
    """For a property test or a fuzzer: the fault itself, not a note of it in the account."""
    opened = {
        "kind": "position_opened", "position_id": "p-1", "category": "linear",
        "symbol": "BTCUSDT", "side": "Buy", "qty": "0.3", "mode": "LIVE",
    }  # fmt: skip
    good = decode_line(orjson.dumps(position_frame(T0 + 1_000)))
    assert isinstance(good, PositionsReported)
    huge = replace(good, reports=(replace(good.reports[0], size=Decimal("1E+999999999")),))
    every_account = {"at": T0 + 60_000, "channel": "clock"}
    own = {**every_account, "venue": "bybit", "account": ACCOUNT}
    for tick in (every_account, own):
        strict = Reconciler(contain_faults=False)
        strict.apply(decode_line(orjson.dumps(messages.capture_intent(T0, ACCOUNT, opened))))
        assert strict.apply(huge) == []
        with pytest.raises(decimal.Overflow):  # drift outlasts its grace: its percentage
            strict.apply(decode_line(orjson.dumps(tick)))
        assert not strict.book("bybit", ACCOUNT).fold_faults
