"""What a trueup command prints, as lines or JSON lines, for tests that read its output."""

from typing import Any

import orjson
import pytest

from trueup.runners.cli import main


def text_lines(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> list[str]:
    """Run ``trueup --store URL ARGS...``, which must succeed: the lines it prints."""
    capsys.readouterr()
    assert main(["--store", url, *args]) == 0
    return capsys.readouterr().out.splitlines()


def json_lines(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> list[Any]:
    """``text_lines``, each parsed."""
    return [orjson.loads(text) for text in text_lines(capsys, url, *args)]
