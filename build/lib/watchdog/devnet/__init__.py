"""The local devnet: an anvil process manager and the deployment of the demo world."""

from watchdog.devnet.anvil import Anvil, free_port

__all__ = ["Anvil", "free_port"]
