"""A notification target: where to send, in which form, which events, and how hard to try.

Its URL and header values may carry secrets (a token in the URL, an ntfy topic, a bearer):
they stay out of its repr, and ``secrets`` lists them so every reason shown masks them.
"""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from trueup.adapters.store.redaction import MASK, redact


class TargetKind(StrEnum):
    """The form a target takes: a generic webhook takes the event document as JSON; ntfy,
    a plain-text message with its Title, Priority and Tags headers."""

    WEBHOOK = "webhook"
    NTFY = "ntfy"


@dataclass(frozen=True)
class Selection:
    """Which emitted events a target gets: of these types (none named: every type), of
    accounts matching one of these ``venue/account`` shell patterns (none: every account)."""

    types: frozenset[str] = frozenset()
    accounts: tuple[str, ...] = ()

    def selects(self, event_type: str, venue: str, account: str) -> bool:
        if self.types and event_type not in self.types:
            return False
        where = f"{venue}/{account}"
        return not self.accounts or any(fnmatch.fnmatchcase(where, p) for p in self.accounts)


@dataclass(frozen=True)
class Retries:
    """At most ``max_attempts`` tries; after the n-th failure, a wait of ``backoff_s``
    doubled n-1 times, never more than ``max_backoff_s``."""

    max_attempts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0

    def wait_after(self, attempt: int) -> float:
        """The wait after the ``attempt``-th try failed."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** min(attempt - 1, 30)))


@dataclass(frozen=True)
class Target:
    name: str
    kind: TargetKind
    url: str = field(repr=False)
    selection: Selection = Selection()
    timeout_s: float = 5.0
    retries: Retries = Retries()
    # Sent with every request: a bearer token, an API key (from the environment).
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    # ntfy's: 1 (min) to 5 (max), and tags shown beside the title.
    priority: int = 3
    tags: tuple[str, ...] = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the URL past its host, and every header value."""
        parts = urlsplit(self.url)
        hidden = [self.url, parts.path, parts.query, *self.headers.values()]
        return tuple(sorted({s for s in hidden if s and s != "/"}, key=len, reverse=True))

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: scheme and host; the path (an ntfy topic, a token) masked."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/{MASK}"

    def redacted(self, text: str) -> str:
        return redact(text, self.secrets)
