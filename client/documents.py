"""What the server answers, as typed values; its errors as exceptions of the client's own;
and the requests both clients make, built once."""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import orjson

JSON = dict[str, Any]

TOKEN_ENV = "TRUEUP_API_TOKEN"
URL_ENV = "TRUEUP_API_URL"
DEFAULT_URL = "http://127.0.0.1:8780"
EVENT_STREAM = "text/event-stream"
Json = dict[str, Any]
Intent = bytes | str | Mapping[str, Any]
# orjson leaves these to ``_wire_value``: a datetime is epoch ms on the wire, not RFC 3339.
_ENCODING = orjson.OPT_PASSTHROUGH_DATETIME


class TrueupError(Exception):
    """Anything the client could not get an answer for."""


class ApiError(TrueupError):
    """The server refused or failed a request: its HTTP status and its own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class Unreachable(TrueupError):
    """The server could not be reached, or the connection broke before an answer."""


def unreachable(error: httpx.TransportError) -> Unreachable:
    """What a request that got no answer raises: why, and the address it was sent to."""
    try:
        url = error.request.url.copy_with(query=None)
    except RuntimeError:  # an error raised before any request was made
        return Unreachable(str(error))
    return Unreachable(f"no answer from {url}: {error}")


@dataclass(frozen=True)
class CanOpen:
    """May the bot open the symbol? Every reason against, and notes that do not block."""

    venue: str
    account: str
    symbol: str
    allowed: bool
    reasons: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Event:
    """One stored event: its journal position (the cursor), its type, and every field, as
    the server gives it (`trueup events --json` plus `at_iso`)."""

    position: int
    type: str
    data: Json


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_after: int  # the cursor to ask from next


@dataclass(frozen=True)
class InputLine:
    input_id: str
    type: str
    accepted: bool
    reason: str | None


@dataclass(frozen=True)
class InputsReport:
    """What POST /v1/inputs did with the lines: counts, what the detectors emitted, and
    each line's input."""

    accepted: int
    rejected: int
    duplicates: int
    blank: int
    emitted: dict[str, int]
    inputs: list[InputLine]
    # False: their detection was not over when the server answered (another process runs
    # it); what it emits comes down the event stream.
    detected: bool = True


@dataclass(frozen=True)
class Backoff:
    """Waits between reconnections of a stream: ``first``, doubling up to ``most``."""

    first: float = 0.1
    most: float = 5.0

    def after(self, wait: float) -> float:
        return min(wait * 2, self.most)


RECONNECTING = Backoff()


def settings(base_url: str | None, token: str | None) -> tuple[str, dict[str, str]]:
    """The base URL and headers: the arguments, else the environment."""
    url = base_url or os.environ.get(URL_ENV) or DEFAULT_URL
    token = token or os.environ.get(TOKEN_ENV) or None
    return url, ({"Authorization": f"Bearer {token}"} if token else {})


def can_open_params(
    venue: str,
    account: str,
    symbol: str,
    *,
    side: str | None,
    at: int | str | datetime | None,
    timeframe: str | None,
) -> Json:
    if isinstance(at, datetime):
        at = instant_ms(at, "at")
    found = {"side": side, "at": at, "timeframe": timeframe}
    return {"venue": venue, "account": account, "symbol": symbol} | _given(found)


def positions_params(
    venue: str | None, account: str | None, symbol: str | None, format: str | None = None
) -> Json:
    return _given({"venue": venue, "account": account, "symbol": symbol, "format": format})


def history_params(
    venue: str | None, account: str | None, symbol: str | None, since: int | str | datetime | None
) -> Json:
    if isinstance(since, datetime):
        since = instant_ms(since, "since")
    return _given({"venue": venue, "account": account, "symbol": symbol, "since": since})


def events_params(
    after: int, type_: str | None, venue: str | None, account: str | None, emitted: bool
) -> Json:
    wanted = {"type": type_, "venue": venue, "account": account}
    return {"after": after} | _given(wanted) | ({"emitted": "true"} if emitted else {})


def ndjson(intents: Intent | Iterable[Intent]) -> bytes:
    """Capture lines as NDJSON: bytes and text as they are, mappings encoded (decimals as
    strings, datetimes as epoch ms); one line or mapping alone is one intent."""
    if isinstance(intents, bytes | str | Mapping):
        intents = [intents]
    lines = []
    for index, intent in enumerate(intents):
        if isinstance(intent, bytes):
            lines.append(intent)
        elif isinstance(intent, str):
            lines.append(intent.encode())
        elif isinstance(intent, Mapping):
            lines.append(_encoded(intent, f"intents[{index}]"))
        else:
            raise TypeError(
                f"intents[{index}]: {type(intent).__name__} is not an intent: "
                "a mapping is, or a capture line as str or bytes"
            )
    return b"\n".join(lines)


def instant_ms(moment: datetime, name: str) -> int:
    """``moment`` in epoch ms, rounded as the server rounds ISO 8601; refused without its
    zone, as the server and CLI refuse one: read as this machine's time, it would name
    another instant on a machine in another zone."""
    if moment.utcoffset() is None:
        raise ValueError(
            f"{name}: {moment.isoformat()} has no time zone: give it one "
            "(datetime.now(timezone.utc), or tzinfo=timezone.utc)"
        )
    return round(moment.timestamp() * 1000)


def decimal_text(value: Decimal, name: str) -> str:
    """A decimal as trueup's wire spells one: a string, in full (no exponent), so none is
    rounded on the way."""
    if not value.is_finite():
        raise ValueError(f"{name}: {value} is not a number trueup takes")
    return format(value, "f")


def _encoded(intent: Mapping[str, Any], name: str) -> bytes:
    try:
        return orjson.dumps(
            dict(intent), default=lambda value: _wire_value(value, name), option=_ENCODING
        )
    except orjson.JSONEncodeError as error:
        # orjson wraps what _wire_value raised: the caller gets that back.
        if isinstance(error.__cause__, ValueError | TypeError):
            raise error.__cause__ from None
        raise TypeError(f"{name}: {error}") from None


def _wire_value(value: object, name: str) -> object:
    """A value orjson does not encode as trueup's wire takes it."""
    if isinstance(value, Decimal):
        return decimal_text(value, name)
    if isinstance(value, datetime):
        return instant_ms(value, name)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{name}: {type(value).__name__} is not a value trueup takes")


def answer(response: httpx.Response) -> Any:
    """The response's JSON document; ApiError with the server's message if it is not 200."""
    if response.status_code != 200:
        raise api_error(response)
    return response.json()


def trigger_command(venue: str, account: str, command: str, fields: dict[str, Any]) -> JSON:
    """The body of POST /v1/triggers; decimals as strings, so none is rounded on the way,
    and datetimes (``at``, ``expires_at``) as epoch ms."""
    body: JSON = {"venue": venue, "account": account, "command": command}
    body |= {
        k: _wire_value(v, k) if isinstance(v, Decimal | datetime) else v for k, v in fields.items()
    }
    return body


def command_answer(response: httpx.Response) -> JSON:
    """A trigger command's answer: carried out (200) or refused, with why (409)."""
    if response.status_code not in (200, 409):
        raise api_error(response)
    answered: JSON = response.json()
    return answered


def api_error(response: httpx.Response) -> ApiError:
    """The server's message: its ``detail``, a string or FastAPI's list of problems."""
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list):
        message = "; ".join(
            f"{'.'.join(map(str, problem.get('loc', ())))}: {problem.get('msg')}"
            for problem in detail
            if isinstance(problem, dict)
        )
    elif isinstance(detail, str):
        message = detail
    else:
        message = response.text.strip() or response.reason_phrase
    return ApiError(response.status_code, message)


def can_open(document: Json) -> CanOpen:
    return CanOpen(
        document["venue"],
        document["account"],
        document["symbol"],
        document["allowed"],
        list(document["reasons"]),
        list(document["notes"]),
    )


def event(document: Json) -> Event:
    return Event(document["position"], document["type"], document)


def event_page(document: Json) -> EventPage:
    return EventPage([event(e) for e in document["events"]], document["next_after"])


def inputs_report(document: Json) -> InputsReport:
    return InputsReport(
        document["accepted"],
        document["rejected"],
        document["duplicates"],
        document["blank"],
        dict(document["emitted"]),
        [InputLine(**line) for line in document["inputs"]],
        document.get("detected", True),
    )


def retried(status: int) -> bool:
    """Whether a stream is asked again after this status: the server or a proxy in front
    of it failing for now, not a request it refuses."""
    return status >= 500 or status == 429


class EventReader:
    """Server-Sent Events, a line at a time: an Event at each blank line ending one."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def line(self, text: str) -> Event | None:
        if not text:
            if not self._data:
                return None
            found = event(orjson.loads("\n".join(self._data)))
            self._data = []
            return found
        field, _, value = text.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))
        # id and event repeat what data holds; retry and comments (heartbeats) are not events.
        return None


def _given(values: Json) -> Json:
    return {name: value for name, value in values.items() if value is not None}
