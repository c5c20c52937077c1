"""The journal's format version, stored in the journal so that an older trueup knows to stop.

It is a row of the tracking table, under a name no projection uses, written when the journal
is first opened: the events table (and so every journal position) is left as it was.

Format 2 adds the audit index (audit_index.py) beside every input appended. A journal of
format 1 is raised to 2 when this trueup opens it, so that no trueup of format 1 appends to
it any more without the index; the inputs it holds already are read in full by the audit.

Format 3 runs the projection per account partition (projections/partitions.py: trackers
reconciler.00 to reconciler.15, each with its snapshot, views and lease) where format 2 had
one tracker, "reconciler". Each partition takes over from where that one stopped; a trueup
of format 2 must not append any more, for its projection would emit again what the
partitions have.

Format 4 keys the marker stored beside each input (journal.py) by the input's receive time
and id, where earlier formats keyed it by the id alone: ids are random, so each marker went
to a random place in the events table's primary key, and every batch rewrote pages all
over it (an ingest into a 1,000,000-input journal took twice as long as into an empty one).
Which keys a journal's markers have is recorded in it (MARKERS_ROW) when it is first
appended to: a journal that already holds inputs keeps its markers keyed by id, so that a
capture ingested again still meets the markers of its first ingest. A trueup of format 3
must not append any more, for it would key its markers by id in a journal keyed by time.

Format 5 keys each emitted event's row by its ``at``, then its id, where earlier formats
keyed it by the id alone, for the same reason: a step's emitted events went to random
places in the primary key, and on a journal of 1,000,000 inputs they were a third of the
pages an ingest wrote to the log beyond what it writes into an empty journal. Nothing reads
an emitted event by its key (the id is in the row), so rows of both kinds live side by
side; a trueup of format 4 must not append any more, for the same event recorded again
under its old key would not clash with itself.

Format 6 keeps the audit index's owner rows (audit_index.py) in a table of their own,
keyed by the position's or order's id itself (owner_table.py), where earlier formats kept
them in the events table under a hash of the id: random again, and on a journal of
1,000,000 inputs most of what an ingest wrote beyond what it writes into an empty one.
A hash cannot be turned back into its id, so the rows already stored stay where they are:
whether a journal may hold some is recorded in it (OWNERS_ROW) when it is first appended
to, as for the markers, and an append into one that may reads both places. A trueup of
format 5 must not append any more, for it would not find the owners filed in the table.

Format 7 records which rules judged a journal's inputs before its first RulesSet (RULES_ROW):
the defaults of this trueup in a journal begun by it, and in one begun earlier the defaults
with no grace for a close's cause (``close_cause_grace_ms`` 0), as that trueup judged them.
Replayed with the wait, an older journal's close reported at once would wait again, and be
reported a second time at the first input past the grace after the upgrade. A trueup of
format 6 must not append any more: it would judge with the defaults this one reads as not in
force. (A journal begun by a trueup that had the wait but not this format, between the two,
is read as an older one: it was never released.)

No format was taken for the account's clock that an input stored after later ones keeps
(account_clock.py): the stored form's last field, which every trueup's read of the event's
fields passes over. An older trueup appending to the journal stores none, as before it.
"""

from contextlib import suppress

from eventsourcing.persistence import IntegrityError, ProcessRecorder
from eventsourcing.persistence import Tracking as Row

from trueup.adapters.store.location import StoreError

JOURNAL_FORMAT = 7  # the newest format this trueup reads and the one it writes
FORMAT_ROW = "__trueup_journal_format__"
MARKERS_ROW = "__trueup_marker_keys__"
ID_MARKERS = 1  # markers keyed by their input's id: a journal begun before format 4
TIMED_MARKERS = 2  # keyed by their input's receive time, then id
OWNERS_ROW = "__trueup_owner_rows__"
OWNERS_IN_EVENTS_TOO = 1  # a journal begun before format 6: some owner rows in the events
OWNER_TABLE_ONLY = 2
RULES_ROW = "__trueup_rules_before_any_recorded__"
RULES_BEFORE_CLOSE_CAUSE_GRACE = 1  # a journal begun before format 7
RULES_OF_THIS_TRUEUP = 2


def ensure_format(recorder: ProcessRecorder) -> int:
    """The journal's format, recorded first if it has none or an older one; StoreError if
    it is too new."""
    found = recorder.max_tracking_id(FORMAT_ROW)
    if found is None or found < JOURNAL_FORMAT:
        # Before the format is raised: what it holds was judged by an older trueup's rules.
        rules_before_any_recorded(recorder)
        with suppress(IntegrityError):  # another process opening the journal wrote it first
            recorder.insert_tracking(Row(FORMAT_ROW, JOURNAL_FORMAT))
        found = recorder.max_tracking_id(FORMAT_ROW)
    if found is not None and found > JOURNAL_FORMAT:
        raise StoreError(
            f"journal written by a newer trueup (journal format {found}; "
            f"this trueup reads up to {JOURNAL_FORMAT}): upgrade trueup"
        )
    return found or JOURNAL_FORMAT


def marker_keys(recorder: ProcessRecorder) -> int:
    """How this journal's markers are keyed (ID_MARKERS or TIMED_MARKERS), recorded first if
    it has not been: by time in a journal that holds nothing yet, else by id as before."""
    return _recorded_choice(recorder, MARKERS_ROW, TIMED_MARKERS, ID_MARKERS)


def owner_rows_kept(recorder: ProcessRecorder) -> int:
    """Where this journal's owner rows are (OWNER_TABLE_ONLY, or OWNERS_IN_EVENTS_TOO),
    recorded first if it has not been: in the table alone in a journal that holds nothing yet."""
    return _recorded_choice(recorder, OWNERS_ROW, OWNER_TABLE_ONLY, OWNERS_IN_EVENTS_TOO)


def rules_before_any_recorded(recorder: ProcessRecorder) -> int:
    """Which rules judged the inputs before the journal's first RulesSet
    (RULES_OF_THIS_TRUEUP or RULES_BEFORE_CLOSE_CAUSE_GRACE), recorded first if it has not
    been: this trueup's in a journal that holds nothing yet."""
    return _recorded_choice(
        recorder, RULES_ROW, RULES_OF_THIS_TRUEUP, RULES_BEFORE_CLOSE_CAUSE_GRACE
    )


def _recorded_choice(recorder: ProcessRecorder, row: str, if_empty: int, if_not: int) -> int:
    """The choice recorded under ``row``, recorded first if it has not been: ``if_empty``
    when the journal holds nothing yet, else ``if_not`` (also what a journal says that
    cannot record it)."""
    found = recorder.max_tracking_id(row)
    if found is None:
        chosen = if_not if recorder.max_notification_id() else if_empty
        with suppress(IntegrityError):  # another process appending first recorded it
            recorder.insert_tracking(Row(row, chosen))
        found = recorder.max_tracking_id(row)
    return found or if_not
