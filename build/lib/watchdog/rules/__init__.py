"""The built-in detection rules, one concern per module (installed as `watchdog.rules`)."""
