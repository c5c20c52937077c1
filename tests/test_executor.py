"""The executor, step by step, against the Bybit simulator through pybit: a request the
venue did not judge (rate limited) is asked again under the same id, a request too old is
never sent and fails its firing, a fault on one request fails that one alone, a second
executor on the journal stands by, and the working one's status is kept for /health."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.live_harness import wait_for
from tests.triggers import T0, add, position, price
from trueup.adapters.aster import messages as aster
from trueup.adapters.aster.orders import AsterOrders
from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.orders import Fence, OrderRequest, Placement, unfenced
from trueup.adapters.store.journal import Journal
from trueup.adapters.store.lease import FileLease
from trueup.application import service as service_module
from trueup.application.executor import (
    FAULTS_BEFORE_REFUSAL,
    Executor,
    ExecutorSettings,
    ExecutorStep,
)
from trueup.application.loop_status import SILENT_AFTER_MS, LoopStatus, loop_status
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted, TriggerOutcome
from trueup.domain.events import OrderPlacementReported
from trueup.domain.vocabulary import PlacementOutcome, RefusalKind
from trueup.runners.executor import run_executor
from trueup_simulators.aster.simulator import AsterSimulator
from trueup_simulators.bybit.simulator import BybitSimulator

KEY, SECRET = "executor-step-key-0123", "executor-step-secret-0123"


@pytest.fixture
def sim() -> Iterator[BybitSimulator]:
    with BybitSimulator(api_key=KEY, api_secret=SECRET) as simulator:
        simulator.open_position("BTCUSDT", "Buy", "2", "100", mark_price="110")
        yield simulator


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A journal where a long of 2 had its trigger (reduce half, auto) fire at T0 + 2."""
    with Journal.open(str(tmp_path / "journal.db")) as opened:
        records = [position(T0, "Buy", 2), add(T0 + 1, auto_execute=True), price(T0 + 2, 110)]
        TrueupService(opened).ingest([[orjson.dumps(r) for r in records]])
        yield opened


def executor(journal: Journal, sim: BybitSimulator, now: int = T0 + 3) -> Executor:
    client = BybitOrders(KEY, SECRET, base_url=sim.base_url)
    return Executor(journal, "bybit", "main", client, clock=lambda: now)


def emitted(journal: Journal, kind: str) -> list[Emitted]:
    return [e for _, e in journal.all_events() if isinstance(e, Emitted) and e.type == kind]


def placements(journal: Journal) -> list[OrderPlacementReported]:
    return [e for _, e in journal.all_events() if isinstance(e, OrderPlacementReported)]


def orders(sim: BybitSimulator) -> list[tuple[str, str]]:
    return sim.read(lambda book: [(o.order_link_id, o.status) for o in book.orders.values()])


def test_a_rate_limited_request_is_asked_again_under_the_same_id(
    journal: Journal, sim: BybitSimulator
) -> None:
    sim.rate_limit(1)
    working = executor(journal, sim)
    first = working.step()
    assert (first.placed, first.retrying) == (0, 1)
    assert placements(journal) == [] and orders(sim) == []
    second = working.step()
    assert (second.placed, second.retrying) == (1, 0)
    [(link_id, status)] = orders(sim)
    assert status == "Filled"
    [report] = placements(journal)
    assert report.client_order_id == link_id
    working.release()
    assert executor(journal, sim).step().placed == 0  # its progress is recorded


def test_a_request_older_than_the_limit_is_not_sent_and_fails_its_firing(
    journal: Journal, sim: BybitSimulator
) -> None:
    late = executor(journal, sim, now=T0 + 2 + ExecutorSettings().max_age_ms + 1)
    assert late.step().refused == 1
    assert orders(sim) == []
    [failed] = emitted(journal, "TRIGGER_FAILED")
    assert isinstance(failed, TriggerOutcome)
    # The venue never saw it: the reason must not say the venue refused it.
    limit = ExecutorSettings().max_age_ms
    assert failed.reason == (
        f"the executor did not send the order (too late): requested {limit + 1} ms ago, "
        f"more than the executor's limit of {limit} ms"
    )


def test_a_request_off_the_venues_grid_is_not_sent_and_fails_its_firing_saying_so(
    journal: Journal, sim: BybitSimulator
) -> None:
    sim.set_instrument("BTCUSDT", qty_step="1", min_qty="5", tick_size="0.5")
    assert executor(journal, sim).step().refused == 1
    assert orders(sim) == []
    [report] = placements(journal)
    assert report.refusal is RefusalKind.UNSENDABLE
    [failed] = emitted(journal, "TRIGGER_FAILED")
    assert isinstance(failed, TriggerOutcome)
    assert failed.reason.startswith("the executor did not send the order (unsendable): ")
    assert "below its minimum" in failed.reason


def test_the_log_says_the_quantity_sent_on_the_venues_grid_and_why_a_request_is_asked_again(
    journal: Journal, sim: BybitSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.set_instrument("BTCUSDT", qty_step="0.3", min_qty="0.3", tick_size="0.5")
    sim.rate_limit(1)
    working = executor(journal, sim)
    with caplog.at_level("INFO", logger="trueup"):
        working.step()
        working.step()
    [(_, status)] = orders(sim)
    assert status == "Filled"
    said = [record.getMessage() for record in caplog.records]
    assert any(m.endswith("asking again") and "not judged" not in m for m in said), said
    assert any("Sell 0.9 BTCUSDT: accepted" in m for m in said), said  # 1 decided, 0.9 sent


class Died(BaseException):
    """The executor's process, killed."""


class DiesAfterSending(BybitOrders):
    """A client whose process dies once the venue has taken the order, before the executor
    can record it."""

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        super().place(request, fence)
        raise Died


def test_a_request_too_old_to_send_that_the_venue_already_holds_is_followed_not_failed(
    journal: Journal, sim: BybitSimulator
) -> None:
    """An executor restarted long after one that placed the order and died: the order the
    venue holds under the decision's id is followed, not failed as "too late" while it
    fills, and nothing is sent again."""
    dying = Executor(journal, "bybit", "main", DiesAfterSending(KEY, SECRET, base_url=sim.base_url),
                     clock=lambda: T0 + 3)  # fmt: skip
    with pytest.raises(Died):
        dying.step()
    dying.release()
    [sent] = orders(sim)
    later = executor(journal, sim, now=T0 + 2 + ExecutorSettings().max_age_ms + 1)
    assert later.step().placed == 1
    assert orders(sim) == [sent]
    [report] = placements(journal)
    assert report.outcome is PlacementOutcome.ALREADY_PLACED
    assert emitted(journal, "TRIGGER_FAILED") == []


def test_a_second_executor_stands_by_while_the_first_holds_the_account(
    journal: Journal, sim: BybitSimulator
) -> None:
    working, standby = executor(journal, sim), executor(journal, sim)
    assert working.step().holding
    assert not standby.step().holding
    working.release()
    assert standby.step().holding
    assert len(orders(sim)) == 1


class Usurped(BybitOrders):
    """A client during whose placement, after it has asked what it asks first and before it
    sends, its executor's lease passes to another (a PostgreSQL session dropped, say)."""

    def __init__(self, sim: BybitSimulator, usurp: Callable[[], object]) -> None:
        super().__init__(KEY, SECRET, base_url=sim.base_url)
        self.usurp = usurp

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        def usurped() -> None:
            self.usurp()
            fence()

        return super().place(request, usurped)


def test_an_executor_that_lost_its_lease_before_sending_sends_nothing_the_holder_places_once(
    journal: Journal, sim: BybitSimulator
) -> None:
    """Aster takes a done order's client id again: only the lease, checked between the
    asking and the sending, keeps the two executors from placing one decision twice."""
    holder = executor(journal, sim)

    def usurp() -> None:
        lease = first.lease
        assert isinstance(lease, FileLease)
        lease.path.unlink()  # what a dropped session is to an advisory lock: gone
        assert holder.lease.acquire()

    first = Executor(journal, "bybit", "main", Usurped(sim, usurp), clock=lambda: T0 + 3)
    step = first.step()
    assert (step.holding, step.placed, step.refused, step.retrying) == (False, 0, 0, 0)
    assert orders(sim) == [] and placements(journal) == []
    assert holder.step().placed == 1
    assert len(orders(sim)) == 1 and len(placements(journal)) == 1


@pytest.mark.parametrize("verb", ["disable", "remove"])
def test_a_trigger_disabled_before_its_order_is_sent_withdraws_the_order_none_is_sent(
    verb: str, journal: Journal, sim: BybitSimulator
) -> None:
    """The operator's command claims the order first (the executor was down, or behind):
    taken, it cancels the firing, and the executor, which claims each order just before it
    sends it, finds the claim taken and sends nothing."""
    command = {"command": verb, "trigger_id": "t1", "operator": "alice"}
    report = TrueupService(journal).command_trigger("bybit", "main", command, at=T0 + 3)
    assert (report.refused, report.emitted) == ([], ["TRIGGER_CANCELLED"])

    step = executor(journal, sim, now=T0 + 4).step()
    assert (step.placed, step.refused) == (0, 1)
    assert orders(sim) == []
    [report_] = placements(journal)
    assert report_.refusal is RefusalKind.WITHDRAWN
    assert report_.reason == "withdrawn by alice at 2025-11-03T19:43:20.003Z before it was sent"
    [cancelled] = emitted(journal, "TRIGGER_CANCELLED")
    assert isinstance(cancelled, TriggerOutcome)
    assert cancelled.reason == f"{verb}d before its order was sent"
    assert emitted(journal, "TRIGGER_FAILED") == []
    # Listed as the operator left it, not by its cancelled firing.
    [row] = TrueupService(journal).triggers(venue="bybit", account="main")
    assert (row["state"], row["standing"]) == (f"{verb}d", f"{verb}d")


def test_a_disable_judged_before_its_trigger_fired_says_what_the_journal_made_of_it(
    tmp_path: Path, sim: BybitSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger fires (a `trueup run`'s price) between the command's replay and its
    append: judged on the replay, the disable said it was carried out, while the journal,
    which judges it after the firing, refused it and the order went out (a walkthrough).
    It now says what the journal says."""
    with Journal.open(str(tmp_path / "journal.db")) as opened:
        records = [position(T0, "Buy", 2), add(T0 + 1, auto_execute=True)]
        TrueupService(opened).ingest([[orjson.dumps(r) for r in records]])
        replayed = service_module._replay

        def fired_meanwhile(journal: Journal, **scope: Any) -> Any:
            state = replayed(journal, **scope)
            TrueupService(journal).ingest([[orjson.dumps(price(T0 + 2, 110))]])
            return state

        monkeypatch.setattr(service_module, "_replay", fired_meanwhile)
        command = {"command": "disable", "trigger_id": "t1", "operator": "alice"}
        report = TrueupService(opened).command_trigger("bybit", "main", command, at=T0 + 3)
        monkeypatch.undo()
        said = "trigger t1 has fired and its order is requested: the executor may be sending it"
        assert report.refused == [f"{said}; disable it after"]
        assert report.emitted == ["TRIGGER_REFUSED"]
        [refused] = emitted(opened, "TRIGGER_REFUSED")
        assert refused.reason == report.refused[0]  # type: ignore[attr-defined]
        assert executor(opened, sim, now=T0 + 4).step().placed == 1  # as the journal says


class Commanded(BybitOrders):
    """A client during whose placement, once its executor has claimed the order and before
    it sends it, an operator disables the order's trigger."""

    def __init__(self, sim: BybitSimulator, journal: Journal) -> None:
        super().__init__(KEY, SECRET, base_url=sim.base_url)
        self.journal = journal
        self.refused: list[str] = []

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        def commanded() -> None:
            fence()
            command = {"command": "disable", "trigger_id": "t1", "operator": "alice"}
            service = TrueupService(self.journal)
            self.refused = service.command_trigger("bybit", "main", command, at=T0 + 3).refused

        return super().place(request, commanded)


def test_a_disable_once_the_executor_has_claimed_the_order_is_refused_the_order_goes_out(
    journal: Journal, sim: BybitSimulator
) -> None:
    client = Commanded(sim, journal)
    assert Executor(journal, "bybit", "main", client, clock=lambda: T0 + 3).step().placed == 1
    assert client.refused == [
        "trigger t1's order was being sent by executor.bybit.main at "
        "2025-11-03T19:43:20.003Z: disable it after"
    ]
    [(_, status)] = orders(sim)
    assert status == "Filled"
    [report] = placements(journal)
    assert report.outcome is PlacementOutcome.ACCEPTED
    assert emitted(journal, "TRIGGER_CANCELLED") == []


class Faulty(BybitOrders):
    """A client with a fault of its own on its first ``faults`` orders; ``after_sending``:
    the fault comes once the venue has taken the order."""

    def __init__(self, sim: BybitSimulator, faults: int, *, after_sending: bool = False) -> None:
        super().__init__(KEY, SECRET, base_url=sim.base_url)
        self.faults, self.after_sending = faults, after_sending

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        if not self.faults:
            return super().place(request, fence)
        self.faults -= 1
        if self.after_sending:
            super().place(request, fence)
        raise KeyError("a fault in the client")


def test_a_fault_after_the_venue_took_the_order_is_asked_again_and_followed(
    journal: Journal, sim: BybitSimulator
) -> None:
    client = Faulty(sim, 1, after_sending=True)
    working = Executor(journal, "bybit", "main", client, clock=lambda: T0 + 3)
    assert working.step().retrying == 1  # the venue may hold it: never failed at once
    assert working.step().placed == 1  # the same id again: "already placed"
    assert [status for _, status in orders(sim)] == ["Filled"]  # one order, not two
    [report] = placements(journal)
    assert report.outcome is PlacementOutcome.ALREADY_PLACED
    assert emitted(journal, "TRIGGER_FAILED") == []


def test_a_fault_that_keeps_coming_fails_that_firing_and_the_executor_goes_on(
    journal: Journal, sim: BybitSimulator
) -> None:
    working = Executor(journal, "bybit", "main", Faulty(sim, 99), clock=lambda: T0 + 3)
    steps = [working.step() for _ in range(FAULTS_BEFORE_REFUSAL)]
    assert [(s.retrying, s.refused) for s in steps] == [(1, 0), (1, 0), (0, 1)]
    [failed] = emitted(journal, "TRIGGER_FAILED")
    assert isinstance(failed, TriggerOutcome)
    assert "the executor failed on it: KeyError" in failed.reason
    assert orders(sim) == []


def test_the_working_executor_s_status_tells_its_last_success_and_failures(
    journal: Journal, sim: BybitSimulator
) -> None:
    now = [T0 + 3]
    working = Executor(
        journal, "bybit", "main", BybitOrders(KEY, SECRET, base_url=sim.base_url),
        clock=lambda: now[0],
    )  # fmt: skip
    stop = threading.Event()
    runner = threading.Thread(target=run_executor, args=(working, 10, stop))
    runner.start()
    try:
        wait_for("a success", lambda: _status(journal) is not None)
    finally:
        stop.set()
        runner.join(timeout=10)
    status = _status(journal)
    assert status is not None
    assert (status.last_success_at, status.stopped_at) == (T0 + 3, T0 + 3)
    assert status.problem(T0 + 10**6) is None  # stopped cleanly: not a problem
    beating = replace(status, stopped_at=None)
    assert "silent for" in (beating.problem(T0 + 3 + SILENT_AFTER_MS + 1) or "")
    failing = replace(beating, failures_in_row=3, last_failure="ConnectionError: refused")
    assert "failed 3 times in a row: ConnectionError" in (failing.problem(T0 + 4) or "")


def _status(journal: Journal) -> LoopStatus | None:
    return loop_status(journal, "executor.bybit.main")


class Stepping(Executor):
    """An executor that counts its steps."""

    steps = 0

    def step(self) -> ExecutorStep:
        done = super().step()
        self.steps += 1
        return done


def test_a_woken_executor_places_a_new_request_at_once_not_at_its_next_poll(
    tmp_path: Path, sim: BybitSimulator
) -> None:
    store = str(tmp_path / "woken.db")
    with Journal.open(store) as journal, Journal.open(store) as own:
        setup = [position(T0, "Buy", 2), add(T0 + 1, auto_execute=True)]
        TrueupService(journal).ingest([[orjson.dumps(r) for r in setup]])
        client = BybitOrders(KEY, SECRET, base_url=sim.base_url)
        working = Stepping(own, "bybit", "main", client, clock=lambda: T0 + 3)
        stop, wake = threading.Event(), threading.Event()
        polling_every_minute = (working, 60_000, stop, wake)
        thread = threading.Thread(target=run_executor, args=polling_every_minute)
        thread.start()
        try:
            wait_for("its first step", lambda: working.steps == 1)
            TrueupService(journal).ingest([[orjson.dumps(price(T0 + 2, 110))]])
            wake.set()  # as an in-process projection does when it emits ORDER_REQUESTED
            wait_for("the order", lambda: len(orders(sim)) == 1, timeout=5)
        finally:
            stop.set()
            wake.set()
            thread.join(timeout=10)
        assert not thread.is_alive()


# --- Aster, which keeps a client order id unique among open orders alone ----------------

ASTER_KEY, ASTER_SECRET = "aster-step-key-0123", "aster-step-secret-0123"


def aster_long_with_a_fired_trigger(journal: Journal) -> None:
    """A long of 2 on Aster whose trigger (reduce half, auto) fired at T0 + 2."""
    held = aster.account_position(symbol="BTCUSDT", amount="2", entry_price="100")
    update = aster.account_update(
        event_time=T0, transaction_time=T0, reason="ORDER", balances=[], positions=[held]
    )
    mark = {"e": "markPriceUpdate", "E": T0 + 2, "s": "BTCUSDT", "p": "110", "i": "110"}
    records = [
        aster.capture_ws(T0, "main", update),
        {**add(T0 + 1, auto_execute=True), "venue": "aster"},
        {"at": T0 + 2, "venue": "aster", "account": "main", "channel": "market", "data": mark},
    ]
    TrueupService(journal).ingest([[orjson.dumps(r) for r in records]])


AsterFired = tuple[Journal, AsterSimulator]


@pytest.fixture
def aster_fired(tmp_path: Path) -> Iterator[AsterFired]:
    """Aster's simulator holding a long of 2, and a journal where its trigger fired."""
    with (
        Journal.open(str(tmp_path / "journal.db")) as journal,
        AsterSimulator(api_key=ASTER_KEY, api_secret=ASTER_SECRET) as sim,
    ):
        sim.move_mark("BTCUSDT", "110")
        sim.open_position("BTCUSDT", "2", "100")
        aster_long_with_a_fired_trigger(journal)
        yield journal, sim


class TakenLate(AsterOrders):
    """A client whose first ``unanswered`` sends Aster answers -1007 ("execution status
    unknown") and takes only later, while each request's recvWindow still runs."""

    def __init__(self, sim: AsterSimulator, unanswered: int = 1) -> None:
        super().__init__(ASTER_KEY, ASTER_SECRET, base_url=sim.base_url)
        self.unanswered = unanswered
        self.held: list[OrderRequest] = []

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        if not self.unanswered or self.find(request) is not None:
            return super().place(request, fence)
        fence()
        self.unanswered -= 1
        self.held.append(request)
        return Placement(
            PlacementOutcome.REFUSED,
            reason="Timeout waiting for response from backend server.",
            refusal=RefusalKind.UNREACHABLE,
            code="-1007",
        )

    def deliver(self) -> None:
        """The last request held up on its way: Aster takes it now."""
        AsterOrders.place(self, self.held[-1])  # finds none, as its first ask found none


@pytest.mark.parametrize("successor", [False, True])
def test_an_aster_order_sent_without_an_answer_is_asked_for_only_once_it_can_no_longer_be_taken(
    aster_fired: AsterFired, successor: bool
) -> None:
    """Asked for at once after -1007, by the executor or by the one that took over from it,
    the order was not yet there, so it was placed again, and then the first came in: two
    orders for one firing (a walkthrough). Asked once the first can no longer be taken
    (by the claim's time), it is found, and followed."""
    journal, sim = aster_fired
    client, now = TakenLate(sim), [T0 + 3]
    working = Executor(journal, "aster", "main", client, clock=lambda: now[0])

    assert (working.step().retrying, len(client.held)) == (1, 1)
    if successor:  # it dies; another takes the account over
        working.release()
        working = Executor(journal, "aster", "main", client, clock=lambda: now[0])
    now[0] += 100  # the next step: the order may still be on its way
    waiting = working.step()
    assert (waiting.placed, waiting.retrying) == (0, 1)
    client.deliver()
    now[0] = T0 + 3 + AsterOrders.in_flight_ms
    assert working.step().placed == 1
    assert len(sim_orders(sim)) == 1
    [report] = placements(journal)
    assert report.outcome is PlacementOutcome.ALREADY_PLACED


def test_an_aster_order_sent_again_without_an_answer_is_waited_for_from_that_send_by_a_successor(
    aster_fired: AsterFired,
) -> None:
    """Sent, unanswered, waited for, sent again, unanswered, and the executor dies: its
    successor waited from the first send, which was long past, placed the order, and then
    the second send came in (a walkthrough). Each send is in the journal."""
    journal, sim = aster_fired
    client, now = TakenLate(sim, unanswered=2), [T0 + 3]
    first = Executor(journal, "aster", "main", client, clock=lambda: now[0])
    assert first.step().retrying == 1
    now[0] += AsterOrders.in_flight_ms
    assert (first.step().retrying, len(client.held)) == (1, 2)  # sent again, no answer
    first.release()  # it dies
    successor = Executor(journal, "aster", "main", client, clock=lambda: now[0])
    now[0] += 500
    assert (successor.step().placed, len(sim_orders(sim))) == (0, 0)
    client.deliver()
    now[0] += AsterOrders.in_flight_ms
    assert successor.step().placed == 1
    assert len(sim_orders(sim)) == 1


class RateLimited(AsterOrders):
    """A client whose first send Aster refuses, rate limited: judged, and not taken."""

    def __init__(self, sim: AsterSimulator) -> None:
        super().__init__(ASTER_KEY, ASTER_SECRET, base_url=sim.base_url)
        self.limited = False

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        if self.limited:
            return super().place(request, fence)
        fence()
        self.limited = True
        return Placement(
            PlacementOutcome.REFUSED,
            reason="Too many requests.",
            refusal=RefusalKind.RATE_LIMITED,
            code="-1003",
        )


def test_an_aster_order_refused_rate_limited_is_asked_again_at_the_next_step(
    aster_fired: AsterFired,
) -> None:
    """Nothing of it is in flight: it waited 7 s as an unanswered one does (a walkthrough)."""
    journal, sim = aster_fired
    now = [T0 + 3]
    working = Executor(journal, "aster", "main", RateLimited(sim), clock=lambda: now[0])
    assert working.step().retrying == 1
    now[0] += 100
    assert working.step().placed == 1
    assert len(sim_orders(sim)) == 1


def sim_orders(sim: AsterSimulator) -> list[str]:
    return sim.read(lambda a: [o.client_order_id for o in a.orders.values()])
