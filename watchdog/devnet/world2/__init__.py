"""The Harbor world: a second DeFi suite to test the watchdog on protocols it was not written for.

Harbor has its own dollar (hUSD, 6 decimals: every amount below is raw hUSD units unless said otherwise), a
governance token (HBR), WETH, three real Uniswap V2 pools on two venues, an ERC-3156 flash reserve, and four
protocols, each owned by its own admin key and pausable by the responder:

- CreditPool (lending): borrows hUSD against WETH valued at the Uniswap pool's spot price, and against
  SavingsVault shares valued at the vault's share price; `pause()`.
- OptionsHouse (market): cash-settled HBR calls and puts settled on HbrTwap, a 10-minute TWAP of the HBR pool;
  `pause()`.
- PerpExchange (market): ETH-PERP and BTC-PERP marked by Chainlink-style push feeds with no staleness check;
  `pauseMarket(bytes32)` per market.
- SavingsVault and TermVault (vaults): share price = hUSD balance / shares, no virtual shares; the term vault is
  new and empty; `freeze()`.

    world = harbor_on_anvil(anvil, out_dir)       # deployed, or loaded from the state cache
    outcome = play(world, spot_pump_attack(world))  # Outcome(taken, drained, records, details)

The manifest (out_dir/manifest.json) is roles-only: name, address, role, ABI and pause function per contract.
Scenario functions set up what they need at once and return a `Play`; see `steps` for how to pace one.
"""

from watchdog.devnet.world2.accounts import AccountBook
from watchdog.devnet.world2.attacks import (
    donation_inflation_attack, key_compromise_attack, slow_drain_attack, spot_pump_attack, stale_feed_attack,
    twap_push_attack,
)
from watchdog.devnet.world2.benign import (
    admin_housekeeping, arbitrage, credit_activity, feed_moves, flash_liquidation, keeper_round, large_buys,
    leverage_loops, noise_trades, options_cycle, perp_trading, term_vault_launch, vault_flows, whale_exit,
)
from watchdog.devnet.world2.cache import harbor_on_anvil
from watchdog.devnet.world2.chain import HarborWorld, load_harbor
from watchdog.devnet.world2.deploy import CONTRACTS, MARKETS, USD, deploy_harbor
from watchdog.devnet.world2.market import Health, health, keeper_refresh, pause, pause_calls, spot
from watchdog.devnet.world2.steps import Outcome, Play, Tx, TxRecord, Wait, play, play_step

ATTACKS = {
    "spot-pump": spot_pump_attack,
    "twap-push-hold": twap_push_attack,
    "stale-feed": stale_feed_attack,
    "key-compromise": key_compromise_attack,
    "donation-inflation": donation_inflation_attack,
    "slow-drain": slow_drain_attack,
}
BENIGN = {
    "noise-trades": noise_trades,
    "arbitrage": arbitrage,
    "large-buys": large_buys,
    "leverage-loops": leverage_loops,
    "flash-liquidation": flash_liquidation,
    "whale-exit": whale_exit,
    "feed-moves": feed_moves,
    "keeper-round": keeper_round,
    "perp-trading": perp_trading,
    "options-cycle": options_cycle,
    "vault-flows": vault_flows,
    "term-vault-launch": term_vault_launch,
    "admin-housekeeping": admin_housekeeping,
    "credit-activity": credit_activity,
}

__all__ = [
    "ATTACKS", "BENIGN", "CONTRACTS", "MARKETS", "USD", "AccountBook", "HarborWorld", "Health", "Outcome", "Play",
    "Tx", "TxRecord", "Wait", "admin_housekeeping", "arbitrage", "credit_activity", "deploy_harbor", "donation_inflation_attack", "feed_moves",
    "flash_liquidation", "harbor_on_anvil", "health", "keeper_refresh", "keeper_round", "key_compromise_attack",
    "large_buys", "leverage_loops", "load_harbor", "noise_trades", "options_cycle", "pause", "pause_calls",
    "perp_trading", "play", "play_step", "slow_drain_attack", "spot", "spot_pump_attack", "stale_feed_attack", "term_vault_launch",
    "twap_push_attack", "vault_flows", "whale_exit",
]
