"""Capture lines (DESIGN.md, "Capture files") into domain events: the one door for every input.

Live ingest builds the same lines from what it receives, so a capture replays exactly.
Nothing raises here: an input that cannot be used becomes an InputRejected event.
"""

from collections.abc import Callable

import orjson

from trueup.adapters import feed_status, intents
from trueup.adapters.bybit import wire as bybit_wire
from trueup.adapters.envelope import Envelope
from trueup.adapters.hyperliquid import wire as hyperliquid_wire
from trueup.adapters.payload import Payload
from trueup.domain.errors import ErrorReply, MalformedInput
from trueup.domain.events import ClockTicked, InputEvent, InputRejected
from trueup.domain.keys import input_id

CHANNELS = ("ws", "rest", "intent", "operator", "feed", "clock")
VenueDecoder = Callable[[Envelope, str, Payload], InputEvent]
VENUES: dict[str, VenueDecoder] = {
    "bybit": bybit_wire.decode,
    "hyperliquid": hyperliquid_wire.decode,
}


def decode_line(line: str | bytes) -> InputEvent:
    """Turn one capture line into the event to append; never raises on bad input."""
    raw = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    raw = raw.rstrip("\r\n")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        return _rejected(raw, f"not JSON: {error}", None, None)
    canonical = orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)
    envelope = Envelope(str(input_id(canonical)), 0, "", "", raw)
    try:
        fields = Payload(parsed, "line")
        envelope = envelope._replace(at=_receive_time(fields))
        channel = fields.choice("channel", CHANNELS)
        if channel == "clock":
            return ClockTicked(**envelope.header())
        envelope = envelope._replace(venue=fields.text("venue"), account=fields.text("account"))
        if channel == "intent":
            return intents.decode(envelope, fields.child("data"))
        if channel == "operator":
            return intents.decode_operator(envelope, fields.child("data"))
        if channel == "feed":
            return feed_status.decode(envelope, fields.child("data"))
        venue = VENUES.get(envelope.venue)
        if venue is None:
            raise MalformedInput(f"line.venue: {envelope.venue!r} is not one of {sorted(VENUES)}")
        return venue(envelope, channel, fields)
    except ErrorReply as error:
        return _rejected_envelope(envelope, parsed, error)
    except MalformedInput as error:
        return _rejected_envelope(envelope, parsed, error)


def _receive_time(fields: Payload) -> int:
    at = fields.integer("at")
    if at < 0:
        raise MalformedInput("line.at: must be epoch milliseconds, not negative")
    return at


def _rejected_envelope(
    envelope: Envelope, parsed: object, error: ErrorReply | MalformedInput
) -> InputRejected:
    fields = parsed if isinstance(parsed, dict) else {}
    channel = fields.get("channel")
    endpoint = fields.get("endpoint")
    # Keep the account it came from where the line says so, so it is listed with it.
    venue, account = fields.get("venue"), fields.get("account")
    if isinstance(venue, str) and isinstance(account, str):
        envelope = envelope._replace(venue=venue, account=account)
    return InputRejected(
        **envelope.header(),
        reason=str(error),
        channel=channel if isinstance(channel, str) else None,
        endpoint=endpoint if isinstance(endpoint, str) else None,
        ret_code=error.ret_code if isinstance(error, ErrorReply) else None,
        http_status=error.http_status if isinstance(error, ErrorReply) else None,
    )


def _rejected(raw: str, reason: str, channel: str | None, endpoint: str | None) -> InputRejected:
    envelope = Envelope(str(input_id(raw.encode())), 0, "", "", raw)
    return InputRejected(
        **envelope.header(),
        reason=reason,
        channel=channel,
        endpoint=endpoint,
        ret_code=None,
        http_status=None,
    )
