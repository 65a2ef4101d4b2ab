"""Share price or exchange rate computed from the contract's own token balance (donation / first-depositor
inflation), with no virtual shares and no dead shares."""

from __future__ import annotations

from slither.core.declarations import Contract, Function
from slither.core.variables.state_variable import StateVariable
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification
from slither.slithir.operations import Binary, BinaryType, InternalCall
from slither.slithir.variables import Constant

from watchdog.scan import ir

SUPPLY_READS = {"totalSupply"}
SUPPLY_STATE = {"totalsupply", "totalshares"}
DEAD_SHARE_WORDS = ({"minimum", "min", "dead"}, {"liquidity", "shares", "share"})
OFFSET_WORDS = {"offset", "virtual"}


class BalanceSharePrice(AbstractDetector):
    ARGUMENT = "wd-balance-share-price"
    HELP = "Share price from the contract's own token balance, with no virtual or dead shares (donation / inflation)"
    IMPACT = DetectorClassification.HIGH
    CONFIDENCE = DetectorClassification.MEDIUM
    WIKI = "https://docs.openzeppelin.com/contracts/5.x/erc4626#inflation-attack"
    WIKI_TITLE = "Donation / first-depositor share inflation"
    WIKI_DESCRIPTION = "Shares are priced as supply / token.balanceOf(this). Anyone can raise the balance by transferring tokens in, so the first depositor mints one share, donates, and later depositors' shares round down to zero."
    WIKI_EXPLOIT_SCENARIO = "The attacker deposits 1 wei for 1 share, donates 10,000 tokens, and the victim's 9,999-token deposit mints 0 shares that the attacker then redeems."
    WIKI_RECOMMENDATION = "Track deposited assets in storage instead of reading balanceOf(this), or add virtual shares and assets (OpenZeppelin's decimals offset), or burn a minimum of dead shares on the first deposit."
    BUG_CLASS = "share inflation: price from balanceOf(this)"
    EXAMPLE = "shares = amount * totalSupply() / token.balanceOf(address(this));"
    REFERENCES = (
        "https://docs.openzeppelin.com/contracts/5.x/erc4626#inflation-attack",
        "https://blog.openzeppelin.com/a-novel-defense-against-erc4626-inflation-attacks",
    )

    def _detect(self) -> list:
        results = []
        getters: dict = {}  # contract -> its functions returning balanceOf(this); None with dead shares
        for contract, function in ir.declared_functions(self.compilation_unit):
            if contract not in getters:
                getters[contract] = None if self._dead_shares(contract) else _balance_getters(contract)
            if getters[contract] is None:
                continue
            node = self._balance_priced_division(function, getters[contract])
            if node is not None:
                info = [function, " prices shares against the contract's own token balance at ", node, " with no virtual or dead shares\n"]
                results.append(self.generate_result(info))
        return results

    @staticmethod
    def _balance_priced_division(function: Function, getters: list[Function]):
        """The first division by a value computed from balanceOf(this) whose other operand is computed from
        the share supply, where neither side has a constant (virtual) offset added."""
        balances = [op.lvalue for op in ir.self_balance_reads(function)] + ir.values_from_calls(function, set(), getters)
        supply = ir.values_from_calls(function, SUPPLY_READS) + [
            v for v in function.state_variables_read if v.name.lower().lstrip("_") in SUPPLY_STATE
        ]
        if not balances or not supply:
            return None
        offsets = _offset_sums(function, balances + supply)
        for node, divisor, others in ir.divisions(function):
            supply_side = [o for o in others if ir.depends(o, supply, function)]
            # A storage total is internal accounting (dependencies are flow-insensitive: it may be updated from
            # a balance difference later in the function).
            if not supply_side or isinstance(divisor, StateVariable) or not ir.depends(divisor, balances, function):
                continue
            if ir.depends(divisor, offsets, function) or any(ir.depends(o, offsets, function) for o in supply_side):
                continue
            return node
        return None

    @staticmethod
    def _dead_shares(contract: Contract) -> bool:
        """A MINIMUM_LIQUIDITY-style constant, or shares minted to a literal address (address(0), 0xdead)."""
        for variable in contract.state_variables:
            names = set(ir.words(variable.name))
            if all(names & group for group in DEAD_SHARE_WORDS):
                return True
        for function in contract.functions:
            for node in function.nodes:
                for op in node.irs:
                    if isinstance(op, InternalCall) and "mint" in ir.words(str(op.function_name)) and op.arguments:
                        if ir.constant_address(op.arguments[0], function):
                            return True
        return False


def _balance_getters(contract: Contract) -> list[Function]:
    return [
        f for f in contract.functions
        if (reads := ir.self_balance_reads(f)) and ir.returns_dependent_on(f, [op.lvalue for op in reads])
    ]


def _offset_sums(function: Function, values: list) -> set:
    """Results of `value + constant` or `value + 10 ** offset()`: virtual shares or assets."""
    sums = set()
    for node in function.nodes:
        for op in node.irs:
            if not (isinstance(op, Binary) and op.type == BinaryType.ADDITION):
                continue
            left, right = op.variable_left, op.variable_right
            for side, other in ((left, right), (right, left)):
                if ir.depends(side, values, function) and (isinstance(other, Constant) or _offset_like(other, function)):
                    sums.add(op.lvalue)
    return sums


def _offset_like(value, function: Function) -> bool:
    """A power of ten or a value from an *offset*/virtual* helper."""
    for node in function.nodes:
        for op in node.irs:
            if getattr(op, "lvalue", None) != value:
                continue
            if isinstance(op, Binary) and op.type == BinaryType.POWER:
                return True
            if isinstance(op, InternalCall) and OFFSET_WORDS & set(ir.words(str(op.function_name))):
                return True
    return False
