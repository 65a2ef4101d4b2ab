// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice Aave V3's simple flash-loan callback.
interface IFlashLoanSimpleReceiver {
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool);
}
