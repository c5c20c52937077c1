"""``trueup execute``: the executor of one venue account as a process, until SIGINT or
SIGTERM, supervised as every follower is (runners/supervised.py). Run several: one holds the
account's executor lease and works, the others stand by."""

import threading

from trueup.application.executor import Executor, log
from trueup.runners.supervised import run_supervised


def run_executor(executor: Executor, poll_ms: int, stop: threading.Event) -> None:
    """Step every ``poll_ms`` until ``stop`` is set; back off while the venue asks us to
    wait, or a step fails."""
    run_supervised(executor, poll_ms, stop, log, "executor")
