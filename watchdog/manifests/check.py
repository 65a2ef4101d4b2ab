"""`watchdog manifest check`: does a manifest describe what is deployed? Code at every address, every ABI function
in the code that runs there (the implementation's behind a proxy), the right chain, pause paths that exist and
answer, and a signer that may send each pause (simulated with eth_call, nothing is sent)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from eth_abi.exceptions import EncodingError

from watchdog.chain.abi import ERROR_STRING, encode_call, parse_call, revert_reason, selector
from watchdog.chain.reader import BlockReader
from watchdog.chain.rpc import RpcAnswerError, RpcClient
from watchdog.redaction import redact_url
from watchdog.errors import ConfigError
from watchdog.manifest import ContractEntry, Manifest, PauseCheck, PauseSpec
from watchdog.manifests.calls import decode_answer
from watchdog.manifests.interfaces import GUARDIAN_PAUSE
from watchdog.manifests.proxies import Proxy, find_proxy
from watchdog.manifests.selectors import abi_functions, code_selectors

GUARDIAN_IS_PAUSED = "isPaused(address,bytes32)(bool)"
CHECK_REASON = "watchdog manifest check"
SHOWN = 4  # missing functions named in one line


@dataclass(frozen=True, slots=True)
class Problem:
    key: str
    problem: str
    fix: str = ""

    def line(self, source: str) -> str:
        return f"{source}: {self.key}: {self.problem}" + (f": {self.fix}" if self.fix else "")


@dataclass(slots=True)
class CheckReport:
    chain_id: int
    block: int
    contracts: int = 0
    pauses: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Deployed:
    """The code at an address: its selectors, with its implementation's behind a proxy."""

    address: str
    proxy: Proxy | None
    selectors: frozenset[str]

    def where(self) -> str:
        return f"{self.address} or its implementation {self.proxy.implementation}" if self.proxy else self.address


@dataclass(frozen=True, slots=True)
class PauseCall:
    """A pause as the manifest spells it: the call to send and the view that shows it is in place."""

    to: str
    call: str
    args: list[Any]
    check_to: str
    check_call: str
    check_args: list[Any]
    bit: int | None
    via_guardian: bool

    @property
    def to_key(self) -> str:
        """The manifest key (under the entry's) that names `to`."""
        return "guardian" if self.via_guardian else "to"


class _Checker:
    def __init__(self, manifest: Manifest, rpc: RpcClient, block: int, report: CheckReport) -> None:
        self.manifest, self.rpc, self.block, self.report = manifest, rpc, block, report
        self.reader = BlockReader(rpc, "check", block)
        self._deployed: dict[str, Deployed | None] = {}

    def problem(self, key: str, problem: str, fix: str = "") -> None:
        self.report.problems.append(Problem(key, problem, fix))

    def deployed(self, address: str) -> Deployed | None:
        address = address.lower()
        if address not in self._deployed:
            code = self.reader.code(address)
            if not code or code == "0x":
                self._deployed[address] = None
            else:
                proxy = find_proxy(self.reader, address, code)
                selectors = code_selectors(code)
                if proxy is not None:
                    selectors |= code_selectors(self.reader.code(proxy.implementation))
                self._deployed[address] = Deployed(address, proxy, frozenset(selectors))
        return self._deployed[address]

    def label(self, address: str) -> str:
        name = next((c.name for c in self.manifest.contracts if c.address.lower() == address.lower()), None)
        return f"{name} ({address})" if name else address

    def abis_at(self, address: str) -> list[list[dict[str, Any]]]:
        out = []
        for entry in self.manifest.contracts:
            if entry.address.lower() == address.lower():
                try:
                    out.append(self.manifest.abi_of(entry))
                except ConfigError:
                    continue
        return out

    # --- one contract ---
    def contract(self, entry: ContractEntry, signer: str | None) -> None:
        key = f"contracts.{entry.name}"
        deployed = self.deployed(entry.address)
        if deployed is None:
            self.problem(f"{key}.address", f"no code at {entry.address} on chain {self.report.chain_id}",
                         "fix the address, or give --rpc a node of the chain it is deployed on")
            return
        self.abi(entry, key, deployed)
        paths = entry.pause_paths
        for n, spec in enumerate(paths, 1):  # one per market or function group when the manifest lists several
            self.report.pauses += 1
            where = f"{key}.pause" if len(paths) == 1 else f"{key}.pause[{n}]"
            pause = self.pause_call(entry, spec, where)
            if pause is not None:
                self.pause(entry, where, pause, signer)

    def abi(self, entry: ContractEntry, key: str, deployed: Deployed) -> None:
        try:
            functions = abi_functions(self.manifest.abi_of(entry))
        except ConfigError as exc:
            self.problem(f"{key}.abi", str(exc))
            return
        missing = [signature for sel, signature in functions.items() if sel not in deployed.selectors]
        if missing:
            named = ", ".join(missing[:SHOWN]) + (f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else "")
            self.problem(f"{key}.abi", f"{len(missing)} of its {len(functions)} functions are not in the code at "
                         f"{deployed.where()}: {named}",
                         "point abi at this contract's own ABI (a proxy: its implementation's), or fix the address")

    # --- its pause ---
    def pause_call(self, entry: ContractEntry, spec: PauseSpec, key: str) -> PauseCall | None:
        """The manifest's pause resolved to addresses and typed arguments; None (with a problem) when it cannot be."""
        target = entry.address.lower()
        if spec.via == "guardian":
            if not spec.guardian:
                self.problem(f"{key}.guardian", "is empty", "set the guardian's address")
                return None
            scope = bytes.fromhex((spec.scope_id or "0x").removeprefix("0x").rjust(64, "0"))
            guardian = spec.guardian.lower()
            return PauseCall(guardian, GUARDIAN_PAUSE, [target, scope, CHECK_REASON], guardian, GUARDIAN_IS_PAUSED,
                             [target, scope], None, True)
        check = spec.check or PauseCheck()
        to = self.resolve(entry, spec.to, f"{key}.to")
        check_to = self.resolve(entry, check.to, f"{key}.check.to")
        args = self.arguments(entry, spec.call, spec.args, f"{key}.args")
        check_args = self.arguments(entry, check.call, check.args, f"{key}.check.args")
        if None in (to, check_to, args, check_args):
            return None
        return PauseCall(to, spec.call, args, check_to, check.call, check_args, check.bit, False)

    def resolve(self, entry: ContractEntry, ref: str | None, key: str) -> str | None:
        """A contract named by manifest name or address (default: the paused contract itself)."""
        try:
            return self.manifest.address_of(ref, entry)
        except ConfigError:
            self.problem(key, f"{ref!r} is neither a contract of the manifest nor an address", "use a manifest name or an address")
            return None

    def arguments(self, entry: ContractEntry, signature: str, values: list[Any], key: str) -> list[Any] | None:
        """Arguments as the ABI encoder takes them: manifest names become addresses, hex strings bytes."""
        try:
            out = self.manifest.call_arguments(signature, values, entry)
            encode_call(signature, out)
        except ConfigError:
            self.problem(key, f"{values!r}: an address argument names no contract of the manifest", "use a manifest name or an address")
            return None
        except (EncodingError, TypeError, ValueError) as exc:
            self.problem(key, f"{values!r} do not fit {signature} ({exc})", "fix the arguments")
            return None
        return out

    def pause(self, entry: ContractEntry, key: str, pause: PauseCall, signer: str | None) -> None:
        deployed = self.deployed(pause.to)
        if deployed is None:
            self.problem(f"{key}.{pause.to_key}", f"no code at {pause.to}", "fix the address of the contract the pause calls")
            return
        if selector(parse_call(pause.call)[0]) not in deployed.selectors:
            if pause.via_guardian:
                self.problem(f"{key}.{pause.to_key}", f"{self.label(pause.to)} has no {pause.call}",
                             "give the watchdog guardian's address")
            else:
                self.problem(f"{key}.call", f"{pause.call} is not in the code of {self.label(pause.to)}",
                             "fix pause.call, or set pause.to to the contract that has it")
            return
        paused = self.paused_now(key, pause)
        if paused is None or signer is None:
            return
        if paused:
            self.report.notes.append(f"{entry.name} is paused now: the signer's pause was not simulated")
            return
        self.simulate(key, pause, signer)

    def paused_now(self, key: str, pause: PauseCall) -> bool | None:
        """The check view's verdict now; None (with a problem) when it does not answer."""
        where = self.label(pause.check_to)
        try:
            raw = self.reader.call(pause.check_to, encode_call(pause.check_call, pause.check_args))
        except RpcAnswerError as exc:
            self.problem(f"{key}.check", f"{pause.check_call} on {where} reverts "
                         f"({_reason(exc.data, self.abis_at(pause.check_to))})",
                         "name a view that answers, with its return types, e.g. paused()(bool)")
            return None
        answer = decode_answer(pause.check_call, raw)
        if not answer or not isinstance(answer[0], (bool, int)):
            self.problem(f"{key}.check", f"{pause.check_call} on {where} does not answer a bool or a number",
                         "name a view that answers, with its return types, e.g. paused()(bool)")
            return None
        value = int(answer[0])
        return bool(value >> pause.bit & 1) if pause.bit is not None else value != 0

    def simulate(self, key: str, pause: PauseCall, signer: str) -> None:
        call = {"from": signer, "to": pause.to, "data": encode_call(pause.call, pause.args)}
        try:
            self.rpc.call("eth_call", [call, hex(self.block)])
        except RpcAnswerError as exc:
            reason = _reason(exc.data, self.abis_at(pause.to))
            self.problem(f"{key}", f"{pause.call} on {self.label(pause.to)} from {signer} reverts ({reason}): "
                         "the signer does not hold the role it needs",
                         "grant the signer the pause role, or configure the signer that holds it")


def check_manifest(manifest: Manifest, rpc: RpcClient, signer: str | None = None) -> CheckReport:
    """Every problem of `manifest` against the chain `rpc` serves, at its current block."""
    chain_id = int(rpc.call("eth_chainId"), 16)
    report = CheckReport(chain_id, int(rpc.call("eth_blockNumber"), 16))
    if manifest.chain_id != chain_id:
        url = redact_url(rpc.endpoints[0].url)
        report.problems.append(Problem("chain_id", f"is {manifest.chain_id} but the node at {url} serves chain {chain_id}",
                                       f"fix chain_id, or give --rpc a node of chain {manifest.chain_id}"))
    checker = _Checker(manifest, rpc, report.block, report)
    for entry in manifest.contracts:
        report.contracts += 1
        checker.contract(entry, signer.lower() if signer else None)
    if manifest.safe is not None and checker.deployed(manifest.safe.address) is None:
        report.problems.append(Problem("safe.address", f"no code at {manifest.safe.address}", "fix the Safe's address"))
    return report


def _reason(data: Any, abis: list[list[dict[str, Any]]]) -> str:
    """A revert as shown in a problem line: a quoted message, a decoded error, or the error's selector."""
    reason = revert_reason(data, abis)
    raw = data.get("data") if isinstance(data, dict) else data
    if reason is None:
        return "without a reason"
    if isinstance(raw, str) and raw[:10].lower() == ERROR_STRING:
        return json.dumps(reason)
    return f"error {reason[:10]}" if reason == raw else reason
