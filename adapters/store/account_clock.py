"""The account's clock, kept in the stored form of an input that was stored after later ones.

A book's clock is the latest instant of its account's inputs (domain/book.py), and what it
lets go of finished depends on it (domain/retention.py). An audit folds only the inputs
that may concern its symbol: where one came after inputs of later instants (captures
merged, a clock stepped back), its own instant is not the clock the account's fold had
reached there, and the audit, folding it at an earlier clock, could find held what the
account's fold had let go. So the journal stores, with each input whose instant is not the
account's clock after it, that clock (``"clock":N`` at the end of its stored form, where a
reader of the event's fields passes over it), and the audit catches its book up to it.

Inputs a trueup before this one stored carry none: an audit of an account whose inputs it
stored out of time order can still differ from the account's fold there.
"""

import re

import msgspec

# The last field of a stored form, where only the journal puts it: a field of an event is
# never named "clock", and a nested object's ends in two braces.
_STORED_CLOCK = re.compile(rb',"clock":(\d+)}\Z')
# The ends of a stored form that tell the clock after it (``clock_from_ends``), so that an
# appender learns each account's clock without reading its last input whole (a position
# snapshot of a hundred positions is 120 kB; an account's last input is often one).
END_BYTES = 40  # the kept clock's field, at the most
START_BYTES = 512  # the type, the symbols named and the id, which come before the instant
# The instant, where an input's stored form puts it: after its type, the symbols it names
# and its id (codec.encode_naming), none of which holds an object or an unescaped quote, so
# this cannot match inside them. A form this does not match is read whole.
_LEADING_INSTANT = re.compile(
    rb'\{"type":"[^"\\]*"(?:,"symbols":(?:null|\[[^\]]*\]))?,"input_id":"[^"\\]*","at":(\d+)[,}]'
)


class _Instant(msgspec.Struct):
    at: int


_instant = msgspec.json.Decoder(_Instant)


def with_clock(state: bytes, clock: int) -> bytes:
    """The stored form ``state``, keeping the account's ``clock`` after it."""
    return b'%s,"clock":%d}' % (state[:-1], clock)


def stored_clock(state: bytes) -> int | None:
    """The account's clock kept with the input stored as ``state``, if any."""
    found = _STORED_CLOCK.search(state, max(0, len(state) - 40))
    return int(found.group(1)) if found else None


def clock_from_ends(start: bytes, end: bytes) -> int | None:
    """``clock_after`` of a stored form known by its first START_BYTES and last END_BYTES
    (the same bytes when it is shorter); None when they do not tell, and the whole form must."""
    kept = stored_clock(end)
    if kept is not None:
        return kept
    found = _LEADING_INSTANT.match(start)
    return int(found.group(1)) if found else None


def clock_after(state: bytes) -> int:
    """The account's clock after the input stored as ``state``: the clock kept with it, else
    its instant (0 for a form whose instant cannot be read)."""
    kept = stored_clock(state)
    if kept is not None:
        return kept
    try:
        return _instant.decode(state).at
    except msgspec.DecodeError:
        return 0
