"""A can-open question asked over NATS: the account from its subject, the rest from its JSON
body, or why not in one line naming the field, as `GET /v1/can-open` refuses a query."""

from dataclasses import dataclass
from typing import Any

import orjson

from trueup.adapters.nats.subjects import NotAToken, Subjects
from trueup.domain.bounds import describe_time_bounds, within_time
from trueup.domain.vocabulary import PositionSide
from trueup.runners.arguments import OPENING_SIDES

# As HTTP's names: not empty, and no longer than any venue's symbol or account could be.
MAX_NAME = 200
FIELDS = ("symbol", "side", "timeframe", "at")


class BadRequest(ValueError):
    """A request that cannot be answered: its message is the one line the asker gets."""


@dataclass(frozen=True, slots=True)
class CanOpenRequest:
    venue: str
    account: str
    symbol: str
    side: PositionSide | None = None
    timeframe: str | None = None
    at: int | None = None


def read_request(subjects: Subjects, subject: str, body: bytes) -> CanOpenRequest:
    """The question ``body`` asks on ``subject``; BadRequest, naming the field, if none."""
    try:
        venue, account = subjects.account_of(subject)
    except NotAToken as error:
        raise BadRequest(f"subject: {error}") from None
    _name("venue (from the subject)", venue)
    _name("account (from the subject)", account)
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the request is not JSON ({error}): send an object with symbol") from None
    if not isinstance(fields, dict):
        raise BadRequest("the request is not a JSON object: send an object with symbol")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}: a request takes {', '.join(FIELDS)}")
    if "symbol" not in fields:
        raise BadRequest("symbol: missing (the symbol to open, e.g. BTCUSDT)")
    return CanOpenRequest(
        venue,
        account,
        _name("symbol", fields["symbol"]),
        side=_side(fields.get("side")),
        timeframe=_optional_name("timeframe", fields.get("timeframe")),
        at=_at(fields.get("at")),
    )


def _name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_NAME:
        raise BadRequest(
            f"{field}: must be text of 1 to {MAX_NAME} characters, not {_shown(value)}"
        )
    return value


def _optional_name(field: str, value: Any) -> str | None:
    return None if value is None else _name(field, value)


def _side(value: Any) -> PositionSide | None:
    if value is None:
        return None
    side = OPENING_SIDES.get(value.lower()) if isinstance(value, str) else None
    if side is None:
        raise BadRequest(f"side: must be long or short (or buy, sell), not {_shown(value)}")
    return side


def _at(value: Any) -> int | None:
    if value is None:
        return None
    # bool is an int to Python, never to a bot.
    if isinstance(value, bool) or not isinstance(value, int) or not within_time(value):
        raise BadRequest(
            f"at: must be epoch milliseconds {describe_time_bounds()}, not {_shown(value)}"
        )
    return value


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()[:80]
