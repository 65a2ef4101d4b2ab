"""`watchdog manifest from-foundry`: a manifest from a forge broadcast (`forge script --broadcast` writes
broadcast/<Script>.s.sol/<chain id>/run-latest.json) and the ABIs of the forge build (`out/`).

Deployments are the CREATE and CREATE2 transactions (`contractName`, `contractAddress`) and the contracts they
(or any call) created on the way (`additionalContracts`); the manifest's block is the last deployment receipt's.
An EIP-1967 proxy whose constructor names a contract of the same run gets that implementation's ABI and role.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.detect import bytecode
from watchdog.errors import ConfigError
from watchdog.manifests.from_abi import Known, drafts_from_abis
from watchdog.manifests.jsonfile import read_json
from watchdog.manifests.writer import Draft

CREATES = ("CREATE", "CREATE2")


@dataclass(slots=True)
class Created:
    """One contract the run deployed."""

    name: str
    address: str
    init_code: str  # creation code with constructor arguments (what the artifact is matched against)
    arguments: list[Any] | None  # constructor arguments as forge printed them (None for inner creations)


@dataclass(slots=True)
class FoundryDeployment:
    chain_id: int
    block: int
    drafts: list[Draft]


def from_foundry(broadcast: Path, artifacts: Path | None = None) -> FoundryDeployment:
    data = read_json(broadcast, "forge broadcast")
    transactions = data.get("transactions") if isinstance(data, dict) else None
    if not isinstance(transactions, list):
        raise ConfigError(f"{broadcast} is not a forge broadcast (no `transactions` list): "
                          "give broadcast/<Script>.s.sol/<chain id>/run-latest.json")
    receipts = {r.get("transactionHash"): r for r in data.get("receipts") or [] if isinstance(r, dict)}
    created, blocks = [], []
    for tx in transactions:
        receipt = receipts.get(tx.get("hash"))
        inner = tx.get("additionalContracts") or []
        if tx.get("transactionType") not in CREATES and not inner:
            continue
        if receipt is None:
            raise ConfigError(f"{broadcast}: transaction {tx.get('hash')} has no receipt: this run was not sent; "
                              "run `forge script ... --broadcast` and give its run-latest.json")
        if int(str(receipt.get("status", "0x1")), 16) == 0:
            continue  # reverted: nothing was deployed
        blocks.append(_number(receipt.get("blockNumber")))
        if tx.get("transactionType") in CREATES and tx.get("contractAddress"):
            payload = tx.get("transaction") or {}
            created.append(Created(_contract_name(tx.get("contractName")), tx["contractAddress"],
                                   payload.get("input") or payload.get("data") or "", tx.get("arguments")))
        for item in inner:
            created.append(Created(_contract_name(item.get("contractName")), item["address"], item.get("initCode") or "", None))
    if not created:
        raise ConfigError(f"{broadcast}: the run deployed no contract (no CREATE or CREATE2 transaction)")
    out = artifacts or _forge_out(broadcast)
    return FoundryDeployment(_chain_id(data, transactions), max(blocks), drafts_from_abis(_known(created, out)))


def _known(created: list[Created], out: Path) -> list[Known]:
    artifacts = [_artifact(out, c) for c in created]
    addresses = {c.address.lower(): n for n, c in enumerate(created)}
    known = []
    for contract, artifact in zip(created, artifacts):
        implementation = _implementation(contract, artifact, addresses)
        if implementation is None:
            known.append(Known(contract.name, contract.address, artifact["abi"], abi_file=contract.name))
            continue
        logic, logic_artifact = created[implementation], artifacts[implementation]
        # The proxy answers the implementation's functions and emits its own upgrade events.
        abi = logic_artifact["abi"] + [i for i in artifact["abi"] if i.get("type") == "event"]
        known.append(Known(logic.name, contract.address, abi, f"{contract.name}-{logic.name}", logic.address))
    for item in known:  # an implementation keeps its type name apart from the proxy that takes its name
        if any(other.implementation and other.implementation.lower() == item.address.lower() for other in known):
            item.name = f"{item.name}Implementation"
    return known


def _implementation(contract: Created, artifact: dict[str, Any], addresses: dict[str, int]) -> int | None:
    """Index of the contract of this run that an EIP-1967 proxy's constructor names, if any."""
    code = (artifact.get("deployedBytecode") or {}).get("object") or ""
    if not code or "__$" in code:  # no code, or library placeholders: not a proxy's
        return None
    if "implementation" not in bytecode.analyse(code).eip1967:
        return None
    for argument in contract.arguments or []:
        if isinstance(argument, str) and argument.lower() in addresses:
            return addresses[argument.lower()]
    return None


def _artifact(out: Path, contract: Created) -> dict[str, Any]:
    """The forge artifact of `contract`: out/<File>.sol/<Name>.json (or <Name>.<solc version>.json). When several
    files define the name, or forge did not name the contract, the one whose creation code starts its init code
    (and an unnamed contract takes the artifact's name)."""
    if not out.is_dir():
        raise ConfigError(f"forge artifacts folder {out} does not exist: run `forge build`, or pass --artifacts <out/>")
    globs = [f"*/{contract.name}.json", f"*/{contract.name}.*.json"] if contract.name else ["*/*.json"]
    candidates = {}
    for path in sorted({path for pattern in globs for path in out.glob(pattern)}):
        artifact = read_json(path, "forge artifact")
        if isinstance(artifact, dict) and isinstance(artifact.get("abi"), list):
            candidates[path] = artifact
    if len(candidates) == 1 and contract.name:
        return next(iter(candidates.values()))
    init = contract.init_code.lower().removeprefix("0x")
    matching = [(path, a) for path, a in candidates.items() if _creation_code(a) and _creation_code(a) in init]
    if not matching:
        what = contract.name or f"the contract created at {contract.address}"
        raise ConfigError(f"no artifact of {what} under {out}: run `forge build` with the deployment's sources, "
                          "or pass --artifacts <out/>")
    path, artifact = matching[0]  # identical creation code in several files: any one has the same ABI
    contract.name = contract.name or path.name.split(".")[0]
    return artifact


def _creation_code(artifact: dict[str, Any]) -> str:
    return ((artifact.get("bytecode") or {}).get("object") or "").lower().removeprefix("0x")


def _forge_out(broadcast: Path) -> Path:
    """The build folder of the project the broadcast belongs to (foundry.toml's `out`, default out/)."""
    for folder in Path(broadcast).resolve().parents:
        config = folder / "foundry.toml"
        if config.is_file():
            try:
                settings = tomllib.loads(config.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config} is not valid TOML ({exc}): fix it, or pass --artifacts <out/>") from exc
            return folder / settings.get("profile", {}).get("default", {}).get("out", "out")
    raise ConfigError(f"no foundry.toml above {broadcast}: pass --artifacts with the project's out/ folder")


def _contract_name(name: str | None) -> str:
    return (name or "").rsplit(":", 1)[-1]  # "src/Vault.sol:Vault" -> "Vault"; "" when forge did not name it


def _chain_id(data: dict[str, Any], transactions: list[dict[str, Any]]) -> int:
    if isinstance(data.get("chain"), int):
        return data["chain"]
    for tx in transactions:
        chain = (tx.get("transaction") or {}).get("chainId")
        if chain is not None:
            return _number(chain)
    raise ConfigError("the broadcast names no chain id (no `chain` key): give a run-latest.json written by forge script")


def _number(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)
