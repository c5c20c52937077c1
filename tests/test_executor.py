"""The executor, step by step, against the Bybit simulator through pybit: a request the
venue did not judge (rate limited) is asked again under the same id, a request too old is
never sent and fails its firing, a fault on one request fails that one alone, a second
executor on the journal stands by, and the working one's status is kept for /health."""

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from tests.live_harness import wait_for
from tests.triggers import T0, add, position, price
from trueup.adapters.bybit.orders import BybitOrders
from trueup.adapters.orders import OrderRequest, Placement
from trueup.adapters.store.journal import Journal
from trueup.application.executor import Executor, ExecutorSettings
from trueup.application.loop_status import SILENT_AFTER_MS, LoopStatus, loop_status
from trueup.application.service import TrueupService
from trueup.domain.emitted import Emitted, TriggerOutcome
from trueup.domain.events import OrderPlacementReported
from trueup.runners.executor import run_executor
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
    assert "not sent: requested" in failed.reason


def test_a_second_executor_stands_by_while_the_first_holds_the_account(
    journal: Journal, sim: BybitSimulator
) -> None:
    working, standby = executor(journal, sim), executor(journal, sim)
    assert working.step().holding
    assert not standby.step().holding
    working.release()
    assert standby.step().holding
    assert len(orders(sim)) == 1


class Faulty(BybitOrders):
    """A client with a fault of its own on its first order."""

    faults = 1

    def place(self, request: OrderRequest) -> Placement:
        if self.faults:
            self.faults -= 1
            raise KeyError("a fault in the client")
        return super().place(request)


def test_a_fault_on_one_request_fails_that_firing_and_the_executor_goes_on(
    journal: Journal, sim: BybitSimulator
) -> None:
    client = Faulty(KEY, SECRET, base_url=sim.base_url)
    done = Executor(journal, "bybit", "main", client, clock=lambda: T0 + 3).step()
    assert (done.refused, done.retrying) == (1, 0)
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
