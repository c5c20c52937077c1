"""The executor as processes against the Bybit simulator: 100 triggers fire together on 25
positions while three `trueup execute` processes (killed with -9 along the way) place what
they request. Every decision is placed exactly once, none is refused for lack of position,
and every firing ends EXECUTED in the journal. On Hyperliquid and Aster, one trigger fires
on the venue's own price stream (`run --prices`) and ends EXECUTED."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

import orjson
import pytest
from eth_account import Account

from tests.live_harness import wait_for
from trueup.adapters import trigger_commands
from trueup.adapters.client_order_id import client_order_id
from trueup.adapters.store.journal import Journal
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted, OrderRequested, TriggerOutcome
from trueup_simulators.aster.records import PositionSide
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

KEY, SECRET = "executor-key-0123456789", "executor-secret-9876543210"
SYMBOLS = [f"C{n:02d}USDT" for n in range(25)]
TRIGGERS_PER_SYMBOL = 4
RATIO = Decimal("0.4")
ENVIRONMENT = {**os.environ, "BYBIT_API_KEY": KEY, "BYBIT_API_SECRET": SECRET}
TRUEUP = (sys.executable, "-m", "trueup.runners.cli")


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        for symbol in SYMBOLS:
            simulator.open_position(symbol, "Buy", "1", "100", mark_price="100")
            simulator.tickers.set(symbol, mark_price="100")
        yield simulator


def made_journal(tmp_path: Path) -> str:
    """A journal for the run and the executors started beside it: the run makes it, but
    `trueup execute` makes none, and may start first."""
    store = str(tmp_path / "journal.db")
    Journal.open(store).close()
    return store


def start(store: str, sim: BybitSimulator, *command: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TRUEUP, "--store", store, *command, "--base-url", sim.base_url],
        env=ENVIRONMENT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop_cleanly(processes: list[subprocess.Popen[str]]) -> None:
    """SIGTERM to each, then each must end without a traceback."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        _out, err = process.communicate(timeout=30)
        assert "Traceback" not in err, err


def emitted(store: str) -> list[Emitted]:
    with Journal.open(store) as journal:
        return [e for _, e in journal.all_events() if isinstance(e, Emitted)]


def add_triggers(store: str, venue: str, account: str, specs: list[tuple[str, str, str]]) -> None:
    """Auto-executed long price triggers at 110 reducing ``ratio``: (trigger id, symbol, ratio)."""
    lines = []
    for trigger_id, symbol, ratio in specs:
        command = {
            "command": "add", "trigger_id": trigger_id, "operator": "test", "symbol": symbol,
            "direction": "long", "kind": "price", "level": "110", "ratio": ratio,
            "action": "reduce", "auto_execute": True,
        }  # fmt: skip
        at = int(time.time() * 1000)
        lines.append(orjson.dumps(trigger_commands.record(at, venue, account, command)))
    with Journal.open(store) as journal:
        TrueupService(journal).ingest([lines])


def test_a_hundred_triggers_fired_together_are_each_placed_once_through_executor_kills(
    tmp_path: Path, sim: BybitSimulator
) -> None:
    store = made_journal(tmp_path)
    run = start(
        store, sim, "run", "--venue", "bybit", "--account", "main",
        "--prices", ",".join(SYMBOLS), "--poll-interval", "1", "--tick-ms", "200",
    )  # fmt: skip
    executors = [
        start(store, sim, "execute", "--venue", "bybit", "--account", "main", "--poll-ms", "20")
        for _ in range(3)
    ]
    try:
        assert sim.wait_subscribed(timeout=20)
        wait_for("the positions", lambda: _held(store) == len(SYMBOLS), timeout=30)
        add_triggers(
            store,
            "bybit",
            "main",
            [(f"{s}-{n}", s, str(RATIO)) for s in SYMBOLS for n in range(TRIGGERS_PER_SYMBOL)],
        )
        for symbol in SYMBOLS:
            sim.tickers.wait_subscribed(symbol, timeout=15)
            sim.move_mark(symbol, "110")
        # Kill every executor, the one at work among them, twice while orders go out.
        for enough in (10, 50):
            wait_for(f"{enough} orders", partial(_placed_at_least, sim, enough), timeout=60)
            for process in executors:
                process.kill()
                process.communicate(timeout=10)
            executors = [
                start(store, sim, "execute", "--venue", "bybit", "--account", "main")
                for _ in range(3)
            ]
        wait_for(
            "every firing to end",
            lambda: len(_outcomes(store)) == len(SYMBOLS) * TRIGGERS_PER_SYMBOL,
            timeout=90,
        )
    finally:
        stop_cleanly([run, *executors])

    events = emitted(store)
    requested = [e for e in events if isinstance(e, OrderRequested)]
    outcomes = _outcomes(store)
    assert len(requested) == len(SYMBOLS) * TRIGGERS_PER_SYMBOL
    assert Counter(o.type for o in outcomes) == {"TRIGGER_EXECUTED": len(requested)}
    assert sorted(o.decision_id for o in outcomes) == sorted(r.decision_id for r in requested)
    # At the venue: one order per decision, under the decision's id; none refused.
    orders = sim.read(lambda book: [(o.order_link_id, o.status) for o in book.orders.values()])
    expected = {client_order_id(r.decision_id).order_link_id for r in requested}
    assert sorted(link for link, _ in orders) == sorted(expected)
    assert {status for _, status in orders} == {"Filled"}
    answers = Counter(a.ret_code for a in sim.rest_answers() if a.path == "/v5/order/create")
    assert set(answers) <= {0, 110072}, answers  # accepted, or already placed: never refused
    assert answers[0] == len(requested)
    # Each position reduced by 0.4 of what the others had not taken, never below zero.
    left = (1 - RATIO) ** TRIGGERS_PER_SYMBOL
    sizes = sim.read(lambda book: {s: book.position(s).size for s in SYMBOLS})
    assert set(sizes.values()) == {left}


def _held(store: str, venue: str = "bybit", account: str = "main") -> int:
    with Journal.open(store) as journal:
        rows = TrueupService(journal).positions(venue=venue, account=account)
    return sum(1 for row in rows if Decimal(row["exchange_qty"]) > 0)


def _placed_at_least(sim: BybitSimulator, count: int) -> bool:
    return bool(sim.read(lambda book: len(book.orders)) >= count)


def _outcomes(store: str) -> list[TriggerOutcome]:
    return [e for e in emitted(store) if isinstance(e, TriggerOutcome)]


def test_a_hyperliquid_trigger_is_executed_through_the_sdk_s_exchange(tmp_path: Path) -> None:
    key = "0x" + "33" * 32
    user = Account.from_key(key).address
    store = made_journal(tmp_path)
    environment = {**os.environ, "HYPERLIQUID_SECRET_KEY": key}
    with HyperliquidSimulator() as hl:
        hl.authorize(user)
        hl.move_mark("BTC", "100")
        hl.fill(user, hl.open_order(user, "BTC", is_buy=True, sz="2", limit_px="100"))
        account = ("--venue", "hyperliquid", "--account", user, "--base-url", hl.base_url)
        processes = [
            subprocess.Popen(
                [*TRUEUP, "--store", store, *command, *account],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in (
                ("run", "--prices", "BTC", "--poll-interval", "0.5", "--tick-ms", "100"),
                ("execute", "--poll-ms", "20"),
            )
        ]
        try:
            hl.wait_subscribed("activeAssetCtx", "BTC", timeout=20)
            wait_for("the position", lambda: _held(store, "hyperliquid", user) == 1, timeout=30)
            add_triggers(store, "hyperliquid", user, [("btc-half", "BTC", "0.5")])
            hl.move_mark("BTC", "110")
            wait_for("the firing to end", lambda: bool(_outcomes(store)), timeout=30)
        finally:
            stop_cleanly(processes)
        (outcome,) = _outcomes(store)
        assert outcome.type == "TRIGGER_EXECUTED", outcome.reason
        assert outcome.client_order_id == client_order_id(outcome.decision_id).cloid
        assert outcome.filled_qty == Decimal("1.0")
        position = hl.clearinghouse_state(user)["assetPositions"][0]["position"]
        assert Decimal(position["szi"]) == 1


def test_an_aster_trigger_is_executed_through_its_v1_client(tmp_path: Path) -> None:
    key, secret = "aster-executor-key-not-real", "aster-executor-secret-not-real"
    store = made_journal(tmp_path)
    environment = {**os.environ, "ASTER_API_KEY": key, "ASTER_API_SECRET": secret}
    with AsterSimulator(api_key=key, api_secret=secret) as aster:
        aster.move_mark("BTCUSDT", "100")
        aster.open_position("BTCUSDT", "2", "100")
        account = ("--venue", "aster", "--account", "main", "--base-url", aster.base_url)
        processes = [
            subprocess.Popen(
                [*TRUEUP, "--store", store, *command, *account],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in (
                ("run", "--prices", "BTCUSDT", "--poll-interval", "0.5", "--tick-ms", "100"),
                ("execute", "--poll-ms", "20"),
            )
        ]
        try:
            assert aster.wait_for(lambda: aster.mark_stream.subscriber_count("BTCUSDT") > 0, 20)
            wait_for("the position", lambda: _held(store, "aster", "main") == 1, timeout=30)
            add_triggers(store, "aster", "main", [("btc-half", "BTCUSDT", "0.5")])
            aster.move_mark("BTCUSDT", "110")
            wait_for("the firing to end", lambda: bool(_outcomes(store)), timeout=30)
        finally:
            stop_cleanly(processes)
        (outcome,) = _outcomes(store)
        assert outcome.type == "TRIGGER_EXECUTED", outcome.reason
        assert outcome.client_order_id == client_order_id(outcome.decision_id).order_link_id
        assert outcome.filled_qty == Decimal("1")
        orders = aster.read(lambda a: [(o.client_order_id, o.status) for o in a.orders.values()])
        assert orders == [(outcome.client_order_id, "FILLED")]
        assert aster.read(lambda a: a.positions[("BTCUSDT", PositionSide.BOTH)].amount) == 1
    # The keys reach no file of the journal (its write-ahead log included).
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("journal.db*"))
    assert key.encode() not in stored and secret.encode() not in stored


def test_an_entry_left_unfilled_is_repriced_twice_then_filled_at_market(
    tmp_path: Path, sim: BybitSimulator
) -> None:
    store, rules = made_journal(tmp_path), tmp_path / "rules.toml"
    rules.write_text('entry_policy_accounts = ["bybit/main"]\nentry_timeout_ms = 800\n')
    sim.move_mark("BTCUSDT", "100")
    account = ("--venue", "bybit", "--account", "main")
    processes = [
        start(store, sim, "--rules", str(rules), "run", *account, "--tick-ms", "100"),
        start(store, sim, "execute", *account, "--poll-ms", "20"),
    ]
    try:
        assert sim.wait_subscribed(timeout=20)
        wait_for("the rules", lambda: _rules_recorded(store), timeout=20)
        intent = {
            "kind": "order_placed", "position_id": "p-1", "order_link_id": "p-1-entry",
            "category": "linear", "symbol": "BTCUSDT", "purpose": "ENTRY", "side": "Buy",
            "qty": "1", "price": "90",
        }  # fmt: skip
        line = {"at": int(time.time() * 1000), "venue": "bybit", "account": "main"}
        with Journal.open(store) as journal:
            TrueupService(journal).ingest(
                [[orjson.dumps(line | {"channel": "intent", "data": intent})]]
            )
        sim.place_order("BTCUSDT", "Buy", "1", order_link_id="p-1-entry", price="90")
        wait_for(
            "the market fallback to fill",
            lambda: sim.read(lambda book: book.position("BTCUSDT").size) == 1,
            timeout=30,
        )
    finally:
        stop_cleanly(processes)
    kinds = [
        e.type
        for e in emitted(store)
        if e.type.startswith("ENTRY_") and e.type != "ENTRY_SUBMITTED"
    ]
    assert kinds == ["ENTRY_REPRICED", "ENTRY_REPRICED", "ENTRY_FALLBACK_MARKET"]
    orders = sim.read(
        lambda book: [
            (o.order_link_id, o.order_type, o.price, o.status) for o in book.orders.values()
        ]
    )
    cancelled = ("Limit", "Cancelled")
    assert [(kind, status) for _, kind, _, status in orders] == [
        cancelled, cancelled, cancelled, ("Market", "Filled"),
    ]  # fmt: skip
    prices = [price for _, _, price, _ in orders[:3]]
    # 90.0900225 off the tick of 0.0001: a buy's limit is rounded down, never paying more
    assert prices == [Decimal("90"), Decimal("90.045"), Decimal("90.09")]


def _rules_recorded(store: str) -> bool:
    with Journal.open(store) as journal:
        return journal.rules_in_force().entry_policy_for("bybit", "main")


def test_run_with_execute_places_what_its_own_projection_requests_once(
    tmp_path: Path, sim: BybitSimulator
) -> None:
    """One process follows the account, detects, and places: no `trueup execute` beside it.
    A second such run on the account stands by as executor (the lease), so nothing is placed
    twice."""
    store = str(tmp_path / "journal.db")
    symbol = SYMBOLS[0]
    run = (
        "run", "--venue", "bybit", "--account", "main", "--execute",
        "--prices", symbol, "--poll-interval", "1", "--tick-ms", "200",
    )  # fmt: skip
    runs = [start(store, sim, *run) for _ in range(2)]
    try:
        assert sim.wait_subscribed(timeout=20)
        wait_for("the positions", lambda: _held(store) == len(SYMBOLS), timeout=30)
        add_triggers(store, "bybit", "main", [("half", symbol, "0.5"), ("quarter", symbol, "0.5")])
        sim.tickers.wait_subscribed(symbol, timeout=15)
        sim.move_mark(symbol, "110")
        wait_for("both firings to end", lambda: len(_outcomes(store)) == 2, timeout=30)
    finally:
        stop_cleanly(runs)

    assert {o.type for o in _outcomes(store)} == {"TRIGGER_EXECUTED"}
    answers = [a.ret_code for a in sim.rest_answers() if a.path == "/v5/order/create"]
    assert answers == [0, 0]
    assert sim.read(lambda book: book.position(symbol).size) == Decimal("0.25")


def test_run_with_execute_refuses_a_venue_it_cannot_place_on_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*TRUEUP, "--store", str(tmp_path / "journal.db"), "run", "--venue", "ccxt:binance",
         "--account", "main", "--execute"],
        env=ENVIRONMENT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "trueup: --execute: orders are not placed on ccxt:binance yet"
    ]
