"""The leg a lock trigger opened is folded from the journal's inputs alone: `trueup audit` of
the leg shows it as `trueup positions` does, open once the lock's order fills and closed once
the exchange closes the leg, and a replay from scratch gives what the live projection gave."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.triggers import ACCOUNT, SYMBOL, T0, add, position, price
from trueup.adapters.bybit.messages import order_item
from trueup.adapters.capture import decode_line
from trueup.adapters.client_order_id import ClientOrderId, client_order_id
from trueup.adapters.orders import Fence, OrderRequest, Placement, unfenced
from trueup.adapters.store.journal import Journal
from trueup.application.executor import Executor
from trueup.application.service import TrueupService
from trueup.domain.book import fold
from trueup.domain.emitted import Emitted, TriggerFired
from trueup.domain.events import InputEvent, InputRejected, OrderPlacementReported
from trueup.domain.reconciler import Reconciler
from trueup.domain.vocabulary import PlacementOutcome, PositionSide, RefusalKind
from trueup.projections.audit import position_state
from trueup.runners.cli import main

JSON = dict[str, Any]
LEG = 2  # the lock of a long on leg 1 opens the short leg
LEG_ID = "lock:t1:1"


class Venue:
    """Takes every order it is asked for, as a venue that has it on its books."""

    in_flight_ms = 0

    def __init__(self) -> None:
        self.asked: list[OrderRequest] = []

    def place(self, request: OrderRequest, fence: Fence = unfenced) -> Placement:
        fence()
        self.asked.append(request)
        return Placement(PlacementOutcome.ACCEPTED, venue_order_id="o-lock", qty=request.qty)

    def find(self, request: OrderRequest) -> Placement | None:
        return None

    def written(self, client_order_id: ClientOrderId) -> str:
        return client_order_id.order_link_id

    def cancel(self, symbol: str, client_order_id: str) -> Placement:
        raise AssertionError("a lock cancels nothing")


def ingest(journal: Journal, *records: dict[str, Any]) -> None:
    TrueupService(journal).ingest([[orjson.dumps(r) for r in records]])


def lock_order(at: int, fired: Emitted, status: str, filled: str) -> dict[str, Any]:
    """The venue's report of the lock's order: a market sell opening the short leg."""
    item = order_item(
        symbol=SYMBOL, order_id="o-lock", order_link_id=client_order_id(fired.event_id)
        .order_link_id, side="Sell", qty="1", status=status, updated_time=at,
        cum_exec_qty=filled, avg_price="110", position_idx=LEG,
    )  # fmt: skip
    frame = {"topic": "order", "creationTime": at, "data": [item]}
    return {"at": at, **ACCOUNT, "channel": "ws", "data": frame}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[str]:
    """A journal where a hedge-mode long of 2 on leg 1 had its lock (half, auto) fire at
    110, the executor placed the lock's order, and the venue filled it and shows the leg."""
    path = str(tmp_path / "journal.db")
    with Journal.open(path) as journal:
        ingest(
            journal, position(T0, "Buy", 2, idx=1), add(T0 + 1, action="lock", auto_execute=True)
        )
        ingest(journal, price(T0 + 2, "110"))
        (fired,) = [e for _, e in journal.all_events() if isinstance(e, TriggerFired)]
        venue = Venue()
        Executor(journal, "bybit", "main", venue, clock=lambda: T0 + 3).step()
        assert [(r.position_idx, r.reduce_only) for r in venue.asked] == [(LEG, False)]
        ingest(journal, lock_order(T0 + 4, fired, "Filled", "1"))
        ingest(journal, position(T0 + 5, "Sell", 1, idx=LEG))
    yield path


def cli_json(store: str, capsys: pytest.CaptureFixture[str], *args: str) -> list[JSON]:
    assert main(["--store", store, *args, "--json"]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


def audit_of_leg(store: str, capsys: pytest.CaptureFixture[str]) -> JSON:
    """`trueup audit` of the leg's key, as of now."""
    where = ["--venue", "bybit", "--account", "main", "--symbol", SYMBOL]
    (audit,) = cli_json(store, capsys, "audit", *where, "--position-idx", str(LEG))
    return audit


def audited_leg(store: str, capsys: pytest.CaptureFixture[str]) -> JSON:
    """`trueup audit` of the leg's key, as of now: its state."""
    state: JSON = audit_of_leg(store, capsys)["state"]
    return state


def listed_leg(store: str, capsys: pytest.CaptureFixture[str]) -> JSON:
    """`trueup positions`' row of the leg's key: its state."""
    rows = cli_json(store, capsys, "positions", "--symbol", SYMBOL)
    (row,) = [r for r in rows if r["position_idx"] == LEG]
    state: JSON = row["state"]
    return state


def claims(state: JSON) -> tuple[str, list[tuple[str, str, str, str]]]:
    """A state's local side: its net quantity, and each open position (id, side, qty, status)."""
    local = state["local"]
    held = [(p["position_id"], p["side"], p["qty"], p["status"]) for p in local["positions"]]
    return Decimal(local["qty"]).to_eng_string(), held


def test_after_the_lock_fills_the_audit_of_the_leg_shows_it_open_as_positions_does(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    audited, listed = audited_leg(store, capsys), listed_leg(store, capsys)
    assert claims(listed) == ("-1", [(LEG_ID, "SHORT", "1", "OPEN")])
    assert claims(audited) == claims(listed)
    assert audited["local"] == listed["local"]


def test_after_the_exchange_closes_the_leg_both_show_it_closed(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Journal.open(store) as journal:
        ingest(journal, position(T0 + 6, "", 0, idx=LEG))
        # No fill says why: reported once close_cause_grace_ms is over, on the next tick.
        ingest(journal, {"at": T0 + 3_006, **ACCOUNT, "channel": "clock"})
        closed = [e for _, e in journal.all_events() if e.type == "POSITION_CLOSED"]
    assert [getattr(e, "position_id", None) for e in closed] == [LEG_ID]  # said once, as before
    audit, listed = audit_of_leg(store, capsys), listed_leg(store, capsys)
    assert claims(listed) == ("0", [])
    assert claims(audit["state"]) == claims(listed)
    assert audit["state"]["local"] == listed["local"]
    # Closed, not never opened: the audit's timeline shows it open until the exchange's close.
    held = [(e["type"], claims(e["state"])[0]) for e in audit["timeline"]]
    assert held[-3:] == [
        ("PositionsReported", "-1"),
        ("PositionsReported", "0"),  # the book closes a leg of its own as the exchange does
        ("ClockTicked", "0"),  # and POSITION_CLOSED says it on the tick past the grace
    ]
    said = [c["position_id"] for e in audit["timeline"] for c in e["closed_by"]]
    assert said == [LEG_ID]
    assert audit["timeline"][-1]["closed_by"]


@pytest.mark.parametrize("closed", [False, True], ids=["leg open", "leg closed"])
def test_a_replay_from_scratch_gives_the_live_projection(
    store: str, capsys: pytest.CaptureFixture[str], closed: bool
) -> None:
    with Journal.open(store) as journal:
        if closed:
            ingest(journal, position(T0 + 6, "", 0, idx=LEG))
        inputs = [e for _, e in journal.all_events() if isinstance(e, InputEvent)]
    listed = listed_leg(store, capsys)
    # The inputs alone (the audit's fold), and every rule run again over them.
    folded = fold("bybit", "main", inputs)
    replayed = Reconciler()
    for event in inputs:
        replayed.apply(event)
    for book in (folded, replayed.book("bybit", "main")):
        key = book.key("linear", SYMBOL, LEG)
        assert position_state(book, book.positions[key])["local"] == listed["local"]
        leg = book.local_position(LEG_ID)
        assert leg is not None and (leg.status, leg.qty) == (
            "CLOSED" if closed else "OPEN",
            Decimal(1),
        )


@pytest.mark.parametrize(
    ("opens", "fault"),
    [
        ({"position_id": "x" * 201}, "opens.position_id: "),
        ({"position_id": "lock:\x00"}, "opens.position_id: "),
        ({"category": ""}, "opens.category: "),
        ({"position_idx": 3}, "opens.position_idx: must be 0, 1 or 2, got 3"),
        ({"side": "FLAT"}, "opens.side: "),
        ("lock:t1:1", "opens: expected an object"),
    ],
)
def test_a_placement_report_s_opens_is_bounded_like_every_id(opens: Any, fault: str) -> None:
    good = {"position_id": LEG_ID, "category": "linear", "position_idx": LEG, "side": "SHORT"}
    data = {
        "trigger_id": "t1", "decision_id": "d-1", "symbol": SYMBOL, "client_order_id": "tu-1",
        "outcome": "accepted", "opens": good | opens if isinstance(opens, dict) else opens,
    }  # fmt: skip
    line = orjson.dumps({"at": T0, **ACCOUNT, "channel": "placement", "data": data})
    refused = decode_line(line)
    assert isinstance(refused, InputRejected)
    assert fault in refused.reason
    data["opens"] = good
    placed = decode_line(orjson.dumps({"at": T0, **ACCOUNT, "channel": "placement", "data": data}))
    assert isinstance(placed, OrderPlacementReported) and placed.opens is not None
    assert (placed.opens.position_id, placed.opens.side) == (LEG_ID, PositionSide.SHORT)


# What moved while a lock of 1 (half a long of 2 on leg 1, auto) waited for an executor:
# each a walkthrough's, in which the lock was sent and left a naked position the other way.
MOVED_WHILE_WAITING = {
    "the long closed by hand": (
        position(T0 + 3, "", 0, idx=1),
        "the position it was to lock is flat now",
    ),
    "the long cut to 0.5": (
        position(T0 + 3, "Buy", "0.5", idx=1),
        "the position holds 0.5 now, less than the 1.0 its firings' orders and the opposite "
        "leg would lock",
    ),
    # The bot's own sell opened the other leg: 1 more locked would make the account net short.
    "the other leg grown by the bot": (
        position(T0 + 3, "Sell", "1.5", idx=2),
        "the position holds 2 now, less than the 2.5 its firings' orders and the opposite leg "
        "would lock",
    ),
}


@pytest.mark.parametrize("moved", MOVED_WHILE_WAITING)
def test_a_lock_whose_position_moved_while_its_order_waited_is_not_sent(
    tmp_path: Path, moved: str
) -> None:
    """The executor applies the rule a confirm applies, just before it sends: not sent, the
    request is refused `position changed` and the firing fails, saying why."""
    report_of_move, why = MOVED_WHILE_WAITING[moved]
    with Journal.open(str(tmp_path / "journal.db")) as journal:
        ingest(
            journal, position(T0, "Buy", 2, idx=1), add(T0 + 1, action="lock", auto_execute=True)
        )
        ingest(journal, price(T0 + 2, "110"))
        ingest(journal, report_of_move)
        venue = Venue()
        step = Executor(journal, "bybit", "main", venue, clock=lambda: T0 + 4).step()
        assert (step.placed, step.refused, venue.asked) == (0, 1, [])
        (report,) = [e for _, e in journal.all_events() if isinstance(e, OrderPlacementReported)]
        assert report.refusal is RefusalKind.POSITION_CHANGED
        (failed,) = [e for _, e in journal.all_events() if e.type == "TRIGGER_FAILED"]
        assert failed.reason == (  # type: ignore[union-attr]
            f"the executor did not send the order (position changed): {why}"
        )
