"""ccxt's aster exchange, pointed at the Aster simulator, through the ccxt feed and live
ingest: the long tail of venues (``ccxt:<exchange-id>``) held to what the others are."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.live_harness import emitted, live_ingest, wait_for, wait_for_emitted
from trueup.adapters.ccxt import messages
from trueup.adapters.ccxt.live import CcxtFeed, build_exchange
from trueup.adapters.clock import wall_clock
from trueup.adapters.store.journal import Journal
from trueup.domain.events import InputRejected, RejectionKind
from trueup.projections.reconciliation import replay
from trueup_simulators.aster.simulator import AsterSimulator

KEY = "fake-ccxt-aster-key-0001"
SECRET = "fake-ccxt-aster-secret-0001"
VENUE = "ccxt:aster"
BTC = "BTC/USDT:USDT"


@pytest.fixture
def sim() -> Iterator[AsterSimulator]:
    with AsterSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.move_mark("BTCUSDT", "100000")
        simulator.move_mark("ETHUSDT", "4000")
        yield simulator


def feed_for(sim: AsterSimulator, *, watch: bool = True) -> CcxtFeed:
    """ccxt's aster on the simulator: polled, and (``watch``) ccxt.pro's watches beside."""
    keys = {"apiKey": KEY, "secret": SECRET}
    exchange = build_exchange("aster", keys, base_url=sim.base_url)
    exchange.enableRateLimit = False  # the simulator sets no pace

    def watching() -> object:
        return build_exchange("aster", keys, base_url=sim.base_url, pro=True)

    return CcxtFeed(
        exchange,
        "main",
        clock=wall_clock,
        poll_interval_s=0.3,
        secrets=(KEY, SECRET),
        watch=watching if watch else None,
    )


def opened(position_id: str, symbol: str, qty: str) -> dict[str, object]:
    intent = {
        "kind": "position_opened",
        "position_id": position_id,
        "category": "perp",
        "symbol": symbol,
        "position_idx": 0,
        "side": "Buy",
        "qty": qty,
        "mode": "LIVE",
    }
    at = wall_clock()
    return {"at": at, "venue": VENUE, "account": "main", "channel": "intent", "data": intent}


def exchange_qty(store_url: str, symbol: str) -> Decimal | None:
    with Journal.open(store_url) as journal:
        book = replay(journal).book(VENUE, "main")
    position = book.positions.get(book.key("perp", symbol, 0))
    return position.exchange_qty if position else None


def rejected(store_url: str) -> list[InputRejected]:
    with Journal.open(store_url) as journal:
        return [e for _, e in journal.all_events() if isinstance(e, InputRejected)]


def test_a_position_on_aster_through_ccxt_reconciles_and_a_close_by_hand_is_reported(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    sim.open_position("BTCUSDT", "0.5", "99000")
    with live_ingest(store, feed_for(sim)) as live:
        live.put(opened("p-1", BTC, "0.5"))
        wait_for("the exchange to show BTC", lambda: exchange_qty(store, BTC) == Decimal("0.5"))
        sim.close_by_hand("BTCUSDT")
        (closed,) = wait_for_emitted(store, "POSITION_CLOSED")
        wait_for("the closing trade", lambda: _fills_read(store))
    assert (closed.symbol, getattr(closed, "position_id", None)) == (BTC, "p-1")
    assert exchange_qty(store, BTC) == 0
    assert not [e for e in rejected(store) if e.venue == VENUE]
    assert "CONSISTENCY_DRIFT" not in {e.type for e in emitted(store)}


def _fills_read(store_url: str) -> bool:
    with Journal.open(store_url) as journal:
        return any(getattr(e, "fills", ()) and e.venue == VENUE for _, e in journal.all_events())


def test_a_burst_of_rate_limits_is_reported_and_the_feed_recovers(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    sim.open_position("ETHUSDT", "-2", "4100")
    with live_ingest(store, feed_for(sim)):
        wait_for("ETH", lambda: exchange_qty(store, "ETH/USDT:USDT") == -2)
        sim.rate_limit(4)
        wait_for_emitted(store, "RATE_LIMIT")
        limited = len(rejected(store))
        sim.open_position("BTCUSDT", "1", "100000")
        wait_for("the poller to get through again", lambda: exchange_qty(store, BTC) == 1)
    refusals = [e for e in rejected(store) if e.kind is RejectionKind.RATE_LIMITED]
    assert refusals and limited >= 1
    assert all("fake-ccxt" not in e.raw for e in rejected(store))  # no key in the journal
    kinds = {e.type for e in emitted(store)}
    assert "POSITION_CLOSED" not in kinds
    assert exchange_qty(store, "ETH/USDT:USDT") == -2


def test_keys_the_exchange_refuses_three_times_stop_the_feed(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    sim.refuse_auth(100)
    feed = feed_for(sim)
    with live_ingest(store, feed):
        wait_for("the feed to give up", lambda: feed.failure is not None, timeout=30)
    assert feed.failure is not None and "refused our credentials 3 times" in feed.failure
    assert KEY not in feed.failure
    refused = [e for e in rejected(store) if e.venue == VENUE]
    assert refused and all(e.kind is RejectionKind.ERROR_REPLY for e in refused)
    assert all(KEY not in e.raw and SECRET not in e.raw for e in refused)


def test_trueup_run_names_the_variables_an_exchange_needs_and_refuses_other_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trueup.runners.cli import main

    for name in ("CCXT_ASTER_API_KEY", "CCXT_ASTER_SECRET"):
        monkeypatch.delenv(name, raising=False)
    store = str(tmp_path / "run.db")
    assert main(["--store", store, "run", "--venue", "ccxt:aster", "--account", "main"]) == 2
    told = capsys.readouterr().err
    assert "CCXT_ASTER_API_KEY" in told and "CCXT_ASTER_SECRET" in told
    assert main(["--store", store, "run", "--venue", "ccxt:nosuchexchange", "--account", "a"]) == 2
    assert "ccxt has no exchange 'nosuchexchange'" in capsys.readouterr().err
    assert main(["--store", store, "run", "--venue", "ccxt:", "--account", "a"]) == 2
    assert "ccxt:<exchange-id>" in capsys.readouterr().err


def test_trueup_run_venue_ccxt_aster_records_a_session_that_replays_to_the_same_events(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    from trueup.adapters.store import codec
    from trueup.domain.emitted import Emitted
    from trueup.runners.cli import main

    def emitted_lines(store_url: str) -> list[bytes]:
        with Journal.open(store_url) as journal:
            events = journal.all_events()
            return [codec.encode_emitted(e) for _, e in events if isinstance(e, Emitted)]

    store, record = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    environment = {**os.environ, "CCXT_ASTER_API_KEY": KEY, "CCXT_ASTER_SECRET": SECRET}
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "run"]
    command += ["--venue", VENUE, "--account", "main", "--base-url", sim.base_url]
    command += ["--record", str(record), "--poll-interval", "0.5"]
    sim.open_position("BTCUSDT", "0.5", "99000")
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            "an UNTRACKED_POSITION",
            lambda: any(b'"UNTRACKED_POSITION"' in e for e in emitted_lines(store)),
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    written = record.read_text() + out + err
    written += b"".join(p.read_bytes() for p in tmp_path.glob("live.db*")).decode("latin-1")
    assert KEY not in written and SECRET not in written
    lines = [orjson.loads(line) for line in record.read_text().splitlines()]
    endpoints = {line.get("endpoint") for line in lines if line.get("venue") == VENUE}
    assert {"fetchPositions", "fetchOpenOrders", "fetchMyTrades"} <= endpoints

    replayed = str(tmp_path / "replay.db")
    assert main(["--store", replayed, "ingest", str(record)]) == 0
    assert emitted_lines(replayed) == emitted_lines(store)


def test_base_url_moves_every_api_url_of_the_exchange_its_path_kept() -> None:
    exchange = build_exchange("aster", {}, base_url="http://127.0.0.1:9/")
    assert exchange.urls["api"] == {
        "fapiPublic": "http://127.0.0.1:9/fapi",
        "fapiPrivate": "http://127.0.0.1:9/fapi",
        "sapiPublic": "http://127.0.0.1:9/api",
        "sapiPrivate": "http://127.0.0.1:9/api",
    }
    assert exchange.options["defaultType"] == "swap"  # positions, not spot balances


def test_an_error_is_recorded_without_its_url_query_or_any_credential() -> None:
    from ccxt.base.errors import AuthenticationError

    error = AuthenticationError(
        f"aster GET http://h/fapi/v2/positionRisk?timestamp=1&signature=abc key {KEY} refused"
    )
    line = messages.capture_error(
        1, VENUE, "main", "fetchPositions", error, status=401, secrets=(KEY, SECRET)
    )
    assert line["error"]["classes"] == ["AuthenticationError", "ExchangeError", "BaseError"]
    assert "signature" not in line["error"]["message"] and KEY not in line["error"]["message"]
    assert line["error"]["message"] == "aster GET http://h/fapi/v2/positionRisk key *** refused"


def _streamed(store_url: str, event_type: str) -> bool:
    """Whether an input of that type came on the watch stream (ccxt.pro), not by polling."""
    with Journal.open(store_url) as journal:
        return any(
            e.type == event_type and getattr(e, "source", "") == "ws" and e.venue == VENUE
            for _, e in journal.all_events()
        )


def test_ccxt_pro_watches_orders_and_a_dropped_stream_is_rebuilt_and_reported(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim)):
        assert sim.wait_readers(1, timeout=15)
        sim.drop_connections()
        (reconnect,) = wait_for_emitted(store, "WS_RECONNECT")
        assert sim.wait_readers(1, timeout=15)
        order = sim.place_order("ETHUSDT", "BUY", "1", price="3000", client_order_id="bot-1")
        wait_for("the order on the stream", lambda: _streamed(store, "OrdersReported"))
        sim.fill(order)
        wait_for("the fill on the stream", lambda: _streamed(store, "ExecutionsReported"))
        wait_for("ETH", lambda: exchange_qty(store, "ETH/USDT:USDT") == 1)
    assert "watch" in getattr(reconnect, "reason", "")
    assert not [e for e in rejected(store) if e.venue == VENUE]


def test_without_ccxt_pro_the_feed_polls_alone(sim: AsterSimulator, tmp_path: Path) -> None:
    store = str(tmp_path / "live.db")
    with live_ingest(store, feed_for(sim, watch=False)):
        sim.open_position("BTCUSDT", "0.5", "99000")
        wait_for("BTC", lambda: exchange_qty(store, BTC) == Decimal("0.5"))
        sim.close_by_hand("BTCUSDT")
        wait_for("BTC flat", lambda: exchange_qty(store, BTC) == 0)
        wait_for("the closing trade", lambda: _fills_read(store))
    assert sim.user_stream.reader_count() == 0
    assert not _streamed(store, "ExecutionsReported")


class SymbolBoundExchange:
    """ccxt's synchronous interface as the feed uses it, for an exchange whose open orders
    and trades are asked per symbol (ccxt raises ArgumentsRequired without one)."""

    id = "symbolbound"

    def __init__(self) -> None:
        self.markets: dict[str, object] = {}
        self.held: list[dict[str, object]] = [{"symbol": BTC, "contracts": 1, "side": "long"}]

    def on_rest_response(self, *reply: object) -> object:
        return reply[5]

    def load_markets(self, reload: bool = False) -> dict[str, object]:
        return self.markets

    def fetch_positions(self) -> list[dict[str, object]]:
        return self.held

    def fetch_open_orders(self, symbol: str | None = None) -> list[object]:
        from ccxt.base.errors import ArgumentsRequired

        if symbol is None:
            raise ArgumentsRequired("symbolbound fetchOpenOrders() requires a symbol argument")
        return []

    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None) -> list[object]:
        from ccxt.base.errors import ArgumentsRequired

        if symbol is None:
            raise ArgumentsRequired("symbolbound fetchMyTrades() requires a symbol argument")
        return []


def test_an_exchange_that_asks_for_a_symbol_is_polled_per_symbol_held_and_once_after() -> None:
    exchange = SymbolBoundExchange()
    feed = CcxtFeed(exchange, "main", clock=wall_clock)
    lines: list[dict[str, Any]] = []
    feed.sink = lines.append

    def asked() -> list[tuple[object, object]]:
        found = [(line["endpoint"], line["params"].get("symbol")) for line in lines]
        lines.clear()
        return found

    feed.fetch_snapshots()
    assert asked() == [
        ("fetchPositions", None),
        ("fetchOpenOrders", BTC),
        ("fetchMyTrades", BTC),
    ]  # and ArgumentsRequired itself recorded nowhere
    exchange.held = []  # closed: its closing trade is asked for once more
    feed.fetch_snapshots()
    assert asked() == [("fetchPositions", None), ("fetchOpenOrders", BTC), ("fetchMyTrades", BTC)]
    feed.fetch_snapshots()
    assert asked() == [("fetchPositions", None)]
