"""watchdog's slither detectors, one per module (installed as `watchdog.rules.slither`)."""
