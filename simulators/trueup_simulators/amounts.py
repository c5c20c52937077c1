"""Quantities and prices as the simulators take them from tests and write them on the wire."""

from decimal import Decimal, InvalidOperation

Quantity = Decimal | str | int


def exact(value: Quantity) -> Decimal:
    """A finite decimal from a Decimal, str or int; floats are refused to keep amounts exact."""
    if isinstance(value, float):
        raise TypeError("quantities and prices are Decimal, str or int, never float")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a decimal: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return result


def optional(value: Quantity | None) -> Decimal | None:
    return None if value is None else exact(value)


def plain(value: Decimal) -> str:
    """A decimal in plain notation without trailing zeros ("0.1", "106250", "0")."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
