// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IUniswapV2Pair} from "../interfaces/IUniswapV2Pair.sol";

/// @notice A benign arbitrage bot: it flash-swaps WETH out of the cheaper Uniswap V2 pair, sells it on the dearer
///         one, and repays the first pair in the quote token inside the `uniswapV2Call` callback, keeping the spread.
///         It is the honest flash-loan traffic that detection must not confuse with an attack.
contract FlashSwapArbitrageur {
    address public immutable owner;

    error NotOwner();
    error NotProfitable(uint256 received, uint256 owed);
    error NotSelfInitiated(address initiator);

    constructor() {
        owner = msg.sender;
    }

    /// Borrow `wethAmount` of `weth` from `cheap`, sell it into `dear`, repay `cheap` in the other token.
    function arbitrage(IUniswapV2Pair cheap, IUniswapV2Pair dear, address weth, uint256 wethAmount) external {
        if (msg.sender != owner) revert NotOwner();
        bool wethIs0 = cheap.token0() == weth;
        cheap.swap(wethIs0 ? wethAmount : 0, wethIs0 ? 0 : wethAmount, address(this), abi.encode(dear, weth));
        address quote = wethIs0 ? cheap.token1() : cheap.token0();
        IERC20(quote).transfer(owner, IERC20(quote).balanceOf(address(this)));
    }

    function uniswapV2Call(address initiator, uint256 amount0, uint256 amount1, bytes calldata data) external {
        if (initiator != address(this)) revert NotSelfInitiated(initiator);
        (IUniswapV2Pair dear, address weth) = abi.decode(data, (IUniswapV2Pair, address));
        IUniswapV2Pair cheap = IUniswapV2Pair(msg.sender);
        bool wethIs0 = cheap.token0() == weth;
        uint256 wethAmount = wethIs0 ? amount0 : amount1;
        address quote = wethIs0 ? cheap.token1() : cheap.token0();

        // sell the borrowed WETH on the dearer pair
        (uint112 d0, uint112 d1,) = dear.getReserves();
        bool dearWethIs0 = dear.token0() == weth;
        (uint256 wethReserve, uint256 quoteReserve) = dearWethIs0 ? (uint256(d0), uint256(d1)) : (uint256(d1), uint256(d0));
        uint256 quoteOut = _amountOut(wethAmount, wethReserve, quoteReserve);
        IERC20(weth).transfer(address(dear), wethAmount);
        dear.swap(dearWethIs0 ? 0 : quoteOut, dearWethIs0 ? quoteOut : 0, address(this), "");

        // repay the cheap pair in the quote token: the amount in that buys `wethAmount` at its reserves
        (uint112 c0, uint112 c1,) = cheap.getReserves();
        (uint256 cWeth, uint256 cQuote) = wethIs0 ? (uint256(c0), uint256(c1)) : (uint256(c1), uint256(c0));
        uint256 owed = (cQuote * wethAmount * 1000) / ((cWeth - wethAmount) * 997) + 1;
        if (quoteOut <= owed) revert NotProfitable(quoteOut, owed);
        IERC20(quote).transfer(msg.sender, owed);
    }

    function _amountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut) private pure returns (uint256) {
        uint256 inWithFee = amountIn * 997;
        return inWithFee * reserveOut / (reserveIn * 1000 + inWithFee);
    }
}
