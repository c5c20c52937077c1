"""The entry policy (seed 001) on an account that opts in: an ENTRY unfilled after
entry_timeout_ms is cancelled and repriced towards the market, up to entry_max_retries
times, then sent at market; a stalled partial fill is treated the same for what remains.
Each replacement is requested only once the venue says the order it replaces has ended,
for what the venue says remains, so the bot never gets more than it asked for."""

from decimal import Decimal
from typing import Any

from tests.triggers import ACCOUNT, SYMBOL, T0, placement_of, run, tick
from trueup.adapters.bybit.messages import order_item
from trueup.domain.emitted import Emitted, EntryStep, OrderRequested
from trueup.domain.reconciler import Reconciler
from trueup.domain.rules.config import RuleConfig, rule_values

D = Decimal
ENTRY = "p-btc-1-entry"
OPTED_IN = RuleConfig(entry_policy_accounts=("bybit/main",))


def rules(config: RuleConfig, at: int = T0 - 1) -> dict[str, Any]:
    return {"at": at, "channel": "rules", "source": "test", "data": rule_values(config)}


def intent(
    at: int, qty: str = "1", price: str = "100", kind: str = "order_placed"
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind, "order_link_id": ENTRY}
    if kind == "order_placed":
        body |= {
            "position_id": "p-btc-1", "category": "linear", "symbol": SYMBOL,
            "purpose": "ENTRY", "side": "Buy", "qty": qty, "price": price,
        }  # fmt: skip
    return {"at": at, **ACCOUNT, "channel": "intent", "data": body}


def order(
    at: int, link: str, status: str, qty: str, *, filled: str = "0", price: str = "100",
    order_type: str = "Limit",
) -> dict[str, Any]:  # fmt: skip
    """A Bybit order push for the buy ``link``."""
    item = order_item(
        symbol=SYMBOL, order_id=f"o-{link}", order_link_id=link, side="Buy", qty=qty,
        status=status, updated_time=at, cum_exec_qty=filled, price=price,
        order_type=order_type, avg_price=price if filled != "0" else "",
    )  # fmt: skip
    return {"at": at, **ACCOUNT, "channel": "ws", "data": {"topic": "order", "data": [item]}}


def steps(emitted: list[Emitted]) -> list[EntryStep]:
    return [e for e in emitted if isinstance(e, EntryStep)]


def requests(emitted: list[Emitted]) -> list[OrderRequested]:
    return [e for e in emitted if isinstance(e, OrderRequested)]


def working(config: RuleConfig = OPTED_IN) -> Reconciler:
    """An opted-in account whose bot placed a limit buy ENTRY of 1 at 100, open on Bybit."""
    reconciler = Reconciler()
    run([rules(config), intent(T0), order(T0 + 1, ENTRY, "New", "1")], reconciler)
    return reconciler


def test_an_unfilled_entry_is_cancelled_at_its_timeout_and_repriced_towards_the_market() -> None:
    reconciler = working()
    assert run([tick(T0 + 14_999)], reconciler) == []
    (step,) = steps(run([tick(T0 + 15_000)], reconciler))
    assert step.type == "ENTRY_REPRICED"
    assert (step.client_order_id, step.retry, step.price) == (ENTRY, 1, D("100.0500"))
    assert "nothing filled after 15000 ms" in step.reason
    # Nothing is requested until the venue says the order has ended.
    assert requests(run([tick(T0 + 16_000)], reconciler)) == []
    (replacement,) = requests(run([order(T0 + 16_001, ENTRY, "Cancelled", "1")], reconciler))
    assert replacement.decision_id == step.event_id
    assert (replacement.order_type, replacement.limit_price) == ("limit", D("100.0500"))
    assert (replacement.quantity, replacement.order_side) == (D(1), "BUY")
    assert replacement.entry_client_order_id == ENTRY and replacement.trigger_id == ""


def test_the_reprices_are_spent_then_the_rest_goes_at_market() -> None:
    reconciler, since, link = working(), T0, ENTRY
    kinds: list[str] = []
    for n in range(3):
        at = since + 15_000  # each timeout runs from its order's placement
        (step,) = steps(run([tick(at)], reconciler))
        kinds.append(step.type)
        (request,) = requests(run([order(at + 1, link, "Cancelled", "1")], reconciler))
        link = f"tu-{n}"
        since = at + 2
        run([placement_of(request, link, at=since)], reconciler)
        run([order(at + 3, link, "New", "1", price=str(request.limit_price or 0))], reconciler)
    assert kinds == ["ENTRY_REPRICED", "ENTRY_REPRICED", "ENTRY_FALLBACK_MARKET"]
    assert request.order_type == "market" and request.limit_price is None


def test_a_stalled_partial_fill_is_retried_for_what_remains() -> None:
    reconciler = working()
    run([order(T0 + 5_000, ENTRY, "PartiallyFilled", "1", filled="0.4")], reconciler)
    assert steps(run([tick(T0 + 20_000)], reconciler)) == []  # its fill moved at T0 + 5 s
    (step,) = steps(run([tick(T0 + 25_000)], reconciler))
    assert step.type == "ENTRY_RETRIED" and "filled 0.4 of 1" in step.reason
    ended = order(T0 + 25_001, ENTRY, "Cancelled", "1", filled="0.5")  # filled more meanwhile
    (request,) = requests(run([ended], reconciler))
    assert request.quantity == D("0.5")


def test_an_entry_filled_before_its_cancel_lands_is_never_replaced() -> None:
    reconciler = working()
    steps(run([tick(T0 + 15_000)], reconciler))
    assert requests(run([order(T0 + 15_001, ENTRY, "Filled", "1", filled="1")], reconciler)) == []
    assert run([tick(T0 + 60_000)], reconciler) == []


def test_a_refused_cancel_abandons_the_entry_rather_than_risk_a_second_fill() -> None:
    reconciler = working()
    (step,) = steps(run([tick(T0 + 15_000)], reconciler))
    refused = placement_of(step, ENTRY, outcome="refused", action="cancel")
    emitted = run([refused], reconciler)
    assert [e.type for e in emitted] == ["ENTRY_ABANDONED"]
    assert run([order(T0 + 16_000, ENTRY, "Cancelled", "1")], reconciler) == []


def test_the_policy_leaves_alone_accounts_that_did_not_opt_in_and_entries_the_bot_withdrew() -> (
    None
):
    assert steps(run([tick(T0 + 60_000)], working(RuleConfig()))) == []
    reconciler = working()
    run([intent(T0 + 2, kind="order_cancelled")], reconciler)
    assert steps(run([tick(T0 + 60_000)], reconciler)) == []


def test_taking_the_account_out_of_the_policy_stops_it_at_once() -> None:
    reconciler = working()
    run([rules(RuleConfig(), at=T0 + 2)], reconciler)
    assert steps(run([tick(T0 + 60_000)], reconciler)) == []
