"""A long-running command stops on SIGINT or SIGTERM, and reads its rules again on SIGHUP,
whatever its main thread was doing when the signal came: never waiting on itself."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The main thread holds the lock of the event the signal's work sets, as it does in every
# poll of a worker (``stop.wait``, between its wake and its return) and while a rules file's
# reload flag is cleared: the signal comes then. A handler that set the event itself would
# wait for that lock for ever, and so would the process.
STOP_WHILE_WAITING = """
    import os, signal
    from trueup.runners.signals import stop_on_signals

    stop = stop_on_signals()
    with stop._cond:
        os.kill(os.getpid(), signal.{signal})
    print("stopped" if stop.wait(10) else "still running")
"""
RELOAD_WHILE_CLEARING = """
    import os, signal, sys
    from pathlib import Path
    from trueup.runners.rules_file import RulesFile
    from trueup.runners.signals import reload_on_sighup

    rules_file = RulesFile(Path(sys.argv[1]))
    reload_on_sighup(rules_file)
    with rules_file._reload._cond:
        os.kill(os.getpid(), signal.SIGHUP)
    for _ in range(1000):
        if rules_file._reload.wait(0.01):
            print("reloading")
            break
"""


def run_script(script: str, *argv: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *argv],
        capture_output=True,
        text=True,
        timeout=30,  # what a deadlock would run into: the child is then killed
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip()


@pytest.mark.parametrize("signal", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_that_comes_while_the_main_thread_waits_stops_the_process(
    signal: str,
) -> None:
    assert run_script(STOP_WHILE_WAITING.format(signal=signal)) == "stopped"


def test_a_sighup_that_comes_while_the_reload_flag_is_cleared_reloads_the_rules(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("cooldown_ms = 60000\n")
    assert run_script(RELOAD_WHILE_CLEARING, str(rules)) == "reloading"
