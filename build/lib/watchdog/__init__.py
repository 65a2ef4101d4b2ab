"""watchdog: security watchdog for DeFi derivatives protocols and their price oracles."""

__version__ = "0.1.0"
