"""Files and directories made unusable for a test, as they would be for a user."""

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """A file or directory made read-only, even for root (whom mode bits do not stop): as root,
    immutable (chattr +i)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)


# The capabilities that let root past mode bits; without them root meets them as a user does.
_ROOT_OVERRIDES = "-dac_override,-dac_read_search"


def as_a_user(command: list[str]) -> list[str]:
    """``command`` run so that mode bits stop it: as root, without the capabilities that
    override them (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return command
    return [
        "setpriv",
        f"--inh-caps={_ROOT_OVERRIDES}",
        f"--bounding-set={_ROOT_OVERRIDES}",
        "--",
        *command,
    ]
