"""Drills: tabletop exercises on a local chain that replay an attack against the real watchdog and measure
time to detect and time to contain (`watchdog drill`, `watchdog demo`)."""

from watchdog.drill.measure import scoreboard
from watchdog.drill.runner import DrillOptions, run_drill
from watchdog.drill.scenarios import SCENARIOS, Scenario

__all__ = ["SCENARIOS", "DrillOptions", "Scenario", "run_drill", "scoreboard"]
