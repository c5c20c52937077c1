"""The subjects trueup's messages travel on, and account names made into subject tokens.

Inputs go to ``<prefix>.inputs.<venue>.<account>``, emitted events to
``<prefix>.events.<venue>.<account>.<TYPE>``; can-open is asked (request/reply, no stream) on
``<prefix>.can-open.<venue>.<account>``. The prefix is ``trueup`` unless an operator
runs several trueups on one NATS (a staging desk beside production, say).

A subject token may not hold ``.``, ``*``, ``>`` or white space, and may not be empty, but an
account name may (a Bybit sub-account named ``desk.eu``, say). So each venue and account name
is encoded, reversibly: ASCII letters, digits, ``_`` and ``-`` stand for themselves, every
other byte of the name's UTF-8 is written ``~XX`` (two upper-case hex digits), and the empty
name is ``~``. ``desk.eu`` travels as ``desk~2Eeu``; ``main`` and a Hyperliquid address as
themselves. An input that names no account (the rules put in force) travels as ``~.~``.
"""

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "trueup"
ESCAPE = "~"
EMPTY = ESCAPE
_PLAIN = re.compile(r"[A-Za-z0-9_-]")
_TOKEN = re.compile(r"(?:[A-Za-z0-9_-]|~[0-9A-F]{2})+")
# A prefix is one or more plain tokens: it names streams too, and must match nothing else.
_PREFIX = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")


class NotAToken(ValueError):
    """Text that is not a token ``encode_token`` could have written."""


def encode_token(name: str) -> str:
    """``name`` as a subject token, reversibly (see the module's docstring)."""
    if not name:
        return EMPTY
    return "".join(
        char if _PLAIN.fullmatch(char) else "".join(f"~{byte:02X}" for byte in char.encode())
        for char in name
    )


def decode_token(token: str) -> str:
    """The name ``encode_token`` made ``token`` from; NotAToken if it made no such token."""
    if token == EMPTY:
        return ""
    if not _TOKEN.fullmatch(token):
        raise NotAToken(f"{token!r} is not an encoded subject token")
    raw = bytearray()
    at = 0
    while at < len(token):
        if token[at] == ESCAPE:
            raw.append(int(token[at + 1 : at + 3], 16))
            at += 3
        else:
            raw.append(ord(token[at]))
            at += 1
    try:
        name = raw.decode()
    except UnicodeDecodeError:
        raise NotAToken(f"{token!r} does not decode to UTF-8") from None
    # Only the one spelling encode_token writes: a plain character escaped is another token.
    if encode_token(name) != token:
        raise NotAToken(f"{token!r} is not how {name!r} is encoded")
    return name


def valid_prefix(prefix: str) -> bool:
    """Whether ``prefix`` can lead trueup's subjects and name its streams."""
    return bool(_PREFIX.fullmatch(prefix))


@dataclass(frozen=True)
class Subjects:
    """trueup's subjects and stream names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not valid_prefix(self.prefix):
            raise ValueError(f"{self.prefix!r} is not a subject prefix: tokens of A-Z a-z 0-9 _ -")

    @property
    def inputs_stream(self) -> str:
        return self._stream_name("INPUTS")

    @property
    def events_stream(self) -> str:
        return self._stream_name("EVENTS")

    @property
    def all_inputs(self) -> str:
        return f"{self.prefix}.inputs.>"

    @property
    def all_events(self) -> str:
        return f"{self.prefix}.events.>"

    @property
    def all_can_open(self) -> str:
        return f"{self.prefix}.can-open.*.*"

    @property
    def can_open_queue(self) -> str:
        """The queue group of the can-open responders: one of them answers each request."""
        return f"{self.prefix}-can-open"

    def can_open(self, venue: str, account: str) -> str:
        """Where a bot asks whether it may open, for one account (request/reply)."""
        return f"{self.prefix}.can-open.{encode_token(venue)}.{encode_token(account)}"

    def inputs(self, venue: str, account: str) -> str:
        """Where one account's inputs travel."""
        return f"{self.prefix}.inputs.{encode_token(venue)}.{encode_token(account)}"

    def events(self, venue: str, account: str, type_: str) -> str:
        """Where one account's emitted events of one type travel."""
        return f"{self.prefix}.events.{encode_token(venue)}.{encode_token(account)}.{type_}"

    def events_filter(
        self, venue: str | None = None, account: str | None = None, type_: str | None = None
    ) -> str:
        """The subject filter for emitted events, any venue, account or type where None."""
        venue_token = "*" if venue is None else encode_token(venue)
        account_token = "*" if account is None else encode_token(account)
        return f"{self.prefix}.events.{venue_token}.{account_token}.{type_ or '*'}"

    def account_of(self, subject: str) -> tuple[str, str]:
        """The (venue, account) an inputs, events or can-open subject names."""
        tokens = subject[len(self.prefix) + 1 :].split(".")
        if not subject.startswith(self.prefix + ".") or len(tokens) < 3:
            raise NotAToken(f"{subject!r} is not one of trueup's subjects under {self.prefix!r}")
        return decode_token(tokens[1]), decode_token(tokens[2])

    def _stream_name(self, kind: str) -> str:
        # trueup -> TRUEUP_INPUTS; a stream name may not hold '.'.
        return f"{self.prefix.upper().replace('.', '_')}_{kind}"
