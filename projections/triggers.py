"""The triggers read model: each trigger's configuration and where it stands, per account."""

from decimal import Decimal
from typing import Any

from trueup.adapters.decimals import plain
from trueup.domain.reconciler import Reconciler
from trueup.domain.triggers.trigger import Trigger


def trigger_rows(
    reconciler: Reconciler, venue: str | None = None, account: str | None = None
) -> list[dict[str, Any]]:
    """One row per trigger ever added, in account order, then the order they were added."""
    rows = []
    for (v, a), detectors in sorted(reconciler.detectors_by_account.items()):
        if (venue is None or v == venue) and (account is None or a == account):
            book, triggers = reconciler.book(v, a), detectors.triggers
            rows += [
                trigger_row(v, a, t, triggers.unsendable(book, t))
                for t in triggers.triggers.values()
            ]
    return rows


def trigger_row(
    venue: str, account: str, trigger: Trigger, unsendable: str | None
) -> dict[str, Any]:
    """``unsendable``: why its firing's order can no longer go as decided (TriggerDetector)."""
    spec, firing = trigger.spec, trigger.firing
    return {
        "venue": venue,
        "account": account,
        "trigger_id": trigger.trigger_id,
        "symbol": spec.symbol,
        "direction": spec.direction.value.lower(),
        "kind": spec.kind.value,
        "level": _text(spec.level),
        "distance": _text(spec.distance),
        "unit": spec.unit.value,
        "ratio": str(spec.ratio),
        "action": spec.action.value,
        "auto_execute": spec.auto_execute,
        "expires_at": spec.expires_at,
        "state": trigger.state,
        "standing": trigger.standing.value,
        "arming": trigger.arming,
        "high_water" if spec.direction.value == "LONG" else "low_water": _text(trigger.water),
        "fired_at": firing.fired_at if firing else None,
        "fired_price": _text(firing.price) if firing else None,
        "decision_id": firing.decision.decision_id if firing else None,
        "quantity": str(firing.decision.quantity) if firing else None,
        "unsendable": unsendable,
        "created_at": trigger.created_at,
        "operator": trigger.operator,
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)
