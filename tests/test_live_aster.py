"""Live Aster ingest through our own v1 client (httpx, websocket-client) against the simulator:
what only Aster's feed does (its listenKey's lifecycle, a key refused for good, fills and
funding by REST, the run command). Connecting, closes and their causes, a dropped stream, a
refused key, rate limits and restarts are in the venues' common suite
(test_venue_conformance.py)."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests import live_harness
from tests.live_harness import (
    emitted,
    emitted_bytes,
    live_ingest,
    wait_for,
    wait_for_emitted,
)
from tests.venue_harness import held_on_aster
from trueup.adapters.aster.live import AsterFeed
from trueup.adapters.clock import wall_clock
from trueup.adapters.store.journal import Journal
from trueup.projections.reconciliation import replay
from trueup.runners.cli import main
from trueup_simulators.aster.simulator import AsterSimulator

KEY, SECRET = "aster-test-key-not-real", "aster-test-secret-not-real"


@pytest.fixture
def sim() -> Iterator[AsterSimulator]:
    with AsterSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.move_mark("BTCUSDT", "100000")
        simulator.move_mark("ETHUSDT", "4000")
        yield simulator


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "live.db")


def feed_for(sim: AsterSimulator, secret: str = SECRET, **options: float) -> AsterFeed:
    return AsterFeed(
        "main", KEY, secret, clock=wall_clock, base_url=sim.base_url, poll_interval_s=0.3, **options
    )


def opened(position_id: str, symbol: str, qty: str) -> dict[str, object]:
    return live_harness.opened("aster", "main", position_id, symbol, qty, category="perp")


def journaled(store: str) -> dict[str, Decimal]:
    return live_harness.exchange_sizes(store, "aster", "main")


def agree(sim: AsterSimulator, store: str) -> None:
    wait_for(
        "the journal to agree with the exchange", lambda: journaled(store) == held_on_aster(sim)
    )


def reading(sim: AsterSimulator, timeout: float = 10.0) -> None:
    assert sim.wait_readers(1, timeout=timeout), "the feed never read the user data stream"


def buy(sim: AsterSimulator, symbol: str, qty: str) -> None:
    sim.fill(sim.place_order(symbol, "BUY", qty, order_type="MARKET"))


def stored_types(store: str) -> list[str]:
    with Journal.open(store) as journal:
        return [e.type for _, e in journal.all_events()]


def asked_since(sim: AsterSimulator, count: int, path: str) -> int:
    """How many of ``path`` were answered after the first ``count`` REST answers."""
    return sum(1 for a in sim.rest_answers()[count:] if a.path == path and a.status == 200)


def test_an_expired_listen_key_is_replaced_and_the_account_resynced(
    sim: AsterSimulator, store: str
) -> None:
    with live_ingest(store, feed_for(sim)):
        reading(sim)
        first_key = sim.listen_key
        sim.expire_listen_key()
        buy(sim, "BTCUSDT", "0.2")  # pushed to nobody: the old key is gone, no new one yet
        (reconnect,) = wait_for_emitted(store, "WS_RECONNECT")
        reading(sim)
        agree(sim, store)
        assert sim.listen_key not in (None, first_key)
        buy(sim, "ETHUSDT", "1")  # on the new key's stream
        agree(sim, store)
    assert getattr(reconnect, "reason", "").endswith(": listenKeyExpired")
    with Journal.open(store) as journal:
        downs = [e for _, e in journal.all_events() if e.type == "StreamDown"]
    # Aster's own event is the StreamDown: the feed does not say it a second time.
    assert [getattr(e, "reason", "") for e in downs] == ["listenKeyExpired"]


def test_the_listen_key_is_kept_alive_past_its_validity(store: str) -> None:
    # A key valid for 2.5 s, kept alive every 0.5 s: it never lapses while the feed runs.
    with AsterSimulator(api_key=KEY, api_secret=SECRET, listen_key_validity_ms=2500) as sim:
        sim.move_mark("BTCUSDT", "100000")
        with live_ingest(store, feed_for(sim, keepalive_s=0.5)):
            reading(sim)
            key = sim.listen_key
            time.sleep(5)
            buy(sim, "BTCUSDT", "0.1")
            agree(sim, store)
            assert sim.listen_key == key
            puts = [a for a in sim.rest_answers() if a.method == "PUT" and a.status == 200]
        assert len(puts) >= 5
    assert "StreamDown" not in stored_types(store)


def test_a_connection_at_its_age_limit_is_rebuilt_before_aster_cuts_it(
    sim: AsterSimulator, store: str
) -> None:
    with live_ingest(store, feed_for(sim, max_connection_s=1.0)):
        reading(sim)
        (reconnect,) = wait_for_emitted(store, "WS_RECONNECT")[:1]
        reading(sim)
        buy(sim, "BTCUSDT", "0.4")
        agree(sim, store)
    assert "age limit" in getattr(reconnect, "reason", "")


def test_a_key_refused_three_times_in_a_row_stops_the_feed_with_one_reason(
    sim: AsterSimulator, store: str
) -> None:
    sim.refuse_auth(100)
    feed = feed_for(sim)
    with live_ingest(store, feed):
        wait_for("the feed to give up", lambda: feed.failure is not None)
        asked = len(sim.rest_answers())
        time.sleep(1.5)  # nothing more is asked once it gave up
        assert len(sim.rest_answers()) == asked
    assert str(feed.failure).startswith(
        "aster/main: the venue refused our credentials 3 times in a row (HTTP 401, code -2015"
    )
    # Three in a row, by any request (listenKey or signed), and then no more; two threads
    # ask, so one more may have been on its way.
    assert 3 <= sum(1 for a in sim.rest_answers() if a.code == -2015) <= 4
    assert "WS_RECONNECT" not in {e.type for e in emitted(store)}


def test_a_wrong_secret_stops_the_feed_on_the_signature_aster_refuses(
    sim: AsterSimulator, store: str
) -> None:
    feed = feed_for(sim, secret="not-the-secret")
    with live_ingest(store, feed):
        wait_for("the feed to give up", lambda: feed.failure is not None)
    assert "code -1022" in str(feed.failure)  # the key is right; its signatures are not
    assert "not-the-secret" not in str(feed.failure)


def test_fills_and_funding_are_fetched_once_each_since_the_last_seen(
    sim: AsterSimulator, store: str
) -> None:
    with live_ingest(store, feed_for(sim)):
        reading(sim)
        sim.drop_connections()
        buy(sim, "BTCUSDT", "0.5")  # while nobody reads: its fill only by REST
        sim.pay_funding("BTCUSDT", "0.0001")
        wait_for_emitted(store, "WS_RECONNECT")
        agree(sim, store)
        wait_for("the fill and the funding by REST", lambda: _rest_fills(store) >= 2)
        time.sleep(1)  # a few more polls: each asks only from the last seen on
    with Journal.open(store) as journal:
        book = replay(journal).book("aster", "main")
    (ledger,) = [k for k in book.pnl.keys.values() if k.key.symbol == "BTCUSDT"]
    assert ledger.open is not None and ledger.open.signed_size == Decimal("0.5")
    assert ledger.funding != 0
    assert _rest_fills(store) == 2, "a fill or a funding fee was handed on twice"


def _rest_fills(store: str) -> int:
    """Fills and funding fees REST replies carried (each line lists only new ones)."""
    with Journal.open(store) as journal:
        return sum(
            len(getattr(e, "fills", ()))
            for _, e in journal.all_events()
            if e.type == "ExecutionsReported" and getattr(e, "source", "") == "rest"
        )


def run_command(sim: AsterSimulator, store: str, *more: str) -> list[str]:
    command = [sys.executable, "-m", "trueup.runners.cli", "--store", store, "run"]
    return [*command, "--venue", "aster", "--account", "main", "--base-url", sim.base_url, *more]


def test_run_records_a_capture_that_ingest_replays_to_the_same_events_and_keeps_the_keys(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store, record = str(tmp_path / "live.db"), tmp_path / "capture.jsonl"
    environment = {**os.environ, "ASTER_API_KEY": KEY, "ASTER_API_SECRET": SECRET}
    command = run_command(sim, store, "--record", str(record), "--poll-interval", "0.5")
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        reading(sim, timeout=15)
        sim.open_position("ETHUSDT", "-2", "4000")
        buy(sim, "BTCUSDT", "0.3")
        sim.close_by_hand("BTCUSDT")
        wait_for(
            "an UNTRACKED_POSITION",
            lambda: any(b'"UNTRACKED_POSITION"' in e for e in emitted_bytes(store)),
            timeout=20,
        )
        listen_key = sim.listen_key
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "stopped:" in out
    captured = record.read_text()
    journal_files = b"".join(p.read_bytes() for p in tmp_path.glob("live.db*"))
    written = captured + out + err + journal_files.decode("latin-1")
    assert SECRET not in written
    assert KEY not in written
    assert "signature" not in written  # nor any request's signature, nor its timestamp
    assert listen_key is not None and listen_key not in written  # it reads the account
    assert '"/fapi/v1/userTrades"' in captured and '"/fapi/v2/positionRisk"' in captured

    replayed = str(tmp_path / "replay.db")
    assert main(["--store", replayed, "ingest", str(record)]) == 0
    assert emitted_bytes(replayed) == emitted_bytes(store)


def test_run_with_a_key_aster_keeps_refusing_stops_with_one_line(
    sim: AsterSimulator, tmp_path: Path
) -> None:
    store = str(tmp_path / "live.db")
    wrong = "wrong-aster-secret-000000000000"
    environment = {**os.environ, "ASTER_API_KEY": KEY, "ASTER_API_SECRET": wrong}
    done = subprocess.run(
        run_command(sim, store),
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("trueup: aster/main: the venue refused our credentials 3 times")
    assert "code -1022" in last
    assert wrong not in done.stdout + done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("run",),
        ("run", "--prices", "BTCUSDT"),
        ("execute",),
    ],
)
def test_run_and_execute_without_aster_s_keys_say_so_in_one_line(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASTER_")}
    store = str(tmp_path / "j.db")
    Journal.open(store).close()  # execute makes none: the keys are what is missing here
    line = [sys.executable, "-m", "trueup.runners.cli", "--store", store]
    line += [*command, "--venue", "aster", "--account", "main"]
    done = subprocess.run(
        line, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "ASTER_API_KEY is not set" in done.stderr.strip().splitlines()[-1]


def test_fix_stale_asks_aster_and_closes_what_it_does_not_hold(
    sim: AsterSimulator, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASTER_API_KEY", KEY)
    monkeypatch.setenv("ASTER_API_SECRET", SECRET)
    sim.open_position("BTCUSDT", "1", "100000")
    # A paper run's leftovers on an account now LIVE: stale, and closed where Aster holds
    # nothing (ETHUSDT), kept where it holds the key (BTCUSDT).
    long_ago = wall_clock() - 3_600_000
    capture = tmp_path / "paper.jsonl"
    mode = {"kind": "account_mode", "mode": "LIVE"}
    lines = [{**opened("-", "-", "1"), "data": mode, "at": long_ago}]
    for position_id, symbol in (("p-btc", "BTCUSDT"), ("p-eth", "ETHUSDT")):
        paper = opened(position_id, symbol, "1")
        paper["data"] = {**paper["data"], "mode": "PAPER"}  # type: ignore[dict-item]
        lines.append({**paper, "at": long_ago})
    capture.write_text("".join(f"{orjson.dumps(line).decode()}\n" for line in lines))
    assert main(["--store", store, "ingest", str(capture)]) == 0
    command = ["--store", store, "fix-stale", "--check-exchange", "--venue", "aster"]
    command += ["--account", "main", "--base-url", sim.base_url, "--operator", "alice"]

    assert main(command) == 0

    with Journal.open(store) as journal:
        events = [e for _, e in journal.all_events()]
    cleaned = [getattr(e, "position_id", "") for e in events if e.type == "POSITION_CLEANED"]
    assert cleaned == ["p-eth"]
    asked = [getattr(e, "raw", "") for e in events if e.type == "PositionsReported"]
    assert any("/fapi/v2/positionRisk" in str(raw) for raw in asked)
