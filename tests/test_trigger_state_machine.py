"""Triggers through crashes and restarts, on the Bybit simulator through pybit: random
triggers, prices, confirms, the bot's own orders, live ingest killed and rebuilt from the
journal, executors killed between placing an order and recording it, streams cut. After
every step no trigger fired twice in one arming, no order was placed twice or without its
one request, no reduce was refused for want of position; once everything has caught up,
every firing has ended exactly once (or waits on its confirm), as the venue says it did."""

import contextlib
import shutil
import tempfile
from collections import Counter
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.live_harness import live_ingest, wait_for
from trueup.adapters import trigger_commands
from trueup.adapters.bybit.live import BybitFeed
from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.bybit.price_feed import BybitPriceFeed
from trueup.adapters.client_order_id import ClientOrderId, client_order_id
from trueup.adapters.clock import wall_clock
from trueup.adapters.feeds import Feeds
from trueup.adapters.orders import Fence, OrderRequest, Placement, unfenced
from trueup.adapters.store.journal import Journal
from trueup.application.executor import Executor, ExecutorSettings
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted, OrderRequested, TriggerFired, TriggerOutcome
from trueup.domain.events import OrdersReported
from trueup.projections.partitions import tracked_position
from trueup.runners.live import LiveIngest
from trueup_simulators.bybit.simulator import BybitSimulator

KEY, SECRET = "machine-key-0123456789", "machine-secret-0123456789"
ACCOUNT = "main"
# A one-way long (a lock there fails at once) and a hedge-mode long on leg 1 (a lock opens
# leg 2, a short that short triggers may then fire on).
LEGS = {"BTCUSDT": 0, "ETHUSDT": 1}
SYMBOLS = tuple(LEGS)
PRICES = ("90", "95", "100", "105", "110", "115")
CREATE = "/v5/order/create"
INSUFFICIENT_POSITION = 110017
DRAIN_TIMEOUT_S = 30.0
# A stream that reconnects at once, or after an attempt or two that do not come up in time
# (the feed's own wait, 10 s each, on a loaded machine).
STREAM_BACK_S = 40.0
# Short enough that an executor restarted after a pause meets a request too old to send.
MAX_AGE_MS = 5_000


class Died(BaseException):
    """The executor's process killed (-9) just after the venue took its order: nothing in
    the process can catch it, as nothing can catch a kill."""


class DiesAfterPlacing:
    """An execution client whose process dies once the venue has taken an order, before
    the executor can record it."""

    def __init__(self, client: BybitOrders) -> None:
        self.client = client

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        self.client.place(request, fence)
        raise Died(request.client_order_id.order_link_id)

    def find(self, request: OrderRequest) -> Placement | None:
        return self.client.find(request)

    def written(self, client_order_id: ClientOrderId) -> str:
        return self.client.written(client_order_id)

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        return self.client.cancel(symbol, client_order_id)


specs = st.fixed_dictionaries(
    {
        "symbol": st.sampled_from(SYMBOLS),
        "direction": st.sampled_from(("long", "short")),
        "kind": st.sampled_from(("price", "stop_loss", "trailing", "profit")),
        "level": st.sampled_from(("95", "100", "105", "110")),
        "ratio": st.sampled_from(("0.25", "0.5", "1")),
        "action": st.sampled_from(("reduce", "reduce", "lock")),
        "auto_execute": st.booleans(),
    }
)


class TriggersThroughCrashes(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="trueup-triggers-")
        self.store = f"{self.folder}/journal.db"
        self.sim = BybitSimulator(api_key=KEY, api_secret=SECRET).start()
        for symbol, idx in LEGS.items():
            self.sim.open_position(symbol, "Buy", "2", "100", position_idx=idx, mark_price="100")
            self.sim.tickers.set(symbol, mark_price="100")
        self.journal = Journal.open(self.store)
        self.executor_journal = Journal.open(self.store)
        self.triggers: list[str] = []
        self.running: Any = None
        self.live: LiveIngest | None = None
        self.executor: Executor | None = None
        self._ingest()
        wait_for("the positions", lambda: self._held() == len(SYMBOLS), timeout=20)
        self._start_executor()

    def teardown(self) -> None:
        try:
            self._settle(DRAIN_TIMEOUT_S)  # however the run ended, it must settle
        finally:
            self._close()

    def _close(self) -> None:
        if self.executor is not None:
            self.executor.release()
        self._stop_ingest()
        self.journal.close()
        self.executor_journal.close()
        self.sim.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- the processes ------------------------------------------------------------------

    def _ingest(self) -> None:
        """``trueup run --prices`` in a thread: the account's stream, the tickers, and the
        projection, rebuilt from what the journal holds."""
        account = BybitFeed(
            ACCOUNT, KEY, SECRET, clock=wall_clock, base_url=self.sim.base_url, poll_interval_s=0.3
        )
        prices = BybitPriceFeed(ACCOUNT, SYMBOLS, clock=wall_clock, base_url=self.sim.base_url)
        before = set(self.sim.connection_ids())
        self.running = live_ingest(self.store, Feeds(account, prices), tick_ms=100)
        self.live = self.running.__enter__()
        self._streams_back(before)

    def _streams_back(self, before: set[str]) -> None:
        """A new private stream subscribed in place of ``before``, and the tickers."""
        wait_for(
            "a new private stream",
            lambda: bool(self.sim.connection_ids()) and not before & set(self.sim.connection_ids()),
            timeout=STREAM_BACK_S,
        )
        assert self.sim.wait_subscribed(timeout=10)
        for symbol in SYMBOLS:
            assert self.sim.tickers.wait_subscribed(symbol, timeout=10)

    def _reports_in(self) -> None:
        """Every order of trueup's at the venue reported ended in the journal. ``trueup run``
        is killed only then: a run's first sync lists open orders only, so a fill whose frame
        the killed run lost is never seen (see
        test_a_trigger_order_filled_while_trueup_run_restarts_ends_its_firing)."""

        def reported() -> bool:
            ended = {
                order.client_order_id
                for _, event in self.journal.all_events()
                if isinstance(event, OrdersReported)
                for order in event.orders
                if order.status.is_terminal
            }
            return set(self._venue_orders()) <= ended

        wait_for("the venue's reports of trueup's orders", reported, timeout=15)

    def _stop_ingest(self) -> None:
        """As kill -9 leaves it: the leases dropped, no snapshot taken on the way out."""
        live, self.live = self.live, None
        self.running.__exit__(None, None, None)
        if live is not None and live.projection is not None:
            for lease in live.projection.leases.values():
                lease.release()

    def _start_executor(self) -> None:
        client = BybitOrders(KEY, SECRET, base_url=self.sim.base_url)
        self.executor = self._executor(client)

    def _executor(self, client: Any) -> Executor:
        settings = ExecutorSettings(max_age_ms=MAX_AGE_MS)
        return Executor(self.executor_journal, "bybit", ACCOUNT, client, settings=settings)

    def _kill_executor(self) -> None:
        """kill -9: its lease dropped by the kernel, nothing else said."""
        if self.executor is not None:
            self.executor.lease.release()
        self.executor = None

    def _command(self, data: dict[str, Any]) -> None:
        """A ``trueup trigger`` command, appended by a process of its own."""
        record = trigger_commands.record(wall_clock(), "bybit", ACCOUNT, data)
        TrueupService(self.journal).ingest([[orjson.dumps(record)]])

    # --- what the journal and the venue say ------------------------------------------------

    def _emitted(self) -> list[Emitted]:
        return [e for _, e in self.journal.all_events() if isinstance(e, Emitted)]

    def _held(self) -> int:
        rows = TrueupService(self.journal).positions(venue="bybit", account=ACCOUNT)
        return sum(1 for row in rows if Decimal(row["exchange_qty"]) > 0)

    def _venue_orders(self) -> dict[str, tuple[str, Decimal]]:
        """trueup's orders at the venue: orderLinkId -> (status, filled)."""
        return self.sim.read(
            lambda book: {
                o.order_link_id: (o.status, o.cum_exec_qty)
                for o in book.orders.values()
                if o.order_link_id.startswith("tu-")
            }
        )

    # --- rules ----------------------------------------------------------------------------

    @initialize(armed=st.lists(specs, min_size=2, max_size=4))
    def triggers_armed(self, armed: list[dict[str, Any]]) -> None:
        for spec in armed:
            self.add_trigger(spec)

    @rule(spec=specs)
    def add_trigger(self, spec: dict[str, Any]) -> None:
        trigger_id = f"t{len(self.triggers)}"
        self.triggers.append(trigger_id)
        data = {"command": "add", "trigger_id": trigger_id, "operator": "machine", **spec}
        level = Decimal(data.pop("level"))
        if spec["kind"] == "trailing":
            data["distance"] = str(level / 20)  # 4.75 to 5.5
        elif spec["kind"] == "profit":
            data["level"] = str(level - 100)  # -5 to 10 of unrealised PnL
        else:
            data["level"] = str(level)
        self._command(data)

    @rule(symbol=st.sampled_from(SYMBOLS), price=st.sampled_from(PRICES))
    def move_price(self, symbol: str, price: str) -> None:
        self.sim.move_mark(symbol, price)

    @precondition(lambda self: bool(self.triggers))
    @rule(data=st.data())
    def confirm(self, data: st.DataObject) -> None:
        trigger_id = data.draw(st.sampled_from(self.triggers))
        self._command({"command": "confirm", "trigger_id": trigger_id, "operator": "machine"})

    @precondition(lambda self: bool(self.triggers))
    @rule(data=st.data(), command=st.sampled_from(("disable", "enable", "remove")))
    def change_standing(self, data: st.DataObject, command: str) -> None:
        trigger_id = data.draw(st.sampled_from(self.triggers))
        self._command({"command": command, "trigger_id": trigger_id, "operator": "machine"})

    @rule(symbol=st.sampled_from(SYMBOLS), qty=st.sampled_from(("0.5", "1")))
    def the_bot_buys_more(self, symbol: str, qty: str) -> None:
        """An order of the bot's own, filled at the venue: the long grows."""
        idx = LEGS[symbol]
        order = self.sim.place_order(symbol, "Buy", qty, order_type="Market", position_idx=idx)
        self.sim.fill(order)

    @rule(symbol=st.sampled_from(SYMBOLS))
    def the_bot_cancels_an_order(self, symbol: str) -> None:
        order = self.sim.place_order(symbol, "Buy", "1", price="50", position_idx=LEGS[symbol])
        self.sim.cancel(order)

    @rule()
    def executor_steps(self) -> None:
        if self.executor is not None:
            self.executor.step()

    @rule()
    def executor_dies_between_placing_and_recording(self) -> None:
        self._kill_executor()
        client = BybitOrders(KEY, SECRET, base_url=self.sim.base_url)
        dying = self._executor(DiesAfterPlacing(client))
        with contextlib.suppress(Died):
            dying.step()
        dying.lease.release()

    @rule()
    def executor_restarts(self) -> None:
        self._kill_executor()
        self._start_executor()

    @rule()
    def ingest_crashes_and_restarts(self) -> None:
        self._reports_in()
        self._stop_ingest()
        self._ingest()

    @rule()
    def streams_cut(self) -> None:
        before = set(self.sim.connection_ids())
        self.sim.drop_connections()
        self.sim.tickers.drop_connections()
        self._streams_back(before)

    @rule()
    def everything_catches_up(self) -> None:
        self._settle(DRAIN_TIMEOUT_S)

    def _settle(self, timeout: float) -> None:
        """The executor back and stepping, the feed and projection caught up: every firing
        has then ended once, as the venue says, or waits on its confirm."""
        if self.executor is None:
            self._start_executor()
        executor = self.executor
        assert executor is not None
        problems: list[str] = []

        def settled() -> bool:
            executor.step()
            caught_up = tracked_position(self.journal) >= self.journal.last_position()
            problems[:] = _unsettled(self._emitted(), self._venue_orders())
            return caught_up and not problems

        try:
            wait_for("every firing to settle", settled, timeout=timeout)
        except AssertionError:
            raise AssertionError("; ".join(problems)) from None

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def no_trigger_fires_twice_in_one_arming(self) -> None:
        fired = Counter(
            (e.trigger_id, e.arming) for e in self._emitted() if isinstance(e, TriggerFired)
        )
        assert all(n == 1 for n in fired.values()), fired

    @invariant()
    def each_decision_is_requested_once_ends_at_most_once_and_is_placed_at_most_once(
        self,
    ) -> None:
        emitted = self._emitted()
        fired = {e.event_id for e in emitted if isinstance(e, TriggerFired)}
        requested = Counter(e.decision_id for e in emitted if isinstance(e, OrderRequested))
        ended = Counter(e.decision_id for e in emitted if isinstance(e, TriggerOutcome))
        assert all(n == 1 for n in requested.values()), requested
        assert all(n == 1 for n in ended.values()), ended
        assert set(requested) <= fired and set(ended) <= fired
        # At the venue: every order of trueup's is one requested decision's, placed once.
        links = {client_order_id(d).order_link_id for d in requested}
        taken = Counter(
            a.order_link_id
            for a in self.sim.rest_answers()
            if a.path == CREATE and a.ret_code == 0 and a.order_link_id.startswith("tu-")
        )
        assert set(taken) <= links, set(taken) - links
        assert all(n == 1 for n in taken.values()), taken
        assert set(self._venue_orders()) <= links

    @invariant()
    def no_reduce_is_refused_for_want_of_position(self) -> None:
        refused = [
            a.order_link_id
            for a in self.sim.rest_answers()
            if a.path == CREATE and a.ret_code == INSUFFICIENT_POSITION
        ]
        assert refused == [], refused


def _unsettled(emitted: list[Emitted], venue: dict[str, tuple[str, Decimal]]) -> list[str]:
    """What is not yet as it must be once everything has caught up."""
    requested = {e.decision_id for e in emitted if isinstance(e, OrderRequested)}
    ended = {e.decision_id: e for e in emitted if isinstance(e, TriggerOutcome)}
    problems: list[str] = []
    for fired in (e for e in emitted if isinstance(e, TriggerFired)):
        decision = fired.event_id
        outcome = ended.get(decision)
        link = client_order_id(decision).order_link_id
        status, filled = venue.get(link, ("", Decimal(0)))
        if outcome is None:
            if decision in requested or fired.auto_execute:
                problems.append(f"{fired.trigger_id}: requested, never ended")
            continue
        if filled > 0 and outcome.type != "TRIGGER_EXECUTED":
            problems.append(
                f"{fired.trigger_id}: {outcome.type} ({outcome.reason}) but the venue "
                f"{status} {filled} of it"
            )
        if outcome.type == "TRIGGER_EXECUTED" and not filled:
            problems.append(f"{fired.trigger_id}: executed, but the venue filled none of it")
    return problems


TriggersThroughCrashes.TestCase.settings = settings(
    max_examples=8, stateful_step_count=30, deadline=None
)
test_triggers_through_crashes_and_restarts = TriggersThroughCrashes.TestCase


def test_a_trigger_order_filled_while_trueup_run_restarts_ends_its_firing() -> None:
    machine = TriggersThroughCrashes()
    try:
        spec = {
            "symbol": "BTCUSDT", "direction": "long", "kind": "price", "level": "95",
            "ratio": "0.5", "action": "reduce", "auto_execute": True,
        }  # fmt: skip
        machine.add_trigger(spec)  # fires at once: the price is 100
        wait_for(
            "the request",
            lambda: any(isinstance(e, OrderRequested) for e in machine._emitted()),
        )
        machine._stop_ingest()  # trueup run is down (restarting) ...
        machine.executor_steps()  # ... while trueup execute places the order: it fills
        assert [status for status, _ in machine._venue_orders().values()] == ["Filled"]
        machine._ingest()
        machine._settle(DRAIN_TIMEOUT_S)
    finally:
        machine._close()
