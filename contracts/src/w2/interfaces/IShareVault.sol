// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Share-to-asset conversion of an ERC-4626-style vault.
interface IShareVault {
    function asset() external view returns (address);
    function convertToAssets(uint256 shares) external view returns (uint256);
}
