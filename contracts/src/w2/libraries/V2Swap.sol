// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IV2Pair} from "../interfaces/IV2Pair.sol";

/// @notice Constant-product math with the 0.3% fee of Uniswap V2, and direct swaps against a pair.
library V2Swap {
    using SafeERC20 for IERC20;

    function amountOut(uint256 paid, uint256 reserveIn, uint256 reserveOut) internal pure returns (uint256) {
        uint256 inWithFee = paid * 997;
        return inWithFee * reserveOut / (reserveIn * 1000 + inWithFee);
    }

    /// @dev What must be paid in to take `taken` out (also the repayment of a flash swap in the other token).
    function amountIn(uint256 taken, uint256 reserveIn, uint256 reserveOut) internal pure returns (uint256) {
        return reserveIn * taken * 1000 / ((reserveOut - taken) * 997) + 1;
    }

    /// @dev Repayment of a flash swap in the same token it was taken in.
    function sameTokenRepay(uint256 borrowed) internal pure returns (uint256) {
        return borrowed * 1000 / 997 + 1;
    }

    function reserves(IV2Pair pair, address tokenIn) internal view returns (uint256 reserveIn, uint256 reserveOut) {
        (uint112 r0, uint112 r1,) = pair.getReserves();
        (reserveIn, reserveOut) = pair.token0() == tokenIn ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
    }

    /// @dev Sell `amount` of `tokenIn` (held by this contract) into `pair`; the other token goes to `to`.
    function sell(IV2Pair pair, address tokenIn, uint256 amount, address to) internal returns (uint256 out) {
        (uint256 reserveIn, uint256 reserveOut) = reserves(pair, tokenIn);
        out = amountOut(amount, reserveIn, reserveOut);
        IERC20(tokenIn).safeTransfer(address(pair), amount);
        (uint256 out0, uint256 out1) = pair.token0() == tokenIn ? (uint256(0), out) : (out, uint256(0));
        pair.swap(out0, out1, to, "");
    }
}
