"""The API key a simulated account accepts; the secret never shows in a repr or a log line."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """The one API key (and its secret) the simulated account accepts."""

    api_key: str
    api_secret: str = field(repr=False)
