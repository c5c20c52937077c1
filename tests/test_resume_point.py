"""From when a feed's sync asks the venue for the fills and ended orders its stream pushed
to nobody: after a reconnect, since the last whole sync; before any, since the stream was
first opened; each less a margin for a push lost just before."""

from trueup.adapters.resume_point import OVERLAP_MS, ResumePoint

T0 = 1_762_000_000_000


def test_a_first_connection_asks_for_nothing() -> None:
    resume = ResumePoint()
    resume.reconnecting(T0)
    assert resume.since is None


def test_a_reconnect_after_a_whole_sync_asks_from_where_that_sync_began() -> None:
    resume = ResumePoint()
    resume.reconnecting(T0)
    resume.synced(T0 + 1_000, None)
    resume.reconnecting(T0 + 60_000)
    assert resume.since == T0 + 1_000 - OVERLAP_MS


def test_a_reconnect_before_any_whole_sync_asks_from_the_first_connection() -> None:
    """The stream showed a position, then dropped before its first sync: a close while it
    was down must be judged by its fill, which only this ask brings."""
    resume = ResumePoint()
    resume.reconnecting(T0)
    resume.reconnecting(T0 + 5_000)
    assert resume.since == T0 - OVERLAP_MS


def test_the_sync_that_asked_is_done_with_it_unless_a_newer_reconnect_asked_more() -> None:
    resume = ResumePoint()
    resume.reconnecting(T0)
    resume.reconnecting(T0 + 5_000)
    asked = resume.since
    resume.synced(T0 + 6_000, asked)
    assert resume.since is None
    resume.reconnecting(T0 + 7_000)
    newer = resume.since
    resume.synced(T0 + 8_000, asked)  # a sync that began before that reconnect
    assert resume.since == newer == T0 + 6_000 - OVERLAP_MS
