"""Can-open over NATS for bots: one request to the responders of `trueup worker --nats`,
answered with the document `GET /v1/can-open` answers (docs/nats.md).

    answer = await can_open_over_nats(nc, "bybit", "main", "BTCUSDT", side="long")
    if answer["allowed"]:
        ...
"""

from typing import Any

import nats
import nats.errors
import orjson
from nats.aio.client import Client

from trueup.adapters.nats.connection import servers, shown
from trueup.adapters.nats.subjects import DEFAULT_PREFIX, Subjects
from trueup.client.documents import TrueupError, Unreachable


class Refused(TrueupError):
    """The responder could not answer the request: its one line says why."""


async def can_open_over_nats(
    nc_or_url: Client | str,
    venue: str,
    account: str,
    symbol: str,
    *,
    side: str | None = None,
    at: int | None = None,
    timeout: float = 1.0,
    prefix: str = DEFAULT_PREFIX,
    timeframe: str | None = None,
) -> dict[str, Any]:
    """May the bot open ``symbol``? {"venue", "account", "symbol", "allowed", "reasons",
    "notes"}; Refused with the responder's reason, Unreachable if none answers in time.

    ``nc_or_url``: a connection of the bot's, or a URL to connect to for this one request.
    """
    asked = {"symbol": symbol, "side": side, "timeframe": timeframe, "at": at}
    body = orjson.dumps({name: value for name, value in asked.items() if value is not None})
    subject = Subjects(prefix).can_open(venue, account)
    nc = nc_or_url if isinstance(nc_or_url, Client) else await _connect(nc_or_url, timeout)
    try:
        reply = await nc.request(subject, body, timeout=timeout)
    except nats.errors.NoRespondersError:
        raise Unreachable(f"no trueup answers can-open on {subject}") from None
    except nats.errors.TimeoutError:
        raise Unreachable(f"no answer on {subject} within {timeout} s") from None
    finally:
        if nc is not nc_or_url:
            await nc.close()
    document: dict[str, Any] = orjson.loads(reply.data)
    if "error" in document:
        raise Refused(document["error"])
    return document


async def _connect(url: str, timeout: float) -> Client:
    try:
        return await nats.connect(
            servers(url),
            connect_timeout=timeout,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            error_cb=_unlogged,
        )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise Unreachable(f"no NATS server answers at {shown(url)} ({error!r:.120})") from None


async def _unlogged(error: Exception) -> None:
    # nats-py logs a traceback for each refused attempt; the caller gets Unreachable instead.
    pass
