"""The executor's placement reports as capture lines (channel ``placement``): what a venue
answered when a requested order was placed (or, ``"action": "cancel"``, cancelled),
recorded so the trigger's lifecycle, and an audit, follow from the journal alone.

    {"at": 1762199000000, "channel": "placement", "venue": "bybit", "account": "main",
     "data": {"trigger_id": "t-1", "decision_id": "…", "symbol": "BTCUSDT",
              "client_order_id": "tu-…", "outcome": "accepted", "venue_order_id": "…"}}

A refusal adds ``reason`` (the venue's words), ``refusal`` (its kind) and ``code``. A lock's
order adds ``opens``, the leg it opens as trueup's own position once it executes (the book
folds it from this and the order's reports, so an audit of the inputs shows it):

    "opens": {"position_id": "lock:t-1:1", "category": "linear", "position_idx": 2,
              "side": "SHORT"}
"""

from typing import Any

from trueup.adapters.envelope import Envelope
from trueup.adapters.orders import Placement
from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput
from trueup.domain.events import OrderPlacementReported
from trueup.domain.keys import LegOpening
from trueup.domain.vocabulary import OrderAction, PlacementOutcome, PositionSide, RefusalKind

CHANNEL = "placement"
OUTCOMES = {o.value: o for o in PlacementOutcome}
ACTIONS = {a.value: a for a in OrderAction}
REFUSALS = {k.value: k for k in RefusalKind}
# A leg opened is long or short, never flat.
LEG_SIDES = {s.value: s for s in (PositionSide.LONG, PositionSide.SHORT)}


def decode(envelope: Envelope, data: Payload) -> OrderPlacementReported:
    outcome = data.choice_of("outcome", OUTCOMES)
    refusal = (
        data.choice_of("refusal", REFUSALS, default=RefusalKind.OTHER.value)
        if outcome is PlacementOutcome.REFUSED
        else None
    )
    report = OrderPlacementReported(
        **envelope.header(),
        trigger_id=data.optional_text("trigger_id"),
        decision_id=data.text("decision_id"),
        symbol=data.name("symbol"),
        client_order_id=data.text("client_order_id"),
        outcome=outcome,
        venue_order_id=data.optional_text("venue_order_id"),
        reason=data.optional_text("reason"),
        refusal=refusal,
        code=data.optional_text("code"),
        action=data.choice_of("action", ACTIONS, default=OrderAction.PLACE.value),
        qty=data.optional_decimal("qty"),
        opens=_opens(data.child("opens")) if data.fields.get("opens") is not None else None,
    )
    for name in ("decision_id", "symbol", "client_order_id"):
        if not getattr(report, name):
            raise MalformedInput(f"{data.where}.{name}: empty")
    return report


def _opens(data: Payload) -> LegOpening:
    return LegOpening(
        position_id=data.name("position_id"),
        category=data.name("category"),
        position_idx=data.position_idx("position_idx"),
        side=data.choice_of("side", LEG_SIDES),
    )


def record(
    at: int,
    venue: str,
    account: str,
    *,
    trigger_id: str,
    decision_id: str,
    symbol: str,
    client_order_id: str,
    placement: Placement,
    action: OrderAction = OrderAction.PLACE,
    opens: LegOpening | None = None,
) -> dict[str, Any]:
    """The capture record of one placement (or cancel)."""
    data: dict[str, Any] = {
        "decision_id": decision_id,
        "symbol": symbol,
        "client_order_id": client_order_id,
        "outcome": placement.outcome.value,
    }
    if trigger_id:
        data["trigger_id"] = trigger_id
    if action is not OrderAction.PLACE:
        data["action"] = action.value
    if placement.venue_order_id:
        data["venue_order_id"] = placement.venue_order_id
    if placement.qty is not None:
        data["qty"] = str(placement.qty)
    if opens is not None:
        data["opens"] = {
            "position_id": opens.position_id,
            "category": opens.category,
            "position_idx": opens.position_idx,
            "side": opens.side.value,
        }
    if placement.outcome is PlacementOutcome.REFUSED:
        data["reason"] = placement.reason
        data["refusal"] = (placement.refusal or RefusalKind.OTHER).value
        if placement.code:
            data["code"] = placement.code
    return {"at": at, "channel": CHANNEL, "venue": venue, "account": account, "data": data}
