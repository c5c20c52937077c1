"""The streams trueup needs, created or brought up to date on start.

TRUEUP_INPUTS holds ``trueup.inputs.>`` and TRUEUP_EVENTS ``trueup.events.>``, on file
storage, each with a deduplication window: a message whose Nats-Msg-Id (the input id, or
the emitted event's id) was stored within the window is acknowledged and not stored again,
so a publisher that is not sure a message arrived simply sends it again.
"""

import logging

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from trueup.adapters.nats.subjects import Subjects

log = logging.getLogger("trueup.nats")
# Longer than NATS is expected to be away: a message sent before an outage whose ack was
# lost is sent again after it, and must still be recognised. The ids of one window are
# held in the server's memory, so not days.
DEDUP_WINDOW_S = 3600.0
# What a stream keeps: a week, time for a worker that was down over a weekend to catch up;
# the journal keeps everything for ever.
MAX_AGE_S = 7 * 24 * 3600.0
MSG_ID = "Nats-Msg-Id"


class StreamTaken(Exception):
    """A stream of the name trueup's prefix gives holds another prefix's subjects: another
    trueup's (``Prod`` and ``prod``, ``a.b`` and ``a_b`` name the same streams), never taken
    over. The message is one line, for the operator."""


def wanted(subjects: Subjects, dedup_window_s: float = DEDUP_WINDOW_S) -> list[StreamConfig]:
    """The configuration trueup sets on each of its streams."""
    return [
        StreamConfig(
            name=name,
            description=description,
            subjects=[subject],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=MAX_AGE_S,
            duplicate_window=dedup_window_s,
        )
        for name, subject, description in (
            (subjects.inputs_stream, subjects.all_inputs, "trueup: inputs, by venue and account"),
            (subjects.events_stream, subjects.all_events, "trueup: emitted events"),
        )
    ]


async def ensure_streams(
    js: JetStreamContext, subjects: Subjects, dedup_window_s: float = DEDUP_WINDOW_S
) -> dict[str, str]:
    """Create the streams missing, update those that differ; says which it did to which."""
    done: dict[str, str] = {}
    for config in wanted(subjects, dedup_window_s):
        name = config.name or ""
        try:
            current = (await js.stream_info(name)).config
        except NotFoundError:
            await js.add_stream(config)
            log.info("created stream %s (%s)", name, ", ".join(config.subjects or []))
            done[name] = "created"
            continue
        if set(current.subjects or ()) != set(config.subjects or ()):
            held = ", ".join(current.subjects or ())
            raise StreamTaken(
                f"the NATS stream {name} holds {held}, not {', '.join(config.subjects or ())}: "
                "another trueup's, whose prefix differs from this one's only in case or in "
                "'.' for '_'; give one of them another --nats-prefix"
            )
        # Only what trueup sets is changed: replicas or placement an operator chose stay.
        ours = {k: v for k, v in config.as_dict().items() if k in _OURS}
        theirs = {k: v for k, v in current.as_dict().items() if k in _OURS}
        if ours == theirs:
            done[name] = "unchanged"
            continue
        await js.update_stream(current.evolve(**_fields(config)))
        log.info("updated stream %s: %s", name, _changes(theirs, ours))
        done[name] = "updated"
    return done


# What trueup keeps up to date. Storage and retention are set at creation only: JetStream
# cannot change them on an existing stream.
_OURS = ("subjects", "discard", "max_age", "duplicate_window")


def _fields(config: StreamConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in _OURS}


def _changes(before: dict[str, object], after: dict[str, object]) -> str:
    return ", ".join(
        f"{name} {before.get(name)!r} -> {after[name]!r}"
        for name in after
        if before.get(name) != after[name]
    )
