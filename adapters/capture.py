"""Capture lines (DESIGN.md, "Capture files") into domain events: the one door for every input.

Live ingest builds the same lines from what it receives, so a capture replays exactly.
Nothing raises here: an input that cannot be used becomes an InputRejected event.
"""

import logging
import re
from contextlib import suppress

import orjson

from trueup.adapters import (
    feed_status,
    intents,
    notification_reports,
    placement_reports,
    rejections,
    rule_changes,
    trigger_commands,
    venues,
)
from trueup.adapters.decimals import to_instant
from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import ErrorReply
from trueup.domain.bounds import name_fault
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import ClockTicked, InputEvent, InputRejected
from trueup.domain.keys import input_id

CHANNELS = (
    "ws", "rest", "market", "intent", "operator", "trigger", "placement", "notification", "feed",
    "clock", "rules",
)  # fmt: skip
log = logging.getLogger("trueup.capture")
# A JSON number with a fraction or exponent, or too many digits for 64 bits: parsed as a
# double, it may equal another. (It may also match inside a string: that costs only the
# folding together of respellings, never an input.) Possessive, so that the scan of a long
# line never backtracks: twenty digits, or digits then a point or an exponent. The lookahead
# asks only what any match needs next (a space, a sign or a digit), so that the many ':' and
# ',' a line holds before strings and objects are passed over at once: a fifth of decoding.
# One pattern for each byte a number may follow, searched in turn: a pattern that starts
# with one byte is scanned for as fast as memchr, one that starts with a class of three
# tests every byte of the line against it (twice the cost of the three searches).
_AFTER_COLON, _AFTER_COMMA, _AFTER_BRACKET = (
    re.compile(rb"%s(?=[\s0-9-])\s*+-?(?:[0-9]{20}|[0-9]++[.eE])" % before)
    for before in (rb":", rb",", rb"\[")
)
# A necessary condition for any of the three, tested first in one pass: the line with each
# byte replaced by its class (any of ':,[' by ':', whitespace, digits and '-' by '0', '.eE' by
# '.'), where every match of theirs is a ':', zeros, then a '.' or nineteen zeros more. A
# line of integers and strings (most are) then costs a translate and one scan for the two
# bytes ':0', not a call into the pattern at each of the line's sixty ':' and ','.
_SHAPES = bytes(
    ord(":") if byte in b":,[" else
    ord("0") if byte in b" \t\n\r\f\v0123456789-" else
    ord(".") if byte in b".eE" else
    ord("x")
    for byte in range(256)
)  # fmt: skip
_MAYBE_INEXACT = re.compile(rb":0(?:0{19}|0*+\.)")
# Nineteen digits after a minus: past 64 bits, and read as a double, below -2**63.
_NEGATIVE_19 = re.compile(rb"[:,\[]\s*+-([0-9]{19})(?![0-9])")
# trueup's own records of what it did about an account's emitted events: they name the
# account the event had, whatever that was, where every other line must name one that can be.
RECORDS = (placement_reports.CHANNEL, notification_reports.CHANNEL)
# The venues whose lines are read, by the name each is registered under (adapters/venues.py).
VENUES = tuple(venue.name for venue in venues.VENUES)


def reads_venue(venue: str) -> bool:
    """Whether trueup reads a venue's lines (ccxt's under any exchange id)."""
    return venues.find(venue) is not None


def decode_line(line: str | bytes) -> InputEvent:
    """Turn one capture line into the event to append; never raises on bad input."""
    data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
    data = data.rstrip(b"\r\n")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError as error:
        # Kept, and keyed by its own bytes: two lines that differ only in invalid bytes
        # stay two inputs.
        reason = f"not UTF-8: byte {data[error.start]:#04x} at offset {error.start}"
        return _rejected(data, data.decode("utf-8", "backslashreplace"), reason)
    try:
        parsed = orjson.loads(data)
        canonical = orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError as error:
        return _rejected(data, raw, f"not JSON: {error}")
    except orjson.JSONEncodeError:
        return _rejected(data, raw, "JSON nested too deeply to be a capture line")
    # Two spellings of one JSON value are one input, unless a number in it is one a double
    # cannot carry exactly: then only the same bytes are the same input.
    identity = data if _inexact_number(data) else canonical
    envelope = Envelope(input_id(identity), 0, "", "", raw)
    try:
        return _decode_fields(envelope, parsed)
    except (ErrorReply, MalformedInput) as error:
        return _rejected_envelope(envelope, parsed, error)
    except Exception as error:  # one bad line must never stop an ingest
        log.exception("a capture line could not be decoded")
        return _rejected_envelope(
            envelope, parsed, MalformedInput(f"not decodable: {error!r:.200}")
        )


def _inexact_number(data: bytes) -> bool:
    """Whether the line holds a number a double may not carry exactly, or what looks like one
    inside a string (see _AFTER_COLON)."""
    if _MAYBE_INEXACT.search(data.translate(_SHAPES)) is None:
        return False
    found = _AFTER_COLON.search(data) or _AFTER_COMMA.search(data) or _AFTER_BRACKET.search(data)
    return found is not None or any(int(digits) > 2**63 for digits in _NEGATIVE_19.findall(data))


def decode_record(record: dict[str, object]) -> InputEvent:
    """A live feed's capture record, judged exactly as its line will be on ingest."""
    return decode_line(record_line(record))


def record_line(record: dict[str, object]) -> bytes:
    """The capture line of a live feed's record. A venue's frame parsed by its own client
    may hold what orjson will not write (an integer past 64 bits, nesting past 255, a lone
    surrogate): the standard library writes it, so that the line is kept and refused with
    its reason."""
    try:
        return orjson.dumps(record)
    except orjson.JSONEncodeError:
        pass
    import json

    try:
        # ASCII, its escapes as they came: a lone surrogate (\ud800) stays one for
        # decode_line to refuse.
        return json.dumps(record, default=repr).encode("ascii")
    except (RecursionError, ValueError):
        # Past even Python's own recursion: what the line was is told, and kept, in words.
        kept = {k: record[k] for k in ("at", "channel", "venue", "account") if k in record}
        return orjson.dumps(kept | {"data": f"unwritable: {repr(record)[:200]}"})


def _decode_fields(envelope: Envelope, parsed: object) -> InputEvent:
    fields = Payload(parsed, "line")
    at = fields.instant("at")
    channel = fields.choice("channel", CHANNELS)
    if channel == "clock":
        # Time passing for one account, or (a tick naming none) for every account.
        envelope = envelope._replace(at=at)
        if fields.has("venue") or fields.has("account"):
            envelope = envelope._replace(venue=_venue(fields), account=fields.name("account"))
        return ClockTicked(**envelope.header())
    if channel == "rules":
        return rule_changes.decode(envelope._replace(at=at), fields)
    if channel in RECORDS:
        named = (fields.text("venue"), fields.text("account"))
    else:
        named = (_venue(fields), fields.name("account"))
    envelope = Envelope(envelope.input_id, at, *named, envelope.raw)
    if channel == "intent":
        return intents.decode(envelope, fields.child("data"))
    if channel == "operator":
        return intents.decode_operator(envelope, fields.child("data"))
    if channel == "trigger":
        return trigger_commands.decode(envelope, fields.child("data"))
    if channel == placement_reports.CHANNEL:
        return placement_reports.decode(envelope, fields.child("data"))
    if channel == notification_reports.CHANNEL:
        return notification_reports.decode(envelope, fields.child("data"))
    if channel == "feed":
        return feed_status.decode(envelope, fields.child("data"))
    return venues.named(envelope.venue).wire().decode(envelope, channel, fields)


def _venue(fields: Payload) -> str:
    """The line's venue, one trueup reads (on every channel but RECORDS): no exchange report
    can come of any other (ccxt reads any exchange, as ``ccxt:<exchange-id>``), so an intent or a
    tick for one would make an account never reconciled and never fresh."""
    venue = fields.text("venue")
    if venues.find(venue) is None:
        raise MalformedInput(f"line.venue: {shown(venue)} is not one of {venues.SHOWN_NAMES}")
    return venue


def _rejected_envelope(
    envelope: Envelope, parsed: object, error: ErrorReply | MalformedInput
) -> InputRejected:
    fields = parsed if isinstance(parsed, dict) else {}
    channel = fields.get("channel")
    endpoint = fields.get("endpoint")
    # Keep when and for which account it came, where the line says so, so it is listed
    # with that account and in its place in time.
    # Only an account that can be: the book a rejection makes for one would linger.
    venue, account = fields.get("venue"), fields.get("account")
    if (
        isinstance(venue, str)
        and isinstance(account, str)
        and venues.find(venue) is not None
        and name_fault(account) is None
    ):
        envelope = envelope._replace(venue=venue, account=account)
    with suppress(MalformedInput):  # a bad `at` is in the reason already, or worse is
        envelope = envelope._replace(at=to_instant(fields.get("at"), "line.at"))
    known = venues.find(envelope.venue)
    return InputRejected(
        **envelope.header(),
        reason=str(error),
        channel=channel if isinstance(channel, str) else None,
        endpoint=endpoint if isinstance(endpoint, str) else None,
        ret_code=error.ret_code if isinstance(error, ErrorReply) else None,
        http_status=error.http_status if isinstance(error, ErrorReply) else None,
        kind=rejections.kind_of(envelope.venue, error),
        position_snapshot=(
            channel == "rest"
            and endpoint is not None
            and known is not None
            and endpoint in known.wire().position_snapshots
        ),
    )


def _rejected(data: bytes, raw: str, reason: str) -> InputRejected:
    envelope = Envelope(input_id(data), 0, "", "", raw)
    return InputRejected(
        **envelope.header(),
        reason=reason,
        channel=None,
        endpoint=None,
        ret_code=None,
        http_status=None,
    )
