"""The notifier's delivery reports as capture lines (channel ``notification``): each attempt
to deliver an emitted event to a target, and what came of it, recorded in the journal of
the event's account so "did anyone get told?" has an answer there.

    {"at": 1762199000000, "channel": "notification", "venue": "bybit", "account": "main",
     "data": {"notifier": "default", "target": "ops", "event_id": "…",
              "event_type": "POSITION_CLOSED", "attempt": 1, "outcome": "delivered",
              "status": 200, "elapsed_ms": 12}}

A failed or dead-lettered attempt adds ``reason``.
"""

from typing import Any

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.domain.errors import MalformedInput
from trueup.domain.events import NotificationAttempted
from trueup.domain.vocabulary import NotificationOutcome

CHANNEL = "notification"
OUTCOMES = {o.value: o for o in NotificationOutcome}
# An attempt number or an HTTP status past these is no attempt or status at all.
MOST_ATTEMPTS = 1_000
STATUSES = range(100, 600)


def decode(envelope: Envelope, data: Payload) -> NotificationAttempted:
    report = NotificationAttempted(
        **envelope.header(),
        notifier=data.text("notifier"),
        target=data.text("target"),
        event_id=data.text("event_id"),
        event_type=data.text("event_type"),
        attempt=data.integer("attempt"),
        outcome=data.choice_of("outcome", OUTCOMES),
        reason=data.optional_text("reason"),
        status=data.optional_integer("status"),
        elapsed_ms=data.integer("elapsed_ms"),
    )
    for name in ("notifier", "target", "event_id", "event_type"):
        if not getattr(report, name):
            raise MalformedInput(f"{data.where}.{name}: empty")
    if not 1 <= report.attempt <= MOST_ATTEMPTS:
        raise MalformedInput(f"{data.where}.attempt: {report.attempt} is not 1 to {MOST_ATTEMPTS}")
    if report.status is not None and report.status not in STATUSES:
        raise MalformedInput(f"{data.where}.status: {report.status} is not an HTTP status")
    if not 0 <= report.elapsed_ms <= 2**31:
        raise MalformedInput(f"{data.where}.elapsed_ms: {report.elapsed_ms} out of range")
    return report


def record(at: int, venue: str, account: str, report: dict[str, Any]) -> dict[str, Any]:
    """The capture record of one attempt (``report``: the fields of ``data``)."""
    data = {k: v for k, v in report.items() if v is not None and v != ""}
    return {"at": at, "channel": CHANNEL, "venue": venue, "account": account, "data": data}
