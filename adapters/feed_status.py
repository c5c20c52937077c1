"""What the live runner says about its own connection to a venue, as capture lines.

A reconnect is an input like any other, so replaying a recorded session emits the same
WS_RECONNECT events the live run did.
"""

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import UnknownInput
from trueup.domain.errors import shown
from trueup.domain.events import InputEvent, StreamConnected, StreamDown, StreamReconnected

EVENTS = ("connected", "down", "reconnected")


def reconnected(
    at: int, venue: str, account: str, *, stream: str, reason: str, attempt: int
) -> dict[str, object]:
    """The capture record of a stream rebuilt after it died."""
    data = {"event": "reconnected", "stream": stream, "reason": reason, "attempt": attempt}
    return {"at": at, "venue": venue, "account": account, "channel": "feed", "data": data}


def connected(at: int, venue: str, account: str, *, stream: str) -> dict[str, object]:
    """The capture record of a run's first stream up: no reconnect, but nobody listened
    before it (a run stopped, or killed), so it is no more caught up than a rebuilt one."""
    data = {"event": "connected", "stream": stream}
    return {"at": at, "venue": venue, "account": account, "channel": "feed", "data": data}


def down(at: int, venue: str, account: str, *, stream: str, reason: str) -> dict[str, object]:
    """The capture record of a stream found dead, before any attempt to rebuild it."""
    data = {"event": "down", "stream": stream, "reason": reason}
    return {"at": at, "venue": venue, "account": account, "channel": "feed", "data": data}


def decode(envelope: Envelope, data: Payload) -> InputEvent:
    event = data.text("event")
    if event == "down":
        return StreamDown(
            **envelope.header(), stream=data.text("stream"), reason=data.text("reason")
        )
    if event == "connected":
        return StreamConnected(**envelope.header(), stream=data.text("stream"))
    if event != "reconnected":
        raise UnknownInput(f"data.event: {shown(event)} is not one of {list(EVENTS)}")
    return StreamReconnected(
        **envelope.header(),
        stream=data.text("stream"),
        reason=data.text("reason"),
        attempt=data.integer("attempt"),
    )
