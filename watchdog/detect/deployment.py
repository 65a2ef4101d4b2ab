"""Fast verdict on a freshly deployed contract, from its bytecode alone (milliseconds, a few RPC reads):
does it look like an exploit contract aimed at the watched protocol?

Attackers deploy their exploit contract before they use it. Its tell-tales: flash-loan callbacks in the
dispatcher, the victim's addresses baked into the code (constants, immutables) or passed to the
constructor, and escape hatches (SELFDESTRUCT, DELEGATECALL to swap logic in later).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from watchdog.chain.events import ChainReader
from watchdog.finding import Severity
from watchdog.detect import artifacts, bytecode

ZERO_WORD = "0x" + "0" * 64


@dataclass(slots=True)
class ScanVerdict:
    address: str
    code_size: int
    severity: Severity  # INFO: nothing notable; LOW: one weak sign; MEDIUM/HIGH: suspicious
    confidence: float
    reasons: list[str] = field(default_factory=list)
    flash_callbacks: list[str] = field(default_factory=list)
    watched_references: list[str] = field(default_factory=list)  # watched addresses in code or constructor args
    opcodes: list[str] = field(default_factory=list)
    proxy: dict[str, str] | None = None  # {"kind": "eip1967"|"eip1167", "implementation": address}
    selectors: list[str] = field(default_factory=list)
    source: str | None = None  # "path:Contract" when local build artifacts know this bytecode

    @property
    def suspicious(self) -> bool:
        return self.severity >= Severity.MEDIUM

    def evidence(self) -> dict:
        """A JSON-ready summary for a Finding's evidence."""
        return {
            "address": self.address,
            "code_size": self.code_size,
            "reasons": self.reasons,
            "flash_callbacks": self.flash_callbacks,
            "watched_references": self.watched_references,
            "opcodes": self.opcodes,
            "proxy": self.proxy,
            "source": self.source,
        }


def _implementation(reader: ChainReader, address: str, facts: bytecode.BytecodeFacts) -> dict[str, str] | None:
    if facts.minimal_proxy_target:
        return {"kind": "eip1167", "implementation": facts.minimal_proxy_target}
    if "implementation" in facts.eip1967 or "beacon" in facts.eip1967:
        word = reader.storage_at(address, bytecode.EIP1967_SLOTS["implementation"])
        if word and word != ZERO_WORD and int(word, 16):
            return {"kind": "eip1967", "implementation": "0x" + word[-40:].lower()}
    return None


def scan_deployment(
    reader: ChainReader,
    address: str,
    watched: set[str],
    *,
    init_code: str | None = None,
    code: str | None = None,
    block: int | str = "latest",
    build_dirs: list[Path] = (),
) -> ScanVerdict:
    """Bytecode verdict on `address`. `watched`: lowercase addresses of the protocol's contracts (and any
    other address worth noticing); `init_code`: the creation input (constructor arguments are at its end);
    `code`: the runtime code when already known (a simulated pending creation's trace output);
    `build_dirs`: forge `out/` folders whose sources are named in the verdict when the bytecode matches."""
    address = address.lower()
    watched = {w.lower() for w in watched}
    code = code or reader.code(address, block)
    if not code or code == "0x":
        return ScanVerdict(address, 0, Severity.INFO, 0.0, ["no runtime code (creation failed or self-destructed)"])
    facts = bytecode.analyse(code)
    proxy = _implementation(reader, address, facts)
    if proxy:  # judge the logic behind a proxy, not the proxy's own forwarding code
        impl_code = reader.code(proxy["implementation"], block)
        if impl_code and impl_code != "0x":
            impl = bytecode.analyse(impl_code)
            facts.flash_callbacks = sorted({*facts.flash_callbacks, *impl.flash_callbacks})
            facts.addresses |= impl.addresses
            facts.opcodes |= impl.opcodes - {"DELEGATECALL"}
            facts.selectors |= impl.selectors
        facts.opcodes.discard("DELEGATECALL")  # a proxy delegates by design

    in_code = sorted(facts.addresses & watched)
    init_hex = (init_code or "").lower().removeprefix("0x")
    in_args = sorted(w for w in watched - set(in_code) if init_hex and w.removeprefix("0x") in init_hex)
    references = in_code + in_args
    reasons = []
    if facts.flash_callbacks:
        reasons.append(f"implements flash-loan callbacks: {', '.join(facts.flash_callbacks)}")
    if in_code:
        reasons.append(f"embeds watched addresses: {', '.join(in_code)}")
    if in_args:
        reasons.append(f"constructor arguments name watched addresses: {', '.join(in_args)}")
    escape = sorted(facts.opcodes & {"SELFDESTRUCT", "DELEGATECALL", "CALLCODE"})
    if escape:
        reasons.append(f"can {' / '.join(escape)}")
    if proxy:
        reasons.append(f"{proxy['kind']} proxy to {proxy['implementation']}")

    if facts.flash_callbacks and references:
        severity, confidence = Severity.HIGH, 0.8 if escape else 0.7
    elif (facts.flash_callbacks or references) and escape:
        severity, confidence = Severity.MEDIUM, 0.5
    elif facts.flash_callbacks or references:
        severity, confidence = Severity.LOW, 0.3
    else:
        severity, confidence = Severity.INFO, 0.1
    known = artifacts.from_forge_artifacts(code, list(build_dirs)) if build_dirs else None
    if known:
        reasons.append(f"bytecode of {known.contract} ({known.target.name}) from the local build")
    return ScanVerdict(
        source=f"{known.target}:{known.contract}" if known else None,
        address=address,
        code_size=facts.size,
        severity=severity,
        confidence=confidence,
        reasons=reasons,
        flash_callbacks=facts.flash_callbacks,
        watched_references=references,
        opcodes=sorted(facts.opcodes),
        proxy=proxy,
        selectors=sorted(facts.selectors),
    )
