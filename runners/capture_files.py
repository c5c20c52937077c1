"""Capture files as `trueup ingest` reads them: a path, or ``-`` for standard input, each
gzip-compressed or not (told by its first bytes, whatever its name).

A capture that cannot be read to its end (a gzip cut short, say) ends the ingest where it
breaks: the lines before are ingested, those after and the captures after it are not, and
what went wrong is kept for the command to say once it has reported what it ingested.
"""

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from trueup.runners.usage import UsageError

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
# gzip keeps the length of what it holds in its last 4 bytes, modulo 2**32.
_ISIZE_BYTES = 4


def check(paths: list[Path]) -> None:
    """Refuse the whole ingest, before any of it, if a capture cannot be read.

    Anything readable but a directory will do: a pipe or /dev/stdin as well as a file.
    """
    if sum(1 for path in paths if _is_stdin(path)) > 1:
        raise UsageError(f"standard input ({STDIN}) can be read only once")
    files = [path for path in paths if not _is_stdin(path)]
    missing = [str(path) for path in files if not _exists(path)]
    if missing:
        raise UsageError(f"no such capture file: {', '.join(missing)}")
    for path in files:
        if path.is_dir():
            raise UsageError(f"capture {path} is a directory, not a file")
        if not os.access(path, os.R_OK):
            raise UsageError(f"cannot read capture file {path}: permission denied")


class Captures:
    """Each capture's lines in turn, decompressed if gzip'd, the file open only while they
    are read; ``unread`` says which one could not be read to its end, and why."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.unread: str | None = None

    def __iter__(self) -> Iterator[Iterable[bytes]]:
        for path in self.paths:
            if self.unread is not None:
                return
            yield self._lines(path)

    def _lines(self, path: Path) -> Iterator[bytes]:
        try:
            with _opened(path) as stream:
                yield from stream
        except (OSError, EOFError, zlib.error) as error:
            self.unread = f"capture {_shown(path)} could not be read to its end: {_reason(error)}"

    def check_read(self) -> None:
        """UsageError if a capture could not be read to its end (every line before was)."""
        if self.unread is not None:
            raise UsageError(f"{self.unread}; every line before it was ingested")


def size(path: Path) -> int:
    """The bytes of lines ``path`` holds (a gzip's once decompressed); 0 if not known
    beforehand (standard input, a pipe)."""
    if _is_stdin(path) or not path.is_file():
        return 0
    stored = path.stat().st_size
    with path.open("rb") as file:
        if file.read(len(GZIP_MAGIC)) != GZIP_MAGIC or stored < len(GZIP_MAGIC) + _ISIZE_BYTES:
            return stored
        file.seek(-_ISIZE_BYTES, io.SEEK_END)
        held = int.from_bytes(file.read(_ISIZE_BYTES), "little")
    # The count is its last member's (of a gzip of several), modulo 4 GiB: what is stored is
    # the floor when it says less.
    return max(held, stored)


@contextmanager
def _opened(path: Path) -> Iterator[Iterable[bytes]]:
    """The capture's bytes: a gzip'd one's decompressed as they are read."""
    with ExitStack() as stack:
        raw = _stdin() if _is_stdin(path) else stack.enter_context(path.open("rb"))
        if raw.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC:
            yield stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        else:
            yield raw


def _stdin() -> io.BufferedReader:
    buffer = sys.stdin.buffer if sys.stdin is not None else None
    if not isinstance(buffer, io.BufferedReader):
        raise OSError("this process has no standard input to read")
    return buffer


def _reason(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "it ends before its gzip stream does (cut short?)"
    if isinstance(error, gzip.BadGzipFile | zlib.error):
        return f"its gzip stream is damaged ({error})"
    assert isinstance(error, OSError)
    return error.strerror or str(error)


def _shown(path: Path) -> str:
    return "on standard input" if _is_stdin(path) else str(path)


def _is_stdin(path: Path) -> bool:
    return str(path) == STDIN


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long, say: nothing is there to read
        return False
