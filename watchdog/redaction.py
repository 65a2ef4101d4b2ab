"""Secrets out of every message: the one place URLs are redacted.

Node, store and service URLs carry passwords (`user:password@`) and API keys (in the path or the query), whatever
their scheme. Every error the command line prints, every log record (`install_log_redaction`) and /health go
through `redact_text`; a URL on its own through `redact_url`. What stays is what a user needs to tell endpoints
apart: the scheme, the host and the port (and the path of a local database file, which is no secret).
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

HIDDEN = "***"
# Schemes whose "path" is a file on this machine: shown, since the user needs it and it holds no secret.
_LOCAL_FILE_SCHEMES = ("sqlite", "file")
# A URL inside free text: a scheme, "://", then anything up to whitespace or a quote.
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,30}://[^\s'\"<>`]*")
_TRAILING = ".,;:!?)]}"  # punctuation after a URL in a sentence, not part of it


def redact_url(url: str) -> str:
    """`scheme://host:port` with `***@` for credentials and `/...` for any path or query."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace(".", "").replace("-", "").isalnum():
        return HIDDEN  # not a URL we can read: show nothing of it
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number, an unbalanced IPv6 bracket...
        return f"{scheme}://{HIDDEN}"
    credentials = f"{HIDDEN}@" if "@" in parts.netloc else ""
    if scheme.split("+")[0].lower() in _LOCAL_FILE_SCHEMES and not credentials:
        return f"{scheme}://{host}{port}{parts.path}"
    hidden = "/..." if parts.path.strip("/") or parts.query or parts.fragment else ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{credentials}{host}{port}{hidden}"


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted (error messages, log lines, JSON documents)."""
    if "://" not in text:
        return text
    return _URL.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    url = match.group(0)
    kept = url.rstrip(_TRAILING)  # "see http://host:8545." or "http://host:8545: timeout"
    if kept.endswith("/") and url[len(kept):].startswith("..."):
        kept += "..."  # already redacted: stays as it is
    return redact_url(kept) + url[len(kept):]


class _RedactedRecords:
    """A log record factory that redacts the message (and the traceback) of every record as it is made, for
    every logger and every handler, including those a library installs."""

    def __init__(self, factory) -> None:  # type: ignore[no-untyped-def]
        self.factory = factory

    def __call__(self, *args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        record = self.factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string: leave it to logging's own error report
            return record
        if "://" in message:
            record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return record


_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Redact URLs in every log record of this process from now on (idempotent)."""
    with _install_lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _RedactedRecords):
            logging.setLogRecordFactory(_RedactedRecords(current))
