"""Writing a command's output to a file the user named, with one clear line when that cannot be done."""

from __future__ import annotations

from pathlib import Path

from watchdog.errors import ConfigError


def write_output(path: Path, text: str, option: str) -> None:
    """Write `text` to `path` (its folder is created); ConfigError naming `option` when the path is unusable."""
    if path.is_dir():
        raise ConfigError(f"{option} {path} is a directory: give a file path, e.g. {path / 'report.txt'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise ConfigError(f"{option} {path} cannot be written ({exc.strerror or exc}): choose another path") from None
