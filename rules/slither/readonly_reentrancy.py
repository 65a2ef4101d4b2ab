"""Read-only reentrancy: an LP price getter (Curve get_virtual_price / lp_price, Balancer getRate /
getPoolTokens) used for valuation without the pool's reentrancy check."""

from __future__ import annotations

from slither.core.declarations import Contract, Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, HighLevelCall, InternalCall, LibraryCall

from watchdog.scan import ir

# Getters whose value is wrong while the pool is in the middle of a call that sent ETH or tokens.
LP_GETTERS = {"get_virtual_price", "lp_price", "getPoolTokens"}
# getRate is also every rate provider's function: only a pool's (BPT) rate is an LP price.
POOL_WORDS = {"pool", "bpt", "lp", "balancer", "vault", "stable", "composable", "weighted"}
# Ways to trip the pool's reentrancy lock first: Balancer's VaultReentrancyLib / manageUserBalance with no
# operations, Curve's remove_liquidity(0, ...) / claim_admin_fees / withdraw_admin_fees.
GUARD_CALLS = {
    "ensureNotInVaultContext", "manageUserBalance", "remove_liquidity", "claim_admin_fees", "withdraw_admin_fees",
}
GUARD_WORDS = {"reentrancy", "reentrant", "reentered"}


class ReadOnlyReentrancy(AbstractDetector):
    ARGUMENT = "wd-readonly-reentrancy"
    HELP = "LP price getter (get_virtual_price, getRate, getPoolTokens) used without the pool's reentrancy check"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://chainsecurity.com/heartbreaks-curve-lp-oracles/"
    WIKI_TITLE = "Read-only reentrancy on LP prices"
    WIKI_DESCRIPTION = "Curve and Balancer pools send ETH or tokens in the middle of remove_liquidity/exitPool, before their state is consistent; a view called from that callback returns a wrong LP price, and a protocol that values collateral with it can be drained."
    WIKI_EXPLOIT_SCENARIO = "The attacker removes liquidity; in the ETH callback, get_virtual_price() is inflated and the attacker borrows against LP collateral at that price."
    WIKI_RECOMMENDATION = "Trip the pool's reentrancy lock before reading: Balancer's VaultReentrancyLib.ensureNotInVaultContext(vault); for Curve, a zero-amount remove_liquidity or claim_admin_fees call (reverts while locked)."
    BUG_CLASS = "read-only reentrancy on LP price"
    EXAMPLE = "uint256 value = lpAmount * curvePool.get_virtual_price() / 1e18;  // no reentrancy check"
    REFERENCES = (
        "https://chainsecurity.com/heartbreaks-curve-lp-oracles/",
        "https://forum.balancer.fi/t/reentrancy-vulnerability-scope-expanded/4345",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/curve-readonly-reentrancy.yaml",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/balancer-readonly-reentrancy-getrate.yaml",
    )

    def _detect(self) -> list:
        results = []
        for contract, function in ir.declared_functions(self.compilation_unit):
            for node, call in self._lp_reads(function):
                if self._guarded(contract, function):
                    break
                info = [function, f" values with {call.function_name}() at ", node, " without checking the pool's reentrancy lock\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _lp_reads(function: Function):
        for node, call in ir.high_level_calls(function, LP_GETTERS | {"getRate"}):
            if isinstance(call, LibraryCall):
                continue
            if str(call.function_name) == "getRate" and not POOL_WORDS & set(_destination_words(call)):
                continue
            if call.lvalue is not None and (_used_in_math(function, call) or ir.returns_dependent_on(function, [call.lvalue, *ir.unpacked(function, call).values()])):
                yield node, call

    @staticmethod
    def _guarded(contract: Contract, function: Function) -> bool:
        """A guard call on the way to the read, or in every caller of this (internal) function."""
        scope = ir.reachable(function)
        for f in scope:
            if GUARD_WORDS & set(ir.words(f.name)):
                return True
            for node in f.nodes:
                for op in node.irs:
                    if isinstance(op, (HighLevelCall, InternalCall)) and (
                        str(op.function_name) in GUARD_CALLS or GUARD_WORDS & set(ir.words(str(op.function_name)))
                    ):
                        return True
        callers = ir.callers(function, contract)
        return bool(callers) and function.visibility in ("internal", "private") and all(
            ReadOnlyReentrancy._guarded(contract, c) for c in callers
        )


def _destination_words(call: HighLevelCall) -> list[str]:
    names = [ir.destination_name(call)]
    kind = getattr(call.destination, "type", None)
    if kind is not None:
        names.append(str(kind))
    return [w for n in names for w in ir.words(n)]


def _used_in_math(function: Function, call: HighLevelCall) -> bool:
    values = [call.lvalue, *ir.unpacked(function, call).values()]
    return any(
        isinstance(op, Binary) and any(ir.depends(v, values, function) for v in (op.variable_left, op.variable_right))
        for node in function.nodes
        for op in node.irs
    )
