"""Reaching NATS: one connection per process, quiet in the log, and a probe that says in one
line what is wrong with a server before anything relies on it."""

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
from nats.aio.client import Client
from nats.js.errors import APIError, ServiceUnavailableError

log = logging.getLogger("trueup.nats")
CONNECT_TIMEOUT_S = 2.0
RECONNECT_WAIT_S = 0.5


# The oldest nats-server trueup is built for (docs/nats.md): on 2.9 a walkthrough saw a
# consumer another worker was deleting listed as null, which nats-py cannot read.
NEEDED_SERVER = (2, 10)
_told_old: set[str] = set()  # servers already warned of, by URL: once per process


class NoJetStream(Exception):
    """The NATS server answers, but without JetStream."""


class Unreachable(Exception):
    """No NATS server answers at the URL."""


def servers(url: str) -> list[str]:
    """The servers a URL names: one, or several separated by commas (a cluster)."""
    return [part.strip() for part in url.split(",") if part.strip()]


def shown(url: str) -> str:
    """The URL as it may be logged: without a password or token."""
    parts = []
    for server in servers(url):
        split = urlsplit(server)
        host = split.hostname or ""
        netloc = host + (f":{split.port}" if split.port else "")
        parts.append(urlunsplit(split._replace(netloc=netloc)))
    return ",".join(parts)


async def _quiet(error: Exception) -> None:
    # nats-py logs a traceback for every refused reconnect; once a second while NATS is
    # away would bury the log. What matters (away, back) is said by whoever publishes.
    log.debug("NATS: %r", error)


def reconnecting(url: str, name: str) -> dict[str, Any]:
    """The settings of a connection that reconnects for ever and waits for a server that is
    not up yet: nats-py's keyword arguments, which faststream's NatsBroker takes too."""
    return {
        "servers": servers(url),
        "name": name,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "allow_reconnect": True,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": RECONNECT_WAIT_S,
        "error_cb": _quiet,
    }


async def connect(url: str, name: str, **callbacks: Any) -> Client:
    """A connection that reconnects for ever; it waits for a server that is not up yet."""
    return await nats.connect(**reconnecting(url, name), **callbacks)


async def connect_once(url: str, name: str) -> Client:
    """A connection now, or Unreachable (NoJetStream if the server lacks JetStream)."""
    try:
        # Each server tried twice (nats-py reads 0 attempts as no limit), and no longer
        # than a few seconds in all.
        attempt = nats.connect(
            servers(url),
            name=name,
            connect_timeout=CONNECT_TIMEOUT_S,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=_quiet,
        )
        client = await asyncio.wait_for(attempt, 3 * CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, nats.errors.Error) as error:
        raise Unreachable(f"no NATS server answers at {shown(url)} ({error!r:.120})") from None
    try:
        await require_jetstream(client, url)
    except BaseException:
        await client.close()
        raise
    return client


async def require_jetstream(client: Client, url: str) -> None:
    """NoJetStream, said in one line, if the server has JetStream off."""
    try:
        await client.jetstream().account_info()
    except (ServiceUnavailableError, nats.errors.NoRespondersError):
        raise NoJetStream(
            f"the NATS server at {shown(url)} has no JetStream: start it with -js "
            "(or jetstream {} in its configuration)"
        ) from None
    except APIError as error:
        raise NoJetStream(f"JetStream at {shown(url)} refuses this account: {error}") from None
    _warn_if_old(client, url)


def _warn_if_old(client: Client, url: str) -> None:
    """A warning, once, for a server older than trueup is built for: it works, but not
    every race between workers is handled by it as by a newer one."""
    version = client.connected_server_version
    found = (version.major or 0, version.minor or 0)
    if found == (0, 0) or found >= NEEDED_SERVER or url in _told_old:
        return  # unknown, or new enough, or said already
    _told_old.add(url)
    log.warning(
        "the NATS server at %s is nats-server %d.%d: trueup is built for %d.%d or later "
        "(docs/nats.md)",
        shown(url),
        *found,
        *NEEDED_SERVER,
    )


def probe(url: str) -> None:
    """Unreachable or NoJetStream, unless a JetStream server answers at ``url`` now."""

    async def check() -> None:
        client = await connect_once(url, "trueup probe")
        await client.close()

    asyncio.run(check())
