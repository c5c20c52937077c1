"""A venue's REST reply as a capture line (channel ``rest``), whatever the venue."""

from typing import Any


def capture_rest(
    at: int,
    venue: str,
    account: str,
    endpoint: str,
    *,
    params: dict[str, Any],
    body: Any,
    status: int | None = None,
) -> dict[str, Any]:
    """The capture record of one reply: an HTTP error keeps its ``status``, and its body only
    where one came (``None``: none, as when a venue answers 429 in plain text)."""
    record: dict[str, Any] = {
        "at": at,
        "venue": venue,
        "account": account,
        "channel": "rest",
        "endpoint": endpoint,
        "params": params,
    }
    if status is not None:
        record["status"] = status
    if status is None or body is not None:
        record["data"] = body
    return record
