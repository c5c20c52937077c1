"""Natural keys of what trueup tracks, and the deterministic ids minted from them."""

from hashlib import sha1
from typing import NamedTuple
from uuid import UUID, uuid5

from msgspec import Struct

from trueup.domain.vocabulary import PositionSide

# Fixed forever: changing it would re-key every journal ever written.
TRUEUP_NAMESPACE = UUID("6f1d7c1e-3a4b-5c8d-9e0f-1a2b3c4d5e6f")
_NAMESPACE_BYTES = TRUEUP_NAMESPACE.bytes


# A position's leg: 0 in one-way mode, 1 and 2 hedge mode's long and short (Bybit's
# positionIdx; Aster's positionSide BOTH, LONG and SHORT): no venue trueup reads has another.
POSITION_IDXS = (0, 1, 2)


class PositionKey(NamedTuple):
    """The exchange's identity of a position (hedge mode: idx 1 long, 2 short; one-way: 0)."""

    venue: str
    account: str
    category: str
    symbol: str
    position_idx: int

    def label(self) -> str:
        return f"{self.venue}/{self.account} {self.category} {self.symbol} idx={self.position_idx}"


class LegOpening(Struct, frozen=True, kw_only=True):
    """The leg an order opens as trueup's own position once it executes (a lock trigger's
    order, domain/triggers/detector.py): its id, key (with the order's symbol) and side."""

    position_id: str
    category: str
    position_idx: int
    side: PositionSide


class OrderKey(NamedTuple):
    """The exchange's identity of an order: its id on one instrument. A venue's order ids are
    unique across its instruments, so the symbol splits none of its orders; a report naming
    an order's id under another symbol (a hostile line) is another order, which touches
    only the symbol it names, so an audit of either symbol reads all that bears on it."""

    category: str
    symbol: str
    venue_order_id: str


_new_tuple = tuple.__new__


def order_key_of(category: str, symbol: str, venue_order_id: str) -> OrderKey:
    """``OrderKey(category, symbol, venue_order_id)`` at a third of the cost: a NamedTuple's
    own constructor is Python called from C, and the fold makes one for every report and
    fill."""
    return _new_tuple(OrderKey, (category, symbol, venue_order_id))


# The hex digit at a uuid5's variant (RFC 4122: its top two bits 10) for each the digest has.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
# The hash of an input id's namespace and prefix, copied for each input, not hashed again.
_INPUT_PREFIX = sha1(_NAMESPACE_BYTES + b"input:", usedforsecurity=False)


def minted_id(name: bytes) -> str:
    """uuid5 of ``name`` in trueup's namespace, as its text: what ``str(uuid5(...))`` gives,
    without building a UUID on the way (one is minted for every input and emitted event)."""
    text = sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).hexdigest()
    # The version digit (5) and the variant's written into the hex, not the digest's bytes.
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


def input_id(canonical: bytes) -> str:
    """One input, one id: the same bytes always map to the same id, and other bytes to another.

    uuid5 of the bytes themselves (uuid5 takes text, and would refuse invalid UTF-8):
    ``minted_id(b"input:" + canonical)``.
    """
    digest = _INPUT_PREFIX.copy()
    digest.update(canonical)
    text = digest.hexdigest()
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


def account_stream_id(venue: str, account: str) -> UUID:
    """The journal stream that holds one account's inputs, in arrival order."""
    return uuid5(TRUEUP_NAMESPACE, f"account:{venue}:{account}")


def rules_stream_id() -> UUID:
    """The journal stream that holds every change of the rules in force, in order."""
    return uuid5(TRUEUP_NAMESPACE, "rules")


def decision_key(venue: str, account: str, *what: str) -> UUID:
    """The key of one operator decision on an account (``what``: the action, then what it
    acts on): whoever makes the same decision, whenever, derives the same key."""
    return uuid5(TRUEUP_NAMESPACE, "\n".join(("decision", venue, account, *what)))


def sending_key(venue: str, account: str, decision_id: str) -> UUID:
    """The key the executor claims just before it sends a decision's order, and an operator
    withdrawing the order claims instead: whichever comes first, the other does not act."""
    return decision_key(venue, account, "send", decision_id)
