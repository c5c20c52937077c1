"""Exact decimals from wire strings: money and quantities never pass through float."""

from decimal import Decimal, InvalidOperation

from trueup.domain.errors import MalformedInput


def to_decimal(value: object, field: str) -> Decimal:
    """Parse a decimal sent as a string (or an int); anything else is malformed."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedInput(f"{field}: expected a decimal string, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MalformedInput(f"{field}: not a decimal: {value!r}") from None
    if not number.is_finite():
        raise MalformedInput(f"{field}: not a finite decimal: {value!r}")
    return number


def to_optional_decimal(value: object, field: str) -> Decimal | None:
    """Like to_decimal, but Bybit's empty string (or a missing field) means no value."""
    if value is None or value == "":
        return None
    return to_decimal(value, field)


def to_millis(value: object, field: str) -> int:
    """An epoch-millisecond timestamp, sent by Bybit as a string or a number."""
    if isinstance(value, bool):
        raise MalformedInput(f"{field}: expected epoch milliseconds, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise MalformedInput(f"{field}: expected epoch milliseconds, got {value!r}")
