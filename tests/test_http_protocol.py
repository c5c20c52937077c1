"""The server sends a response's head and body in one write, and a head alone (an event
stream's) on the event loop's next turn (runners/http_protocol.py)."""

import asyncio

from trueup.runners.http_protocol import HeadHeld

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"the transport's {name}"


def test_a_head_and_its_body_go_in_one_write() -> None:
    async def run() -> list[bytes]:
        transport = Transport()
        held = HeadHeld(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(HEAD)
        held.write(b"{}")
        await asyncio.sleep(0)
        return transport.written

    assert asyncio.run(run()) == [HEAD + b"{}"]


def test_a_head_alone_goes_on_the_loops_next_turn() -> None:
    async def run() -> tuple[list[bytes], list[bytes]]:
        transport = Transport()
        held = HeadHeld(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(HEAD)
        before = list(transport.written)
        await asyncio.sleep(0)
        return before, transport.written

    assert asyncio.run(run()) == ([], [HEAD])


def test_a_body_goes_at_once_and_a_close_sends_the_held_head_first() -> None:
    async def run() -> Transport:
        transport = Transport()
        held = HeadHeld(transport, asyncio.get_running_loop())  # type: ignore[arg-type]
        held.write(b"data: 1\n\n")
        held.write(HEAD)
        held.close()
        assert held.get_extra_info("peername") == "the transport's peername"
        return transport

    transport = asyncio.run(run())
    assert transport.written == [b"data: 1\n\n", HEAD]
    assert transport.closed
