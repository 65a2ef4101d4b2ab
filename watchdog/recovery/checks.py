"""What must hold before a pause is lifted, derived from the incident's findings and evaluated live:

- `price-in-band`: the price the protocol consumes is back within `band` of its reference for the last N blocks
  (price, oracle and flash-loan findings);
- `spot-insensitive`: on a fork, moving a pool's reserves leaves the consumed price where it was (the adapter no
  longer follows a spot price that one swap moves; price-manipulation and flash-loan findings);
- `keys-revoked`: the owners who signed the attack's Safe transactions are owners no more;
- `pointers-reverted`: no contract still points at what the attack installed (owner, market, oracle,
  implementation: its address views and EIP-1967 slots);
- `balances-reconciled`: every holder of the protocol has at least the tokens it had before the attack.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from watchdog.chain.rpc import RpcClient
from watchdog.manifest import ContractEntry, Manifest
from watchdog.recovery.chain import call_data, read, send_as, word

PRICE_RULES = ("flash-loan", "price-manipulation", "oracle-health")
POINTER_KINDS = ("ownership", "implementation", "oracle-source", "admin", "parameter", "role-admin")
EIP1967_SLOTS = {"implementation": "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc",
                 "admin": "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103"}
HOLDER_ROLES = ("vault", "market", "lending")
BURN = "0x000000000000000000000000000000000000dead"


@dataclass
class Check:
    id: str
    title: str
    holds: bool
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def family(rule_id: str) -> str:
    return rule_id.split(".")[0]


def applicable(findings: list[Any], safe_signers: list[str]) -> list[str]:
    rules = {f.rule_id for f in findings}
    families = {family(r) for r in rules}
    wanted = []
    if families & set(PRICE_RULES):
        wanted.append("price-in-band")
    if families & {"flash-loan", "price-manipulation"}:
        wanted.append("spot-insensitive")
    if safe_signers:
        wanted.append("keys-revoked")
    if any(f.rule_id == "privileged-change." + k for f in findings for k in POINTER_KINDS):
        wanted.append("pointers-reverted")
    if families & {"drain", "flash-loan", "price-manipulation"}:
        wanted.append("balances-reconciled")
    return wanted


# ----------------------------------------------------------------------------------------------- prices

def _adapters(manifest: Manifest, findings: list[Any]) -> list[ContractEntry]:
    named = {f.evidence.get("adapter") for f in findings if f.evidence.get("adapter")}
    adapters = manifest.by_role("oracle_adapter")
    return [a for a in adapters if a.name in named] or adapters


def _scale(entry: ContractEntry, default: int = 18) -> int:
    return int((entry.model_extra or {}).get("decimals", default))


def consumed_price(rpc: RpcClient, adapter: ContractEntry, block: int | str = "latest") -> float | None:
    value = word(rpc, adapter.address, "price()(uint256)", block=block)
    return None if value is None else value / 10 ** _scale(adapter)


def reference_price(rpc: RpcClient, manifest: Manifest, adapter: ContractEntry, block: int | str = "latest") -> float | None:
    name = (adapter.model_extra or {}).get("reference")
    try:
        feed = manifest.by_name(name) if isinstance(name, str) else None
    except KeyError:
        feed = None
    if feed is None:
        return None
    answer = read(rpc, feed.address, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", block)
    decimals = word(rpc, feed.address, "decimals()(uint8)", block=block)
    return answer[1] / 10 ** (decimals if decimals is not None else 8) if answer else None


def price_in_band(rpc: RpcClient, manifest: Manifest, findings: list[Any], band: float, blocks: int) -> Check:
    head = int(rpc.call("eth_blockNumber"), 16)
    rows, worst = [], 0.0
    for adapter in _adapters(manifest, findings):
        for number in range(max(0, head - blocks + 1), head + 1):
            consumed, reference = consumed_price(rpc, adapter, number), reference_price(rpc, manifest, adapter, number)
            if consumed is None or not reference:
                rows.append({"adapter": adapter.name, "block": number, "consumed": consumed, "reference": reference})
                worst = float("inf")
                continue
            deviation = abs(consumed - reference) / reference
            worst = max(worst, deviation)
            rows.append({"adapter": adapter.name, "block": number, "consumed": consumed, "reference": reference,
                         "deviation": deviation})
    holds = bool(rows) and worst <= band
    detail = (f"consumed price within {band:.1%} of its reference for the last {blocks} blocks (worst {worst:.2%})" if holds
              else "no oracle adapter to compare" if not rows
              else f"consumed price off its reference by up to {'an unreadable amount' if worst == float('inf') else f'{worst:.2%}'} "
                   f"in the last {blocks} blocks (band {band:.1%})")
    return Check("price-in-band", "Price back within its band", holds, detail, {"band": band, "blocks": rows})


def spot_insensitive(fork: RpcClient, manifest: Manifest, findings: list[Any], band: float) -> Check:
    """On the fork: take 30% of one side of each pool out (as the pool itself) and sync; the consumed price must
    not follow. The fork is reverted afterwards."""
    pairs = {f.evidence.get("pair") for f in findings if f.evidence.get("pair")}
    pools = [p for p in manifest.by_role("amm_pair") if p.name in pairs] or manifest.by_role("amm_pair")
    rows, moved = [], 0.0
    for adapter in _adapters(manifest, findings):
        for pool in pools:
            snapshot = fork.call("evm_snapshot")
            try:
                before = consumed_price(fork, adapter)
                token = word(fork, pool.address, "token0()(address)")
                balance = word(fork, token, "balanceOf(address)(uint256)", [pool.address]) if token else None
                if before is None or not balance:
                    continue
                send_as(fork, pool.address, token, call_data("transfer(address,uint256)", [BURN, balance * 3 // 10]))
                send_as(fork, BURN, pool.address, call_data("sync()", []))
                after = consumed_price(fork, adapter)
                move = abs((after or 0) - before) / before
                moved = max(moved, move)
                rows.append({"adapter": adapter.name, "pool": pool.name, "before": before, "after": after, "move": move})
            finally:
                fork.call("evm_revert", [snapshot])
    holds = bool(rows) and moved <= band
    detail = (f"a 30% move of a pool's reserves moves the consumed price {moved:.2%}: it does not follow spot" if holds
              else "no pool and adapter to probe" if not rows
              else f"a 30% move of a pool's reserves moves the consumed price {moved:.2%}: it still follows a spot price")
    return Check("spot-insensitive", "Consumed price does not follow a pool's spot price", holds, detail, {"probes": rows})


# ----------------------------------------------------------------------------------------------- keys

def keys_revoked(rpc: RpcClient, manifest: Manifest, signers: list[str]) -> Check:
    safe = manifest.safe.address if manifest.safe else None
    owners = [o.lower() for o in (read(rpc, safe, "getOwners()(address[])") or [[]])[0]] if safe else []
    still = sorted(set(signers) & set(owners))
    holds = not still and bool(owners)
    detail = ("none of the keys that signed the attack's Safe transactions is an owner any more" if holds
              else f"still owners of the Safe: {', '.join(still)}" if still else "the Safe's owners cannot be read")
    return Check("keys-revoked", "Compromised keys' roles revoked", holds, detail,
                 {"compromised": sorted(set(signers)), "owners": owners})


# ----------------------------------------------------------------------------------------------- pointers

def installed(findings: list[Any]) -> list[tuple[str, str]]:
    """(contract name, address the attack installed) from privileged-change evidence: every address argument that
    is not the previous value."""
    out = []
    for f in findings:
        if f.rule_id.split(".")[-1] not in POINTER_KINDS or f.evidence.get("expected"):
            continue
        args = f.evidence.get("args") or {}
        for name, value in args.items():
            if isinstance(value, str) and value.startswith("0x") and len(value) == 42 and not name.lower().startswith("previous"):
                out.append((f.evidence.get("contract"), value.lower()))
    return sorted(set(out))


def pointers_reverted(rpc: RpcClient, manifest: Manifest, findings: list[Any]) -> Check:
    rows = []
    for contract, bad in installed(findings):
        try:
            entry = manifest.by_name(contract)
        except KeyError:
            continue
        pointing = [view for view, value in address_views(rpc, manifest, entry).items() if value == bad]
        rows.append({"contract": contract, "installed": bad, "still_pointing": pointing})
    still = [r for r in rows if r["still_pointing"]]
    holds = bool(rows) and not still
    detail = ("no contract points at what the attack installed any more" if holds
              else "; ".join(f"{r['contract']}.{', '.join(r['still_pointing'])} is still {r['installed']}" for r in still)
              or "nothing installed by the attack could be read")
    return Check("pointers-reverted", "Malicious owner, implementation or oracle reverted", holds, detail, {"pointers": rows})


def address_views(rpc: RpcClient, manifest: Manifest, entry: ContractEntry) -> dict[str, str]:
    """Every address a contract exposes through views without arguments, plus its EIP-1967 slots."""
    out: dict[str, str] = {}
    for item in manifest.abi_of(entry):
        outputs = item.get("outputs") or []
        if (item.get("type") == "function" and item.get("stateMutability") in ("view", "pure") and not item.get("inputs")
                and len(outputs) == 1 and outputs[0].get("type") == "address"):
            value = word(rpc, entry.address, f"{item['name']}()(address)")
            if value is not None:
                out[item["name"] + "()"] = value.lower()
    for name, slot in EIP1967_SLOTS.items():
        raw = rpc.call("eth_getStorageAt", [entry.address, slot, "latest"])
        if int(raw, 16):
            out[f"eip1967.{name}"] = "0x" + raw[-40:].lower()
    return out


# ----------------------------------------------------------------------------------------------- balances

def balances_reconciled(rpc: RpcClient, manifest: Manifest, before_block: int, tolerance: float) -> Check:
    tokens = manifest.by_role("token")
    rows, short = [], []
    for holder in (c for role in HOLDER_ROLES for c in manifest.by_role(role)):
        for token in tokens:
            then = word(rpc, token.address, "balanceOf(address)(uint256)", [holder.address], before_block)
            now = word(rpc, token.address, "balanceOf(address)(uint256)", [holder.address])
            if not then:
                continue
            row = {"holder": holder.name, "token": token.name, "before": str(then), "now": str(now or 0)}
            rows.append(row)
            if (now or 0) < then * (1 - tolerance):
                short.append(f"{holder.name} holds {(now or 0) / then:.1%} of its {token.name} of block {before_block}")
    holds = bool(rows) and not short
    detail = (f"every holder has at least {1 - tolerance:.1%} of its balances of block {before_block}, before the attack"
              if holds else "; ".join(short) or "no holder balances to compare")
    return Check("balances-reconciled", "Balances reconciled", holds, detail, {"before_block": before_block, "balances": rows})
