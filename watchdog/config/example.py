"""The commented example configuration that `watchdog init` writes."""

EXAMPLE = '''\
# watchdog configuration. Relative paths are read from this file's directory.
# Validate it with `watchdog run --config watchdog.toml --check`.

# One table per network to follow.
[networks.mainnet]
chain_id = 1
# Several endpoints: requests go to the healthiest one and fail over on errors.
rpc_urls = ["http://127.0.0.1:8545"]
# WebSocket for new heads and pending transactions (lower latency); HTTP polling is the fallback.
ws_url = "ws://127.0.0.1:8545"
# 0 = detect on the head itself; findings of blocks that get reorged out are retracted.
confirmations = 0
poll_interval = 1.0        # seconds between polls when no WebSocket head arrives
reorg_window = 64          # recent blocks remembered to find the fork point of a reorg
max_log_range = 2000       # most blocks per eth_getLogs; halved automatically when a provider refuses
# start_block = 19000000   # where to start without a checkpoint (default: the manifest's block, else the head)
mempool = false            # simulate pending transactions that reach watched contracts (needs debug_traceCall)
timeout = 10.0             # seconds a request may take, connection and whole answer (then the next endpoint)
max_answer_mb = 64         # a larger answer is refused and counts as that endpoint failing

# Protocols to watch: a deployment manifest, or contracts listed here (or both).
[protocols.demo]
network = "mainnet"
manifest = "manifest.json"

# [[protocols.other.contracts]]
# name = "Vault"
# address = "0x0000000000000000000000000000000000000000"
# role = "vault"            # market, vault, lending, oracle_feed, oracle_adapter, twap_oracle, amm_pair, router, token, flash_lender, guardian, safe, other
# abi = "abi/Vault.json"    # JSON ABI or forge artifact

# Rules: every built-in rule runs with its defaults (`watchdog rules list` shows each rule, its checks and
# parameters). A table per rule id changes a whole rule; a table per check id changes one check.
[rules]
rule_dirs = []              # directories with your own rule modules
allowlist = []              # addresses (MEV bots, keepers) whose findings stay below pause level

# [rules.oracle-health]     # the whole rule: enabled, and parameters for all its checks
# heartbeat = 7200
# [rules."oracle-health.move"]   # one check (findings carry its id): enabled, and parameters it uses
# enabled = false

# Extra ABIs to decode events of contracts that are not in a manifest (e.g. flash lenders).
[abis]
files = []
artifacts = []              # forge out/ directories

[store]
url = "sqlite:///watchdog.db"   # or postgresql://user:password@host:5432/db (pip install 'defi-watchdog[postgres]')

[metrics]
enabled = true
host = "127.0.0.1"
port = 9464                 # GET /metrics (Prometheus) and GET /health

[ui]                         # the page for signers and responders (`watchdog ui`)
enabled = false              # true: `watchdog run` serves it too
host = "127.0.0.1"
port = 8080
token_env = "WATCHDOG_UI_TOKEN"  # environment variable holding the write token (unset: read-only)

[logging]
level = "info"
json = false                # one JSON object per line

[schedule]
rules_interval = 60         # seconds between scheduled rule runs (oracle heartbeats, ...)

# Response: playbooks (conditions -> actions), notifiers and signers. Every action can be a dry run.
# [[playbooks]]
# name = "contain"
# when = { rules = ["drain*", "flash-loan*"], min_severity = "high", min_confidence = 0.8, count = 1, window_seconds = 3600 }
# actions = [{ type = "notify" }, { type = "pause", targets = ["affected"] }, { type = "propose" }]
# dry_run = false

# [notifiers.ops]
# type = "webhook"          # webhook | slack | discord | telegram | pagerduty
# url = "https://hooks.example.org/watchdog"
# secret_env = "WATCHDOG_WEBHOOK_SECRET"   # HMAC-SHA256 of timestamp.body in X-Watchdog-Signature
# min_severity = "high"

# [signers.responder]       # the key that sends pauses (RESPONDER_ROLE on the guardian)
# keystore = "keys/responder.json"
# password_env = "WATCHDOG_RESPONDER_PASSWORD"   # or password_file = "..."; or key_env = "..." alone

# [responder.executor]
# min_priority_fee_gwei = 2
# emergency_cap_gwei = 1000  # never pay more per gas than this
# bump_percent = 25          # re-price every block until mined (replacements need +10% on both fees)
# [responder.incidents]
# window_seconds = 3600        # findings of one protocol (or one attacker) this close share an incident
# open_min_severity = "medium" # lower findings (arbitrage, allowlisted keepers) only join an open incident
# [responder.safe_service]
# url = "http://127.0.0.1:8000"   # a Safe Transaction Service
# [responder.stress]
# on_incident = true           # an opened incident's stress view, played on a local fork (anvil)

# What an incident's drafted communications say and where a reviewed one may be sent (never on its own).
# [communications]
# security_contact = "security@example.org"   # an email address or an http(s) URL
# bug_bounty = "https://immunefi.com/bounty/example"
# safe_harbor = "https://example.org/safe-harbor"
# status_channels = ["X @example"]
# exchanges = ["listings@exchange.example"]
# notifiers = ["ops"]          # notifiers (above) that may send an approved message
'''
