"""The public interfaces a manifest tool recognises, as data: which views answer and which functions exist on a
contract of each kind, the manifest role it suggests, and the standard ABI fragment (functions and events) that
the watchdog's rules need to read such a contract.

They are the published interfaces of widely deployed contracts (ERC-20, ERC-4626, Uniswap, Chainlink, Aave,
Compound, Safe, OpenZeppelin's Pausable / Ownable / AccessControl) and the watchdog's own guardian interface.
Earlier entries win when several suggest a role: a Uniswap V2 pair is also an ERC-20 (its LP token).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchdog.chain.abi import EventSpec, parse_call, selector

Answers = dict[str, tuple[Any, ...]]  # view signature (with return types) -> decoded values


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    role: str | None = None           # the manifest role it suggests (None: it only adds a reason)
    views: tuple[str, ...] = ()       # each must answer (probing) or be in the ABI; called with zero arguments
    functions: tuple[str, ...] = ()   # each must be in the ABI or in the code's dispatcher
    more: tuple[str, ...] = ()        # further functions of its standard ABI, not needed to recognise it
    events: tuple[str, ...] = ()
    valid: Callable[[Answers], bool] | None = None  # a further test on the answers (probing only)

    @property
    def view_selectors(self) -> tuple[str, ...]:
        return tuple(selector(parse_call(s)[0]) for s in self.views)

    @property
    def function_selectors(self) -> tuple[str, ...]:
        return tuple(selector(parse_call(s)[0]) for s in self.functions)

    def abi(self) -> list[dict[str, Any]]:
        """The interface's standard ABI fragment. Functions that return values are marked view (the
        watchdog only reads them); the others nonpayable."""
        return [function_abi(s) for s in (*self.views, *self.functions, *self.more)] + [event_abi(e) for e in self.events]


def function_abi(signature: str) -> dict[str, Any]:
    name, args, returns = parse_call(signature)
    return {"type": "function", "name": name.split("(")[0],
            "inputs": [{"name": "", "type": t} for t in args], "outputs": [{"name": "", "type": t} for t in returns],
            "stateMutability": "view" if returns else "nonpayable"}


def event_abi(text: str) -> dict[str, Any]:
    spec = EventSpec.parse(text)
    return {"type": "event", "name": spec.name, "anonymous": False,
            "inputs": [{"name": n, "type": t, "indexed": i} for n, t, i in spec.inputs]}


def _has_owners(answers: Answers) -> bool:
    # A Safe singleton (the logic behind every Safe proxy) answers too, with no owners.
    return bool(answers.get(SAFE_OWNERS, ((),))[0])


SAFE_OWNERS = "getOwners()(address[])"
ROUND_DATA = "latestRoundData()(uint80,int256,uint256,uint256,uint80)"
GUARDIAN_PAUSE = "pause(address,bytes32,string)"  # the watchdog guardian: pause(target, scope, reason)
ERC20_EVENTS = ("Transfer(address indexed from, address indexed to, uint256 value)",
                "Approval(address indexed owner, address indexed spender, uint256 value)")

INTERFACES: tuple[Interface, ...] = (
    Interface("Safe", "safe", views=(SAFE_OWNERS, "getThreshold()(uint256)", "nonce()(uint256)"),
              functions=("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)(bool)",),
              more=("isOwner(address)(bool)", "getTransactionHash(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,uint256)(bytes32)"),
              events=("ExecutionSuccess(bytes32 indexed txHash, uint256 payment)",
                      "ExecutionFailure(bytes32 indexed txHash, uint256 payment)",
                      "AddedOwner(address indexed owner)", "RemovedOwner(address indexed owner)",
                      "ChangedThreshold(uint256 threshold)"),
              valid=_has_owners),
    Interface("watchdog guardian", "guardian", functions=(GUARDIAN_PAUSE, "isPaused(address,bytes32)(bool)"),
              events=("Paused(address indexed target, bytes32 indexed scope, address indexed responder, uint64 until, string reason)",
                      "PauseSkipped(address indexed target, bytes32 indexed scope, address indexed responder, uint64 until, string reason)")),
    Interface("Chainlink aggregator", "oracle_feed", views=(ROUND_DATA, "decimals()(uint8)"),
              more=("description()(string)", "getRoundData(uint80)(uint80,int256,uint256,uint256,uint80)", "latestAnswer()(int256)"),
              events=("AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)",
                      "NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt)")),
    Interface("Uniswap V2 pair", "amm_pair", views=("getReserves()(uint112,uint112,uint32)", "token0()(address)", "token1()(address)"),
              functions=("swap(uint256,uint256,address,bytes)",),
              more=("price0CumulativeLast()(uint256)", "price1CumulativeLast()(uint256)", "factory()(address)"),
              events=("Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)",
                      "Sync(uint112 reserve0, uint112 reserve1)",
                      "Mint(address indexed sender, uint256 amount0, uint256 amount1)",
                      "Burn(address indexed sender, uint256 amount0, uint256 amount1, address indexed to)")),
    Interface("Uniswap V3 pool", "amm_pair",
              views=("slot0()(uint160,int24,uint16,uint16,uint16,uint8,bool)", "liquidity()(uint128)", "token0()(address)", "token1()(address)"),
              more=("fee()(uint24)", "observe(uint32[])(int56[],uint160[])"),
              events=("Swap(address indexed sender, address indexed recipient, int256 amount0, int256 amount1, uint160 sqrtPriceX96, uint128 liquidity, int24 tick)",
                      "Flash(address indexed sender, address indexed recipient, uint256 amount0, uint256 amount1, uint256 paid0, uint256 paid1)")),
    Interface("Aave V3 pool", "lending", views=("ADDRESSES_PROVIDER()(address)", "getReservesList()(address[])"),
              functions=("supply(address,uint256,address,uint16)", "borrow(address,uint256,uint256,uint16,address)",
                         "liquidationCall(address,address,address,uint256,bool)"),
              more=("getConfiguration(address)(uint256)", "flashLoanSimple(address,address,uint256,bytes,uint16)"),
              events=("FlashLoan(address indexed target, address initiator, address indexed asset, uint256 amount, uint8 interestRateMode, uint256 premium, uint16 indexed referralCode)",
                      "LiquidationCall(address indexed collateralAsset, address indexed debtAsset, address indexed user, uint256 debtToCover, uint256 liquidatedCollateralAmount, address liquidator, bool receiveAToken)")),
    Interface("Compound V3 market", "lending", views=("baseToken()(address)",),
              functions=("supply(address,uint256)", "withdraw(address,uint256)", "absorb(address,address[])")),
    Interface("Compound V2 market", "lending", views=("comptroller()(address)", "exchangeRateStored()(uint256)"),
              functions=("borrow(uint256)(uint256)", "liquidateBorrow(address,uint256,address)(uint256)")),
    Interface("ERC-4626 vault", "vault", views=("asset()(address)", "totalAssets()(uint256)", "convertToShares(uint256)(uint256)"),
              more=("deposit(uint256,address)(uint256)", "redeem(uint256,address,address)(uint256)", "withdraw(uint256,address,address)(uint256)"),
              events=("Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares)",
                      "Withdraw(address indexed sender, address indexed receiver, address indexed owner, uint256 assets, uint256 shares)")),
    Interface("Aave aToken", "vault", views=("UNDERLYING_ASSET_ADDRESS()(address)", "POOL()(address)")),
    Interface("TWAP oracle", "twap_oracle", views=("pair()(address)",), functions=("update()",)),
    Interface("price view", "oracle_adapter", views=("price()(uint256)",)),
    Interface("Aave oracle", "oracle_adapter", views=("BASE_CURRENCY_UNIT()(uint256)",),
              functions=("getAssetPrice(address)(uint256)", "getSourceOfAsset(address)(address)")),
    Interface("flashLoanSimple lender", "flash_lender", functions=("flashLoanSimple(address,address,uint256,bytes,uint16)",),
              events=("FlashLoan(address indexed target, address initiator, address indexed asset, uint256 amount, uint8 interestRateMode, uint256 premium, uint16 indexed referralCode)",)),
    Interface("ERC-3156 lender", "flash_lender", functions=("maxFlashLoan(address)(uint256)", "flashFee(address,uint256)(uint256)",
                                                            "flashLoan(address,address,uint256,bytes)(bool)")),
    Interface("Balancer vault", "flash_lender", views=("getAuthorizer()(address)",),
              functions=("flashLoan(address,address[],uint256[],bytes)",),
              events=("FlashLoan(address indexed recipient, address indexed token, uint256 amount, uint256 feeAmount)",)),
    Interface("Uniswap V2 router", "router", views=("factory()(address)", "WETH()(address)"),
              functions=("swapExactTokensForTokens(uint256,uint256,address[],address,uint256)(uint256[])",)),
    Interface("ERC-20", "token", views=("decimals()(uint8)", "symbol()(string)", "totalSupply()(uint256)"),
              functions=("transfer(address,uint256)(bool)",),
              more=("name()(string)", "balanceOf(address)(uint256)", "allowance(address,address)(uint256)",
                    "approve(address,uint256)(bool)", "transferFrom(address,address,uint256)(bool)"),
              events=ERC20_EVENTS),
    # No role of their own: facts a reviewer wants, and the pause paths.
    Interface("Uniswap V2 factory", views=("allPairsLength()(uint256)", "feeToSetter()(address)"),
              more=("getPair(address,address)(address)",),
              events=("PairCreated(address indexed token0, address indexed token1, address pair, uint256 count)",)),
    Interface("Chainlink proxy", views=("aggregator()(address)", "phaseId()(uint16)"),
              more=("proposedAggregator()(address)",),
              events=("AggregatorProposed(address indexed current, address indexed proposed)",
                      "AggregatorConfirmed(address indexed previous, address indexed latest)")),
    Interface("guardian target", views=("paused()(bool)", "isPaused(bytes32)(bool)"), functions=("pause(bytes32,uint64)",)),
    Interface("Pausable", views=("paused()(bool)",),
              events=("Paused(address account)", "Unpaused(address account)")),
    Interface("Ownable", views=("owner()(address)",),
              events=("OwnershipTransferred(address indexed previousOwner, address indexed newOwner)",)),
    Interface("AccessControl", views=("DEFAULT_ADMIN_ROLE()(bytes32)", "hasRole(bytes32,address)(bool)"),
              events=("RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)",
                      "RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)")),
)

BY_NAME = {i.name: i for i in INTERFACES}


def all_views() -> list[str]:
    """Every view any interface calls, once: what a probe asks each address."""
    return list(dict.fromkeys(v for i in INTERFACES for v in i.views))
