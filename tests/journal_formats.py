"""A journal made to look as an older trueup left it: its format recorded as that
trueup's, and the rows later formats record on first opening taken away."""

import sqlite3

import psycopg

from trueup.adapters.store.journal_format import FORMAT_ROW, RULES_ROW

# The rows a format records when it first opens a journal, by the format that added them.
ADDED_BY = {7: (RULES_ROW,)}


def as_format(store_url: str, number: int) -> None:
    """Record the journal at ``store_url`` as of format ``number``, behind trueup's back."""
    dropped = [FORMAT_ROW, *(row for f, rows in ADDED_BY.items() if f > number for row in rows)]
    if store_url.startswith("sqlite://"):
        with sqlite3.connect(store_url.removeprefix("sqlite://")) as connection:
            for row in dropped:
                connection.execute("DELETE FROM tracking WHERE application_name = ?", (row,))
            connection.execute("INSERT INTO tracking VALUES (?, ?)", (FORMAT_ROW, number))
        return
    with psycopg.connect(store_url, autocommit=True) as connection:
        for row in dropped:
            connection.execute("DELETE FROM trueup_tracking WHERE application_name = %s", (row,))
        connection.execute("INSERT INTO trueup_tracking VALUES (%s, %s)", (FORMAT_ROW, number))
