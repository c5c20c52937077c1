"""The kinds of value the command line takes: each reads its text or says in one line why not.

They are argparse ``type=`` functions, so every option is checked before anything starts;
``Parser`` turns their refusals, and argparse's own errors, into one ``trueup: ...`` line.
"""

import argparse
import ipaddress
import math
import os
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from trueup.domain.bounds import describe_time_bounds, name_fault, within_time
from trueup.domain.vocabulary import PositionSide
from trueup.runners.usage import UsageError

# The longest wait an option may ask for. Longer is a typo, and a wait beyond
# threading.TIMEOUT_MAX would kill the feed or writer thread that waits, long after parsing.
MAX_WAIT_S = 7 * 24 * 3600
MAX_WAIT_MS = MAX_WAIT_S * 1000
# More than any journal page or screen holds; bounded so no query is asked for 10**30 rows.
MAX_COUNT = 1_000_000
# A body limit is a size, not a count: its default (8 MiB) is past MAX_COUNT.
MAX_BODY_BYTES = 1 << 30


class PositionsFormat(StrEnum):
    """How `trueup positions` writes its rows."""

    TABLE = "table"  # for people
    JSON = "json"  # one `positions --json` row a line
    CCXT = "ccxt"  # one ccxt unified Position a line: what the exchange holds


_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", re.ASCII)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are UsageErrors: one line, exit status 2.

    A command's options may come as a function, ``options``, that adds them when the
    command is parsed (its --help too): the command line then builds only the command it
    runs, and imports only what that command's options name (the venues, say). ``shared``
    adds, likewise, the options every command takes before or after its name."""

    def __init__(
        self,
        *args: Any,
        options: "Callable[[Parser], None] | None" = None,
        shared: "Callable[[Parser], None] | None" = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._options = options
        # Options every command takes after its name too: added with its own.
        self._shared = shared

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        options, self._options = self._options, None
        if options is not None:
            options(self)
        shared, self._shared = self._shared, None
        if shared is not None:
            shared(self)
        return super().parse_known_args(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """The type of a whole number from ``low`` to ``high``."""

    def read(text: str) -> int:
        value = _integer(text)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low} to {high}, not {text!r}"
            )
        return value

    return read


positive_int = whole_number(1, MAX_COUNT)
port = whole_number(0, 65535)  # 0: any free port
count = whole_number(0, MAX_COUNT)
milliseconds = whole_number(1, MAX_WAIT_MS)
body_bytes = whole_number(1, MAX_BODY_BYTES)


def fraction(text: str) -> Decimal:
    """A fraction from 0 to 1, exclusive of 1 (0.05 is 5 %)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction from 0 to below 1, not {text!r}")
    return value


def seconds(text: str) -> float:
    """A wait in seconds: finite, above 0, at most MAX_WAIT_S."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_WAIT_S):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds above 0 and at most {MAX_WAIT_S}, not {text!r}"
        )
    return value


def symbols(text: str) -> tuple[str, ...]:
    """A comma-separated list of the venue's symbols (BTCUSDT; BTC on Hyperliquid), each once."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",")))
    if not names or any(not name or not name.isprintable() or " " in name for name in names):
        raise argparse.ArgumentTypeError(
            f"must be symbols separated by commas, such as BTCUSDT,ETHUSDT, not {text!r}"
        )
    return names


def epoch_ms(text: str) -> int:
    """An instant, as ISO 8601 with its time zone (``2025-11-03T19:45:10Z``) or as epoch
    milliseconds, within the years trueup reads; epoch milliseconds either way."""
    value = _integer(text)
    if value is None and not text.strip().lstrip("+-").isdigit():
        value = _iso_ms(text)
    if value is None or not within_time(value):
        raise argparse.ArgumentTypeError(
            "must be an ISO 8601 instant with its time zone (2025-11-03T19:45:10Z) or epoch "
            f"milliseconds, {describe_time_bounds()}, not {text!r}"
        )
    return value


def _iso_ms(text: str) -> int | None:
    """An ISO 8601 instant in epoch milliseconds; None if it is not one, or names no zone
    (an instant read in the machine's own zone would differ from machine to machine)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return round(moment.timestamp() * 1000)


def event_type(text: str) -> str:
    """The name of a type of stored event: an input's (PositionsReported) or an emitted
    event's (CONSISTENCY_DRIFT)."""
    from trueup.domain.emitted import EMITTED_TYPES
    from trueup.domain.events import INPUT_EVENT_TYPES

    known = sorted([t.type for t in INPUT_EVENT_TYPES] + [t.type for t in EMITTED_TYPES])
    if text not in known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a type of event{_did_you_mean(text, known)}: one of "
            f"{', '.join(known)}"
        )
    return text


def emitted_type(text: str) -> str:
    """The name of a type of emitted event (CONSISTENCY_DRIFT): what NATS carries."""
    from trueup.domain.emitted import EMITTED_TYPES

    known = sorted(t.type for t in EMITTED_TYPES)
    if text not in known:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a type of emitted event{_did_you_mean(text, known)} (inputs are "
            f"not published): one of {', '.join(known)}"
        )
    return text


def _did_you_mean(text: str, known: list[str]) -> str:
    """A type's name mistyped: its other case or spelling (position_closed, PositionReported)."""
    import difflib

    folded = {name.casefold().replace("_", ""): name for name in known}
    near = folded.get(text.casefold().replace("_", "").replace("-", ""))
    if near is None:
        close = difflib.get_close_matches(text, known, n=1, cutoff=0.8)
        near = close[0] if close else None
    return "" if near is None else f" (did you mean {near}?)"


# The side of a position a trading system asks to open: long or short, or its order's Buy or
# Sell (as intents say); any case.
OPENING_SIDES = {
    "long": PositionSide.LONG,
    "buy": PositionSide.LONG,
    "short": PositionSide.SHORT,
    "sell": PositionSide.SHORT,
}


def venue_name(text: str) -> str:
    """A venue trueup reads (ccxt's as ``ccxt:<exchange-id>``): a filter naming another
    would match nothing, silently."""
    from trueup.adapters import venues

    if venues.find(text) is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a venue trueup reads: one of {', '.join(venues.SHOWN_NAMES)}"
        )
    return text


def position_side(text: str) -> PositionSide:
    """The side of a position to open: long or short (Buy and Sell, as intents say, too)."""
    side = OPENING_SIDES.get(text.lower())
    if side is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a side: long or short (or Buy, Sell)")
    return side


def http_url(text: str) -> str:
    """An http(s)://host[:port][/path] URL, without its trailing slash."""
    problem = _url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s)://host[:port] URL: {problem}")
    return text.rstrip("/")


NATS_SCHEMES = ("nats", "tls", "ws", "wss")


def nats_url(text: str) -> str:
    """A NATS server's URL (nats://host:port), or several separated by commas (a cluster)."""
    parts = [part.strip() for part in text.split(",")]
    for part in parts:
        problem = _nats_problem(part)
        if problem:
            raise argparse.ArgumentTypeError(f"{part!r} is not a nats://host[:port] URL: {problem}")
    return ",".join(parts)


# A name that goes into file names and lease names: a notifier's, a notification target's.
SHORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def operator_name(text: str) -> str:
    """Who did it, as every operator input names them (domain/bounds.py): refused here, not
    stored as a refused line while the command says it acted."""
    fault = name_fault(text)
    if fault is not None:
        raise argparse.ArgumentTypeError(f"the operator's name {fault}")
    return text


def short_name(text: str) -> str:
    if not SHORT_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a name: letters, digits, '.', '_' or '-', up to 64"
        )
    return text


def subject_prefix(text: str) -> str:
    """What leads trueup's NATS subjects and names its streams: ``trueup`` unless told."""
    from trueup.adapters.nats.subjects import valid_prefix

    if not valid_prefix(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a subject prefix: dot-separated words of A-Z a-z 0-9 _ -"
        )
    return text


def writable_directory(text: str) -> Path:
    """An existing directory this process may create files in."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text} is not writable")
    return path


def _nats_problem(text: str) -> str | None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        return str(error)
    if parts.scheme not in NATS_SCHEMES:
        return f"the scheme must be one of {', '.join(NATS_SCHEMES)}, not {parts.scheme!r}"
    if not _valid_host(parts.hostname or ""):
        return "no valid host name"
    if port == 0:
        return "port 0 is not a port"
    return None


def writable_file(text: str) -> Path:
    """A file that can be created or appended to: not a directory, in a writable directory."""
    path = Path(text)
    problem = _write_problem(path)
    if problem:
        raise argparse.ArgumentTypeError(f"cannot write to {text}: {problem}")
    return path


def _integer(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:  # not a number, or more digits than int() will read
        return None


def _url_problem(text: str) -> str | None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:  # a bad port, or an unbalanced IPv6 bracket
        return str(error)
    if parts.scheme not in ("http", "https"):
        return f"the scheme must be http or https, not {parts.scheme!r}"
    if not _valid_host(parts.hostname or ""):
        return "no valid host name"
    if port == 0:
        return "port 0 is not a port"
    if parts.query or parts.fragment or parts.username is not None:
        return "a base URL carries no query, fragment or credentials"
    return None


def _valid_host(host: str) -> bool:
    if _HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        return False
    return True


def _write_problem(path: Path) -> str | None:
    if path.is_dir():
        return "it is a directory"
    if path.exists():
        return None if os.access(path, os.W_OK) else "permission denied"
    directory = path.parent
    if not directory.is_dir():
        return f"no directory {directory}"
    return None if os.access(directory, os.W_OK | os.X_OK) else f"{directory} is not writable"
