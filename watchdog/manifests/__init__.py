"""Manifest tooling: write a deployment manifest from what already describes a deployment (a forge broadcast, a
hardhat-deploy folder, or the deployed code itself), and check a manifest against the chain.

Role guessing (`roles`) is shared by every way in; it knows public interfaces only (`interfaces`).
"""

from watchdog.manifests.check import CheckReport, Problem, check_manifest
from watchdog.manifests.foundry import from_foundry
from watchdog.manifests.hardhat import from_hardhat
from watchdog.manifests.probe import ProbeReport, probe_addresses
from watchdog.manifests.roles import Evidence, Guess, guess_role
from watchdog.manifests.writer import Draft, write_manifest

__all__ = [
    "CheckReport", "Draft", "Evidence", "Guess", "ProbeReport", "Problem", "check_manifest", "from_foundry",
    "from_hardhat", "guess_role", "probe_addresses", "write_manifest",
]
