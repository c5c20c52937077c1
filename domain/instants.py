"""Instants as people read them: ISO 8601 in UTC, to the millisecond, with a "Z"."""

from datetime import UTC, datetime


def iso(at: int) -> str:
    """Epoch milliseconds as ``2025-11-03T19:45:10.000Z``."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
