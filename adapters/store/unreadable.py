"""Stored events this trueup cannot read: what a newer trueup wrote, met while reading.

An event of a type this trueup does not know is skipped and counted (each stored row once,
however often it is read); an input of a known type whose fields no longer decode stops
the reading: folding on without it would give wrong positions.
"""

from uuid import UUID

from trueup.adapters.store.codec import Undecodable
from trueup.adapters.store.location import StoreError

Row = tuple[UUID, int]  # (stream, version): one stored event


class Unreadable:
    """The stored rows skipped so far because this trueup cannot read them."""

    def __init__(self) -> None:
        self.inputs: set[Row] = set()
        self.emitted: set[Row] = set()


def undecodable_input(where: str, error: Undecodable) -> StoreError:
    """The error for an input of a known type whose fields do not decode; ``where`` names it:
    'at journal position 12'."""
    return StoreError(
        f"cannot read the input {where} ({error}): it was probably written by a newer "
        "trueup; upgrade trueup"
    )
