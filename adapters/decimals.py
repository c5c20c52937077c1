"""Exact decimals, integers and instants from wire values, each held to its sane domain.

Money and quantities never pass through float; a value outside ``trueup.domain.bounds``
is malformed input, so nothing stored can later overflow a sum, a quantize or a printout.
"""

import re
from decimal import Decimal

from trueup.domain.bounds import (
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    MAX_WIRE_INTEGER,
    describe_time_bounds,
    within_time,
)
from trueup.domain.errors import MalformedInput, shown

# ASCII digits only: str.isdigit() and Decimal() also take "²", "١٢" and "1_000".
_DECIMAL = re.compile(
    rf"-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(?:\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?", re.ASCII
)
_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)
_MILLIS_DIGITS = 13
_MILLIS = re.compile(rf"[0-9]{{1,{_MILLIS_DIGITS}}}", re.ASCII)
_LARGEST = 10**MAX_INTEGER_DIGITS
# Decimal strings already read, and what they read as: a venue repeats the same few (sizes,
# prices, "0") over and over, and a Decimal is immutable, so one may serve them all. Emptied
# when full, so that it stays small whatever comes.
_READ: dict[str, Decimal] = {}
_READ_MAX = 4096


def plain(value: Decimal) -> str:
    """A decimal as a wire value is written: in plain notation (0.0000001, not 1E-7, which
    ``to_decimal`` refuses), its digits kept."""
    return format(value, "f")


def to_decimal(value: object, field: str) -> Decimal:
    """A decimal sent as a plain decimal string (or an int), within the sane bounds."""
    if isinstance(value, str):
        found = _READ.get(value)
        if found is not None:
            return found
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedInput(
            f"{field}: expected a decimal string or an integer, got {shown(value)}"
        )
    if isinstance(value, int):
        if abs(value) >= _LARGEST:
            raise MalformedInput(f"{field}: {shown(value)} is out of range")
        return Decimal(value)
    if _DECIMAL.fullmatch(value) is None:
        raise MalformedInput(
            f"{field}: not a plain decimal of at most {MAX_INTEGER_DIGITS} digits before the "
            f"point and {MAX_FRACTION_DIGITS} after: {shown(value)}"
        )
    if len(_READ) >= _READ_MAX:
        _READ.clear()
    read = _READ[value] = Decimal(value)
    return read


def known_decimal(value: object) -> Decimal | None:
    """What a decimal string to_decimal has read before (and so found sane) reads as; None
    for any other value, which to_decimal must judge."""
    return _READ.get(value) if type(value) is str else None


def to_optional_decimal(value: object, field: str) -> Decimal | None:
    """Like to_decimal, but Bybit's empty string (or a missing field) means no value."""
    if value is None or value == "":
        return None
    return to_decimal(value, field)


def to_quantity(value: object, field: str) -> Decimal:
    """A size or quantity: never negative (a side, not a sign, says which way)."""
    number = to_decimal(value, field)
    if number < 0:
        raise MalformedInput(f"{field}: a quantity cannot be negative, got {number}")
    return number


def to_integer(value: object, field: str) -> int:
    """A whole number sent as an int or a string of ASCII digits, within 64 bits."""
    if isinstance(value, str) and _INTEGER.fullmatch(value) is not None:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedInput(f"{field}: expected an integer, got {_shown_number(value)}")
    if abs(value) > MAX_WIRE_INTEGER:
        raise MalformedInput(f"{field}: {shown(value)} is out of range")
    return value


def _shown_number(value: object) -> str:
    """A value that is not an integer, as an error shows it: a whole number past 64 bits
    reaches here as the double JSON's parser made of it, whose digits are not the line's."""
    if isinstance(value, float) and value.is_integer() and abs(value) > MAX_WIRE_INTEGER:
        return "a whole number past 64 bits"
    return shown(value)


def to_millis(value: object, field: str) -> int:
    """An epoch-millisecond timestamp from the venue: 0 (not set) or a sane instant."""
    if isinstance(value, str) and _MILLIS.fullmatch(value) is not None:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedInput(f"{field}: expected epoch milliseconds, got {_shown_number(value)}")
    if value != 0 and not within_time(value):
        raise MalformedInput(f"{field}: {shown(value)} is not {describe_time_bounds()}")
    return value


def known_millis(value: object) -> int | None:
    """A sane instant (never 0) sent as to_millis takes one, read without building the name
    of the field for an error; None for any other value, which to_millis must judge."""
    if type(value) is str:
        # As _MILLIS: isdigit() alone also takes other scripts' digits.
        if not (len(value) <= _MILLIS_DIGITS and value.isascii() and value.isdigit()):
            return None
        value = int(value)
    elif type(value) is not int:
        return None
    return value if value != 0 and within_time(value) else None


def to_instant(value: object, field: str) -> int:
    """A receive time: epoch milliseconds within the sane years, never 0."""
    instant = to_millis(value, field)
    if instant == 0:
        raise MalformedInput(f"{field}: {shown(value)} is not {describe_time_bounds()}")
    return instant
