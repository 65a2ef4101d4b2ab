// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice What a contract must expose so that the Guardian can pause it and check the result.
/// @dev Scopes: bytes32(0) is the whole contract; any other value names a market or a function group.
///      A pause carries an expiry; only governance (the owner) can lift it early.
interface IGuardable {
    /// True while the whole contract (scope 0) is paused.
    function paused() external view returns (bool);

    /// True while `scope` is paused (its expiry lies in the future).
    function isPaused(bytes32 scope) external view returns (bool);

    /// Unix time at which the pause of `scope` ends (0 when never paused or lifted).
    function pausedUntil(bytes32 scope) external view returns (uint64);

    /// Pause `scope` until `until`. Callable by the pauser (the Guardian) and governance; can only lengthen a pause.
    function pause(bytes32 scope, uint64 until) external;

    /// Lift the pause of `scope`. Governance only.
    function unpause(bytes32 scope) external;
}
