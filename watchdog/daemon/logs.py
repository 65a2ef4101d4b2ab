"""Structured logs: human-readable lines, or one JSON object per line (`[logging] json = true`)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from watchdog.redaction import install_log_redaction, redact_text

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Fields passed with `extra=` become keys of their own (network, block, rule...).
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)
        return redact_text(json.dumps(entry, default=str))  # extras may quote a URL too


def setup_logging(level: str = "info", json_format: bool = False) -> None:
    install_log_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_format else
                         logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "websockets", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
