"""Writes need the responders' token: compared in constant time; without a configured token the page is
read-only. The token is typed by the responder; the page never holds it, nor any key."""

from __future__ import annotations

import hmac

from starlette.requests import Request


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def authorize(request: Request, form: dict[str, str], token: str | None) -> None:
    if not token:
        raise Refused(403, "this page is read-only: start it with a write token to acknowledge, note or resolve")
    given = form.get("token", "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        given = header[7:]
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise Refused(401, "a valid write token is needed")
