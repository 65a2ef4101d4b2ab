// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IGuardable} from "../interfaces/IGuardable.sol";

/// @notice Scoped, expiring pauses for protocol contracts. The owner is governance (the Safe); the pauser is the
///         Guardian. The pauser can only pause (and only lengthen a pause); lifting a pause is governance-only.
abstract contract ScopedPausable is Ownable, IGuardable {
    bytes32 public constant PROTOCOL_SCOPE = bytes32(0);

    address public pauser;
    mapping(bytes32 scope => uint64 until) private _pausedUntil;
    mapping(bytes32 scope => uint64 at) private _unpausedAt;

    event PauserChanged(address indexed previousPauser, address indexed newPauser);
    event ScopePaused(bytes32 indexed scope, address indexed by, uint64 until);
    event ScopeUnpaused(bytes32 indexed scope, address indexed by);

    error NotPauser(address caller);
    error EnforcedPause(bytes32 scope);
    error InvalidPauseExpiry(uint64 until);

    constructor(address initialOwner, address initialPauser) Ownable(initialOwner) {
        pauser = initialPauser;
        emit PauserChanged(address(0), initialPauser);
    }

    function setPauser(address newPauser) external onlyOwner {
        emit PauserChanged(pauser, newPauser);
        pauser = newPauser;
    }

    function pause(bytes32 scope, uint64 until) external {
        if (msg.sender != pauser && msg.sender != owner()) revert NotPauser(msg.sender);
        // A pause can be lengthened but never shortened this way: shortening would be a partial unpause.
        if (until <= block.timestamp || until <= _pausedUntil[scope]) revert InvalidPauseExpiry(until);
        _pausedUntil[scope] = until;
        emit ScopePaused(scope, msg.sender, until);
    }

    function unpause(bytes32 scope) external onlyOwner {
        _pausedUntil[scope] = 0;
        _unpausedAt[scope] = uint64(block.timestamp);
        emit ScopeUnpaused(scope, msg.sender);
    }

    /// When `scope` last came out of a pause (lifted by governance, or expired); 0 if never paused.
    function resumedAt(bytes32 scope) public view returns (uint64) {
        uint64 until = _pausedUntil[scope];
        uint64 expired = until <= block.timestamp ? until : 0;
        return expired > _unpausedAt[scope] ? expired : _unpausedAt[scope];
    }

    function paused() external view returns (bool) {
        return isPaused(PROTOCOL_SCOPE);
    }

    function isPaused(bytes32 scope) public view returns (bool) {
        return block.timestamp < _pausedUntil[scope];
    }

    function pausedUntil(bytes32 scope) external view returns (uint64) {
        return _pausedUntil[scope];
    }

    /// Reverts when the whole contract or any of the given scopes is paused.
    function _requireActive(bytes32 scopeA, bytes32 scopeB) internal view {
        if (isPaused(PROTOCOL_SCOPE)) revert EnforcedPause(PROTOCOL_SCOPE);
        if (scopeA != PROTOCOL_SCOPE && isPaused(scopeA)) revert EnforcedPause(scopeA);
        if (scopeB != PROTOCOL_SCOPE && isPaused(scopeB)) revert EnforcedPause(scopeB);
    }
}
