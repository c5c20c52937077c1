"""The request one notification makes of its target: the body and headers each kind takes.

A generic webhook gets the event document as `trueup events --json` prints it. ntfy gets
its publishing format: a plain-text body, and ``Title``, ``Priority`` and ``Tags`` headers
(docs.ntfy.sh/publish). A header carries only printable ASCII: anything else in a title (a
symbol with a newline in it, an account in another script) goes as an RFC 2047 encoded
word, which ntfy decodes, so no event can make an unsendable header.
"""

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from trueup.adapters.notify.target import Target, TargetKind
from trueup.domain.instants import iso
from trueup.domain.keys import minted_id

JSON = dict[str, Any]
# What the title and the head of an ntfy message say already: not repeated in its body.
_HEADLINE_FIELDS = ("type", "venue", "account", "symbol", "at", "event_id", "position")
TEST_TYPE = "NOTIFY_TEST"


@dataclass(frozen=True)
class Message:
    body: bytes
    headers: dict[str, str]


def delivery_key(event_id: str, target: str) -> str:
    """The same for every try of one event to one target: a receiver may drop repeats by it."""
    return minted_id(f"notification:{target}:{event_id}".encode())


def render(target: Target, document: JSON) -> Message:
    """The request for ``document`` (an event as `trueup events --json` prints it, or a
    test) to ``target``."""
    event_id = str(document.get("event_id", ""))
    headers = {
        "User-Agent": "trueup",
        "Idempotency-Key": delivery_key(event_id, target.name),
        "X-Trueup-Event-Type": _header_text(str(document.get("type", ""))),
        **target.headers,
    }
    if target.kind is TargetKind.NTFY:
        return _ntfy(target, document, headers)
    body = orjson.dumps(document, default=str)
    return Message(body, headers | {"Content-Type": "application/json"})


def test_document(target: str, at: int) -> JSON:
    """What ``trueup notify test`` sends: an event of its own type, never a real one."""
    return {
        "type": TEST_TYPE,
        "event_id": minted_id(f"notification-test:{target}:{at}".encode()),
        "at": at,
        "target": target,
        "message": f"a test notification from trueup to target {target}",
    }


def _ntfy(target: Target, document: JSON, headers: dict[str, str]) -> Message:
    kind = str(document.get("type", ""))
    where = f"{document.get('venue') or ''}/{document.get('account') or ''}".strip("/")
    title = " ".join(str(part) for part in (kind, where, document.get("symbol")) if part)
    lines = []
    if isinstance(document.get("at"), int):
        lines.append(f"at {iso(document['at'])}")
    lines += [
        f"{name}: {value if isinstance(value, str) else orjson.dumps(value, default=str).decode()}"
        for name, value in document.items()
        if name not in _HEADLINE_FIELDS and value is not None and value != ""
    ]
    if document.get("event_id"):
        lines.append(f"event {document['event_id']}")
    tags = [*target.tags, "trueup", kind.lower()]
    ntfy_headers = {
        "Title": _header_text(title or "trueup"),
        "Priority": str(target.priority),
        "Tags": _header_text(",".join(t for t in tags if t)),
        "Content-Type": "text/plain; charset=utf-8",
    }
    return Message("\n".join(lines).encode(), headers | ntfy_headers)


def _header_text(text: str) -> str:
    """``text`` as a header value: itself if printable ASCII, else an RFC 2047 encoded word."""
    if text.isascii() and text.isprintable():
        return text
    encoded = base64.b64encode(text.encode("utf-8", "replace")).decode()
    return f"=?UTF-8?B?{encoded}?="
