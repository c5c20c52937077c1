"""uvicorn's httptools protocol, sending each response's head and body in one send.

uvicorn writes a response's status line and headers, then its body, each as a write of its
own: two sends (two loopback packets, two wake-ups of the client) per answer, where the
send is the larger part of a kept answer's cost. Here the head is held until the next
write, which takes it along; a head with nothing after it (an event stream's) goes on the
event loop's next turn.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_START = b"HTTP/1.1 "
HEAD_END = b"\r\n\r\n"


class HeadHeld:
    """A transport whose writes of a response's head wait for the next write (or the loop's
    next turn); everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held + bytes(data))
        elif isinstance(data, bytes) and data.startswith(HEAD_START) and data.endswith(HEAD_END):
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def writelines(self, data: Any) -> None:
        self.flush()
        self._transport.writelines(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    """HttpToolsProtocol over a transport that holds each head for its body."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held: Any = HeadHeld(transport, self.loop)
        super().connection_made(held)
