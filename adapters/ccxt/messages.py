"""What the ccxt feed records: each call's unified result verbatim, or the error it raised."""

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from trueup.adapters.ccxt.wire import ENDPOINTS

JSON = dict[str, Any]
MAX_MESSAGE = 300
# A URL's query carries the request's signature (and, on some exchanges, the key itself).
_QUERY = re.compile(r"\?\S*")


def capture(
    at: int,
    venue: str,
    account: str,
    endpoint: str,
    data: list[Any],
    *,
    params: Mapping[str, Any] | None = None,
    contract_sizes: Mapping[str, Decimal] | None = None,
) -> JSON:
    """The line of one call's result: ``data`` ccxt's list of unified structures."""
    record = _line(at, venue, account, endpoint, params)
    if contract_sizes:
        record["contractSizes"] = {symbol: str(size) for symbol, size in contract_sizes.items()}
    record["data"] = data
    return record


def capture_error(
    at: int,
    venue: str,
    account: str,
    endpoint: str,
    error: BaseException,
    *,
    status: int,
    secrets: Iterable[str],
    params: Mapping[str, Any] | None = None,
) -> JSON:
    """The line of a call that raised: ccxt's exception class and bases, the HTTP status
    ccxt saw (0: no reply), and the message without query strings or any credential."""
    record = _line(at, venue, account, endpoint, params)
    record["status"] = status
    record["error"] = {"classes": error_classes(error), "message": redacted(str(error), secrets)}
    return record


def error_classes(error: BaseException) -> list[str]:
    """The exception's class and its bases up to ccxt's BaseError (or Exception)."""
    names = []
    for cls in type(error).__mro__:
        if cls in (Exception, BaseException, object):
            break
        names.append(cls.__name__)
    return names or [type(error).__name__]


def redacted(message: str, secrets: Iterable[str]) -> str:
    """``message`` fit for the journal: no URL query, no credential, at most 300 characters."""
    text = _QUERY.sub("", message)
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text[:MAX_MESSAGE]


def _line(
    at: int, venue: str, account: str, endpoint: str, params: Mapping[str, Any] | None
) -> JSON:
    return {
        "at": at,
        "venue": venue,
        "account": account,
        "channel": ENDPOINTS[endpoint][1],
        "endpoint": endpoint,
        "params": dict(params or {}),
    }
