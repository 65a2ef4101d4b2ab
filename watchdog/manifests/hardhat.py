"""`watchdog manifest from-hardhat`: a manifest from a hardhat-deploy folder (deployments/<network>/): one
<Name>.json per deployment with `address`, `abi`, `receipt.blockNumber` and, for a proxy, `implementation`
(hardhat-deploy then also writes <Name>_Implementation.json and <Name>_Proxy.json, the latter at the proxy's
address); the chain id in the `.chainId` file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdog.errors import ConfigError
from watchdog.manifests.from_abi import Known, drafts_from_abis
from watchdog.manifests.jsonfile import read_json
from watchdog.manifests.writer import Draft


@dataclass(slots=True)
class HardhatDeployment:
    chain_id: int
    block: int
    drafts: list[Draft]


def from_hardhat(folder: Path, chain_id: int | None = None) -> HardhatDeployment:
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: give a hardhat-deploy network folder such as deployments/mainnet")
    deployments = []
    for path in sorted(folder.glob("*.json")):
        data = read_json(path, "deployment")
        if not (isinstance(data, dict) and isinstance(data.get("address"), str) and isinstance(data.get("abi"), list)):
            raise ConfigError(f"{path} is not a hardhat-deploy deployment (it needs `address` and `abi`): "
                              "give the folder of one network, such as deployments/mainnet")
        deployments.append((path.stem, data))
    if not deployments:
        raise ConfigError(f"{folder} has no <Name>.json deployment files: give a hardhat-deploy network folder")
    # <Name>_Proxy.json repeats the proxy at <Name>.json's address: keep the deployment that knows the implementation.
    by_address: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, data in deployments:
        address = data["address"].lower()
        if address not in by_address or (data.get("implementation") and not by_address[address][1].get("implementation")):
            by_address[address] = (name, data)
    chosen = [(n, d) for n, d in deployments if by_address[d["address"].lower()][0] == n]
    known = [Known(name, data["address"], data["abi"], implementation=data.get("implementation")) for name, data in chosen]
    blocks = [b for b in (_block(data) for _, data in chosen) if b is not None]
    return HardhatDeployment(_chain_id(folder, chain_id), max(blocks, default=0), drafts_from_abis(known))


def _block(data: dict[str, Any]) -> int | None:
    number = (data.get("receipt") or {}).get("blockNumber")
    if number is None:
        return None
    return int(number, 16) if isinstance(number, str) and number.startswith("0x") else int(number)


def _chain_id(folder: Path, given: int | None) -> int:
    if given is not None:
        return given
    marker = folder / ".chainId"
    try:
        return int(marker.read_text().strip())
    except OSError:
        raise ConfigError(f"{folder} has no .chainId file: pass --chain-id") from None
    except ValueError:
        raise ConfigError(f"{marker} does not hold a chain id (a whole number): fix it, or pass --chain-id") from None
