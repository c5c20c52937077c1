"""The domain of sane values for every number and instant trueup accepts.

Anything outside is rejected on the way in, so nothing stored can later fail to be read,
printed, compared or folded (a year-10000 ``at`` cannot be formatted; a 10**999999999 size
overflows every quantize).
"""

import re

# 2000-01-01T00:00:00Z and 2200-01-01T00:00:00Z: no venue trueup reads predates the first,
# and the second leaves every datetime formatter room.
EARLIEST_MS = 946_684_800_000
LATEST_MS = 7_258_118_400_000

# Quantities, prices and money: at most 15 digits before the point and 12 after. Bybit and
# Hyperliquid quote far fewer; 27 digits keep sums exact in the default decimal context
# (28 digits), and a bound on the text keeps "1e999999999" from ever being parsed.
MAX_INTEGER_DIGITS = 15
MAX_FRACTION_DIGITS = 12

# Plain integers on the wire (seq, positionIdx, retCode, HTTP status, attempt counters).
MAX_WIRE_INTEGER = 2**63 - 1


def within_time(ms: int) -> bool:
    """Whether epoch milliseconds ``ms`` lie in [EARLIEST_MS, LATEST_MS]."""
    return EARLIEST_MS <= ms <= LATEST_MS


def describe_time_bounds() -> str:
    return f"between {EARLIEST_MS} (2000-01-01) and {LATEST_MS} (2200-01-01)"


# Names (a venue's account, a symbol, a position or order id): at most what an HTTP query
# may ask for, and never a control character, which no query, subject or terminal line
# carries back intact (a NUL among them); nor one of Unicode's bidirectional controls, which
# reorder how the text around them reads (an account "\u202e" turned tables back to front).
MAX_NAME_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def name_fault(name: str) -> str | None:
    """Why ``name`` cannot name an account, a symbol or a position (said of it: "is empty"),
    or None if it can."""
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long, more than {MAX_NAME_LENGTH}"
    control = _CONTROL.search(name)
    if control is not None:
        return f"holds a control character ({control.group()!r}) at offset {control.start()}"
    bidi = _BIDI.search(name)
    if bidi is not None:
        return (
            f"holds a bidirectional control character (U+{ord(bidi.group()):04X}) at offset "
            f"{bidi.start()}, which would reorder how it reads"
        )
    return None
