"""Domain events to and from the bytes stored in the journal (JSON, decimals as strings)."""

import dataclasses
import types
import typing
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup.domain.events import INPUT_EVENT_TYPES, InputEvent

Convert = Callable[[Any], Any]


def _default(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def _identity(value: Any) -> Any:
    return value


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _converter(hint: Any) -> Convert:
    """How to rebuild a field of this type from its JSON form."""
    if hint is Decimal:
        return Decimal
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union) and type(None) in args:
        (inner,) = (a for a in args if a is not type(None))
        inner_convert = _converter(inner)
        return _identity if inner_convert is _identity else _optional(inner_convert)
    if origin is tuple:
        item = _converter(args[0])
        return lambda values: tuple(item(v) for v in values)
    if dataclasses.is_dataclass(hint):
        return _record_decoder(typing.cast(type, hint))
    return _identity


def _record_decoder(cls: type) -> Convert:
    hints = typing.get_type_hints(cls)
    converts = [
        (f.name, c)
        for f in dataclasses.fields(cls)
        if (c := _converter(hints[f.name])) is not _identity
    ]

    def decode(fields: dict[str, Any]) -> Any:
        for name, convert in converts:
            fields[name] = convert(fields[name])
        return cls(**fields)

    return decode


_EVENT_TYPES: tuple[type[InputEvent] | type[Emitted], ...] = (*INPUT_EVENT_TYPES, *EMITTED_TYPES)
_DECODERS: dict[str, Convert] = {t.type: _record_decoder(t) for t in _EVENT_TYPES}
TOPICS: dict[str, str] = {t.type: f"trueup.input.{t.type}" for t in INPUT_EVENT_TYPES}
EMITTED_TOPIC_PREFIX = "trueup.emitted."


def encode(event: InputEvent) -> bytes:
    """The stored form: the event's fields, led by its type and the symbols it concerns."""
    body = orjson.dumps(event, default=_default)
    head = orjson.dumps({"type": event.type, "symbols": event.symbols})
    return head[:-1] + b"," + body[1:]


def decode(state: bytes) -> InputEvent:
    fields = orjson.loads(state)
    del fields["symbols"]
    event: InputEvent = _DECODERS[fields.pop("type")](fields)
    return event


def emitted_topic(event: Emitted) -> str:
    return EMITTED_TOPIC_PREFIX + event.type


def encode_emitted(event: Emitted) -> bytes:
    """The stored (and published) form: type and id first, then the event's fields."""
    body = orjson.dumps(event, default=_default)
    head = orjson.dumps({"type": event.type, "event_id": event.event_id})
    return head[:-1] + b"," + body[1:]


def decode_emitted(state: bytes) -> Emitted:
    fields = orjson.loads(state)
    del fields["event_id"]
    event: Emitted = _DECODERS[fields.pop("type")](fields)
    return event


def as_json(event: InputEvent | Emitted) -> dict[str, Any]:
    """The event as plain JSON values, for listing and export."""
    state = encode_emitted(event) if isinstance(event, Emitted) else encode(event)
    parsed: dict[str, Any] = orjson.loads(state)
    return parsed


def mentions(state: bytes, symbol: str) -> bool:
    """Cheap test, before decoding, of whether a stored event may concern ``symbol``."""
    return b'"symbols":null' in state[:200] or f'"{symbol}"'.encode() in state
