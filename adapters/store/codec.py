"""Domain events to and from the bytes stored in the journal (JSON, decimals as strings).

msgspec encodes and decodes the event structs directly, typed field by field, which
is what keeps replaying a long history fast. A journal may hold what a newer trueup wrote:
decoding names a type it does not know, or fields it cannot read, with an exception of its
own, never msgspec's or a KeyError. What an older trueup stored is read as this one would
have stored it (upcast.py).
"""

from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from trueup.adapters import rejections
from trueup.adapters.store.sharing import share
from trueup.adapters.store.upcast import (
    UPCAST_TYPES,
    legacy,
    with_close_cause_grace,
    with_coins,
    with_start_positions,
)
from trueup.domain.emitted import EMITTED_TYPES, Emitted
from trueup.domain.events import INPUT_EVENT_TYPES, InputEvent, InputRejected, RulesSet

INPUT_TOPIC_PREFIX = "trueup.input."
TOPICS: dict[str, str] = {t.type: INPUT_TOPIC_PREFIX + t.type for t in INPUT_EVENT_TYPES}
EMITTED_TOPIC_PREFIX = "trueup.emitted."
EMITTED_TOPICS = frozenset(EMITTED_TOPIC_PREFIX + t.type for t in EMITTED_TYPES)

_encoder = msgspec.json.Encoder()
_INPUT_DECODERS = {t.type.encode(): msgspec.json.Decoder(t) for t in INPUT_EVENT_TYPES}
_EMITTED_DECODERS = {t.type.encode(): msgspec.json.Decoder(t) for t in EMITTED_TYPES}
_TYPE_HEAD = b'{"type":"'
# The decoded types _upcast may change: any other is taken as decoded, without asking.
_UPCAST = frozenset(
    t for t in INPUT_EVENT_TYPES if issubclass(t, (InputRejected, RulesSet, *UPCAST_TYPES))
)
_TYPE_START = len(_TYPE_HEAD)


class UnknownType(Exception):
    """A stored event of a type this trueup does not know (a newer one wrote it)."""


class Undecodable(Exception):
    """A stored event of a known type whose fields this trueup cannot read."""


def _type_of(state: bytes) -> bytes:
    # Every stored state starts with its type: {"type":"PositionsReported",...
    end = state.find(b'"', len(_TYPE_HEAD)) if state.startswith(_TYPE_HEAD) else -1
    if end < 0:
        raise Undecodable("not a trueup event: no type at its start")
    return state[len(_TYPE_HEAD) : end]


def is_type(state: bytes, type_: str) -> bool:
    """Whether a stored event is of ``type_``, read from its head without decoding it."""
    return state.startswith(_TYPE_HEAD + type_.encode() + b'"')


def _decode(decoders: Mapping[bytes, msgspec.json.Decoder[Any]], state: bytes) -> Any:
    kind = _type_of(state)
    decoder = decoders.get(kind)
    if decoder is None:
        raise UnknownType(kind.decode(errors="replace"))
    try:
        return decoder.decode(state)
    except msgspec.DecodeError as error:  # a ValidationError too: a field missing or changed
        first = error
    try:  # an older trueup's form?
        return decoder.decode(legacy(state))
    except msgspec.DecodeError:
        raise Undecodable(f"{kind.decode(errors='replace')}: {first}") from None


# Stored forms' heads (``{"type":...,"symbols":[...],``) by type and symbols: an account's
# inputs name the same few over and over. Emptied when full, so it stays small whatever comes.
_HEADS: dict[tuple[str, tuple[str, ...] | None], bytes] = {}
_HEADS_MAX = 4096


def encode(event: InputEvent) -> bytes:
    """The stored form: the event's fields, led by its type and the symbols it concerns."""
    return encode_naming(event, event.symbols)


def encode_naming(event: InputEvent, symbols: tuple[str, ...] | None) -> bytes:
    """``encode(event)``, given ``event.symbols``: an append asks for them once per input,
    for its audit index rows too."""
    named = (event.type, symbols)
    head = _HEADS.get(named)
    if head is None:
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        whole = orjson.dumps({"type": named[0], "symbols": named[1]})
        head = _HEADS[named] = whole[:-1] + b","
    return head + _encoder.encode(event)[1:]


def decode(state: bytes, *, shared: bool = True) -> InputEvent:
    """The input stored as ``state``; UnknownType or Undecodable if this trueup cannot read it.

    ``shared``: its repeated values made one object each (sharing.py), which a long replay
    needs and a read of a few thousand inputs (an audit) does not pay for."""
    # _decode inlined, with the type read as _type_of does: this runs for every input a
    # replay reads.
    end = state.find(b'"', _TYPE_START) if state.startswith(_TYPE_HEAD) else -1
    decoder = _INPUT_DECODERS.get(state[_TYPE_START:end]) if end >= 0 else None
    if decoder is not None:
        try:
            event: InputEvent = decoder.decode(state)
        except msgspec.DecodeError:
            pass  # _decode says why below
        else:
            if shared:
                share(event)
            return _upcast(event, state) if type(event) in _UPCAST else event
    # Not a type this trueup knows, or fields it cannot read: _decode raises, saying which.
    event = _decode(_INPUT_DECODERS, state)
    if shared:
        share(event)
    return _upcast(event, state)


def _upcast(event: InputEvent, state: bytes) -> InputEvent:
    """A refusal an older trueup stored without a kind gets the one its venue's adapter
    gives it now, a report stored without its coins the venue's (upcast.with_coins), a
    Hyperliquid fill stored without its closed size or position before what its line gives
    (upcast.with_start_positions), so the rules judge an old journal as they judge a new one;
    and rules recorded before close_cause_grace_ms the rules they were
    (upcast.with_close_cause_grace), so it replays as it ran."""
    if isinstance(event, InputRejected) and b'"kind":' not in state:
        return msgspec.structs.replace(event, kind=rejections.stored_kind(event))
    if isinstance(event, RulesSet):
        return with_close_cause_grace(event, state)
    return with_start_positions(with_coins(event))


def emitted_topic(event: Emitted) -> str:
    return EMITTED_TOPIC_PREFIX + event.type


def encode_emitted(event: Emitted) -> bytes:
    """The stored (and published) form: type and id first, then the event's fields."""
    head = orjson.dumps({"type": event.type, "event_id": event.event_id})
    return head[:-1] + b"," + _encoder.encode(event)[1:]


def decode_emitted(state: bytes) -> Emitted:
    """The emitted event stored as ``state``; UnknownType or Undecodable as ``decode``."""
    event: Emitted = _decode(_EMITTED_DECODERS, state)
    return event


def as_json(event: InputEvent | Emitted) -> dict[str, Any]:
    """The event as plain JSON values, for listing and export."""
    state = encode_emitted(event) if isinstance(event, Emitted) else encode(event)
    parsed: dict[str, Any] = orjson.loads(state)
    return parsed


def event_json(position: int, event: InputEvent | Emitted) -> dict[str, Any]:
    """A stored event for programs, as `trueup events --json` prints it: every field, its one
    symbol (if it names one) and its journal position, the cursor to read on from."""
    record = as_json(event)
    named = named_symbols(event)
    record["symbol"] = named[0] if len(named) == 1 else None
    record["position"] = position
    return record


def named_symbols(event: InputEvent | Emitted) -> tuple[str, ...]:
    symbols = (event.symbol,) if isinstance(event, Emitted) else event.symbols
    return tuple(s for s in symbols or () if s)


_SYMBOLS_KEY = b',"symbols":'


def symbols_of(state: bytes) -> tuple[str, ...] | None:
    """The symbols a stored input names in its head, read without decoding the rest; None
    when it may concern any (or its head cannot be read: decoding will say why)."""
    try:
        start = len(_TYPE_HEAD) + len(_type_of(state)) + 1
    except Undecodable:
        return None
    if not state.startswith(_SYMBOLS_KEY, start):
        return None
    start += len(_SYMBOLS_KEY)
    if not state.startswith(b"[", start):
        return None
    # A symbol may hold "]": try each closing bracket until the list parses.
    end = state.find(b"]", start)
    while end >= 0:
        try:
            found = orjson.loads(state[start : end + 1])
        except orjson.JSONDecodeError:
            end = state.find(b"]", end + 1)
            continue
        return tuple(found) if isinstance(found, list) else None
    return None


def mentions(state: bytes, symbol: str) -> bool:
    """Whether a stored input may concern ``symbol``, read from its head before decoding:
    it names the symbol, or names none in particular (``"symbols":null``)."""
    named = symbols_of(state)
    return named is None or symbol in named
