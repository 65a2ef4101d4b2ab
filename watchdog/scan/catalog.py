"""The detector catalogue shown by `watchdog scan --list-detectors`: slither's detectors one line each, and
watchdog's with their bug class, a one-line example and references."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector

from watchdog.scan.analyze import all_detector_classes
from watchdog.scan.findings import OUR_PREFIX


def _line(detector: type[AbstractDetector]) -> str:
    return f"{detector.ARGUMENT:34} {detector.IMPACT.name.lower():13} {detector.HELP}"


def describe(detector: type[AbstractDetector]) -> list[str]:
    """The catalogue entry of one detector: its line, then class, example and references for watchdog's."""
    lines = [_line(detector)]
    if detector.ARGUMENT.startswith(OUR_PREFIX):
        lines += [
            f"    class:      {detector.BUG_CLASS}",
            f"    example:    {detector.EXAMPLE}",
            *(f"    reference:  {ref}" for ref in detector.REFERENCES),
        ]
    return lines


def listing() -> str:
    """watchdog's detectors first (with details), then slither's."""
    detectors = all_detector_classes()
    ours = [d for d in detectors if d.ARGUMENT.startswith(OUR_PREFIX)]
    stock = [d for d in detectors if not d.ARGUMENT.startswith(OUR_PREFIX)]
    lines = ["watchdog's detectors:"]
    lines += [line for d in ours for line in describe(d)]
    lines += ["", "slither's detectors:"]
    lines += [_line(d) for d in stock]
    return "\n".join(lines) + "\n"
