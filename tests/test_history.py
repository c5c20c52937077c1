"""Position history: every lifecycle closed (open to flat) is a record, persisted as a view,
that `trueup history` reads on SQLite and on PostgreSQL."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.inputs import T0, execution_frame, line, opened, order_frame
from trueup.adapters.hyperliquid import messages as hl
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.projections.reconciliation import replay
from trueup.runners.cli import main

SAMPLE = Path(__file__).parent.parent / "samples" / "bybit-session.jsonl"


def trueup(store_url: str, *args: str) -> int:
    return main(["--store", store_url, *args])


def fill(at: int, tid: str, side: str, qty: str, price: str, **more: Any) -> dict[str, Any]:
    return execution_frame(
        at,
        dict(
            symbol="ETHUSDT",
            order_id=f"o-{tid}",
            exec_id=tid,
            side=side,
            exec_qty=qty,
            exec_price=price,
            exec_time=at,
            seq=at - T0,
            **more,
        ),
    )


def hedged_flip() -> list[dict[str, Any]]:
    """A long opened (by the bot's p-1), closed by a flip into a short, the short closed by a
    venue take-profit; and in hedge mode, a short leg opened and closed beside it."""
    return [
        opened(T0, "p-1", "ETHUSDT", "1"),
        fill(T0 + 1_000, "a", "Buy", "1", "3000", exec_fee="1.5"),
        fill(T0 + 2_000, "b", "Buy", "1", "3100", exec_fee="1.5"),
        fill(T0 + 3_000, "c", "Sell", "3", "3200", exec_fee="4.5", closed_size="2"),
        fill(T0 + 4_000, "d", "Buy", "1", "3150", exec_fee="1", stop_order_type="TakeProfit"),
    ]


def test_a_flip_closes_one_lifecycle_and_opens_the_next(tmp_path: Path) -> None:
    with Journal.open(str(tmp_path / "j.db")) as journal:
        service = TrueupService(journal)
        service.ingest([[line(r) for r in hedged_flip()]])
        long, short = service.history()
    assert (long.side, long.max_size, long.avg_entry, long.avg_exit) == (
        "LONG",
        Decimal(2),
        Decimal(3050),
        Decimal(3200),
    )
    assert long.realised_pnl == Decimal(300)  # (3200 - 3050) x 2
    assert long.fees == Decimal(6)  # 1.5 + 1.5 + two thirds of 4.5
    assert long.position_ids == ("p-1",)
    assert long.exit_reason == "MANUAL"  # an order the bot never placed
    assert (long.opened_at, long.closed_at, long.duration_ms) == (T0 + 1_000, T0 + 3_000, 2_000)
    assert (short.side, short.realised_pnl, short.fees) == ("SHORT", Decimal(50), Decimal("2.5"))
    assert short.exit_reason == "TAKE_PROFIT"
    assert short.net_pnl == Decimal("47.5")


def test_hedge_mode_legs_come_from_the_orders_position_idx(tmp_path: Path) -> None:
    records = [
        order_frame(
            T0,
            symbol="ETHUSDT",
            order_id="o-l",
            side="Buy",
            qty="1",
            status="Filled",
            updated_time=T0,
            position_idx=1,
            cum_exec_qty="1",
        ),
        order_frame(
            T0,
            symbol="ETHUSDT",
            order_id="o-s",
            side="Sell",
            qty="1",
            status="Filled",
            updated_time=T0,
            position_idx=2,
            cum_exec_qty="1",
        ),
        fill(T0 + 1_000, "l", "Buy", "1", "3000"),
        fill(T0 + 1_000, "s", "Sell", "1", "3000"),
        # No order report: in hedge mode a Sell that closed some closes the long leg.
        fill(T0 + 2_000, "l2", "Sell", "1", "3100", closed_size="1"),
    ]
    records[2]["data"]["data"][0]["orderId"] = "o-l"
    records[3]["data"]["data"][0]["orderId"] = "o-s"
    with Journal.open(str(tmp_path / "j.db")) as journal:
        service = TrueupService(journal)
        service.ingest([[line(r) for r in records]])
        (closed,) = service.history()
        book = replay(journal).book("bybit", "main")
    assert (closed.position_idx, closed.side, closed.realised_pnl) == (1, "LONG", Decimal(100))
    short = book.pnl.keys[book.key("linear", "ETHUSDT", 2)].open
    assert short is not None and (short.side.value, short.size) == ("SHORT", Decimal(1))


def test_history_on_the_command_line_reads_the_view(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / "flip.jsonl"
    capture.write_bytes(SAMPLE.read_bytes() + b"".join(line(r) + b"\n" for r in hedged_flip()))
    assert trueup(store_url, "ingest", str(capture)) == 0
    capsys.readouterr()
    assert trueup(store_url, "history", "--json") == 0
    records = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    # By close (the flip's fills are stamped before the sample's).
    assert [(r["symbol"], r["side"], r["exit_reason"]) for r in records] == [
        ("ETHUSDT", "LONG", "MANUAL"),
        ("ETHUSDT", "SHORT", "TAKE_PROFIT"),
        ("ETHUSDT", "SHORT", "MANUAL"),  # the sample's
        ("BTCUSDT", "LONG", "TAKE_PROFIT"),
    ]
    btc = records[3]
    assert (btc["realised_pnl"], btc["fees"], btc["net_pnl"]) == ("450.000", "12.840", "437.160")
    assert btc["venue_realised_pnl"] == "450.0" and btc["position_ids"] == ["p-btc-1"]
    assert trueup(store_url, "history", "--symbol", "BTCUSDT") == 0
    text = capsys.readouterr().out.splitlines()
    assert len(text) == 2 and "TAKE_PROFIT" in text[1] and "437.160" in text[1]
    since = "2025-11-03T19:43:24Z"  # T0 + 4 s
    assert (
        trueup(
            store_url,
            "history",
            "--venue",
            "bybit",
            "--account",
            "main",
            "--symbol",
            "ETHUSDT",
            "--since",
            since,
            "--json",
        )
        == 0
    )
    later = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [r["closed_at"] for r in later] == [T0 + 4_000, records[2]["closed_at"]]
    # From the view, not a replay: the view is what the projection recorded.
    with Journal.open(store_url) as journal:
        assert len(journal.views().history(None, None, None, 0)) == 4


def over_closed() -> list[dict[str, Any]]:
    """A long of 1; a Sell of 3 closes it and opens a short of 2, added to by 1; a Buy of 9
    closes the short's 3 and opens a long of 6, sold. A fee is shared between the lifecycle a
    fill closes and the one it opens, each share rounded to 1e-24 (thirds here): the short
    paid 2/3 of 1, then 2, then 1/3 of 1, 3 in all."""
    return [
        fill(T0 + 1_000, "a", "Buy", "1", "3000", exec_fee="0"),
        fill(T0 + 2_000, "b", "Sell", "3", "3000", exec_fee="1", closed_size="1"),
        fill(T0 + 3_000, "c", "Sell", "1", "3000", exec_fee="2"),
        fill(T0 + 4_000, "d", "Buy", "9", "3000", exec_fee="1", closed_size="3"),
        fill(T0 + 5_000, "e", "Sell", "6", "3000", exec_fee="0", closed_size="6"),
    ]


def history_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], records: Any
) -> list[list[str]]:
    """``trueup history`` of a journal of ``records``, each row split into its columns."""
    store = str(tmp_path / "j.db")
    capture = tmp_path / "fills.jsonl"
    capture.write_bytes(b"".join(line(r) + b"\n" for r in records))
    assert trueup(store, "ingest", str(capture)) == 0
    capsys.readouterr()
    assert trueup(store, "history") == 0
    _, *rows = capsys.readouterr().out.splitlines()
    return [row.split() for row in rows]


# The columns of a row split: closed, account, symbol, idx, side, max size, entry, exit,
# realised, then these three.
FEES, FUNDING, NET = 9, 10, 11


def test_history_prints_figures_without_the_zeros_of_the_ledgers_precision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long, short, last = history_rows(tmp_path, capsys, over_closed())
    assert (short[4], short[FEES], short[FUNDING], short[NET]) == ("SHORT", "3", "0", "-3")
    # A share's own digits are the figure's, to 1e-24: all of them shown.
    assert (long[FEES], last[FEES]) == ("0.333333333333333333333333", "0.666666666666666666666667")
    # As summary prints the account's totals of them.
    assert main(["--store", str(tmp_path / "j.db"), "summary"]) == 0
    assert "fees 4, funding 0, net -4\n" in capsys.readouterr().out


def test_history_never_rounds_away_a_figure_below_an_inputs_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A long of 1.000000000001 that paid 1, closed by a Sell of 2 with a rebate of
    1.999999999998, whose share of it (1.000000000001 / 2) is 0.999999999999999999999999:
    the long paid 1e-24 net."""
    records = [
        fill(T0 + 1_000, "a", "Buy", "1.000000000001", "3000", exec_fee="1"),
        fill(T0 + 2_000, "b", "Sell", "2", "3000", exec_fee="-1.999999999998"),
        fill(T0 + 3_000, "c", "Buy", "0.999999999999", "3000", exec_fee="0"),
    ]
    long, _ = history_rows(tmp_path, capsys, records)
    assert (long[FEES], long[NET]) == ("0.000000000000000000000001", "-0.000000000000000000000001")


HL_USER = "0x" + "ab" * 20


def hl_fill(at: int, tid: int, side: str, start: str, direction: str) -> dict[str, Any]:
    """A Hyperliquid fill of 1 ETH: its account an address, its position before ``start``."""
    fill = hl.user_fill(
        coin="ETH", px="3000.0", sz="1.0", side=side, time=at, oid=tid, tid=tid,
        start_position=start, direction=direction,
    )  # fmt: skip
    return hl.capture_ws(at, HL_USER, hl.user_fills_frame(HL_USER, [fill]))


def test_history_aligns_a_hyperliquid_address_with_bybits_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The account column is as wide as the longest account shown, so every column after it
    starts where its heading does."""
    store = str(tmp_path / "j.db")
    capture = tmp_path / "two-venues.jsonl"
    hyperliquid = [
        hl_fill(T0 + 5_000, 1, "B", "0.0", "Open Long"),
        hl_fill(T0 + 6_000, 2, "A", "1.0", "Close Long"),
    ]
    capture.write_bytes(b"".join(line(r) + b"\n" for r in [*hedged_flip(), *hyperliquid]))
    assert trueup(store, "ingest", str(capture)) == 0
    capsys.readouterr()
    assert trueup(store, "history") == 0
    header, *rows = capsys.readouterr().out.splitlines()
    account, symbol = header.index("account"), header.index("symbol")
    assert [(row[account:symbol].rstrip(), row[symbol:].split()[0]) for row in rows] == [
        ("bybit/main", "ETHUSDT"),
        ("bybit/main", "ETHUSDT"),
        ("hyperliquid/0xabababab", "ETH"),
    ]
    # The figures are right-aligned: each row's end where its heading's does, before the reason.
    assert {row.rindex("  ") for row in rows} == {header.index("  exit reason")}


def test_history_without_the_projection_is_the_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "j.db")
    capture = tmp_path / "flip.jsonl"
    capture.write_bytes(b"".join(line(r) + b"\n" for r in hedged_flip()))
    assert trueup(store, "ingest", "--no-projections", str(capture)) == 0
    capsys.readouterr()
    assert trueup(store, "history", "--json") == 0
    records = [orjson.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [r["side"] for r in records] == ["LONG", "SHORT"]


def test_a_late_entry_fill_rewrites_the_lifecycles_recorded_without_it(tmp_path: Path) -> None:
    """A long bought in two fills and sold in two, then a Buy that opens the next: the second
    entry comes last (a REST backfill). Before it, trueup had recorded a long closed by the
    first Sell and a short (the second Sell) closed by the next Buy; after it, the history is
    the fills' own: the long of 2, and nothing else closed (the next long is open)."""
    fills = {
        "b1": (T0 + 1_000, "Buy", "1", "3000"),
        "b2": (T0 + 2_000, "Buy", "1", "3100"),
        "s1": (T0 + 3_000, "Sell", "1", "3200"),
        "s2": (T0 + 4_000, "Sell", "1", "3300"),
        "b3": (T0 + 5_000, "Buy", "1", "3250"),
    }

    def frames(*tids: str) -> list[bytes]:
        return [line(fill(fills[t][0], t, *fills[t][1:])) for t in tids]

    with Journal.open(str(tmp_path / "j.db")) as journal:
        service = TrueupService(journal)
        service.ingest([frames("b1", "s1", "s2", "b3")])
        assert [(c.number, c.side, c.max_size) for c in service.history()] == [
            (1, "LONG", Decimal(1)),
            (2, "SHORT", Decimal(1)),
        ]
        service.ingest([frames("b2")])
        (long,) = service.history()
        book = replay(journal).book("bybit", "main")
    assert (long.number, long.side, long.max_size, long.fills) == (1, "LONG", Decimal(2), 4)
    assert long.realised_pnl == Decimal(400)  # (3250 - 3050) x 2
    assert (long.opened_at, long.closed_at) == (T0 + 1_000, T0 + 4_000)
    life = book.pnl.keys[book.key("linear", "ETHUSDT", 0)].open
    assert life is not None and (life.number, life.side.value) == (2, "LONG")
