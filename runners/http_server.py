"""The HTTP API's server: uvicorn on a socket bound before it starts, on a host safe to
serve on with the token it was given."""

import logging
import socket

import uvicorn
from fastapi import FastAPI

from trueup.adapters.store.journal import Journal
from trueup.runners.http_api import ApiSettings, TrueupApi, create_app
from trueup.runners.http_browsers import SecretsMasked, is_loopback
from trueup.runners.http_protocol import OneSendProtocol
from trueup.runners.http_stream import LeftIncomplete
from trueup.runners.usage import UsageError

TOKEN_ENV = "TRUEUP_API_TOKEN"
log = logging.getLogger("trueup.http")


def check_exposure(host: str, token: str | None) -> None:
    """Refuse to take unauthenticated writes from beyond this machine."""
    if token is None and not is_loopback(host):
        raise UsageError(
            f"serving on {host} takes inputs from other machines: set {TOKEN_ENV} "
            "(or serve on 127.0.0.1)"
        )


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything starts: a port in use is said at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections
    # whose socket says TCP, and with Nagle on, every keep-alive reply after the first
    # waited ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(2048)
    return sock


class ApiServer(uvicorn.Server):
    """uvicorn, ending the event streams first when it stops: it waits for every response
    to end, and a stream would not on its own."""

    def __init__(self, config: uvicorn.Config, api: TrueupApi) -> None:
        super().__init__(config)
        self.api = api

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await self.api.follower.stop()
        await super().shutdown(sockets)


def server(app: FastAPI, log_level: str = "info") -> uvicorn.Server:
    """uvicorn over ``app``: its access log has paths and status codes, never a header. A
    stream whose client does not read cannot hold up a stop for more than a few seconds."""
    config = uvicorn.Config(
        app,
        # httptools parses HTTP in C: ~1.3x the requests/s of h11 at 100 connections, the
        # same p99. uvloop, tried too, served more but unfairly: p99 1.1-1.4 s against
        # ~0.2 s on asyncio's loop, with connection errors (2 loaded cores, wrk, can-open).
        # Its protocol here sends each answer's head and body in one send, not two.
        http=OneSendProtocol,
        loop="asyncio",
        log_level=log_level,
        server_header=False,
        access_log=app.state.api.settings.access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    # After the config, which sets uvicorn's logging up.
    logging.getLogger("uvicorn.error").addFilter(LeftIncomplete())
    logging.getLogger("uvicorn.access").addFilter(SecretsMasked())
    return ApiServer(config, app.state.api)


def bind(host: str, port: int, settings: ApiSettings) -> socket.socket:
    """The listening socket, once the host is known safe to serve on; its address logged."""
    check_exposure(host, settings.token)
    sock = listening_socket(host, port)
    if settings.token is None:
        log.warning(
            "no %s: POST /v1/inputs takes inputs from any process on this machine", TOKEN_ENV
        )
    shown_host = f"[{host}]" if ":" in host else host
    log.info("serving the journal on http://%s:%d", shown_host, sock.getsockname()[1])
    return sock


def serve(journal: Journal, host: str, port: int, settings: ApiSettings) -> None:
    """Serve until SIGINT or SIGTERM."""
    server(create_app(journal, settings)).run(sockets=[bind(host, port, settings)])
