"""``trueup demo``: the whole main job on the embedded default, against local simulators.

Starts a Bybit, a Hyperliquid and an Aster simulator on 127.0.0.1, live-ingests all three
through the real clients (pybit, hyperliquid-python-sdk, trueup's own signed Aster client)
with the projections in process, runs the executor of
the Bybit account (on a journal connection of its own) so fired triggers place their orders,
plays a scenario in which every detector fires (its format: trueup_simulators.demo_scenario),
and shows the emitted events and the positions as they happen.
"""

import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from trueup.adapters import trigger_commands, venues
from trueup.adapters.bybit.messages import capture_intent
from trueup.adapters.clock import wall_clock
from trueup.adapters.feed import Feed
from trueup.adapters.store.journal import Journal
from trueup.adapters.venue import Settings
from trueup.application.executor import Executor
from trueup.domain.emitted import Emitted
from trueup.domain.rules.config import RuleConfig
from trueup.projections.positions import position_rows
from trueup.projections.reconciliation import replay
from trueup.runners import output
from trueup.runners.executor import run_executor
from trueup.runners.live import LiveIngest
from trueup.runners.usage import UsageError
from trueup_simulators import scenario_file
from trueup_simulators.aster.scenario import STEPS as ASTER_STEPS
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.scenario import run_step
from trueup_simulators.bybit.simulator import BybitSimulator
from trueup_simulators.demo_scenario import (
    AsterStep,
    BotIntent,
    DemoLine,
    HyperliquidStep,
    OperatorTrigger,
    ShowPositions,
    Wait,
    load_demo,
)
from trueup_simulators.hyperliquid.simulator import HyperliquidSimulator
from trueup_simulators.scenario_file import ScenarioError, Step

BYBIT_ACCOUNT = "main"
ASTER_ACCOUNT = "main"
HYPERLIQUID_ADDRESS = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
# The account the demo follows on each venue, each venue's feed built from its definition
# (adapters/venues.py) as `trueup run` builds it.
ACCOUNTS = {"bybit": BYBIT_ACCOUNT, "hyperliquid": HYPERLIQUID_ADDRESS, "aster": ASTER_ACCOUNT}
# The simulators' own keys: made up here, never real ones; given as `trueup run` reads them.
DEMO_KEY, DEMO_SECRET = "demo-key", "demo-secret"
ENVIRONMENT = {
    "BYBIT_API_KEY": DEMO_KEY,
    "BYBIT_API_SECRET": DEMO_SECRET,
    "ASTER_API_KEY": DEMO_KEY,
    "ASTER_API_SECRET": DEMO_SECRET,
}
# Shorter than the defaults (20 s) so the demo need not wait for them; said on screen.
# The checkout's demo scenario (make installs the simulators from it, in place): found
# from wherever the demo is started.
SCENARIO = Path(__file__).resolve().parents[2] / "samples" / "scenarios" / "demo.jsonl"
DEMO_RULES = RuleConfig(order_timeout_ms=4_000, partial_fill_stall_ms=4_000)
# The Bybit symbols whose public prices the demo follows: its trailing trigger's.
PRICED = ("BNBUSDT",)


class Demo:
    """The simulators, the feeds and one live ingest, for the length of a scenario."""

    def __init__(self, journal: Journal, out: TextIO, executor_journal: Journal | None) -> None:
        self.out = out
        self.journal = journal
        self.executor_journal = executor_journal
        self.bybit = BybitSimulator(api_key=DEMO_KEY, api_secret=DEMO_SECRET)
        self.hyperliquid = HyperliquidSimulator()
        self.aster = AsterSimulator(api_key=DEMO_KEY, api_secret=DEMO_SECRET)
        self.live = LiveIngest(journal, config=DEMO_RULES, tick_ms=250, on_emitted=self.emitted)
        self.stop = threading.Event()
        self.failure: Exception | None = None
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

    def run(self, lines: list[DemoLine]) -> None:
        self.bybit.start()
        self.hyperliquid.start()
        self.aster.start()
        prices = venues.named("bybit").prices
        assert prices is not None  # the trailing trigger follows Bybit's tickers
        feeds: list[Feed] = [venues.named(venue).feed(self.settings(venue)) for venue in ACCOUNTS]
        feeds.append(prices(self.settings("bybit"), PRICED))
        writer = threading.Thread(target=self.write, name="writer")
        writer.start()
        executing = self.executor()
        try:
            for feed in feeds:
                feed.start(self.live.put)
            self.bybit.wait_subscribed(timeout=10)
            self.hyperliquid.wait_subscribed("userFills", HYPERLIQUID_ADDRESS)
            self.aster.wait_readers(timeout=10)
            for line in lines:
                if self.stop.is_set():  # the writer failed: nothing played now would be stored
                    break
                self.play(line)
        finally:
            for feed in feeds:
                feed.stop()
            self.stop.set()
            writer.join()
            if executing is not None:
                executing.join()
            self.aster.stop()
            self.hyperliquid.stop()
            self.bybit.stop()
        if self.failure is not None:
            raise self.failure

    def settings(self, venue: str) -> Settings:
        """What the venue's feed and clients are built from: its simulator, the demo's keys."""
        simulator = {"bybit": self.bybit, "hyperliquid": self.hyperliquid, "aster": self.aster}
        base_url = simulator[venue].base_url
        return Settings(
            venue, ACCOUNTS[venue], wall_clock, ENVIRONMENT, base_url=base_url, poll_interval_s=1.0
        )

    def executor(self) -> threading.Thread | None:
        """The Bybit account's executor, on its own connection (none: no trigger acts)."""
        if self.executor_journal is None:
            return None
        execution = venues.named("bybit").execution
        assert execution is not None
        orders = execution(self.settings("bybit"))
        executor = Executor(self.executor_journal, "bybit", BYBIT_ACCOUNT, orders)
        thread = threading.Thread(
            target=run_executor, args=(executor, 20, self.stop), name="executor"
        )
        thread.start()
        return thread

    def write(self) -> None:
        """The writer thread; a failure stops the demo and is raised again by ``run``."""
        try:
            self.live.run(self.stop)
        except Exception as error:
            self.failure = error
            self.stop.set()

    def play(self, line: DemoLine) -> None:
        time.sleep(line.delay_ms / 1000)
        if line.note:
            self.say(f"[{line.number:>2}] {line.note}")
        match line.action:
            case Step() as step:
                run_step(self.bybit, step)
            case AsterStep(step):
                scenario_file.run_step(self.aster, step, ASTER_STEPS)
            case HyperliquidStep() as step:
                try:
                    self.hyperliquid_step(step)
                except (ValueError, TypeError, ArithmeticError) as error:
                    raise ScenarioError(f"line {line.number} ({step.name}): {error}") from None
            case BotIntent(venue, intent):
                self.bot_says(venue, intent)
            case OperatorTrigger(venue, command):
                record = trigger_commands.record(wall_clock(), venue, ACCOUNTS[venue], command)
                self.live.put(record)
            case ShowPositions():
                time.sleep(0.3)  # let what was just done reach the journal
                self.show_positions()
            case Wait(ms):
                time.sleep(ms / 1000)

    def hyperliquid_step(self, step: HyperliquidStep) -> None:
        sim, user, args = self.hyperliquid, HYPERLIQUID_ADDRESS, step.args
        if step.name == "trade":
            oid = sim.open_order(
                user,
                args["coin"],
                is_buy=args["is_buy"],
                sz=args["sz"],
                limit_px=args["px"],
                cloid=args.get("cloid"),
            )
            sim.fill(user, oid)
        elif step.name == "close_by_hand":
            sim.close_by_hand(user, args["coin"], px=args.get("px"))
        elif step.name == "liquidate":
            sim.liquidate(user, args["coin"], px=args.get("px"))
        else:  # drop_connection: the only other step demo_scenario lets through
            sim.drop_connections()

    def bot_says(self, venue: str, intent: dict[str, object]) -> None:
        record = capture_intent(wall_clock(), ACCOUNTS[venue], intent)
        record["venue"] = venue
        self.live.put(record)

    def show_positions(self) -> None:
        rows = position_rows(replay(self.journal))
        with self._lock:
            self.out.write("\n")
            output.print_positions(rows, self.out)
            self.out.write("\n")


def run_demo(
    journal: Journal,
    scenario: Path | None = None,
    out: TextIO = sys.stdout,
    executor_journal: Journal | None = None,
) -> None:
    """Play ``scenario`` (by default the checkout's, SCENARIO); fired triggers place orders
    when an ``executor_journal`` (a second connection to the same journal) is given."""
    scenario = SCENARIO if scenario is None else scenario
    try:
        lines = load_demo(scenario)
    except ScenarioError as error:
        raise UsageError(f"demo scenario {scenario}: {error}") from None
    out.write(
        "trueup demo: Bybit, Hyperliquid and Aster simulators on 127.0.0.1, live ingest\n"
        "through their clients, projections in process. Demo rules: order timeout\n"
        "and partial-fill stall 4 s (defaults 20 s). Emitted events are marked >>.\n\n"
    )
    try:
        Demo(journal, out, executor_journal).run(lines)
    except ScenarioError as error:  # a step the simulator refused, as it was played
        raise UsageError(f"demo scenario {scenario}: {error}") from None
