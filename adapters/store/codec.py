"""Domain events to and from the bytes stored in the journal (JSON, decimals as strings).

msgspec encodes and decodes the event dataclasses directly, typed field by field, which
is what keeps replaying a long history fast.
"""

from typing import Any

import msgspec
import orjson

from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup.domain.events import INPUT_EVENT_TYPES, InputEvent

TOPICS: dict[str, str] = {t.type: f"trueup.input.{t.type}" for t in INPUT_EVENT_TYPES}
EMITTED_TOPIC_PREFIX = "trueup.emitted."

_encoder = msgspec.json.Encoder()
_INPUT_DECODERS = {t.type.encode(): msgspec.json.Decoder(t) for t in INPUT_EVENT_TYPES}
_EMITTED_DECODERS = {t.type.encode(): msgspec.json.Decoder(t) for t in EMITTED_TYPES}
_TYPE_START = len(b'{"type":"')


def _type_of(state: bytes) -> bytes:
    # Every stored state starts with its type: {"type":"PositionsReported",...
    return state[_TYPE_START : state.index(b'"', _TYPE_START)]


def encode(event: InputEvent) -> bytes:
    """The stored form: the event's fields, led by its type and the symbols it concerns."""
    head = orjson.dumps({"type": event.type, "symbols": event.symbols})
    return head[:-1] + b"," + _encoder.encode(event)[1:]


def decode(state: bytes) -> InputEvent:
    event: InputEvent = _INPUT_DECODERS[_type_of(state)].decode(state)
    return event


def emitted_topic(event: Emitted) -> str:
    return EMITTED_TOPIC_PREFIX + event.type


def encode_emitted(event: Emitted) -> bytes:
    """The stored (and published) form: type and id first, then the event's fields."""
    head = orjson.dumps({"type": event.type, "event_id": event.event_id})
    return head[:-1] + b"," + _encoder.encode(event)[1:]


def decode_emitted(state: bytes) -> Emitted:
    event: Emitted = _EMITTED_DECODERS[_type_of(state)].decode(state)
    return event


def as_json(event: InputEvent | Emitted) -> dict[str, Any]:
    """The event as plain JSON values, for listing and export."""
    state = encode_emitted(event) if isinstance(event, Emitted) else encode(event)
    parsed: dict[str, Any] = orjson.loads(state)
    return parsed


def mentions(state: bytes, symbol: str) -> bool:
    """Cheap test, before decoding, of whether a stored event may concern ``symbol``."""
    return b'"symbols":null' in state[:200] or f'"{symbol}"'.encode() in state
