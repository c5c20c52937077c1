"""A real headless browser for the page tests: Debian's chromium (``make test`` installs it),
or the binary TRUEUP_CHROMIUM names. Never a download."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass(frozen=True)
class Loaded:
    """A page as the browser left it: its DOM once scripts ran, and what it logged."""

    dom: str
    log: str

    @property
    def console_errors(self) -> list[str]:
        # Chromium logs a page's console messages as CONSOLE(line) entries; errors, uncaught.
        return [
            line
            for line in self.log.splitlines()
            if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)
        ]


def chromium() -> str:
    found = os.environ.get("TRUEUP_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("no chromium: `make test` installs it (apt-get install -y chromium)")
    return found


def load(page: Path | str, profile: Path) -> Loaded:
    """Load ``page`` (a file or a URL) and wait for its scripts: the DOM they leave."""
    url = page.as_uri() if isinstance(page, Path) else page
    done = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return Loaded(done.stdout, done.stderr)
