"""The domain of sane values for every number and instant trueup accepts.

Anything outside is rejected on the way in, so nothing stored can later fail to be read,
printed, compared or folded (a year-10000 ``at`` cannot be formatted; a 10**999999999 size
overflows every quantize).
"""

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
