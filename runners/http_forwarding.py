"""A POST /v1/inputs handed to the sibling serving process that runs every partition of the
projection (``serve --workers``), over its Unix socket, and its answer handed back whole.

Why forward rather than append here and wait: the process running a partition detects the
inputs it appends as it appends them, but inputs another process appended it must read back
from the journal and decode, which costs it about what ingesting them does, and only after
the appender is done. Forwarded, the lines are decoded and stored once, by the process that
detects them, and the answer is the one it gives its own clients.
"""

import logging
from collections.abc import Mapping

import httpx
from starlette.responses import Response

log = logging.getLogger("trueup.http")

# Marks a forwarded request: it is answered where it arrives, never forwarded again.
FORWARDED_HEADER = "trueup-forwarded-by"
# Only the headers the endpoint reads go along (the token checked again by the sibling,
# and the host, which the sibling answers only if it is a loopback one: http_browsers.py).
_PASSED = ("authorization", "content-type", "host")
CONNECT_S = 1.0
KEEP_ALIVE_S = 2.0


class Forwarder:
    """Keep-alive connections to the siblings' sockets, one client per socket."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def forward(
        self, socket_path: str, body: bytes, headers: Mapping[str, str]
    ) -> Response | None:
        """The sibling's answer to the POST; None if it could not be had (the sibling gone,
        or going): the caller then ingests the lines itself, idempotently."""
        # A line the sibling stored before it died is then a duplicate, never stored twice.
        path = socket_path
        client = self._clients.get(path)
        if client is None:
            client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=socket_path),
                base_url="http://sibling",
                # The sibling takes as long as appending and detecting the lines takes.
                timeout=httpx.Timeout(None, connect=CONNECT_S),
                # Let go before the sibling's server closes an idle connection (uvicorn's
                # 5 s), so that a POST is never sent down one it is closing.
                limits=httpx.Limits(keepalive_expiry=KEEP_ALIVE_S),
            )
            self._clients[socket_path] = client
        passed = {name: headers[name] for name in _PASSED if name in headers}
        passed[FORWARDED_HEADER] = str(self.pid)
        try:
            answer = await client.post("/v1/inputs", content=body, headers=passed)
        except httpx.TransportError as error:
            log.warning("a POST forwarded to %s went unanswered (%r): taken here", path, error)
            await self._drop(socket_path)
            return None
        return Response(
            answer.content,
            status_code=answer.status_code,
            media_type=answer.headers.get("content-type"),
        )

    async def _drop(self, socket_path: str) -> None:
        client = self._clients.pop(socket_path, None)
        if client is not None:
            await client.aclose()

    async def close(self) -> None:
        for path in list(self._clients):
            await self._drop(path)
