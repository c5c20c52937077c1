"""Every venue trueup reads: the one registration a venue needs (docs/venues.md).

Listing a venue loads only its definition; its wire format, feed and clients load when used.
"""

from trueup.adapters.aster.venue import VENUE as ASTER
from trueup.adapters.bybit.venue import VENUE as BYBIT
from trueup.adapters.ccxt.venue import VENUE as CCXT
from trueup.adapters.hyperliquid.venue import VENUE as HYPERLIQUID
from trueup.adapters.venue import Venue

VENUES: tuple[Venue, ...] = (ASTER, BYBIT, HYPERLIQUID, CCXT)
_BY_NAME = {venue.name: venue for venue in VENUES}
# As the operator is shown them: each venue, then each family's pattern.
SHOWN_NAMES = [
    *sorted(v.shown for v in VENUES if v.members is None),
    *(v.shown for v in VENUES if v.members is not None),
]


# What each name asked of find was found to be: every line asks for its venue's. Emptied
# when full, so that it stays small whatever names come.
_FOUND: dict[str, Venue | None] = {}
_FOUND_MAX = 1024


def find(name: str) -> Venue | None:
    """The venue ``name`` is (``ccxt:okx``: the ccxt family's), or None: one trueup does not
    read (a family's own name among them: it names no exchange)."""
    try:
        return _FOUND[name]
    except KeyError:
        pass
    venue = _BY_NAME.get(name.partition(":")[0])
    found = venue if venue is not None and venue.names(name) else None
    if len(_FOUND) >= _FOUND_MAX:
        _FOUND.clear()
    _FOUND[name] = found
    return found


def named(name: str) -> Venue:
    """The venue ``name`` is; KeyError if trueup reads no venue of that name."""
    venue = find(name)
    if venue is None:
        raise KeyError(name)
    return venue
