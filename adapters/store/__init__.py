"""The journal: trueup's events on the eventsourcing library, in SQLite or PostgreSQL."""
