"""Liquidations that resume the moment a market is unpaused: no grace period for users to add margin."""

from __future__ import annotations

from slither.core.declarations import Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

PAUSE_HELPERS = {"whenNotPaused", "_requireNotPaused", "requireNotPaused", "notPaused"}


class LiquidationWithoutGracePeriod(AbstractDetector):
    ARGUMENT = "wd-liquidation-no-grace"
    HELP = "Liquidation that resumes immediately after an unpause (no grace period)"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://github.com/aave-dao/aave-v3-origin/blob/main/docs/3.1/Aave-v3.1-features.md"
    WIKI_TITLE = "No liquidation grace period after unpause"
    WIKI_DESCRIPTION = "While a market is paused users cannot repay or add collateral, but prices keep moving; when it is unpaused, liquidation bots act in the same block, before users can react. (The sequencer-restart case is wd-l2-sequencer's grace-period check.)"
    WIKI_EXPLOIT_SCENARIO = "A market is paused for two hours during an incident; ETH drops 8%; on unpause, bots liquidate every position that went under, in the first block."
    WIKI_RECOMMENDATION = "Record when the market was unpaused and refuse liquidations until a grace period has passed (Aave v3.1's liquidationGracePeriodUntil)."
    BUG_CLASS = "liquidation fairness: no grace period after unpause"
    EXAMPLE = "function unpause() external onlyOwner { _unpause(); }  // liquidate() is live again at once"
    REFERENCES = (
        "https://github.com/aave-dao/aave-v3-origin/blob/main/docs/3.1/Aave-v3.1-features.md",
        "https://docs.chain.link/data-feeds/l2-sequencer-feeds",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            unpausers = [f for f in contract.functions if "unpause" in ir.words(f.name) and f.is_implemented]
            if not unpausers:
                continue
            resumed = {v for f in unpausers for g in ir.reachable(f) for v in g.state_variables_written}
            stamped = {v for f in unpausers for g in ir.reachable(f) for v in g.state_variables_written if ir.depends(v, [ir.BLOCK_TIMESTAMP], g)}
            for function in contract.functions_entry_points:
                # A liquidation only a privileged contract may call (a vault's leg of the market's liquidation)
                # is gated where it is triggered.
                if "liquidat" not in function.name.lower() or not ir.is_entry(function) or ir.access_controlled(function):
                    continue
                scope = ir.reachable(function)
                if not _pausable(scope, resumed) or any(ir.checked(v, scope) for v in stamped):
                    continue
                where = [function] if function.contract_declarer == contract else [contract, ".", function]
                info = [*where, " can liquidate in the first block after an unpause: no grace period\n"]
                results.append(self.generate_result(info))
        return results


def _pausable(scope: list[Function], pause_state: set) -> bool:
    """The liquidation path stops while paused (a pause helper, or a condition on what unpause writes)."""
    if any(f.name in PAUSE_HELPERS for f in scope):
        return True
    return any(v in pause_state for node in ir.conditional_nodes(scope) for v in node.state_variables_read)
