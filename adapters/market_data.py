"""Public market data as capture lines (channel ``market``), whatever the venue.

A price frame is recorded for the account whose runner subscribed it, so a replay of that
account's inputs sees the prices its live process saw.
"""

from typing import Any


def capture_market(at: int, venue: str, account: str, frame: dict[str, Any]) -> dict[str, Any]:
    """The capture record of one public market-data frame, as the venue's client handed it on."""
    return {"at": at, "venue": venue, "account": account, "channel": "market", "data": frame}
