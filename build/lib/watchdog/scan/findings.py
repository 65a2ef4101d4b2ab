"""What a scan reports: one ScanFinding per slither result, with a location and a stable fingerprint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from watchdog.finding import Severity

OUR_PREFIX = "wd-"


@dataclass(slots=True)
class ScanFinding:
    detector: str
    severity: Severity
    confidence: str  # high | medium | low
    description: str
    file: str  # relative to the scanned root (POSIX)
    start_line: int
    end_line: int
    start_column: int = 1
    end_column: int = 1
    contract: str | None = None
    function: str | None = None
    fingerprint: str = ""
    help: str = ""
    wiki: str = ""
    extra_locations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ours(self) -> bool:
        return self.detector.startswith(OUR_PREFIX)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ScanFinding":
        return cls(**{**data, "severity": Severity(data["severity"])})
