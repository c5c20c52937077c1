"""The ``--rules`` file of a long-running process, read again when it changes or on SIGHUP;
its runner puts each new set of rules in force (TrueupService.put_rules_in_force)."""

import logging
import os
import threading
from pathlib import Path

from trueup.domain.rules.config import RuleConfig
from trueup.runners.settings import load_rules
from trueup.runners.usage import UsageError

log = logging.getLogger("trueup.rules")

Stamp = tuple[int, int, int] | None


class RulesFile:
    """A rules file and the rules it last gave; ``changed`` says when they change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = _stamp(path)
        self.rules = load_rules(path)
        self._reload = threading.Event()

    def reload(self) -> None:
        """Read the file again at the next ``changed``, even if it looks untouched (SIGHUP)."""
        self._reload.set()

    def changed(self) -> RuleConfig | None:
        """The file's new rules, if it changed since last asked; a broken file is reported
        and the rules in force are kept: a typo must not stop a running process."""
        stamp = _stamp(self.path)
        if stamp == self._stamp and not self._reload.is_set():
            return None
        self._reload.clear()
        self._stamp = stamp
        try:
            rules = load_rules(self.path)
        except UsageError as error:
            log.warning("%s; the rules in force stay", error)
            return None
        if rules == self.rules:
            return None
        self.rules = rules
        return rules


def _stamp(path: Path) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size, status.st_ino)
