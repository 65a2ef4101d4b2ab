// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A price of one whole unit of a base token, in raw units of a quote token.
interface IPriceOracle {
    function price() external view returns (uint256);
}
