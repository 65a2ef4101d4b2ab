"""The two-network bridge world: deployment on two anvils, the relayer, and scenarios for cross-chain monitoring
(`watchdog.devnet.bridge.scenarios`)."""

from watchdog.devnet.bridge.relayer import Relayer
from watchdog.devnet.bridge.world import BridgeAccounts, BridgeWorld, deploy_bridge_world, load_bridge_world

__all__ = ["BridgeAccounts", "BridgeWorld", "Relayer", "deploy_bridge_world", "load_bridge_world"]
