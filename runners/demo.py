"""``trueup demo``: the whole main job on the embedded default, against local simulators.

Starts a Bybit and a Hyperliquid simulator on 127.0.0.1, live-ingests both through the real
clients (pybit, hyperliquid-python-sdk) with the projections in process, plays a scenario in
which every detector fires, and shows the emitted events and the positions as they happen.

A demo line is one of: {"bybit": <a Bybit scenario step>}, {"hyperliquid": {"step": "trade"
| "close_by_hand" | "liquidate" | "drop_connection", ...}}, {"bot": {"venue": V, <intent>}},
{"show": "positions"} or {"wait_ms": N}; each may carry "delay_ms" and a "note".
"""

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from trueup.adapters.bybit import scenario as bybit_scenario
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.bybit.messages import capture_intent
from trueup.adapters.bybit.simulator import BybitSimulator
from trueup.adapters.hyperliquid.live import HyperliquidFeed
from trueup.adapters.hyperliquid.simulator import HyperliquidSimulator
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.domain.rules.config import RuleConfig
from trueup.projections.positions import position_rows
from trueup.projections.reconciliation import replay
from trueup.runners import output
from trueup.runners.live import LiveIngest, wall_clock
from trueup.runners.usage import UsageError

BYBIT_ACCOUNT = "main"
HYPERLIQUID_ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
# The simulators' own keys: made up here, never real ones.
DEMO_KEY, DEMO_SECRET = "demo-key", "demo-secret"
# Shorter than the defaults (20 s) so the demo need not wait for them; said on screen.
DEMO_RULES = RuleConfig(order_timeout_ms=4_000, partial_fill_stall_ms=4_000)


class Demo:
    """The simulators, the feeds and one live ingest, for the length of a scenario."""

    def __init__(self, journal: Journal, out: TextIO) -> None:
        self.out = out
        self.journal = journal
        self.bybit = BybitSimulator(api_key=DEMO_KEY, api_secret=DEMO_SECRET)
        self.hyperliquid = HyperliquidSimulator()
        self.live = LiveIngest(journal, config=DEMO_RULES, tick_ms=250, on_emitted=self.emitted)
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def emitted(self, event: Emitted) -> None:
        with self._lock:
            where = f"{event.venue}/{event.account[:10]}"
            detail = output.describe_emitted(event)
            self.out.write(f"  >> {event.type:<20} {where:<22} {event.symbol or '':<9} {detail}\n")
            self.out.flush()

    def say(self, text: str) -> None:
        with self._lock:
            self.out.write(text + "\n")
            self.out.flush()

    def run(self, lines: list[dict[str, Any]]) -> None:
        self.bybit.start()
        self.hyperliquid.start()
        feeds = [
            BybitFeed(
                BYBIT_ACCOUNT,
                DEMO_KEY,
                DEMO_SECRET,
                clock=wall_clock,
                base_url=self.bybit.base_url,
                poll_interval_s=1.0,
            ),
            HyperliquidFeed(
                HYPERLIQUID_ADDRESS,
                clock=wall_clock,
                base_url=self.hyperliquid.base_url,
                poll_interval_s=1.0,
            ),
        ]
        writer = threading.Thread(target=self.live.run, args=(self.stop,), name="writer")
        writer.start()
        try:
            for feed in feeds:
                feed.start(self.live.put)
            self.bybit.wait_subscribed(timeout=10)
            self.hyperliquid.wait_subscribed("userFills", HYPERLIQUID_ADDRESS)
            for number, line in enumerate(lines, start=1):
                self.play(number, line)
        finally:
            for feed in feeds:
                feed.stop()
            self.stop.set()
            writer.join()
            self.hyperliquid.stop()
            self.bybit.stop()

    def play(self, number: int, line: dict[str, Any]) -> None:
        time.sleep(line.get("delay_ms", 0) / 1000)
        if line.get("note"):
            self.say(f"[{number:>2}] {line['note']}")
        if "bybit" in line:
            step = bybit_scenario.read_step(number, line["bybit"])
            bybit_scenario.run_step(self.bybit, step)
        elif "hyperliquid" in line:
            self.hyperliquid_step(dict(line["hyperliquid"]))
        elif "bot" in line:
            intent = dict(line["bot"])
            account = BYBIT_ACCOUNT if intent.pop("venue") == "bybit" else HYPERLIQUID_ADDRESS
            record = capture_intent(wall_clock(), account, intent)
            if account == HYPERLIQUID_ADDRESS:
                record["venue"] = "hyperliquid"
            self.live.put(record)
        elif "show" in line:
            time.sleep(0.3)  # let what was just done reach the journal
            self.show_positions()
        elif "wait_ms" in line:
            time.sleep(line["wait_ms"] / 1000)

    def hyperliquid_step(self, step: dict[str, Any]) -> None:
        sim, user = self.hyperliquid, HYPERLIQUID_ADDRESS
        kind = step.pop("step")
        if kind == "trade":
            oid = sim.open_order(
                user,
                step["coin"],
                is_buy=step["is_buy"],
                sz=step["sz"],
                limit_px=step["px"],
                cloid=step.get("cloid"),
            )
            sim.fill(user, oid)
        elif kind == "close_by_hand":
            sim.close_by_hand(user, step["coin"], px=step.get("px"))
        elif kind == "liquidate":
            sim.liquidate(user, step["coin"], px=step.get("px"))
        elif kind == "drop_connection":
            sim.drop_connections()
        else:
            raise UsageError(f"demo: unknown hyperliquid step {kind!r}")

    def show_positions(self) -> None:
        rows = position_rows(replay(self.journal, DEMO_RULES))
        with self._lock:
            self.out.write("\n")
            output.print_positions(rows, self.out)
            self.out.write("\n")


def load_demo(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read the demo scenario {path}: {error}") from None


def run_demo(journal: Journal, scenario: Path, out: TextIO = sys.stdout) -> None:
    lines = load_demo(scenario)
    out.write(
        "trueup demo: Bybit and Hyperliquid simulators on 127.0.0.1, live ingest through\n"
        "pybit and hyperliquid-python-sdk, projections in process. Demo rules: order timeout\n"
        "and partial-fill stall 4 s (defaults 20 s). Emitted events are marked >>.\n\n"
    )
    Demo(journal, out).run(lines)
