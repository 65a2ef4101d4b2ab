"""Reading the JSON files of other tools, with one-line errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError


def read_json(path: Path, what: str) -> Any:
    """The parsed file; a ConfigError naming `what` (e.g. "forge broadcast") when it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} {path} is not JSON (line {exc.lineno}): {exc.msg}") from exc
