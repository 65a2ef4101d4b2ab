"""A spot price (AMM reserves, slot0, pool balances) used to value assets."""

from __future__ import annotations

from slither.core.variables.state_variable import StateVariable
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, BinaryType, HighLevelCall, InternalCall

from watchdog.scan import ir

SPOT_SOURCES = {"getReserves", "slot0"}
ARITHMETIC = {BinaryType.MULTIPLICATION, BinaryType.DIVISION, BinaryType.LEFT_SHIFT}
MUL_DIV = {"mulDiv", "mulDivDown", "mulDivUp", "fullMulDiv", "mulDivRoundingUp"}
# Reading the cumulative price next to the reserves is the TWAP pattern (extrapolating to now), not a spot valuation.
TWAP_READS = {"price0CumulativeLast", "price1CumulativeLast", "currentCumulativePrices", "observe"}
# Reserves read to size a trade executed right there (a swap, a flash-swap repayment) are trade math, not valuation.
SWAP_CALLBACKS = {"uniswapV2Call", "pancakeCall", "uniswapV3SwapCallback", "uniswapV3FlashCallback"}


class SpotPriceValuation(AbstractDetector):
    ARGUMENT = "wd-spot-price"
    HELP = "Spot price from getReserves, slot0 or pool balances used for valuation"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.uniswap.org/concepts/protocol/oracle"
    WIKI_TITLE = "Manipulable spot price"
    WIKI_DESCRIPTION = "A value is computed from an AMM's current reserves, slot0 or token balances, which one swap (or a flash loan) moves within the same transaction."
    WIKI_EXPLOIT_SCENARIO = "An attacker flash-borrows, swaps to inflate the pool price, borrows against the inflated collateral value, and swaps back."
    WIKI_RECOMMENDATION = "Use a TWAP over a window long enough to be costly to move, or a Chainlink feed with checks."
    BUG_CLASS = "oracle: manipulable spot price"
    EXAMPLE = "(uint112 r0, uint112 r1,) = pair.getReserves(); price = r1 * 1e18 / r0;"
    REFERENCES = (
        "https://docs.uniswap.org/concepts/protocol/oracle",
        "https://github.com/Decurity/semgrep-smart-contracts/blob/master/solidity/security/oracle-uses-curve-spot-price.yaml",
    )

    def _detect(self) -> list:
        results = []
        # Every contract, base ones included: each function is checked once, where it is declared.
        for contract in self.compilation_unit.contracts:
            for function in contract.functions_and_modifiers_declared:
                if any(True for _ in ir.high_level_calls(function, TWAP_READS)) or self._trades(function):
                    continue
                for node, kind, sources in self._spot_reads(function):
                    if self._priced(function, sources, ratio_only=kind == "balanceOf"):
                        info = [function, f" values assets with the spot {kind}() of ", node, "\n"]
                        results.append(self.generate_result(info))
                        break
        return results

    @staticmethod
    def _trades(function) -> bool:
        if function.name in SWAP_CALLBACKS:
            return True
        return any(
            isinstance(op, HighLevelCall) and str(op.function_name).startswith("swap")
            for node in function.nodes
            for op in node.irs
        )

    @staticmethod
    def _spot_reads(function):
        """(node, kind, values read) per spot read; all balanceOf reads together, as only their ratio prices."""
        balances = []
        for node in function.nodes:
            for op in node.irs:
                if not isinstance(op, HighLevelCall):
                    continue
                name = str(op.function_name)
                if name in SPOT_SOURCES:
                    yield node, name, [op.lvalue, *ir.unpacked(function, op).values()]
                elif name == "balanceOf":
                    balances.append((node, op.lvalue))
        if len(balances) >= 2:
            yield balances[0][0], "balanceOf", [value for _, value in balances]

    @staticmethod
    def _priced(function, sources, *, ratio_only: bool) -> bool:
        sources = [s for s in sources if s is not None]

        def depends(variable) -> bool:
            if isinstance(variable, StateVariable):
                return False  # a storage total is accounting, even when updated from a balance difference
            return any(variable == s or ir.dependent(variable, s, function) for s in sources)

        for node in function.nodes:
            for op in node.irs:
                if isinstance(op, Binary) and op.type in ARITHMETIC:
                    operands = [op.variable_left, op.variable_right]
                elif isinstance(op, (HighLevelCall, InternalCall)) and str(op.function_name) in MUL_DIV:
                    operands = list(op.arguments)
                else:
                    continue
                hits = sum(depends(v) for v in operands)
                if hits >= 2 if ratio_only else hits >= 1:
                    return True
        return False
