"""Live Hyperliquid ingest through the real SDK against the simulator: what only Hyperliquid's
feed does. What every venue's feed does is in the venues' common suite
(test_venue_conformance.py)."""

import time
from pathlib import Path

from tests.live_harness import emitted, live_ingest, wait_for
from trueup.adapters.clock import wall_clock
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.store.journal import Journal
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


def test_a_host_never_reached_is_never_reported_as_reconnected(tmp_path: Path) -> None:
    store = str(tmp_path / "live.db")
    with HyperliquidSimulator() as gone:
        base_url = gone.base_url  # a port nothing listens on, once it is closed
    feed = HyperliquidFeed(USER, clock=wall_clock, base_url=base_url, poll_interval_s=0.3)
    with live_ingest(store, feed):
        wait_for("a few attempts", lambda: feed.stream_lost() is not None, timeout=5)
        time.sleep(3)  # attempts 1, 2 and 3, with their backoff
    assert [e.type for e in emitted(store) if e.type == "WS_RECONNECT"] == []
    with Journal.open(store) as journal:
        reconnects = [e for _, e in journal.all_events() if e.type == "StreamReconnected"]
    assert reconnects == []
