"""The sample Aster session (samples/aster-session.jsonl) tells the story it is meant to tell.

A LIVE account: BTCUSDT bought in two fills; an ETHUSDT short opened at market; the user
data stream's listenKey expires and, while it is down, BTCUSDT is closed by hand, which only
the next positionRisk snapshot shows; a funding fee on the short, a margin call, then Aster's
liquidation engine (client order id autoclose-...) closes it; a rate-limited poll. Every line
is in Aster's documented formats (samples/README.md tells it line by line).
"""

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from trueup.adapters.capture import decode_line
from trueup.domain.book import fold
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputRejected, RejectionKind, StreamDown
from trueup.domain.keys import OrderKey, PositionKey
from trueup.domain.reconciler import reconcile
from trueup.domain.vocabulary import OrderOrigin, OrderStatus
from trueup.runners.cli import main

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "aster-session.jsonl"
VENUE, ACCOUNT = "aster", "main"
BTC = PositionKey(VENUE, ACCOUNT, "perp", "BTCUSDT", 0)
ETH = PositionKey(VENUE, ACCOUNT, "perp", "ETHUSDT", 0)
LINES = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
EVENTS = [decode_line(line) for line in LINES]
BOOK = fold(VENUE, ACCOUNT, EVENTS)


def told(emitted: Emitted) -> tuple[str, ...]:
    """What an emitted event says, in a few words: its type, symbol and position or reason."""
    fields = ("symbol", "position_id", "exit_reason")
    return (emitted.type, *(str(getattr(emitted, f)) for f in fields if getattr(emitted, f, None)))


def test_the_session_is_aster_account_main_in_receive_time_order() -> None:
    assert {(e.venue, e.account) for e in EVENTS} == {(VENUE, ACCOUNT)}
    ats = [e.at for e in EVENTS]
    assert ats == sorted(ats)


def test_every_line_is_used_but_the_rate_limited_poll() -> None:
    (refused,) = [e for e in EVENTS if isinstance(e, InputRejected)]
    assert refused.kind is RejectionKind.RATE_LIMITED
    assert (refused.http_status, refused.ret_code, refused.position_snapshot) == (429, -1003, True)


def test_ingesting_it_emits_the_sessions_events_in_order() -> None:
    assert [told(e) for e in reconcile(EVENTS)] == [
        ("ENTRY_SUBMITTED", "BTCUSDT", "p-btc-1"),
        ("ENTRY_FILLED", "BTCUSDT", "p-btc-1"),
        ("ENTRY_SUBMITTED", "ETHUSDT", "p-eth-1"),
        ("ENTRY_FILLED", "ETHUSDT", "p-eth-1"),
        # The snapshot brings each leg's leverage and liquidation price: 10x on three times
        # the equity reaches the risk score's warning level.
        ("RISK_WARNING", "BTCUSDT"),
        ("RISK_WARNING", "ETHUSDT"),
        ("WS_RECONNECT",),
        # Closed by hand while the stream was down: the snapshot shows it flat before the
        # catch-up brings its fill, which comes within close_cause_grace_ms and says why (a
        # close by hand: no cooldown).
        ("POSITION_CLOSED", "BTCUSDT", "p-btc-1", "MANUAL"),
        # The margin call's mark (3600) is within 0.6 % of the liquidation price: told at
        # once, before the liquidation itself.
        ("RISK_WARNING", "ETHUSDT"),
        ("POSITION_CLOSED", "ETHUSDT", "p-eth-1", "LIQUIDATION"),
        ("COOLDOWN_STARTED", "ETHUSDT"),
        ("RATE_LIMIT",),
    ]


def test_the_manual_close_is_seen_only_in_the_snapshot_after_the_stream_came_back() -> None:
    down = next(i for i, e in enumerate(EVENTS) if isinstance(e, StreamDown))
    before = fold(VENUE, ACCOUNT, EVENTS[: down + 2])
    assert before.positions[BTC].exchange_qty == Decimal("0.5")
    after = fold(VENUE, ACCOUNT, EVENTS[: down + 3])
    assert after.positions[BTC].exchange_qty == 0


def test_the_entry_fills_count_once_though_rest_lists_them_again() -> None:
    entry = BOOK.order_by_client_id("p-btc-1-entry")
    assert entry is not None and entry.status is OrderStatus.FILLED
    assert sorted(entry.fills) == ["5001", "5002"] and entry.filled_qty == Decimal("0.5")
    assert entry.avg_price == Decimal("65000.0")


def test_the_liquidation_engines_order_is_known_by_its_client_order_id() -> None:
    liquidation = BOOK.orders[OrderKey("perp", "ETHUSDT", "2002")]
    assert liquidation.origin is OrderOrigin.LIQUIDATION and liquidation.is_terminal


def test_everything_ends_flat_with_funding_and_the_wallet_folded() -> None:
    assert BOOK.positions[BTC].exchange_qty == 0 and BOOK.positions[ETH].exchange_qty == 0
    assert BOOK.pnl.keys[ETH].funding == Decimal("1.20000000")
    summary = BOOK.wallet.summary()
    assert summary is not None and summary.wallet_balance == Decimal("7634.00000000")


def test_trueup_ingest_stores_it_and_a_second_ingest_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert f"ingested {len(LINES)} lines: {len(LINES) - 1} accepted, 1 rejected" in out
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    assert f"({len(LINES)} already in the journal)" in capsys.readouterr().out
    assert main(["--store", store, "history", "--venue", VENUE, "--json"]) == 0
    closed = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    # The history reads each lifecycle's closing fill: BTCUSDT's came later, by userTrades,
    # of an order the bot never placed, so it shows the close by hand the snapshot could not.
    assert sorted((c["symbol"], c["exit_reason"]) for c in closed) == [
        ("BTCUSDT", "MANUAL"),
        ("ETHUSDT", "LIQUIDATION"),
    ]


def test_while_both_are_held_positions_show_them_in_ccxts_unified_structure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "held.jsonl"
    held.write_bytes(b"\n".join(LINES[:16]) + b"\n")  # up to the snapshot that shows both
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(held)]) == 0
    capsys.readouterr()
    assert main(["--store", store, "positions", "--venue", VENUE, "--format", "ccxt"]) == 0
    found = {p["symbol"]: p for p in map(orjson.loads, capsys.readouterr().out.splitlines())}
    assert set(found) == {"BTC/USDT:USDT", "ETH/USDT:USDT"}
    assert (found["ETH/USDT:USDT"]["side"], found["ETH/USDT:USDT"]["contracts"]) == ("short", 4.0)
    assert found["BTC/USDT:USDT"]["liquidationPrice"] == 52000.0


def test_the_audit_weighs_risk_at_the_mark_of_its_instant_as_the_risk_rule_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "journal.db")
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0
    capsys.readouterr()
    margin_call = next(e for e in EVENTS if b"MARGIN_CALL" in e.raw.encode())
    asked = ("audit", "--venue", VENUE, "--account", ACCOUNT, "--symbol", "ETHUSDT", "--json")
    assert main(["--store", store, *asked, "--as-of", str(margin_call.at + 50)]) == 0
    risk = orjson.loads(capsys.readouterr().out)["risk"]
    # The RISK_WARNING told at the margin call: 0.005556 from liquidation, mark 3600.
    assert (risk["mark_price"], risk["liquidation_distance"]) == ("3600.0", "0.005556")
    assert risk["near_liquidation"] is True
