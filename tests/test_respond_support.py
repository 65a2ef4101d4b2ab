"""Shared pieces of the response tests: the demo world on an anvil of its own, keystores, findings."""

from __future__ import annotations

from pathlib import Path

from eth_abi import decode

from watchdog.finding import Finding, Severity
from watchdog.devnet import Anvil
from watchdog.devnet.world import World
from watchdog.keys import write_keystore
from watchdog.config.response import Playbook, PlaybookAction, ResponseConfig, SignerConfig
from watchdog.chain.abi import selector

PASSWORD_ENV = "WATCHDOG_TEST_KEYSTORE_PASSWORD"
PASSWORD = "correct horse battery staple"


def keystore(tmp_path: Path, name: str, key: str) -> Path:
    path = tmp_path / f"{name}.json"
    if not path.exists():
        write_keystore(key, PASSWORD, path, iterations=2**10)
    return path


def config(tmp_path: Path, world: World, actions: list[str], *, dry_run: bool = False, **executor: object) -> ResponseConfig:
    ks = keystore(tmp_path, "responder", world.accounts.responder.key)
    return ResponseConfig(
        playbooks=[Playbook(name="contain", actions=[PlaybookAction(type=a, targets=["affected"]) for a in actions], dry_run=dry_run)],
        signers={"responder": SignerConfig(keystore=ks, password_env=PASSWORD_ENV)},
        executor={"min_priority_fee_gwei": 1.0, **executor},
    )


def attack_finding(world: World, *, block: int | None, tx_hash: str | None = None, pending: bool = False, n: int = 0) -> Finding:
    vault = world.addresses["CollateralVault"].lower()
    return Finding(rule_id="drain.vault", title="Vault drained by a flash-loan attack", severity=Severity.CRITICAL,
                   confidence=0.95, network="devnet", protocol="demo-perps", block_number=block,
                   tx_hash=tx_hash or f"0x{n:064x}", pending=pending,
                   addresses=[vault, world.accounts.attacker.address.lower()],
                   evidence={"funds_at_risk": "2000000 dUSD"}, key=str(n))


def vault_paused(anvil: Anvil, world: World) -> bool:
    guardian = world.addresses["Guardian"]
    vault = world.addresses["CollateralVault"][2:].lower().rjust(64, "0")
    data = selector("isPaused(address,bytes32)") + vault + "00" * 32
    return decode(["bool"], bytes.fromhex(anvil.rpc("eth_call", [{"to": guardian, "data": data}, "latest"])[2:]))[0]


def nonce(anvil: Anvil, address: str, tag: str = "latest") -> int:
    return int(anvil.rpc("eth_getTransactionCount", [address, tag]), 16)
