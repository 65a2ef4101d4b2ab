"""Drills: tabletop exercises on a local chain that replay an attack against the real watchdog and measure
time to detect and time to contain (`watchdog drill`, `watchdog demo`)."""

from watchdog.drill.measure import scoreboard
from watchdog.drill.runner import DrillOptions, drills, run_drill

__all__ = ["DrillOptions", "drills", "run_drill", "scoreboard"]
