"""Instants as people read them: ISO 8601 in UTC, to the millisecond, with a "Z"; and spans
of milliseconds as seconds."""

from datetime import UTC, datetime
from decimal import Decimal


def iso(at: int) -> str:
    """Epoch milliseconds as ``2025-11-03T19:45:10.000Z``."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seconds(ms: int) -> str:
    """Milliseconds as exact seconds: ``70``, ``15.001``, ``34057439.266`` (never ``3.4e+07``)."""
    return format(Decimal(ms) / 1000, "f")
