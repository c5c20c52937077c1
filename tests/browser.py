"""A real headless browser for the page tests: Debian's chromium (``make test`` installs it),
or the binary TRUEUP_CHROMIUM names, driven through Playwright. Never a browser download."""

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import ConsoleMessage, Page, sync_playwright

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def chromium() -> str:
    found = os.environ.get("TRUEUP_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise RuntimeError("no chromium: `make test` installs it (apt-get install -y chromium)")
    return found


@dataclass
class Tab:
    """A page, and every error its console or its scripts reported."""

    page: Page
    errors: list[str] = field(default_factory=list)


@contextmanager
def tab() -> Iterator[Tab]:
    """A fresh headless chromium tab; closed (with the browser) afterwards."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium(), args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            opened = Tab(page)

            def console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    opened.errors.append(message.text)

            page.on("console", console)
            page.on("pageerror", lambda error: opened.errors.append(str(error)))
            yield opened
        finally:
            browser.close()
