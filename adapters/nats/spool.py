"""The runner's spool: messages for NATS, in a file, in the order they were received.

Every message the runner publishes is appended here first and taken off only once
JetStream has acknowledged it, so a NATS that is away (or a runner that stops before NATS
is back) loses nothing: the next publisher, in this run or the next, sends what is left,
in order. A line is ``<subject> <Nats-Msg-Id> <payload>``; the payload is one line of JSON.
The offset of the first message not yet acknowledged is kept in ``<spool>.offset``.

The spool is bounded: when what waits in it would pass ``max_bytes``, further messages are
not spooled, and the log says so loudly. The journal stays the source of truth; NATS then
misses those messages, and the feed is never held up.
"""

import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("trueup.nats.spool")
# How much is read from the file at a time: a page of messages.
READ_BYTES = 1 << 20


class SpoolBusy(Exception):
    """Another process is using the spool (a second runner for the same account)."""


class Spooled(NamedTuple):
    """One message waiting, and the offset just past it."""

    subject: str
    msg_id: str
    payload: bytes
    end: int


class Spool:
    """An append-only file of messages: the writer appends, the publisher takes them off."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.dropped = 0  # messages refused since the spool last had room
        self.dropped_total = 0
        self._lock = threading.Lock()
        self._locked = _lock_file(path.with_name(path.name + ".lock"))
        self._offset_path = path.with_name(path.name + ".offset")
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        self._offset = min(_read_offset(self._offset_path), self._size)
        self._drop_partial_tail()

    @property
    def waiting_bytes(self) -> int:
        """What is spooled and not yet acknowledged."""
        return self._size - self._offset

    def append(self, subject: str, msg_id: str, payload: bytes) -> bool:
        """Spool one message; False (and said loudly) when the spool is full."""
        line = b"%s %s %s\n" % (subject.encode(), msg_id.encode(), payload)
        with self._lock:
            if self.waiting_bytes + len(line) > self.max_bytes:
                self._refuse()
                return False
            if self.dropped:
                log.error(
                    "the NATS spool %s has room again: %d message(s) were not published to "
                    "NATS while it was full; the journal has them",
                    self.path,
                    self.dropped,
                )
                self.dropped = 0
            os.write(self._fd, line)
            self._size += len(line)
        return True

    def waiting(self) -> list[Spooled]:
        """The messages at the head of the spool (a page of them), oldest first."""
        with self._lock:
            offset, size = self._offset, self._size
        data = os.pread(self._fd, min(READ_BYTES, size - offset), offset)
        found: list[Spooled] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            subject, msg_id, payload = _fields(data[start:end])
            found.append(Spooled(subject, msg_id, payload, offset + end + 1))
            start = end + 1
        if not found and size - offset > READ_BYTES:
            # One message longer than a page: read it whole.
            line = os.pread(self._fd, size - offset, offset).split(b"\n", 1)[0]
            subject, msg_id, payload = _fields(line)
            found.append(Spooled(subject, msg_id, payload, offset + len(line) + 1))
        return found

    def acknowledged(self, end: int) -> None:
        """Everything before offset ``end`` is in JetStream: take it off the spool."""
        with self._lock:
            self._offset = end
            if self._offset == self._size:
                # Caught up: the file starts again, so a spool that keeps up stays small.
                # The offset is written first: a crash between the two then sends the
                # spool again (harmless, within the dedup window), never skips any of it.
                _write_offset(self._offset_path, 0)
                os.ftruncate(self._fd, 0)
                self._offset = self._size = 0
                return
            if self._offset >= self.max_bytes // 2:
                self._compact()
                return
        _write_offset(self._offset_path, end)

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._locked)

    def _refuse(self) -> None:
        if not self.dropped:
            log.error(
                "the NATS spool %s is full (%d bytes wait for NATS, --nats-spool-mb): "
                "messages are no longer published to NATS until it drains; the journal "
                "keeps every input",
                self.path,
                self.waiting_bytes,
            )
        self.dropped += 1
        self.dropped_total += 1

    def _compact(self) -> None:
        """Drop what was acknowledged from the file's head (under the lock): the rest is
        written to a new file that then replaces the spool, so a crash keeps one whole."""
        rest = os.pread(self._fd, self._size - self._offset, self._offset)
        fresh = self.path.with_name(self.path.name + ".compacting")
        fresh.write_bytes(rest)
        _write_offset(self._offset_path, 0)
        fresh.replace(self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self._offset, self._size = 0, len(rest)

    def _drop_partial_tail(self) -> None:
        """A runner killed mid-write leaves half a line: it was never acknowledged to
        anyone, and would garble the next message appended."""
        if self._size == 0:
            return
        tail = os.pread(self._fd, 1, self._size - 1)
        if tail == b"\n":
            return
        data = os.pread(self._fd, self._size - self._offset, self._offset)
        keep = data.rfind(b"\n") + 1
        os.ftruncate(self._fd, self._offset + keep)
        self._size = self._offset + keep
        log.warning("dropped a half-written message at the end of the spool %s", self.path)


def _fields(line: bytes) -> tuple[str, str, bytes]:
    subject, msg_id, payload = line.split(b" ", 2)
    return subject.decode(), msg_id.decode(), payload


def _lock_file(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpoolBusy(f"another trueup process is using the NATS spool {path.stem}") from None
    return fd


def _read_offset(path: Path) -> int:
    try:
        return max(0, int(path.read_text().strip() or 0))
    except (FileNotFoundError, ValueError):
        return 0


def _write_offset(path: Path, offset: int) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(str(offset))
    partial.replace(path)
