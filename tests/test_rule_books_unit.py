"""books, on the test kit (no node): a vault's share price (its ERC-4626 convertToAssets, found by the protocol
model without hints) jumping in one block is a donation or inflation, falling is value taken from its holders;
deposits, withdrawals and a little yield are quiet, as is a block in which its books did not move. A market whose
only measure of a share is its exchange rate is judged by how the rate moves."""

from __future__ import annotations

from fixtures.detect.paper import USD, USER, E, manifest, priced, transfer

from watchdog.detect import Severity
from watchdog.detect.testing import RuleKit, address, block, tx
from watchdog.rules.books import Books

VAULT = address(0x200)
ASSET_VIEW = {"type": "function", "name": "asset", "stateMutability": "view", "inputs": [],
              "outputs": [{"name": "", "type": "address"}]}
ONE_SHARE = "convertToAssets(uint256)(uint256)"


def vault_kit() -> RuleKit:
    """A vault of USD issuing its own 18-decimal shares, one share worth one USD."""
    k = RuleKit(Books, manifest({"name": "Vault", "address": VAULT, "role": "vault", "abi": [ASSET_VIEW]}))
    chain = priced(k.chain)
    chain.token(VAULT)
    chain.on_call(VAULT, "totalSupply()(uint256)", returns=1_000_000 * E)
    chain.on_call(VAULT, "asset()(address)", returns=USD)
    chain.on_call(VAULT, ONE_SHARE, [E], returns=E)
    k.run(block(1))  # the model is learned at the first block
    return k


def share_price_becomes(k: RuleKit, worth: float, *, books_moved: bool = True) -> list:
    """Block 2: one share is now worth `worth` USD; a transfer into the vault shows its books moved."""
    k.chain.on_call(VAULT, ONE_SHARE, [E], returns=int(worth * E), block=2)
    move = tx(USER, VAULT)
    return k.run(block(2), txs=[move], logs=[transfer(USD, USER, VAULT, 10 * E, of=move)] if books_moved else [])


def test_a_share_price_jump_is_high_and_a_fall_to_under_half_critical():
    found = share_price_becomes(vault_kit(), 1.8)
    assert [(f.rule_id, f.severity, f.addresses) for f in found] == [("books.share-price", Severity.HIGH, [VAULT])]
    assert found[0].evidence["share_price_before"] == 1.0 and found[0].evidence["change"] == 0.8
    assert [f.severity for f in share_price_becomes(vault_kit(), 0.7)] == [Severity.HIGH]
    assert [f.severity for f in share_price_becomes(vault_kit(), 0.4)] == [Severity.CRITICAL]


def test_yield_and_unmoved_books_are_quiet():
    assert share_price_becomes(vault_kit(), 1.01) == []
    assert share_price_becomes(vault_kit(), 1.8, books_moved=False) == []  # not read when nothing touched it


def test_a_compound_style_exchange_rate_inflated_by_a_donation_is_high():
    """A market issuing shares whose only view of their worth is `exchangeRateStored()` (scaled by its own
    constant): the first depositor's donation multiplies the rate, interest moves it by a hair."""
    underlying = {"type": "function", "name": "underlying", "stateMutability": "view", "inputs": [],
                  "outputs": [{"name": "", "type": "address"}]}

    def market(rate_after: int) -> list:
        k = RuleKit(Books, manifest({"name": "Market", "address": VAULT, "role": "lending", "abi": [underlying]}))
        chain = priced(k.chain)
        chain.token(VAULT, decimals=8)
        chain.on_call(VAULT, "totalSupply()(uint256)", returns=50 * 10**8)
        chain.on_call(VAULT, "underlying()(address)", returns=USD)
        chain.on_call(VAULT, "exchangeRateStored()(uint256)", returns=2 * 10**26)
        k.run(block(1))
        chain.on_call(VAULT, "exchangeRateStored()(uint256)", returns=rate_after, block=2)
        move = tx(USER, VAULT)
        return k.run(block(2), txs=[move], logs=[transfer(USD, USER, VAULT, 10 * E, of=move)])

    assert [(f.rule_id, f.severity) for f in market(2 * 10**32)] == [("books.share-price", Severity.CRITICAL)]
    assert [(f.rule_id, f.severity) for f in market(36 * 10**25)] == [("books.share-price", Severity.HIGH)]
    assert market(2 * 10**26 + 10**20) == []
