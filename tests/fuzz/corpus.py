"""The seed corpus: sessions of capture records in the venues' documented formats.

From the recorded samples, the busy test session, and the sessions bybit_seeds,
hyperliquid_seeds and aster_seeds build with the venues' message builders, covering every
channel, endpoint and intent kind.
"""

from functools import cache
from pathlib import Path
from typing import Any

import orjson

from tests.fuzz.aster_seeds import aster_session
from tests.fuzz.bybit_seeds import T0, bybit_edges
from tests.fuzz.hyperliquid_seeds import hyperliquid_session
from tests.scenarios import busy_session

JSON = dict[str, Any]
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE = SAMPLES / "bybit-session.jsonl"
ASTER_SAMPLE = SAMPLES / "aster-session.jsonl"
YEAR_2000_MS = 946_684_800_000
TIME_FIELDS = frozenset(("at", "updatedTime", "execTime", "createdTime", "creationTime", "time"))


@cache
def sessions() -> tuple[tuple[JSON, ...], ...]:
    """Every seed session, each a run of records in arrival order."""
    return (
        sample_session(),
        in_venue_time(busy_session(300, seed=7)),
        in_venue_time(busy_session(120, seed=11)),
        bybit_edges(),
        hyperliquid_session(),
        aster_session(),
        sample_session(ASTER_SAMPLE),
    )


@cache
def records() -> tuple[JSON, ...]:
    """Every seed record of every session."""
    return tuple(record for session in sessions() for record in session)


def in_venue_time(records: list[JSON]) -> tuple[JSON, ...]:
    """Records whose instants count from 0 (as older test helpers wrote them) moved to T0."""
    if not records or records[0]["at"] >= YEAR_2000_MS:
        return tuple(records)
    return tuple(_shift(record, T0) for record in records)


def _shift(value: Any, by: int) -> Any:
    if isinstance(value, list):
        return [_shift(item, by) for item in value]
    if not isinstance(value, dict):
        return value
    moved = {}
    for key, item in value.items():
        moved[key] = _shift(_later(item, by) if key in TIME_FIELDS else item, by)
    return moved


def _later(instant: Any, by: int) -> Any:
    if isinstance(instant, int):
        return instant + by
    if isinstance(instant, str) and instant.isdigit():
        return str(int(instant) + by)
    return instant


def sample_session(path: Path = SAMPLE) -> tuple[JSON, ...]:
    """A recorded sample (samples/bybit-session.jsonl by default), in its venue's documented
    formats."""
    lines = path.read_bytes().splitlines()
    return tuple(orjson.loads(line) for line in lines if line.strip())
