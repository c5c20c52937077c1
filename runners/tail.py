"""``trueup tail``: the emitted events on NATS, printed as ``trueup events`` prints them,
as they come, until Ctrl-C.

It reads TRUEUP_EVENTS through an ephemeral ordered consumer: nothing is acknowledged,
nothing is left behind on the server, and a gap (NATS restarting) is filled in by the
client starting the consumer again from the last event it printed. The number leading each
line is the event's sequence in the stream, not a journal position.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy

from trueup.adapters.nats.connection import connect, require_jetstream, shown
from trueup.adapters.nats.streams import ensure_streams
from trueup.adapters.nats.subjects import Subjects
from trueup.adapters.store.codec import Undecodable, UnknownType, decode_emitted
from trueup.runners import output
from trueup.runners.usage import EXIT_OK

log = logging.getLogger("trueup.tail")


def tail(args: argparse.Namespace) -> int:
    """Print the events the filters let through until SIGINT or SIGTERM; exit 0."""
    subjects = Subjects(args.nats_prefix)
    subject = subjects.events_filter(args.venue, args.account, args.type)
    asyncio.run(_follow(args.nats, subjects, subject, from_start=args.all, as_json=args.json))
    return EXIT_OK


async def _follow(
    url: str, subjects: Subjects, subject: str, *, from_start: bool, as_json: bool
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    from trueup.adapters.nats.connection import connect_once

    # Refused in one line if nothing answers or JetStream is off; after that, NATS going
    # away only pauses the tail.
    await (await connect_once(url, "trueup tail")).close()
    client = await connect(url, "trueup tail")
    try:
        await require_jetstream(client, url)
        js = client.jetstream()
        # The stream may not exist before the first runner starts: made here, so a tail
        # started first waits for events instead of failing.
        await ensure_streams(js, subjects)
        subscription = await js.subscribe(
            subject,
            stream=subjects.events_stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL if from_start else DeliverPolicy.NEW,
        )
        print(f"following {subject} on {shown(url)} (Ctrl-C stops)", file=sys.stderr, flush=True)
        stopping = asyncio.create_task(stop.wait())
        while not stop.is_set():
            receiving = asyncio.create_task(subscription.next_msg(timeout=None))
            done, _ = await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if receiving not in done:
                receiving.cancel()
                # Ended by the cancel, or by the close below: either way it is done with.
                with contextlib.suppress(asyncio.CancelledError, nats.errors.Error):
                    await receiving
                break
            _print(receiving.result(), as_json=as_json)
        await subscription.unsubscribe()
    finally:
        await client.close()


def _print(message: Msg, *, as_json: bool) -> None:
    sequence = message.metadata.sequence.stream
    try:
        event = decode_emitted(message.data)
    except (UnknownType, Undecodable) as error:
        # Written by a newer trueup, or not by trueup at all: said, and the tail goes on.
        print(f"trueup: skipped {message.subject} #{sequence}: {error}", file=sys.stderr)
        return
    output.print_event(sequence, event, as_json=as_json)
    sys.stdout.flush()
