"""The runner's spool: messages wait in order, survive a restart, are bounded (loudly), and
one runner at a time uses one."""

import logging
from pathlib import Path

import pytest

from trueup.adapters.nats.spool import Spool, SpoolBusy


def test_messages_wait_in_order_until_acknowledged_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    spool = Spool(path, max_bytes=1 << 20)
    for n in range(3):
        assert spool.append("trueup.inputs.bybit.main", f"id-{n}", b'{"n": %d}' % n)
    first = spool.waiting()[0]
    spool.acknowledged(first.end)
    spool.close()

    again = Spool(path, max_bytes=1 << 20)
    assert [(m.msg_id, m.payload) for m in again.waiting()] == [
        ("id-1", b'{"n": 1}'),
        ("id-2", b'{"n": 2}'),
    ]
    again.acknowledged(again.waiting()[-1].end)
    assert again.waiting_bytes == 0 and path.stat().st_size == 0  # caught up: emptied


def test_a_full_spool_refuses_more_says_so_loudly_and_takes_more_once_drained(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="trueup.nats.spool")  # whatever ran before set
    spool = Spool(tmp_path / "spool", max_bytes=100)
    accepted = [spool.append("s", f"id-{n}", b"x" * 20) for n in range(5)]

    assert accepted == [True, True, True, False, False]
    assert spool.dropped_total == 2
    assert any(r.levelno == logging.ERROR and "is full" in r.message for r in caplog.records)
    spool.acknowledged(spool.waiting()[-1].end)
    assert spool.append("s", "id-5", b"x")
    assert any("2 message(s) were not published" in r.message for r in caplog.records)


def test_a_half_written_message_left_by_a_crash_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "spool"
    path.write_bytes(b's id-0 {}\ns id-1 {"trunc')
    spool = Spool(path, max_bytes=1 << 20)
    assert [m.msg_id for m in spool.waiting()] == ["id-0"]


def test_a_second_runner_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    first = Spool(tmp_path / "spool", max_bytes=1 << 20)
    with pytest.raises(SpoolBusy):
        Spool(tmp_path / "spool", max_bytes=1 << 20)
    first.close()
