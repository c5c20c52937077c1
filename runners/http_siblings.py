"""The serving processes of one ``trueup serve --workers N``, as they know each other: in a
directory of the parent's making (mode 0700), each listens on a Unix socket of its own,
``<pid>.sock`` (the whole API, for its siblings only), and says which partitions of the
projection it runs in ``<pid>.held``, rewritten whenever that changes.

A POST reaching a process that runs none of the partitions is forwarded to the one that runs
them all (runners/http_forwarding.py), and a process that runs fewer partitions than a
sibling lets them go to it: one process runs the projection, and every write goes to it.
"""

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from trueup.projections.partitions import ALL

_SOCKET = ".sock"
_HELD = ".held"


@dataclass(frozen=True)
class Sibling:
    """Another serving process, as it last said: its id, its socket, the partitions it runs."""

    pid: int
    socket_path: str
    held: frozenset[int]


class Siblings:
    """The directory the serving processes meet in, seen from the process ``pid``."""

    def __init__(self, directory: str, pid: int) -> None:
        self.directory = Path(directory)
        self.pid = pid
        # What this process last said it runs (None: nothing yet), read from any thread.
        self.said: frozenset[int] | None = None

    def listen(self) -> socket.socket:
        """This process's own socket, bound and listening, for its siblings' requests."""
        path = self.directory / f"{self.pid}{_SOCKET}"
        path.unlink(missing_ok=True)  # a pid of a process long gone, reused
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        sock.listen(128)
        return sock

    def say_held(self, held: tuple[int, ...]) -> None:
        """Tell the siblings which partitions this process runs now (written only when it
        changed; replaced whole, so a reader never sees half of it)."""
        now = frozenset(held)
        if now == self.said:
            return
        target = self.directory / f"{self.pid}{_HELD}"
        draft = target.with_suffix(".draft")
        draft.write_text(",".join(map(str, sorted(now))))
        os.replace(draft, target)
        self.said = now

    def others(self) -> list[Sibling]:
        """The other processes, as each last said (one killed may still be named until the
        parent forgets it: a request to it fails, and its sender does without)."""
        found = []
        for entry in self.directory.glob(f"*{_HELD}"):
            pid = int(entry.name.removesuffix(_HELD))
            if pid == self.pid:
                continue
            try:
                text = entry.read_text()
            except FileNotFoundError:
                continue  # forgotten meanwhile
            held = frozenset(int(n) for n in text.split(",") if n)
            found.append(Sibling(pid, str(self.directory / f"{pid}{_SOCKET}"), held))
        return found

    def running_all(self) -> Sibling | None:
        """The other process that runs every partition, if one says it does."""
        return next((s for s in self.others() if s.held == frozenset(ALL)), None)

    def yields_to_another(self, held: tuple[int, ...]) -> bool:
        """Whether this process, running some partitions (``held``) but not all, should let
        them go to a sibling that runs more."""
        if not held or len(held) == len(ALL):
            return False
        # So that one process comes to run them all; of two running as many, the lower pid.
        mine = (len(held), -self.pid)
        return any((len(s.held), -s.pid) > mine for s in self.others() if s.held)


def forget(directory: str, pid: int) -> None:
    """A process that has ended: its socket and what it said go."""
    for suffix in (_SOCKET, _HELD):
        (Path(directory) / f"{pid}{suffix}").unlink(missing_ok=True)
