"""Instants as people read them: ISO 8601 in UTC, to the millisecond, with a "Z"; and spans
of milliseconds as seconds, a long one in days or hours beside them."""

from datetime import UTC, datetime
from decimal import Decimal


def iso(at: int) -> str:
    """Epoch milliseconds as ``2025-11-03T19:45:10.000Z``."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def seconds(ms: int) -> str:
    """Milliseconds as exact seconds: ``70``, ``15.001``, ``34057439.266`` (never ``3.4e+07``)."""
    return format(Decimal(ms) / 1000, "f")


_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS


def span(ms: int) -> str:
    """``seconds(ms)`` and its unit, a span of an hour or more read out beside it:
    ``15.001 s``, ``34057439.266 s (394 d 4 h)``, ``7260 s (2 h 1 min)``."""
    exact = f"{seconds(ms)} s"
    size = abs(ms)
    if size < _HOUR_MS:
        return exact
    if size < _DAY_MS:
        read = f"{size // _HOUR_MS} h {size % _HOUR_MS // 60_000} min"
    else:
        read = f"{size // _DAY_MS} d {size % _DAY_MS // _HOUR_MS} h"
    return f"{exact} ({read})"
