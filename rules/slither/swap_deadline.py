"""A swap anyone can trigger whose deadline is `block.timestamp`: no deadline at all."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir


class SwapDeadlineNow(AbstractDetector):
    ARGUMENT = "wd-swap-deadline"
    HELP = "Swap whose deadline is block.timestamp (never expires), in a function anyone can trigger"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.HIGH
    WIKI = "https://docs.uniswap.org/contracts/v2/reference/smart-contracts/router-02#swapexacttokensfortokens"
    WIKI_TITLE = "block.timestamp as swap deadline"
    WIKI_DESCRIPTION = "A deadline of block.timestamp (or block.timestamp + N) is always met when the transaction executes, so a transaction held back by a builder or stuck in the mempool executes at any later, worse price."
    WIKI_EXPLOIT_SCENARIO = "A validator holds the rebalance transaction until the price has moved against it, then includes it; the minimum output computed earlier no longer protects it."
    WIKI_RECOMMENDATION = "Take the deadline from the caller (a timestamp fixed when the transaction was signed)."
    BUG_CLASS = "MEV: swap that never expires"
    EXAMPLE = "router.swapExactTokensForTokens(amount, minOut, path, to, block.timestamp);"
    REFERENCES = (
        "https://docs.uniswap.org/contracts/v2/reference/smart-contracts/router-02#swapexacttokensfortokens",
    )

    def _detect(self) -> list:
        results = []
        for function, helper, node, _, _, deadline in ir.public_swaps(self.compilation_unit):
            if deadline is not None and ir.depends(deadline, [ir.BLOCK_TIMESTAMP], helper):
                info = [function, " lets anyone swap with block.timestamp as the deadline at ", node, "\n"]
                results.append(self.generate_result(info))
        return results
