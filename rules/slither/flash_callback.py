"""A flash-loan or flash-swap callback that does not validate its caller and the loan's initiator."""

from __future__ import annotations

from slither.core.declarations import Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

# Callback name -> index of the parameter naming who started the loan (None: the protocol passes none,
# so only the caller can be checked).
CALLBACKS: dict[str, int | None] = {
    "executeOperation": 3,  # Aave V2/V3: (assets|asset, amounts|amount, premiums|premium, initiator, params)
    "onFlashLoan": 0,  # ERC-3156: (initiator, token, amount, fee, data)
    "uniswapV2Call": 0,  # (sender, amount0, amount1, data)
    "pancakeCall": 0,
    "DVMFlashLoanCall": 0,  # DODO: (sender, baseAmount, quoteAmount, data)
    "DPPFlashLoanCall": 0,
    "DSPFlashLoanCall": 0,
    "callFunction": 0,  # dYdX SoloMargin: (sender, accountInfo, data)
    "receiveFlashLoan": None,  # Balancer V2: (tokens, amounts, feeAmounts, userData)
    "uniswapV3FlashCallback": None,  # (fee0, fee1, data)
    "uniswapV3SwapCallback": None,
    "pancakeV3FlashCallback": None,
}


class FlashCallbackUnvalidated(AbstractDetector):
    ARGUMENT = "wd-flash-callback"
    HELP = "Flash-loan/flash-swap callback that does not validate caller and initiator"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.HIGH
    WIKI = "https://eips.ethereum.org/EIPS/eip-3156"
    WIKI_TITLE = "Unvalidated flash-loan callback"
    WIKI_DESCRIPTION = "A flash-loan callback acts on its arguments without checking that the lender called it and that this contract started the loan."
    WIKI_EXPLOIT_SCENARIO = "Anyone calls executeOperation()/uniswapV2Call() directly, or starts a loan naming this contract as receiver, and makes it approve or send its funds."
    WIKI_RECOMMENDATION = "require(msg.sender == lender) and require(initiator == address(this)) (or the protocol's equivalent) at the top of every callback."
    BUG_CLASS = "flash loans: unvalidated callback"
    EXAMPLE = "function executeOperation(...) external returns (bool) { ... }  // no msg.sender == pool, no initiator == this"
    REFERENCES = (
        "https://eips.ethereum.org/EIPS/eip-3156",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/uniswap-callback-not-protected.yaml",
    )

    def _detect(self) -> list:
        results = []
        for contract in self.compilation_unit.contracts_derived:
            for function in contract.functions_entry_points:
                if function.name not in CALLBACKS or function.is_shadowed or not function.is_implemented:
                    continue
                missing = self._missing(function, contract, CALLBACKS[function.name])
                if missing:
                    info = [function, " is a flash-loan callback that does not validate the ", " or the ".join(missing), "\n"]
                    results.append(self.generate_result(info))
        return results

    @staticmethod
    def _missing(function: Function, contract, initiator_index: int | None) -> list[str]:
        missing = []
        if not ir.checks_caller(function):
            missing.append("caller (msg.sender)")
        if initiator_index is not None and initiator_index < len(function.parameters):
            initiator = function.parameters[initiator_index]
            if not initiator.name or not ir.checked_flow(initiator, function, contract):
                missing.append(f"initiator ({initiator.name or f'parameter {initiator_index}'})")
        return missing
