"""ERC-4626 conversions that round in the user's favour."""

from __future__ import annotations

import re

from slither.core.declarations import Contract, Function
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

from watchdog.scan import ir

# EIP-4626: what the vault charges rounds up, what it pays out rounds down.
MUST_ROUND_UP = {"mint", "previewMint", "withdraw", "previewWithdraw"}
MUST_ROUND_DOWN = {"deposit", "previewDeposit", "redeem", "previewRedeem", "convertToShares", "convertToAssets"}
ROUND_UP = re.compile(r"mulDivUp|divUp|ceilDiv|mulDivRoundingUp|divWadUp|mulWadUp|roundUp|Rounding\.(Ceil|Up|Expand)")
ROUND_DOWN = re.compile(r"mulDivDown|divDown|divWadDown|mulWadDown|roundDown|Rounding\.(Floor|Down|Trunc)")


class Erc4626Rounding(AbstractDetector):
    ARGUMENT = "wd-erc4626-rounding"
    HELP = "ERC-4626 deposit/mint/withdraw/redeem/preview* rounding in the user's favour"
    IMPACT = DetectorClassification.MEDIUM
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://eips.ethereum.org/EIPS/eip-4626#security-considerations"
    WIKI_TITLE = "ERC-4626 rounding in the user's favour"
    WIKI_DESCRIPTION = "mint/withdraw (and their previews) must round the amount the user pays up; deposit/redeem must round what the user receives down. Rounding the other way lets each call take a little from the other holders, and loops or low-decimal assets make it a drain."
    WIKI_EXPLOIT_SCENARIO = "withdraw() computes the shares to burn with a floor division: withdrawing 1 wei at a time burns 0 shares, and the attacker drains the vault in a loop."
    WIKI_RECOMMENDATION = "Round up in mint/previewMint/withdraw/previewWithdraw (mulDivUp, Math.Rounding.Ceil) and down in deposit/previewDeposit/redeem/previewRedeem."
    BUG_CLASS = "ERC-4626 rounding direction"
    EXAMPLE = "function previewWithdraw(uint256 a) public view returns (uint256) { return a * totalSupply() / totalAssets(); }"
    REFERENCES = (
        "https://eips.ethereum.org/EIPS/eip-4626#security-considerations",
        "https://github.com/transmissions11/solmate/blob/main/src/tokens/ERC4626.sol",
    )

    def _detect(self) -> list:
        results = []
        for contract, function in ir.declared_functions(self.compilation_unit):
            if not _is_vault(contract) or function.visibility not in ("public", "external"):
                continue
            text = _code_text(function)
            if not text:
                continue
            if function.name in MUST_ROUND_UP and not ROUND_UP.search(text):
                info = [function, " rounds the amount the user pays down (in the user's favour): round it up\n"]
                results.append(self.generate_result(info))
            elif function.name in MUST_ROUND_DOWN and ROUND_UP.search(text) and not ROUND_DOWN.search(text):
                info = [function, " rounds the amount the user receives up (in the user's favour): round it down\n"]
                results.append(self.generate_result(info))
        return results


def _is_vault(contract: Contract) -> bool:
    names = {f.name for f in contract.functions} | {v.name for v in contract.state_variables if v.visibility == "public"}
    return {"totalAssets", "deposit", "redeem"} <= names


def _code_text(function: Function) -> str:
    """The expressions on the way (the function and the internal helpers it calls), when a division is among
    them; empty when nothing is divided (a 1:1 vault has nothing to round)."""
    scope = ir.reachable(function)
    divides = any(True for f in scope for _ in ir.divisions(f)) or any(
        ir.values_from_calls(f, {"convertToShares", "convertToAssets", "divWadDown", "divWadUp", "mulWadDown", "mulWadUp", "divUp", "ceilDiv"}) for f in scope
    )
    if not divides:
        return ""
    return "\n".join(str(node.expression) for f in scope for node in f.nodes if node.expression is not None)
