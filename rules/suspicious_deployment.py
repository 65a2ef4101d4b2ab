"""suspicious-deployment: a new contract (top-level creation, or CREATE/CREATE2 inside a transaction) whose
bytecode looks like an exploit aimed at the watched protocol: flash-loan callbacks together with the
protocol's addresses in its code or constructor arguments. Attackers deploy before they strike, so this
fires before the contract's first call into the protocol; on a pending creation, before it is even mined."""

from __future__ import annotations

from pathlib import Path

from watchdog.chain.events import CallFrame
from watchdog.detect import Check, Context, Rule, Severity
from watchdog.errors import ConfigError
from watchdog.detect.deployment import ScanVerdict, scan_deployment

CREATE_FRAMES = {"CREATE", "CREATE2"}


class SuspiciousDeployment(Rule):
    id = "suspicious-deployment"
    title = "Suspicious contract deployment"
    severity = Severity.MEDIUM
    confidence = 0.6
    description = ("A contract was deployed whose bytecode implements flash-loan callbacks and names watched "
                   "contracts (in its code, immutables or constructor arguments): the preparation stage of an "
                   "exploit. High when it names a core contract (market, vault, lending) and a price source that "
                   "contract reads (or a router to trade on it), since arbitrage bots name only pairs, routers and "
                   "tokens, and leverage loopers and liquidators name the lender alone.")
    references = ("Attack stages seen in real exploits: preparation is a contract deployment with flash-loan "
                  "callbacks that names the victim",)
    params = {
        "min_severity": "medium",   # verdicts below this are not reported (unless from a watched deployer)
        "watched_deployers": [],    # deployers and factories whose every new contract is reported
        "trace_all": False,         # also look for internal creations in every transaction (one trace each)
        "artifacts": [],            # forge `out/` folders: a matching build names the new contract's source
    }
    checks = {
        "exploit-bytecode": Check("Contract deployed with exploit-like bytecode", Severity.MEDIUM, ("min_severity",),
                                  "A new contract's bytecode verdict reaches min_severity: flash-loan callbacks with "
                                  "watched addresses (high when a core contract and a price source it reads are "
                                  "named), escape hatches."),
        "watched-deployer": Check("Contract deployed by a watched deployer", Severity.INFO, ("watched_deployers",),
                                  "Every other contract created by a deployer or factory in watched_deployers (their "
                                  "transactions are traced for internal creations)."),
    }
    needs = {"trace": "contracts created inside transactions (receipts still name top-level deployments)"}

    def __init__(self, params: dict | None = None, checks: dict | None = None) -> None:
        super().__init__(params, checks)
        levels = [s.value for s in Severity]
        if self.params_for("exploit-bytecode")["min_severity"] not in levels:
            raise ConfigError(f"rules.{self.id}.min_severity: {self.params_for('exploit-bytecode')['min_severity']!r} "
                              f"is not one of {', '.join(levels)}")

    def on_tx(self, ctx: Context):
        watched = ctx.registry.addresses()
        deployers = {a.lower() for a in ctx.params_of("watched-deployer")["watched_deployers"]}
        artifacts = [Path(p) for p in self.params["artifacts"]]
        minimum = Severity(ctx.params_of("exploit-bytecode")["min_severity"])
        for address, deployer, init_code, code, how in self._creations(ctx, deployers):
            verdict = scan_deployment(
                ctx.reader, address, watched, init_code=init_code, code=code, block=ctx.at, build_dirs=artifacts
            )
            severity = self._severity(ctx, verdict)
            from_watched = deployer in deployers or ctx.tx.sender in deployers
            if severity >= minimum and ctx.enabled("exploit-bytecode"):
                check = "exploit-bytecode"
            elif from_watched:
                check = "watched-deployer"
            else:
                continue
            yield ctx.finding(
                check=check, severity=severity,
                confidence=verdict.confidence,
                description=f"{how} {address} by {deployer}: " + ("; ".join(verdict.reasons) or "nothing notable in its bytecode"),
                addresses=[address, deployer, ctx.tx.sender, *verdict.watched_references],
                evidence={**verdict.evidence(), "deployer": deployer, "creation": how, "from_watched_deployer": from_watched},
                labels={"stage": "preparation", "new_contract": address, "actor": ctx.tx.sender},
                key=address,
            )

    on_pending = on_tx

    def needs_trace(self, ctx: Context) -> bool:
        deployers = {a.lower() for a in ctx.params_of("watched-deployer")["watched_deployers"]}
        return ctx.tx.to is None or ctx.tx.to in deployers or bool(self.params["trace_all"])

    @staticmethod
    def _severity(ctx: Context, verdict: ScanVerdict) -> Severity:
        """The bytecode verdict, high only when a core contract is named (arbitrage bots name pairs and routers)
        and, once the protocol model is known, a price source that contract reads (or a router to trade on it)
        along with it: wired to a lender and to the very price it lends at is the shape of a manipulation.
        Leverage loopers and liquidators name the lender alone; they stay at medium, the preparation of an
        incident, not a pause."""
        named = set(verdict.watched_references)
        core = [a for a in named if ctx.registry.is_core(a)]
        if verdict.severity < Severity.HIGH:
            return verdict.severity
        if not core:
            return Severity.MEDIUM
        model = ctx.model
        if model is None:
            return verdict.severity
        reads = {source for holder in core if holder in model.holders
                 for use in model.holders[holder].uses for source in model.reads(use.source)}
        routers = {w.address for w in ctx.registry.role("router")}  # a router trades on those pools for it
        return verdict.severity if named & (reads | routers) else Severity.MEDIUM

    def _creations(self, ctx: Context, deployers: set[str]):
        """(address, deployer, init code, runtime code or None, how) for each contract the transaction creates.

        A trace is fetched for creations, for calls to watched deployers/factories and, with `trace_all`, for
        every transaction; a pending transaction comes with its simulation's trace anyway."""
        tx = ctx.tx
        if not (ctx.pending or tx.to is None or tx.to in deployers or self.params["trace_all"]):
            return
        trace = ctx.trace
        if trace is not None:
            for frame in ctx.frames():
                if frame.type.upper() in CREATE_FRAMES and frame.to:
                    top = frame is trace
                    yield frame.to.lower(), frame.sender.lower(), frame.input, _runtime(frame), "deployed" if top else "created internally"
            return
        if tx.to is None and not ctx.pending:  # no tracer on this node: the receipt still names the contract
            address = ctx.receipt().get("contractAddress")
            if address:
                yield address.lower(), tx.sender, tx.input, None, "deployed"


def _runtime(frame: CallFrame) -> str | None:
    # A simulated (pending) creation is not on chain yet: its code is the frame's output.
    return frame.output if frame.output and frame.output != "0x" else None
