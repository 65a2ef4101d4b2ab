// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IV2Pair, IV2Callee} from "../interfaces/IV2Pair.sol";
import {V2Swap} from "../libraries/V2Swap.sol";

/// @title PairArbitrageur
/// @notice Closes a price gap between two pairs of the same tokens with a flash swap: take the asset where it is
///         cheap, sell it where it is dear, repay the cheap pair in the other token, keep the difference.
contract PairArbitrageur is IV2Callee {
    using SafeERC20 for IERC20;

    address public immutable owner;

    error NotOwner();
    error UnexpectedCallback();
    error NoProfit(uint256 proceeds, uint256 owed);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Take `amount` of `asset` from `cheap`, sell it on `dear`, keep at least `minProfit` of the other token.
    function arbitrage(IV2Pair cheap, IV2Pair dear, address asset, uint256 amount, uint256 minProfit) external {
        if (msg.sender != owner) revert NotOwner();
        (uint256 out0, uint256 out1) = cheap.token0() == asset ? (amount, uint256(0)) : (uint256(0), amount);
        cheap.swap(out0, out1, address(this), abi.encode(cheap, dear, asset, minProfit));
    }

    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        (IV2Pair cheap, IV2Pair dear, address asset, uint256 minProfit) =
            abi.decode(data, (IV2Pair, IV2Pair, address, uint256));
        if (msg.sender != address(cheap) || sender != address(this)) revert UnexpectedCallback();
        address other = cheap.token0() == asset ? cheap.token1() : cheap.token0();
        uint256 owed = _owed(cheap, other, amount0 + amount1);
        uint256 proceeds = V2Swap.sell(dear, asset, amount0 + amount1, address(this));
        if (proceeds < owed + minProfit) revert NoProfit(proceeds, owed);
        IERC20(other).safeTransfer(address(cheap), owed);
        IERC20(other).safeTransfer(owner, proceeds - owed);
    }

    /// @dev The other token owed for `taken` of the asset, at the cheap pair's reserves before the swap.
    function _owed(IV2Pair cheap, address other, uint256 taken) private view returns (uint256) {
        (uint256 otherReserve, uint256 assetReserve) = V2Swap.reserves(cheap, other);
        return V2Swap.amountIn(taken, otherReserve, assetReserve);
    }
}
