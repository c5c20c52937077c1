"""Typed reads of fields from a decoded wire payload, with errors that say where."""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from trueup.adapters.decimals import (
    known_decimal,
    known_millis,
    to_decimal,
    to_instant,
    to_integer,
    to_millis,
    to_optional_decimal,
    to_quantity,
)
from trueup.domain.bounds import MAX_WIRE_INTEGER, name_fault
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.keys import POSITION_IDXS

T = TypeVar("T")
# Names already found sane: a line names the same account and symbols as the last, and the
# test of each character costs more than the lookup. Emptied when full, to stay small.
_SANE_NAMES: set[str] = set()
_SANE_NAMES_MAX = 4096


class Payload:
    """A JSON object from the wire; ``where`` prefixes every error (e.g. ``data[2]``)."""

    __slots__ = ("fields", "where")

    def __init__(self, fields: object, where: str) -> None:
        # A dict first: the Mapping check goes through the ABC machinery, for every object.
        if type(fields) is not dict and not isinstance(fields, Mapping):
            raise MalformedInput(f"{where}: expected an object, got {type(fields).__name__}")
        self.fields: Mapping[str, Any] = fields
        self.where = where

    def _path(self, name: str) -> str:
        return f"{self.where}.{name}"

    def _required(self, name: str) -> Any:
        try:
            return self.fields[name]
        except KeyError:
            raise MalformedInput(f"{self._path(name)}: missing") from None

    def has(self, name: str) -> bool:
        return name in self.fields

    def text(self, name: str) -> str:
        try:
            value = self.fields[name]
        except KeyError:
            raise MalformedInput(f"{self._path(name)}: missing") from None
        if not isinstance(value, str):
            raise MalformedInput(f"{self._path(name)}: expected a string, got {shown(value)}")
        return value

    def name(self, name: str) -> str:
        """An account, a symbol or an id: text that can be asked for again (domain/bounds.py)."""
        value = self.text(name)
        if value in _SANE_NAMES:
            return value
        fault = name_fault(value)
        if fault is not None:
            raise MalformedInput(f"{self._path(name)}: {shown(value)} {fault}")
        if len(_SANE_NAMES) >= _SANE_NAMES_MAX:
            _SANE_NAMES.clear()
        _SANE_NAMES.add(value)
        return value

    def optional_name(self, name: str) -> str | None:
        """A name (as ``name``), or None where the field is absent, null or empty."""
        return self.name(name) if self.fields.get(name) not in (None, "") else None

    def optional_text(self, name: str, default: str = "") -> str:
        value = self.fields.get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise MalformedInput(f"{self._path(name)}: expected a string, got {shown(value)}")
        return value

    def choice(self, name: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name)
        if value not in allowed:
            raise MalformedInput(
                f"{self._path(name)}: {shown(value)} is not one of {list(allowed)}"
            )
        return value

    def choice_of(self, name: str, meanings: Mapping[str, T], *, default: str | None = None) -> T:
        """What a wire value means, from ``meanings`` (``default`` when the field is absent;
        without one it is required); MalformedInput naming a value the adapter does not know."""
        value = self.text(name) if default is None else self.optional_text(name, default)
        if value not in meanings:
            raise MalformedInput(
                f"{self._path(name)}: {shown(value)} is not one of {sorted(meanings)}"
            )
        return meanings[value]

    def integer(self, name: str) -> int:
        value = self._required(name)
        if type(value) is int and -MAX_WIRE_INTEGER <= value <= MAX_WIRE_INTEGER:
            return value
        return to_integer(value, self._path(name))

    def position_idx(self, name: str) -> int:
        """A position's leg: 0, 1 or 2 (domain/keys.py), and never a number no store's
        column holds (a PostgreSQL INTEGER is 32 bits)."""
        value = self.integer(name)
        if value not in POSITION_IDXS:
            raise MalformedInput(f"{self._path(name)}: must be 0, 1 or 2, got {shown(value)}")
        return value

    def optional_integer(self, name: str) -> int | None:
        value = self.fields.get(name)
        return None if value is None or value == "" else self.integer(name)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.fields.get(name, default)
        if not isinstance(value, bool):
            raise MalformedInput(f"{self._path(name)}: expected true or false, got {shown(value)}")
        return value

    def decimal(self, name: str) -> Decimal:
        value = self._required(name)
        known = known_decimal(value)  # not ``or``: a known zero is falsy, and known
        return known if known is not None else to_decimal(value, self._path(name))

    def quantity(self, name: str) -> Decimal:
        """A size: a decimal that is never negative."""
        value = self._required(name)
        known = known_decimal(value)
        if known is not None and known >= 0:
            return known
        return to_quantity(value, self._path(name))

    def optional_quantity(self, name: str) -> Decimal | None:
        value = self.fields.get(name)
        return None if value is None or value == "" else self.quantity(name)

    def positive_decimal(self, name: str) -> Decimal:
        value = self.decimal(name)
        if value <= 0:
            raise MalformedInput(f"{self._path(name)}: must be positive, got {value}")
        return value

    def optional_decimal(self, name: str) -> Decimal | None:
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        # A string read before is a decimal already checked: no path needed for an error.
        known = known_decimal(value)
        return known if known is not None else to_optional_decimal(value, self._path(name))

    def millis(self, name: str) -> int:
        value = self._required(name)
        return known_millis(value) or to_millis(value, self._path(name))

    def instant(self, name: str) -> int:
        """A receive time: a sane instant, never 0."""
        value = self._required(name)
        return known_millis(value) or to_instant(value, self._path(name))

    def child(self, name: str) -> "Payload":
        return Payload(self._required(name), self._path(name))

    def items(self, name: str) -> list["Payload"]:
        """The objects of an array field, each addressed by its index in errors."""
        value = self._required(name)
        if not isinstance(value, list):
            raise MalformedInput(f"{self._path(name)}: expected an array, got {shown(value)}")
        return [Payload(item, f"{self._path(name)}[{i}]") for i, item in enumerate(value)]


def array_items(value: object, where: str) -> list[Payload]:
    """The objects of a JSON array (a reply that is one), each addressed by its index."""
    if not isinstance(value, list):
        raise MalformedInput(f"{where}: expected an array, got {type(value).__name__}")
    return [Payload(item, f"{where}[{i}]") for i, item in enumerate(value)]
