"""What the live runner says about its own connection to a venue, as capture lines.

A reconnect is an input like any other, so replaying a recorded session emits the same
WS_RECONNECT events the live run did.
"""

from trueup.adapters.envelope import Envelope
from trueup.adapters.payload import Payload
from trueup.adapters.wire_errors import UnknownInput
from trueup.domain.errors import MalformedInput, shown
from trueup.domain.events import InputEvent, StreamConnected, StreamDown, StreamReconnected

EVENTS = ("connected", "down", "reconnected")
# The streams the live runners say they lost and rebuilt: a venue's private stream (Bybit,
# Aster), its websocket (Hyperliquid, ccxt's watch methods), ccxt's polled REST, and the
# public prices of --prices.
STREAMS = ("private", "ws", "rest", "prices")


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
    if event not in EVENTS:
        raise UnknownInput(f"data.event: {shown(event)} is not one of {list(EVENTS)}")
    stream = data.choice("stream", STREAMS)
    if event == "down":
        return StreamDown(**envelope.header(), stream=stream, reason=data.text("reason"))
    if event == "connected":
        return StreamConnected(**envelope.header(), stream=stream)
    attempt = data.integer("attempt")
    if attempt < 1:
        raise MalformedInput(f"{data.where}.attempt: counted from 1, got {attempt}")
    return StreamReconnected(
        **envelope.header(), stream=stream, reason=data.text("reason"), attempt=attempt
    )
