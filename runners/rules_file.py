"""The ``--rules`` file of a long-running process, read again when it changes or on SIGHUP;
its runner puts each new set of rules in force (TrueupService.put_rules_in_force)."""

import logging
import os
import threading
import time
from pathlib import Path

from trueup.domain.rules.config import RuleConfig
from trueup.runners.settings import load_rules
from trueup.runners.usage import UsageError

log = logging.getLogger("trueup.rules")

Stamp = tuple[int, int, int] | None
SETTLE_S = 0.2


class RulesFile:
    """A rules file and the rules it last gave; ``changed`` says when they change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = _stamp(path)
        self.rules = load_rules(path)
        self._reload = threading.Event()
        # A change seen but not yet read: (its stamp, when first seen).
        self._pending: tuple[Stamp, float] | None = None

    def reload(self) -> None:
        """Read the file again at the next ``changed``, even if it looks untouched (SIGHUP)."""
        self._reload.set()

    def changed(self) -> RuleConfig | None:
        """The file's new rules, if it changed since last asked, and its rules, the same or
        not, after a SIGHUP (another process may have put others in force since: the runner
        compares them with the journal's); a broken file is reported and the rules in
        force are kept: a typo must not stop a running process.

        A change is read once the file has stayed as it is for SETTLE_S: an editor that
        empties a file before writing it must not put the defaults in force meanwhile.
        """
        stamp = _stamp(self.path)
        if self._reload.is_set():
            self._reload.clear()
            return self._read(stamp, always=True)
        if stamp == self._stamp:
            self._pending = None
            return None
        now = time.monotonic()
        if self._pending is None or self._pending[0] != stamp:
            self._pending = (stamp, now)
            return None
        if now - self._pending[1] < SETTLE_S:
            return None
        return self._read(stamp)

    def _read(self, stamp: Stamp, *, always: bool = False) -> RuleConfig | None:
        self._stamp, self._pending = stamp, None
        try:
            rules = load_rules(self.path)
        except UsageError as error:
            log.warning("%s; the rules in force stay", error)
            return None
        if rules == self.rules and not always:
            return None
        self.rules = rules
        return rules


def _stamp(path: Path) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)
