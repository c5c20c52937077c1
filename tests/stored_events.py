"""Reading back what a journal holds, to compare runs: its inputs, and what the projections
emitted, in the order stored and per account (processes running different partitions
interleave accounts differently)."""

from trueup.adapters.store import codec
from trueup.adapters.store.journal import Journal
from trueup.domain.emitted import Emitted
from trueup.domain.events import InputEvent


def inputs_in(journal: Journal) -> list[InputEvent]:
    """Every input the journal holds, in the order stored."""
    found: list[InputEvent] = []
    position = 0
    while True:
        page, last = journal.inputs(position)
        if last == position:
            return found
        found += [event for _, event in page]
        position = last


def emitted_in(journal: Journal) -> list[bytes]:
    """Every emitted event, in its stored form, in the order stored."""
    return [codec.encode_emitted(e) for _, e in journal.all_events() if isinstance(e, Emitted)]


def by_account(emitted: list[bytes]) -> dict[tuple[str, str], list[bytes]]:
    """Each account's emitted events, in the order stored."""
    found: dict[tuple[str, str], list[bytes]] = {}
    for encoded in emitted:
        event = codec.decode_emitted(encoded)
        found.setdefault((event.venue, event.account), []).append(encoded)
    return found
