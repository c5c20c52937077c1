"""Live public prices through the venues' own clients against the simulators: recorded as
inputs, replayed to the same prices, and a dropped price stream is rebuilt and told."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from tests.live_harness import wait_for, wait_for_emitted
from trueup.adapters.aster.price_feed import AsterPriceFeed
from trueup.adapters.bybit.price_feed import BybitPriceFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.hyperliquid.price_feed import HyperliquidPriceFeed
from trueup.adapters.store.journal import Journal
from trueup.domain.events import PricesReported
from trueup.domain.prices import Price
from trueup.domain.rules.config import RuleConfig
from trueup.projections.reconciliation import replay
from trueup.runners.cli import main
from trueup.runners.live import LiveIngest
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


@contextmanager
def recording(store: str, feed: Feed, capture: Path) -> Iterator[LiveIngest]:
    """Live ingest in a thread, writing the capture a --record would."""
    with Journal.open(store) as journal, capture.open("ab") as record:
        live = LiveIngest(journal, config=RuleConfig(), tick_ms=200, record=record)
        stop = threading.Event()
        writer = threading.Thread(target=live.run, args=(stop,), daemon=True)
        writer.start()
        feed.start(live.put)
        try:
            yield live
        finally:
            feed.stop()
            stop.set()
            writer.join(timeout=20)
            assert not writer.is_alive(), "the writer did not stop"


def prices(store: str, venue: str, account: str) -> dict[str, Price]:
    with Journal.open(store) as journal:
        return dict(replay(journal).book(venue, account).prices.prices)


def mark(store: str, venue: str, account: str, symbol: str) -> Decimal | None:
    held = prices(store, venue, account).get(symbol)
    return None if held is None else held.reference


def replayed(capture: Path, tmp_path: Path, venue: str, account: str) -> dict[str, Price]:
    store = str(tmp_path / "replayed.db")
    assert main(["--store", store, "ingest", str(capture)]) == 0
    return prices(store, venue, account)


# --- Bybit: tickers through pybit's public WebSocket ---------------------------------------


@pytest.fixture
def bybit() -> Iterator[BybitSimulator]:
    with BybitSimulator() as simulator:
        yield simulator


def bybit_prices(sim: BybitSimulator) -> BybitPriceFeed:
    return BybitPriceFeed("main", ("BTCUSDT", "ETHUSDT"), clock=wall_clock, base_url=sim.base_url)


def test_bybit_tickers_are_recorded_and_replay_to_the_same_prices(
    bybit: BybitSimulator, tmp_path: Path
) -> None:
    store, capture = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    bybit.tickers.set("BTCUSDT", mark_price="106250.5", last_price="106251", index_price="106249")
    with recording(store, bybit_prices(bybit), capture):
        assert bybit.tickers.wait_subscribed("BTCUSDT", timeout=10)
        wait_for("the snapshot", lambda: mark(store, "bybit", "main", "BTCUSDT") is not None)
        bybit.tickers.set("BTCUSDT", mark_price="106300.1")  # a delta: the mark alone
        bybit.move_mark("ETHUSDT", "3900.25")  # the exchange's mark moves its ticker too
        wait_for(
            "the delta",
            lambda: mark(store, "bybit", "main", "BTCUSDT") == Decimal("106300.1"),
        )
        wait_for("ETHUSDT", lambda: mark(store, "bybit", "main", "ETHUSDT") == Decimal("3900.25"))
    live = prices(store, "bybit", "main")
    btc = live["BTCUSDT"]
    assert (btc.last, btc.index) == (Decimal("106251"), Decimal("106249"))  # kept from the first
    assert replayed(capture, tmp_path, "bybit", "main") == live


def test_a_bybit_ticker_that_moves_no_price_is_not_recorded(
    bybit: BybitSimulator, tmp_path: Path
) -> None:
    store, capture = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    bybit.tickers.set("BTCUSDT", mark_price="106250.5")
    with recording(store, bybit_prices(bybit), capture):
        assert bybit.tickers.wait_subscribed("BTCUSDT", timeout=10)
        wait_for("the snapshot", lambda: mark(store, "bybit", "main", "BTCUSDT") is not None)
        for volume in ("1000", "1001", "1002"):
            bybit.tickers.set("BTCUSDT", volume_24h=volume)  # trading: no price moved
        bybit.tickers.set("BTCUSDT", mark_price="106260")
        wait_for("the mark", lambda: mark(store, "bybit", "main", "BTCUSDT") == Decimal(106260))
    recorded = [line for line in capture.read_text().splitlines() if '"channel":"market"' in line]
    assert len(recorded) == 2  # the snapshot and the mark, not the three volume deltas


def test_a_dropped_bybit_price_stream_is_rebuilt_and_told(
    bybit: BybitSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    bybit.tickers.set("BTCUSDT", mark_price="100")
    with recording(store, bybit_prices(bybit), tmp_path / "capture.jsonl"):
        assert bybit.tickers.wait_subscribed("BTCUSDT", timeout=10)
        bybit.tickers.drop_connections()
        (told,) = wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        assert bybit.tickers.wait_subscribed("BTCUSDT", timeout=10)
        bybit.tickers.set("BTCUSDT", mark_price="101")
        wait_for("prices again", lambda: mark(store, "bybit", "main", "BTCUSDT") == Decimal(101))
    assert "prices stream reconnected" in getattr(told, "reason", "")
    with Journal.open(store) as journal:
        book = replay(journal).book("bybit", "main")
    assert book.stream_down is None and book.prices_down is None


# --- Hyperliquid: activeAssetCtx (marks) through the SDK's WebSocket ------------------------


@pytest.fixture
def hyperliquid() -> Iterator[HyperliquidSimulator]:
    with HyperliquidSimulator() as simulator:
        yield simulator


def hyperliquid_prices(sim: HyperliquidSimulator) -> HyperliquidPriceFeed:
    return HyperliquidPriceFeed(USER, ("BTC",), clock=wall_clock, base_url=sim.base_url)


def test_hyperliquid_marks_are_recorded_and_replay_to_the_same_prices(
    hyperliquid: HyperliquidSimulator, tmp_path: Path
) -> None:
    store, capture = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    hyperliquid.move_mark("BTC", "65000")
    with recording(store, hyperliquid_prices(hyperliquid), capture):
        hyperliquid.wait_subscribed("activeAssetCtx", "BTC", timeout=10)
        wait_for("the mark", lambda: mark(store, "hyperliquid", USER, "BTC") == Decimal(65000))
        hyperliquid.move_mark("ETH", "3000")  # a coin not watched: not subscribed, not recorded
        # The mark, not the mid: a thin book's mid strays from what positions are valued at.
        hyperliquid.move_mark("BTC", "65010.5", oracle="65020", mid="64990")
        wait_for("BTC", lambda: mark(store, "hyperliquid", USER, "BTC") == Decimal("65010.5"))
    with Journal.open(store) as journal:
        frames = [e for _, e in journal.all_events() if isinstance(e, PricesReported)]
    assert len(frames) == 2
    btc = prices(store, "hyperliquid", USER)["BTC"]
    assert (btc.mark, btc.index, btc.mid) == (Decimal("65010.5"), Decimal(65020), Decimal(64990))
    assert replayed(capture, tmp_path, "hyperliquid", USER) == prices(store, "hyperliquid", USER)


def test_a_dropped_hyperliquid_price_stream_is_rebuilt_and_told(
    hyperliquid: HyperliquidSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    hyperliquid.move_mark("BTC", "65000")
    with recording(store, hyperliquid_prices(hyperliquid), tmp_path / "capture.jsonl"):
        hyperliquid.wait_subscribed("activeAssetCtx", "BTC", timeout=10)
        hyperliquid.drop_connections()
        wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        hyperliquid.wait_subscribed("activeAssetCtx", "BTC", timeout=10)
        hyperliquid.move_mark("BTC", "64000")
        wait_for("prices again", lambda: mark(store, "hyperliquid", USER, "BTC") == Decimal(64000))


# --- Aster: <symbol>@markPrice through websocket-client ------------------------------------


@pytest.fixture
def aster() -> Iterator[AsterSimulator]:
    with AsterSimulator() as simulator:
        yield simulator


def aster_prices(sim: AsterSimulator) -> AsterPriceFeed:
    return AsterPriceFeed("main", ("BTCUSDT", "ETHUSDT"), clock=wall_clock, base_url=sim.base_url)


def subscribed(sim: AsterSimulator, *symbols: str) -> None:
    def watched() -> bool:
        return all(sim.mark_stream.subscriber_count(s) > 0 for s in symbols)

    assert sim.wait_for(watched, timeout=10), f"no subscriber of {symbols}"


def test_aster_mark_prices_are_recorded_and_replay_to_the_same_prices(
    aster: AsterSimulator, tmp_path: Path
) -> None:
    store, capture = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    with recording(store, aster_prices(aster), capture):
        subscribed(aster, "BTCUSDT", "ETHUSDT")  # ETHUSDT by SUBSCRIBE on the connection
        aster.move_mark("BTCUSDT", "106250.5")
        aster.move_mark("ETHUSDT", "3900.25")
        wait_for("BTCUSDT", lambda: mark(store, "aster", "main", "BTCUSDT") == Decimal("106250.5"))
        wait_for("ETHUSDT", lambda: mark(store, "aster", "main", "ETHUSDT") == Decimal("3900.25"))
    live = prices(store, "aster", "main")
    assert live["BTCUSDT"].index == Decimal("106250.5")  # the simulator's index is its mark
    assert replayed(capture, tmp_path, "aster", "main") == live


def test_an_aster_update_that_moves_no_price_is_not_recorded(
    aster: AsterSimulator, tmp_path: Path
) -> None:
    store, capture = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    with recording(store, aster_prices(aster), capture):
        subscribed(aster, "BTCUSDT")
        for _ in range(3):  # Aster's timer pushes the same prices again and again
            aster.move_mark("BTCUSDT", "106250.5")
        aster.move_mark("BTCUSDT", "106260")
        wait_for("the mark", lambda: mark(store, "aster", "main", "BTCUSDT") == Decimal(106260))
    updates = [line for line in capture.read_text().splitlines() if "markPriceUpdate" in line]
    assert len(updates) == 2  # the first and the move, not the two repeats
    with Journal.open(store) as journal:
        frames = [e for _, e in journal.all_events() if isinstance(e, PricesReported)]
    assert len(frames) == 2


def test_a_dropped_aster_price_stream_is_rebuilt_and_told(
    aster: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    with recording(store, aster_prices(aster), tmp_path / "capture.jsonl"):
        subscribed(aster, "BTCUSDT")
        aster.move_mark("BTCUSDT", "100")
        wait_for("a price", lambda: mark(store, "aster", "main", "BTCUSDT") == Decimal(100))
        aster.drop_connections()
        (told,) = wait_for_emitted(store, "WS_RECONNECT", timeout=30)
        subscribed(aster, "BTCUSDT")
        aster.move_mark("BTCUSDT", "101")
        wait_for("prices again", lambda: mark(store, "aster", "main", "BTCUSDT") == Decimal(101))
    assert "prices stream reconnected" in getattr(told, "reason", "")


# --- trueup run --prices, as a process -------------------------------------------------------


def test_run_with_prices_records_the_tickers_beside_the_account_s_own_stream(
    tmp_path: Path,
) -> None:
    key, secret = "prices-key-0123456789", "prices-secret-9876543210"
    store, record = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    command = [
        *(sys.executable, "-m", "trueup.runners.cli", "--store", store, "run"),
        *("--venue", "bybit", "--account", "main", "--record", str(record)),
        *("--prices", "BTCUSDT,ETHUSDT", "--poll-interval", "0.5"),
    ]
    environment = {**os.environ, "BYBIT_API_KEY": key, "BYBIT_API_SECRET": secret}
    with BybitSimulator(api_key=key, api_secret=secret) as sim:
        sim.tickers.set("BTCUSDT", mark_price="106250.5")
        process = subprocess.Popen(
            [*command, "--base-url", sim.base_url],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert sim.wait_subscribed(timeout=15)
            assert sim.tickers.wait_subscribed("ETHUSDT", timeout=15)
            sim.tickers.set("ETHUSDT", mark_price="3900.5")
            wait_for(
                "both marks",
                lambda: (
                    mark(store, "bybit", "main", "ETHUSDT") == Decimal("3900.5")
                    and mark(store, "bybit", "main", "BTCUSDT") == Decimal("106250.5")
                ),
                timeout=20,
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert '"channel":"market"' in record.read_text()
    assert replayed(record, tmp_path, "bybit", "main") == prices(store, "bybit", "main")


def test_a_scenario_moves_the_public_tickers(bybit: BybitSimulator) -> None:
    from trueup_simulators.bybit.scenario import parse_scenario, run_step

    steps = parse_scenario(
        b'{"step": "ticker", "symbol": "SOLUSDT", "mark_price": "180.5", "last_price": "180.4"}\n'
        b'{"step": "move_mark", "symbol": "SOLUSDT", "price": "181"}\n'
        b'{"step": "drop_public"}\n'
    )
    for step in steps:
        run_step(bybit, step, sleep=lambda _s: None)
    ticker = bybit.tickers.ticker("SOLUSDT")
    assert ticker is not None
    assert (ticker["markPrice"], ticker["lastPrice"]) == ("181", "180.4")
