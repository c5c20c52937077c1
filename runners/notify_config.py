"""The notifier's targets from a TOML file (``--config FILE``, docs/notifications.md).

Secrets are never in the file: a bearer token, a header's value, or a URL that carries a
token is named by the environment variable that holds it (``bearer_env``, ``headers_env``,
``url_env``), read when the file is. No error names a URL or a secret, only the target and
the key.
"""

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from trueup.adapters.notify.target import Retries, Selection, Target, TargetKind
from trueup.domain.emitted import EMITTED_TYPES
from trueup.runners.arguments import SHORT_NAME
from trueup.runners.settings import read_toml
from trueup.runners.usage import UsageError

KEYS = {
    "name", "kind", "url", "url_env", "types", "accounts", "timeout_s", "max_attempts",
    "backoff_s", "max_backoff_s", "bearer_env", "headers_env", "priority", "tags",
}  # fmt: skip
KINDS = {k.value: k for k in TargetKind}
EVENT_TYPES = frozenset(t.type for t in EMITTED_TYPES)
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # an HTTP token (RFC 9110)
MAX_TIMEOUT_S = 300.0
MAX_ATTEMPTS = 100
MAX_BACKOFF_S = 3600.0


def load_targets(path: Path) -> list[Target]:
    """The targets the file lists as ``[[target]]`` tables; UsageError naming what is wrong."""
    document = read_toml(path, "notify config")
    unknown = set(document) - {"target"}
    if unknown:
        raise UsageError(f"notify config {path}: unknown key(s) {sorted(unknown)}: [[target]] only")
    tables = document.get("target")
    if not isinstance(tables, list) or not tables:
        raise UsageError(f"notify config {path}: no [[target]] in it")
    targets = [_target(path, n, table) for n, table in enumerate(tables, 1)]
    names = [t.name for t in targets]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"notify config {path}: target name(s) {repeated} used twice")
    return targets


def chosen(targets: list[Target], name: str | None) -> list[Target]:
    """All the targets, or the one named; UsageError if there is none of that name."""
    if name is None:
        return targets
    found = [t for t in targets if t.name == name]
    if not found:
        raise UsageError(f"no target {name!r}: one of {[t.name for t in targets]}")
    return found


def _target(path: Path, n: int, table: object) -> Target:
    if not isinstance(table, dict):
        raise UsageError(f"notify config {path}: target {n} is not a table")
    name = table.get("name")
    where = f"notify config {path}: target {name if isinstance(name, str) else n}"
    if not isinstance(name, str) or not SHORT_NAME.fullmatch(name):
        raise UsageError(f"{where}: name: letters, digits, '.', '_' or '-', up to 64")
    unknown = set(table) - KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {sorted(unknown)}")
    read = _Reader(table, where)
    kind = KINDS.get(read.text("kind", "webhook"))
    if kind is None:
        raise UsageError(f"{where}: kind: one of {sorted(KINDS)}")
    types = read.texts("types")
    strange = sorted(set(types) - EVENT_TYPES)
    if strange:
        raise UsageError(f"{where}: types: {strange} are not emitted types")
    max_backoff = read.number("max_backoff_s", 60.0, MAX_BACKOFF_S)
    return Target(
        name=name,
        kind=kind,
        url=_url(read, where),
        selection=Selection(frozenset(types), tuple(read.texts("accounts"))),
        timeout_s=read.number("timeout_s", 5.0, MAX_TIMEOUT_S),
        retries=Retries(
            max_attempts=read.whole("max_attempts", 5, 1, MAX_ATTEMPTS),
            backoff_s=min(read.number("backoff_s", 1.0, MAX_BACKOFF_S), max_backoff),
            max_backoff_s=max_backoff,
        ),
        headers=_headers(read, where),
        priority=read.whole("priority", 3, 1, 5),
        tags=tuple(read.texts("tags")),
    )


def _url(read: "_Reader", where: str) -> str:
    literal, variable = read.table.get("url"), read.table.get("url_env")
    if (literal is None) == (variable is None):
        raise UsageError(f"{where}: give url, or url_env (the variable that holds it)")
    url = (
        read.text("url", "") if variable is None else _environment(read.text("url_env", ""), where)
    )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise UsageError(f"{where}: url is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{where}: url: an http(s)://host/... URL")
    return url


def _headers(read: "_Reader", where: str) -> dict[str, str]:
    headers = {}
    bearer = read.table.get("bearer_env")
    if bearer is not None:
        headers["Authorization"] = f"Bearer {_environment(read.text('bearer_env', ''), where)}"
    named = read.table.get("headers_env", {})
    if not isinstance(named, dict):
        raise UsageError(f'{where}: headers_env: a table of header = "VARIABLE"')
    for header, variable in named.items():
        if not _HEADER.fullmatch(header) or not isinstance(variable, str):
            raise UsageError(f'{where}: headers_env: {header!r} = "VARIABLE" expected')
        headers[header] = _environment(variable, where)
    return headers


def _environment(variable: str, where: str) -> str:
    value = os.environ.get(variable, "")
    if not variable or not value:
        raise UsageError(f"{where}: the environment variable {variable!r} is not set")
    if not value.isprintable() or not value.isascii():
        raise UsageError(f"{where}: the environment variable {variable!r} holds no usable value")
    return value


class _Reader:
    """A target's table, each value checked against its key's domain."""

    def __init__(self, table: dict[str, Any], where: str) -> None:
        self.table = table
        self.where = where

    def text(self, key: str, default: str) -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise UsageError(f"{self.where}: {key}: a string")
        return value

    def texts(self, key: str) -> list[str]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise UsageError(f"{self.where}: {key}: a list of strings")
        return value

    def number(self, key: str, default: float, most: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
            raise UsageError(f"{self.where}: {key}: a number above 0, at most {most:g}")
        return float(value)

    def whole(self, key: str, default: int, least: int, most: int) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise UsageError(f"{self.where}: {key}: a whole number from {least} to {most}")
        return value
