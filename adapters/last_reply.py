"""The last HTTP reply a venue client's session received, kept for when the client fails to
read it: a body it did not expect (``null``, a list, an error without its fields) raises
inside the client, and the reply is then recorded from here, never lost with a thread."""

import threading
from typing import Any

import orjson
import requests


class LastReply:
    """Watches a requests session (a hook on every response it receives), per thread."""

    def __init__(self, session: requests.Session) -> None:
        self._seen = threading.local()
        session.hooks["response"].append(self._saw)

    def _saw(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._seen.response = response

    def forget(self) -> None:
        """Before a request: what is seen after it is its reply."""
        self._seen.response = None

    def status_and_body(self) -> tuple[int, Any]:
        """The status and the JSON body of the reply seen since ``forget`` (the body None
        where it is no JSON), or status 0 where none came."""
        response: requests.Response | None = getattr(self._seen, "response", None)
        if response is None:
            return 0, None
        try:
            return response.status_code, orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.status_code, None
