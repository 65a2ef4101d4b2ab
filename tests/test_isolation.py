"""Isolation by the protocol model: a finding about a price source pauses the holders that consume it (through
adapters and TWAPs too, and of a contract paused market by market only the markets that read it); a finding about
a protocol pauses it and the holders of its claim token, transitively; nothing else. Without a model, what the
finding names (or every pausable contract). Then on the Harbor world: the engine learns the model, the responder
pauses exactly the market reading a feed and writes the blast radius on the incident."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address

from test_respond_support import PASSWORD, PASSWORD_ENV, keystore, nonce
from watchdog.chain.abi import encode_call
from watchdog.chain.events import BlockBundle
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcClient
from watchdog.config.response import Playbook, PlaybookAction, ResponseConfig, SignerConfig
from watchdog.detect.engine import Engine
from watchdog.detect.model import Holder, ProtocolModel, Source, Use
from watchdog.detect.model.keeper import STATE_KEY, STATE_RULE
from watchdog.devnet import world2 as harbor
from watchdog.devnet.world2 import USD, HarborWorld
from watchdog.errors import ConfigError
from watchdog.finding import Finding, Severity
from watchdog.manifest import Manifest
from watchdog.respond import Responder
from watchdog.respond.isolation import Target, affected, load_model, select_targets
from watchdog.store import Store, incidents, rulestate


def addr(label: str) -> str:
    """A made-up address with letters in it (its checksummed form differs from the lowercase one)."""
    return "0x" + hashlib.sha256(label.encode()).hexdigest()[:40]


ETH, BTC = "0x" + "e1" * 32, "0x" + "b7" * 32           # market ids
OPT_CALLS, OPT_PUTS = "0x" + "c4" * 32, "0x" + "d5" * 32  # the options house's two guardian scopes
A = {name: addr(name) for name in ("Perps", "Options", "Lending", "Vault", "Fund", "Idle", "EthFeed", "BtcFeed",
                                   "HbrPool", "Twap", "Adapter", "LoneFeed", "WETH", "Guardian", "attacker")}


def per_market(ids: list[str]) -> list[dict]:
    return [{"via": "self", "call": "pauseMarket(bytes32)", "args": [i],
             "check": {"call": "isMarketPaused(bytes32)(bool)", "args": [i]}} for i in ids]


def guardian_scopes(ids: list[str]) -> list[dict]:
    return [{"via": "guardian", "guardian": A["Guardian"], "scope": "market", "scope_id": i} for i in ids]


def manifest(checksummed: bool = False) -> Manifest:
    def at(name: str) -> str:
        return to_checksum_address(A[name]) if checksummed else A[name]
    pausable = {"Perps": ("market", per_market([ETH, BTC])), "Options": ("market", guardian_scopes([OPT_CALLS, OPT_PUTS])),
                "Lending": ("lending", {"via": "self", "call": "pause()"}), "Vault": ("vault", {"via": "self", "call": "freeze()"}),
                "Fund": ("vault", {"via": "self"}), "Idle": ("vault", {"via": "self"})}
    plain = {"EthFeed": "oracle_feed", "BtcFeed": "oracle_feed", "LoneFeed": "oracle_feed", "HbrPool": "amm_pair",
             "Twap": "twap_oracle", "Adapter": "oracle_adapter", "WETH": "token", "Guardian": "guardian"}
    contracts = [{"name": n, "address": at(n), "role": role, "pause": pause} for n, (role, pause) in pausable.items()]
    contracts += [{"name": n, "address": at(n), "role": role} for n, role in plain.items()]
    return Manifest.model_validate({"chain_id": 31337, "contracts": contracts})


def model() -> ProtocolModel:
    """Perps reads two feeds, one per market; Options a TWAP over a pool; Lending an adapter over the ETH feed
    (pricing WETH collateral) and takes Vault shares as collateral; Fund holds Lending's shares; Idle reads nothing."""
    holders = [
        Holder(A["Perps"], "Perps", "market", "p", uses=[Use(A["EthFeed"], "markets", ETH), Use(A["BtcFeed"], "markets", BTC)]),
        Holder(A["Options"], "Options", "market", "p", uses=[Use(A["Twap"], "oracle")]),
        Holder(A["Lending"], "Lending", "lending", "p", uses=[Use(A["Adapter"], "collateralConfig", A["WETH"])],
               holds={A["Vault"]: 5, A["WETH"]: 9}, claim_token=A["Lending"]),
        Holder(A["Vault"], "Vault", "vault", "p", claim_token=A["Vault"]),
        Holder(A["Fund"], "Fund", "vault", "p", holds={A["Lending"]: 7}, claim_token=A["Fund"]),
        Holder(A["Idle"], "Idle", "vault", "p", claim_token=A["Idle"]),
    ]
    sources = [Source(A["EthFeed"], "feed", "EthFeed"), Source(A["BtcFeed"], "feed", "BtcFeed"),
               Source(A["LoneFeed"], "feed", "LoneFeed"), Source(A["HbrPool"], "pair", "HbrPool"),
               Source(A["Twap"], "derived", "Twap", inputs=[A["HbrPool"]]),
               Source(A["Adapter"], "derived", "Adapter", inputs=[A["EthFeed"]])]
    return ProtocolModel({h.address: h for h in holders}, {s.address: s for s in sources}, {A["WETH"]: "WETH"})


def paused(names: list[str], learned: ProtocolModel | None = None, targets: tuple[str, ...] = ("affected",),
           checksummed: bool = False) -> dict[str, list[str]]:
    """What a playbook pauses for a finding naming `names` (and an attacker): contract -> the ids of the markets or
    scopes paused (empty for a whole-contract pause)."""
    m = manifest(checksummed)
    chosen = select_targets(m, list(targets), [A[n] for n in names] + [A["attacker"]], learned)
    return {t.entry.name: sorted(_scope(p.decoded) for p in t.plans(m, "test", "pause") if _scope(p.decoded))
            for t in chosen}


def _scope(decoded: dict) -> str:
    args = decoded["args"]
    return args.get("scope") if "scope" in args and args["scope"] != "0x" + "00" * 32 else args.get("0", "")


# --- with a model ---

def test_a_source_pauses_only_its_consumers_and_only_the_markets_reading_it() -> None:
    assert paused(["EthFeed"], model()) == {"Perps": [ETH], "Lending": []}  # Lending through its adapter
    assert paused(["BtcFeed"], model()) == {"Perps": [BTC]}
    m = manifest()
    (perps,) = [t for t in select_targets(m, ["affected"], [A["BtcFeed"]], model())]
    assert perps.why == "consumes BtcFeed" and perps.keys == {BTC}


def test_a_pool_behind_a_twap_pauses_the_twaps_consumer() -> None:
    both = sorted([OPT_CALLS, OPT_PUTS])  # the TWAP is read under no key: every scope of the options house
    assert paused(["HbrPool"], model()) == {"Options": both}
    assert paused(["Twap"], model()) == {"Options": both}
    assert paused(["Adapter"], model()) == {"Lending": []}  # not Perps: it reads the feed, not the adapter


def test_what_nobody_consumes_pauses_nothing() -> None:
    assert paused(["LoneFeed"], model()) == {}
    assert paused([], model()) == {}  # only the attacker is named
    assert paused(["WETH"], model()) == {}


def test_a_protocol_pauses_itself_and_the_holders_of_its_claims() -> None:
    assert paused(["Vault"], model()) == {"Vault": [], "Lending": [], "Fund": []}  # Fund holds Lending's shares
    reasons = {t.entry.name: t.why for t in select_targets(manifest(), ["affected"], [A["Vault"]], model())}
    assert reasons["Lending"] == "holds Vault's claim token as collateral"
    assert reasons["Fund"] == "holds Lending's claim token as collateral"
    assert paused(["Fund"], model()) == {"Fund": []}  # it holds claims; nobody holds its own
    assert paused(["Idle"], model()) == {"Idle": []}


def test_a_named_contract_is_paused_whole_even_beside_a_source_it_reads() -> None:
    assert paused(["Perps"], model()) == {"Perps": [BTC, ETH]}
    assert paused(["Perps", "EthFeed"], model()) == {"Perps": [BTC, ETH], "Lending": []}
    # the manifest's checksummed addresses name the same contracts as the model's lowercase ones
    assert paused(["Perps", "EthFeed"], model(), checksummed=True) == {"Perps": [BTC, ETH], "Lending": []}
    once = affected(manifest(checksummed=True), [A["Perps"], A["EthFeed"]], model())
    assert sorted(t.entry.name for t in once) == ["Lending", "Perps"]  # each contract once
    assert paused(["EthFeed"], model(), checksummed=True) == {"Perps": [ETH], "Lending": []}


def test_a_market_and_the_vault_it_names_are_one_system() -> None:
    linked = model()
    linked.holders[A["Options"]].links = {A["Idle"]: "vault"}  # the options house keeps its collateral in Idle
    assert paused(["HbrPool"], linked) == {"Options": sorted([OPT_CALLS, OPT_PUTS]), "Idle": []}
    assert paused(["Idle"], linked) == {"Idle": [], "Options": sorted([OPT_CALLS, OPT_PUTS])}  # either way round
    assert paused(["HbrPool"], model()) == {"Options": sorted([OPT_CALLS, OPT_PUTS])}  # unlinked: the vault stays open


# --- without a model, and explicit targets ---

def test_without_a_model_the_named_contracts_or_every_pausable_one() -> None:
    assert paused(["Options"]) == {"Options": sorted([OPT_CALLS, OPT_PUTS])}
    everything = {"Perps": [BTC, ETH], "Options": sorted([OPT_CALLS, OPT_PUTS]), "Lending": [], "Vault": [], "Fund": [],
                  "Idle": []}
    assert paused(["EthFeed"]) == everything  # who reads the feed is unknown: better too much than a market left open
    assert paused([]) == everything


def test_explicit_names_and_all() -> None:
    chosen = select_targets(manifest(), ["Idle"], [A["EthFeed"]], model())
    assert [(t.entry.name, t.why) for t in chosen] == [("Idle", "named by the playbook")]
    assert set(paused(["LoneFeed"], model(), targets=("all",))) == {"Perps", "Options", "Lending", "Vault", "Fund", "Idle"}
    assert paused(["BtcFeed"], model(), targets=("Idle", "affected")) == {"Idle": [], "Perps": [BTC]}
    with pytest.raises(ConfigError, match="'Nowhere' is not a contract of the manifest"):
        select_targets(manifest(), ["Nowhere"], [], model())


def test_a_target_with_a_key_no_path_names_pauses_every_path() -> None:
    m = manifest()
    perps = Target(m.by_name("Perps"), "test", keys={"0x" + "00" * 31 + "01"})
    assert len(perps.plans(m, "test", "pause")) == 2


def test_the_responder_reads_the_model_the_engine_keeps(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    assert load_model(store, "net") is None
    with store.session() as s:
        rulestate.put_value(s, "net", STATE_RULE, STATE_KEY, {"model": model().to_json(), "time": 1})
    assert load_model(store, "net") == model()
    assert load_model(store, "other") is None
    store.close()


# --- on the Harbor world ---

NETWORK = "harbor"


@pytest.fixture
def hw(harbor_world: HarborWorld, monkeypatch: pytest.MonkeyPatch) -> HarborWorld:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return harbor_world


@pytest.fixture
def responder(hw: HarborWorld, tmp_path: Path) -> Iterator[tuple[Responder, Store]]:
    """A responder pausing what a finding affects, over a store where the engine has learned the model."""
    store = Store(f"sqlite:///{tmp_path / 'wd.db'}")
    client = RpcClient(hw.rpc_url)
    reader = BlockReader(client, NETWORK)
    Engine(NETWORK, hw.manifest, store, builtin=False).on_block(BlockBundle(NETWORK, reader.latest_block(), [], {}, reader))
    client.close()
    config = ResponseConfig(
        playbooks=[Playbook(name="isolate", actions=[PlaybookAction(type="pause", targets=["affected"])])],
        signers={"responder": SignerConfig(keystore=keystore(tmp_path, "responder", hw.accounts.responder.key),
                                           password_env=PASSWORD_ENV)},
        executor={"min_priority_fee_gwei": 1.0})
    handler = Responder(config, store, hw.rpc_url, hw.manifest, network=NETWORK)
    yield handler, store
    handler.close()
    store.close()


def finding_about(hw: HarborWorld, name: str) -> Finding:
    return Finding(rule_id="oracle-health.stale", title=f"{name} misbehaves", severity=Severity.CRITICAL, confidence=0.9,
                   network=NETWORK, block_number=hw.block_number(), addresses=[hw.addresses[name].lower()], key=name)


def view(hw: HarborWorld, name: str, signature: str, *args: object) -> bool:
    data = encode_call(signature.split(")(")[0] + ")", list(args))
    return decode(["bool"], bytes.fromhex(hw.rpc("eth_call", [{"to": hw.addresses[name], "data": data}, "latest"])[2:]))[0]


def market_paused(hw: HarborWorld, symbol: str) -> bool:
    return view(hw, "PerpExchange", "isMarketPaused(bytes32)(bool)", bytes.fromhex(harbor.MARKETS[symbol][2:]))


def others_paused(hw: HarborWorld, *names: str) -> dict[str, bool]:
    return {name: view(hw, name, "paused()(bool)") for name in names}


def isolation_events(store: Store) -> list[dict]:
    with store.session() as s:
        return [e.detail for e in incidents.events(s, kind="isolation")]


def test_a_stale_feed_pauses_only_the_market_marked_by_it(hw: HarborWorld, responder: tuple[Responder, Store]) -> None:
    handler, store = responder
    result = handler.handle([finding_about(hw, "EthUsdFeed")])
    assert handler.wait(60) and len(result.pauses) == 1 and result.pauses[0].sent
    assert market_paused(hw, "ETH-PERP") and not market_paused(hw, "BTC-PERP")
    assert others_paused(hw, "CreditPool", "OptionsHouse", "SavingsVault", "TermVault") == dict.fromkeys(
        ["CreditPool", "OptionsHouse", "SavingsVault", "TermVault"], False)
    (detail,) = isolation_events(store)
    assert detail["learned"] is True
    (radius,) = detail["blast_radius"]
    assert (radius["contract"], radius["why"], radius["markets"]) == ("PerpExchange", "consumes EthUsdFeed",
                                                                       [harbor.MARKETS["ETH-PERP"]])
    held = hw.contract("hUSD").functions.balanceOf(hw.addresses["PerpExchange"]).call() / USD
    assert isinstance(radius["value_at_risk"], float) and radius["value_at_risk"] == pytest.approx(held)


def test_a_source_no_protocol_reads_pauses_nothing(hw: HarborWorld, responder: tuple[Responder, Store]) -> None:
    handler, store = responder
    sent = nonce(hw, hw.accounts.responder.address)
    result = handler.handle([finding_about(hw, "ForkSwapWethUsd")])
    assert handler.wait(60) and result.incidents and not result.pauses
    assert nonce(hw, hw.accounts.responder.address) == sent and not isolation_events(store)
    assert not market_paused(hw, "ETH-PERP") and not any(others_paused(hw, "CreditPool", "OptionsHouse").values())


def test_a_vault_pauses_with_the_pool_holding_its_shares(hw: HarborWorld, responder: tuple[Responder, Store]) -> None:
    handler, store = responder
    handler.handle([finding_about(hw, "SavingsVault")])
    assert handler.wait(60)
    assert others_paused(hw, "SavingsVault", "CreditPool", "TermVault", "OptionsHouse") == {
        "SavingsVault": True, "CreditPool": True, "TermVault": False, "OptionsHouse": False}
    assert not market_paused(hw, "ETH-PERP")
    (detail,) = isolation_events(store)
    why = {r["contract"]: r["why"] for r in detail["blast_radius"]}
    assert why == {"SavingsVault": "named by the finding", "CreditPool": "holds SavingsVault's claim token as collateral"}
