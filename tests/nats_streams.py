"""Reading back what a JetStream stream holds, and clearing a test's streams after it."""

import asyncio
import contextlib
from typing import NamedTuple

import nats
from nats.js.errors import NotFoundError

from trueup.adapters.nats.streams import MSG_ID
from trueup.adapters.nats.subjects import Subjects


class Stored(NamedTuple):
    sequence: int
    subject: str
    msg_id: str
    data: bytes


def stored(url: str, stream: str) -> list[Stored]:
    """Every message the stream holds, in its order."""

    async def read() -> list[Stored]:
        client = await nats.connect(url)
        try:
            js = client.jetstream()
            try:
                state = (await js.stream_info(stream)).state
            except NotFoundError:
                return []
            found = []
            for sequence in range(state.first_seq, state.last_seq + 1) if state.messages else ():
                message = await js.get_msg(stream, sequence)
                headers = message.headers or {}
                found.append(
                    Stored(
                        sequence,
                        message.subject or "",
                        headers.get(MSG_ID, ""),
                        message.data or b"",
                    )
                )
            return found
        finally:
            await client.close()

    return asyncio.run(read())


def delete_streams(url: str, subjects: Subjects) -> None:
    async def delete() -> None:
        client = await nats.connect(url)
        try:
            for name in (subjects.inputs_stream, subjects.events_stream):
                with contextlib.suppress(NotFoundError):
                    await client.jetstream().delete_stream(name)
        finally:
            await client.close()

    asyncio.run(delete())
