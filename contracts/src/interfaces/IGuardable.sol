// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice What a contract must expose so that the Guardian can pause it and check the result.
interface IGuardable {
    function paused() external view returns (bool);
}
