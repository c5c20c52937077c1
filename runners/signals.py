"""How a long-running command hears SIGINT, SIGTERM and SIGHUP.

Python runs a signal handler in the main thread between two bytecodes, possibly while that
thread holds a lock: inside ``threading.Event.wait``, which a worker's poll loop is in most
of the time, the event's own. A handler that took that lock (``Event.set`` does) would
wait for itself for ever, and the process would never stop. So the handlers here only
write the signal's number to a pipe, and a thread of their own reads it and acts.
"""

import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from trueup.runners.rules_file import RulesFile

log = logging.getLogger("trueup.signals")

Action = Callable[[signal.Signals], None]

# Set by a process that starts a long-running trueup command of its own (an ingest, its
# detector process) to its pid: the command stops, as on SIGTERM, when that process dies.
STOP_WITH_PARENT = "TRUEUP_STOP_WITH_PARENT"
PR_SET_PDEATHSIG = 1  # prctl(2)


class SignalRelay:
    """The process's signal handlers: each signal's action, run in the relay's thread."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        # A handler must never block: a pipe full of unread signals drops the newest.
        os.set_blocking(self._write, False)
        self._actions: dict[signal.Signals, Action] = {}
        threading.Thread(target=self._relay, name="trueup-signals", daemon=True).start()

    def on(self, signum: signal.Signals, action: Action) -> None:
        """Run ``action`` whenever ``signum`` arrives, in place of what it did before."""
        self._actions[signum] = action
        signal.signal(signum, self._heard)

    def _heard(self, signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, bytes((signum,)))

    def _relay(self) -> None:
        while heard := os.read(self._read, 64):
            for number in heard:
                signum = signal.Signals(number)
                action = self._actions.get(signum)
                if action is None:
                    continue
                try:
                    action(signum)
                except Exception:  # the relay must outlive one failed action
                    log.exception("acting on %s", signum.name)


_relay: SignalRelay | None = None


def relay() -> SignalRelay:
    """The process's one relay (a thread and a pipe), made at its first use."""
    global _relay
    if _relay is None:
        _relay = SignalRelay()
    return _relay


class Terminated(BaseException):
    """SIGTERM, raised where the main thread is, as Python raises KeyboardInterrupt on
    SIGINT (``sigterm_raises``)."""


def _raise_terminated(_signum: int, _frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises ``Terminated`` while in this block: a command that stores in
    transactions (an ingest) stops as on Ctrl-C, says what it stored, and lets its leases go."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, so a long-running command finishes its batch and
    exits. SIGHUP, unless something reloads on it, is logged and ignored."""
    stop = threading.Event()

    def stopping(signum: signal.Signals) -> None:
        log.info("stopping on %s", signum.name)
        stop.set()

    signals = relay()
    signals.on(signal.SIGINT, stopping)
    signals.on(signal.SIGTERM, stopping)
    if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        # Sent to reload rules, it must not kill a process that has no rules file to read.
        signals.on(signal.SIGHUP, _sighup_ignored)
    parent = os.environ.get(STOP_WITH_PARENT)
    if parent is not None and not _stop_with(int(parent)):
        log.info("stopping: the process that started this one (pid %s) has gone", parent)
        stop.set()
    return stop


def _stop_with(parent: int) -> bool:
    """Have SIGTERM sent to this process when ``parent`` dies (Linux); False if it has died
    already. Asked here, not between fork and exec in the parent, where running Python
    beside the parent's other threads (its WAL checkpoints) may deadlock."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    # Re-parented (to init or a subreaper) if it died before the signal was asked for.
    return os.getppid() == parent


def reload_on_sighup(rules_file: RulesFile | None) -> None:
    """SIGHUP makes a long-running process read its rules file again (without one, see
    stop_on_signals)."""
    if rules_file is not None:
        relay().on(signal.SIGHUP, lambda _signum: rules_file.reload())


def _sighup_ignored(_signum: signal.Signals) -> None:
    log.warning("SIGHUP: no --rules file to read again; the rules in force stay")
