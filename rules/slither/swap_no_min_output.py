"""A swap anyone can trigger with no minimum output: a literal 0, or one computed from the pool's own spot
quote (which moves with the manipulation it should stop)."""

from __future__ import annotations

from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir


class SwapWithoutMinOutput(AbstractDetector):
    ARGUMENT = "wd-swap-no-min-output"
    HELP = "Swap with a zero minimum output, or one computed from the pool's spot quote, that anyone can trigger"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.uniswap.org/contracts/v2/guides/smart-contract-integration/trading-from-a-smart-contract#safety-considerations"
    WIKI_TITLE = "Swap without slippage protection"
    WIKI_DESCRIPTION = "The swap accepts any output (amountOutMin = 0) or a minimum quoted from the same pool in the same transaction; a sandwich moves the price first and takes the difference."
    WIKI_EXPLOIT_SCENARIO = "A bot front-runs harvest() (callable by anyone), which swaps rewards with amountOutMin = 0, and back-runs it for the slippage."
    WIKI_RECOMMENDATION = "Take the minimum output from the caller, or compute it from an oracle price (TWAP, Chainlink) with a slippage bound; restrict keeper functions."
    BUG_CLASS = "MEV: swap without slippage bound"
    EXAMPLE = "router.swapExactTokensForTokens(amount, 0, path, address(this), deadline);  // in a public harvest()"
    REFERENCES = (
        "https://docs.uniswap.org/contracts/v2/guides/smart-contract-integration/trading-from-a-smart-contract#safety-considerations",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/no-slippage-check.yaml",
    )

    def _detect(self) -> list:
        results = []
        for function, helper, node, _, minimum, _ in ir.public_swaps(self.compilation_unit):
            reason = self._unprotected(helper, minimum)
            if reason:
                info = [function, f" lets anyone swap with {reason} at ", node, "\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _unprotected(function, minimum) -> str | None:
        if minimum is None:
            return None
        if ir.is_zero(minimum, function):
            return "a minimum output of 0"
        quotes = ir.values_from_calls(function, ir.SPOT_QUOTES)
        if ir.depends(minimum, quotes, function):
            return "a minimum output quoted from the pool's current state"
        return None
