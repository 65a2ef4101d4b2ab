"""slither plugin entry point (group `slither_analyzer.plugin`): watchdog's detectors for plain slither."""


def make_plugin() -> tuple[list[type], list[type]]:
    return [], []
