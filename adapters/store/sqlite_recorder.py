"""eventsourcing's SQLite process recorder, with the persisted views written in the
transaction that records a projection's tracking position (view_table.py)."""

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

from trueup.adapters.store import view_table


class ViewsSQLiteRecorder(SQLiteProcessRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *view_table.SQLITE.create]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        returning = super()._insert_events(c, stored_events, **kwargs)
        # A partitioned projection records every partition's position at once.
        for tracking in kwargs.get("trackings", ()):
            self._insert_tracking(c, tracking)
        for views in kwargs.get("views", ()):
            view_table.write(c, view_table.SQLITE, views)
        return returning
