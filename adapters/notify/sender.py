"""Sending one notification: one HTTP POST with the target's timeout, and what came of it.

Never raises: whatever goes wrong (no answer in time, a refused connection, a request that
cannot even be built) is an ``Attempt`` with its reason, the target's secrets masked.
"""

import time
from dataclasses import dataclass

import httpx

from trueup.adapters.notify.message import Message
from trueup.adapters.notify.target import Target

# Statuses that say "later": a retry may get through. Any other refusal (a 404, a 401, a
# redirect, which is not followed) will be the same next time.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
SHOWN_BODY = 200


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retryable: bool
    reason: str
    status: int | None
    elapsed_ms: int


class Sender:
    """Sends over one HTTP client (its connections kept for the next notification)."""

    def __init__(self) -> None:
        self._client = httpx.Client(follow_redirects=False)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, target: Target, message: Message) -> Attempt:
        started = time.monotonic()

        def attempt(
            delivered: bool, retryable: bool, reason: str, status: int | None = None
        ) -> Attempt:
            elapsed = int((time.monotonic() - started) * 1000)
            return Attempt(delivered, retryable, target.redacted(reason), status, elapsed)

        try:
            answer = self._client.post(
                target.url,
                content=message.body,
                headers=message.headers,
                timeout=target.timeout_s,
            )
        except httpx.TimeoutException:
            return attempt(False, True, f"timed out after {target.timeout_s:g} s")
        except httpx.TransportError as error:
            return attempt(False, True, f"could not reach it: {type(error).__name__}: {error}")
        except Exception as error:  # a request that cannot be made: trying again will not help
            return attempt(False, False, f"could not send: {type(error).__name__}: {error}")
        status = answer.status_code
        if 200 <= status < 300:
            return attempt(True, False, "", status)
        said = answer.text[:SHOWN_BODY].strip()
        reason = f"HTTP {status}" + (f": {said}" if said else "")
        retryable = status >= 500 or status in RETRYABLE_STATUSES
        return attempt(False, retryable, reason if retryable else f"{reason} (not retried)", status)
