"""Attacks and benign traffic on the demo world, for tests and drills. Attacks run through the drill attacker
contracts in contracts/src/drill/ and report what they achieved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from watchdog.devnet import artifacts
from watchdog.devnet.txs import deploy
from watchdog.devnet.world import E18, World


@dataclass
class AttackResult:
    """What one attack transaction did: whether it landed and what the attacker gained (in dUSD wei)."""

    name: str
    tx_hash: str
    succeeded: bool
    attacker_profit: int
    block_number: int
    attacker_contract: str
    pool_before: int
    pool_after: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def pool_loss(self) -> int:
        return self.pool_before - self.pool_after


def deploy_flash_loan_attacker(world: World, w3: Web3 | None = None) -> str:
    """The attacker deploys the flash-loan spot-manipulation contract (its own tx, as real attackers do)."""
    w3 = w3 or world.w3
    a = world.addresses
    contract = deploy(w3, world.accounts.attacker, artifacts.project("FlashLoanSpotAttacker"),
                      a["FlashLender"], a["UniswapV2Router02"], a["WETH"], a["dUSD"], a["PerpMarket"])
    return contract.address


def send_flash_loan_spot_attack(world: World, attacker_contract: str, *, borrow_weth: int = 3_000 * E18,
                                margin: int = 100_000 * E18, w3: Web3 | None = None, wait: bool = True,
                                **tx: Any) -> str:
    """Send the attack transaction (optionally without waiting: for pending/mempool scenarios). Returns its hash.

    Gas is fixed so that the transaction can be sent without a successful estimate (it will revert when paused).
    """
    w3 = w3 or world.w3
    attacker = w3.eth.contract(address=attacker_contract, abi=artifacts.project("FlashLoanSpotAttacker").abi)
    tx_hash = attacker.functions.attack(borrow_weth, margin).transact(
        {"from": world.accounts.attacker.address, "gas": 3_000_000, **tx})
    if wait:
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    return tx_hash.to_0x_hex()


def flash_loan_spot_attack(world: World, w3: Web3 | None = None, *, borrow_weth: int = 3_000 * E18,
                           margin: int = 100_000 * E18) -> AttackResult:
    """The flagship exploit: in one transaction, flash-borrow WETH, crash the AMM spot price, open a 10x long,
    restore the price, close at a profit paid by the liquidity pool, repay. Profitable while the oracle adapter
    reads spot and the protocol is not paused; reverts (no profit) once it is paused."""
    w3 = w3 or world.w3
    usd = world.contract("dUSD", w3)
    vault = world.contract("CollateralVault", w3)
    attacker = world.accounts.attacker.address
    contract = deploy_flash_loan_attacker(world, w3)
    usd_before = usd.functions.balanceOf(attacker).call()
    pool_before = vault.functions.poolAssets().call()
    tx_hash = send_flash_loan_spot_attack(world, contract, borrow_weth=borrow_weth, margin=margin, w3=w3)
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    return AttackResult(
        name="flash-loan-spot",
        tx_hash=tx_hash,
        succeeded=receipt["status"] == 1,
        attacker_profit=usd.functions.balanceOf(attacker).call() - usd_before,
        block_number=receipt["blockNumber"],
        attacker_contract=contract,
        pool_before=pool_before,
        pool_after=vault.functions.poolAssets().call(),
        details={"borrow_weth": borrow_weth, "margin": margin},
    )
