"""eventsourcing's PostgreSQL process recorder, each call made once: the Journal does the retrying.

The library retries every call ten times, each waiting up to the pool's connect timeout:
a dead server would hold an operation for most of a minute before anyone heard of it. The
Journal retries instead, with backoff, a warning per attempt, and a fresh pool each time.
"""

from inspect import unwrap

from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)


class SingleAttemptPostgresRecorder(PostgresProcessRecorder):
    """The library's recorder with its retry decorators taken off."""

    insert_events = unwrap(PostgresApplicationRecorder.insert_events)
    select_events = unwrap(PostgresAggregateRecorder.select_events)
    select_notifications = unwrap(PostgresApplicationRecorder.select_notifications)
    max_notification_id = unwrap(PostgresApplicationRecorder.max_notification_id)
    insert_tracking = unwrap(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = unwrap(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = unwrap(PostgresTrackingRecorder.has_tracking_id)
