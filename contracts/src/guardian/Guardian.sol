// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IGuardable} from "../interfaces/IGuardable.sol";

/// @title Guardian
/// @notice The emergency guardian that incident responders call. It can pause protocol contracts (whole contract,
///         one market, or one function group) for a bounded time, and nothing else: it has no way to unpause.
///         Governance (the Safe) holds DEFAULT_ADMIN_ROLE and GOVERNANCE_ROLE: it grants responders, tunes the
///         bounds, and is the only one that can extend a pause beyond its expiry. Lifting a pause is done by
///         governance directly on the protocol contract.
contract Guardian is AccessControl {
    bytes32 public constant RESPONDER_ROLE = keccak256("RESPONDER_ROLE");
    bytes32 public constant GOVERNANCE_ROLE = keccak256("GOVERNANCE_ROLE");

    /// Bounds on one responder pause: long enough for governance to convene, short enough to fail open.
    uint64 public constant MIN_PAUSE_DURATION = 1 hours;
    uint64 public constant MAX_PAUSE_DURATION = 14 days;
    /// Governance may keep a target paused at most this far into the future per extension.
    uint64 public constant MAX_EXTENSION = 90 days;

    struct RateWindow {
        uint64 start;
        uint32 count;
    }

    uint64 public pauseDuration;
    uint32 public maxPausesPerWindow;
    uint64 public rateWindow;
    mapping(address responder => RateWindow) public rateOf;

    event Paused(address indexed target, bytes32 indexed scope, address indexed responder, uint64 until, string reason);
    event PauseSkipped(address indexed target, bytes32 indexed scope, address indexed responder, uint64 until, string reason);
    event PauseExtended(address indexed target, bytes32 indexed scope, address indexed by, uint64 until, string reason);
    event PauseDurationChanged(uint64 duration);
    event RateLimitChanged(uint32 maxPausesPerWindow, uint64 window);

    error InvalidDuration(uint64 duration);
    error InvalidRateLimit(uint32 maxPauses, uint64 window);
    error RateLimited(address responder, uint64 windowEnds);
    error TargetNotPaused(address target, bytes32 scope);
    error ExtensionTooLong(uint64 until, uint64 limit);

    constructor(address governance, address[] memory responders, uint64 duration, uint32 maxPauses, uint64 window) {
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(GOVERNANCE_ROLE, governance);
        for (uint256 i = 0; i < responders.length; i++) {
            _grantRole(RESPONDER_ROLE, responders[i]);
        }
        _setPauseDuration(duration);
        _setRateLimit(maxPauses, window);
    }

    /// @notice Pause `scope` of `target` for `pauseDuration`. Already paused: a no-op that emits PauseSkipped.
    function pause(address target, bytes32 scope, string calldata reason) external onlyRole(RESPONDER_ROLE) {
        IGuardable guarded = IGuardable(target);
        if (guarded.isPaused(scope)) {
            emit PauseSkipped(target, scope, msg.sender, guarded.pausedUntil(scope), reason);
            return;
        }
        _consumeRate(msg.sender);
        uint64 until = uint64(block.timestamp) + pauseDuration;
        guarded.pause(scope, until);
        if (!guarded.isPaused(scope)) revert TargetNotPaused(target, scope);
        emit Paused(target, scope, msg.sender, until, reason);
    }

    /// @notice Governance keeps a paused scope paused until `until` (at most MAX_EXTENSION from now).
    function extendPause(address target, bytes32 scope, uint64 until, string calldata reason)
        external
        onlyRole(GOVERNANCE_ROLE)
    {
        uint64 limit = uint64(block.timestamp) + MAX_EXTENSION;
        if (until > limit) revert ExtensionTooLong(until, limit);
        IGuardable(target).pause(scope, until);
        if (!IGuardable(target).isPaused(scope)) revert TargetNotPaused(target, scope);
        emit PauseExtended(target, scope, msg.sender, until, reason);
    }

    function setPauseDuration(uint64 duration) external onlyRole(GOVERNANCE_ROLE) {
        _setPauseDuration(duration);
    }

    function setRateLimit(uint32 maxPauses, uint64 window) external onlyRole(GOVERNANCE_ROLE) {
        _setRateLimit(maxPauses, window);
    }

    function isPaused(address target, bytes32 scope) external view returns (bool) {
        return IGuardable(target).isPaused(scope);
    }

    function pausedUntil(address target, bytes32 scope) external view returns (uint64) {
        return IGuardable(target).pausedUntil(scope);
    }

    /// Pauses `responder` may still send in the current window.
    function pausesLeft(address responder) external view returns (uint32) {
        RateWindow memory rate = rateOf[responder];
        if (block.timestamp >= uint256(rate.start) + rateWindow) return maxPausesPerWindow;
        return rate.count >= maxPausesPerWindow ? 0 : maxPausesPerWindow - rate.count;
    }

    function _consumeRate(address responder) private {
        RateWindow storage rate = rateOf[responder];
        if (block.timestamp >= uint256(rate.start) + rateWindow) {
            rate.start = uint64(block.timestamp);
            rate.count = 0;
        }
        if (rate.count >= maxPausesPerWindow) revert RateLimited(responder, rate.start + rateWindow);
        rate.count += 1;
    }

    function _setPauseDuration(uint64 duration) private {
        if (duration < MIN_PAUSE_DURATION || duration > MAX_PAUSE_DURATION) revert InvalidDuration(duration);
        pauseDuration = duration;
        emit PauseDurationChanged(duration);
    }

    function _setRateLimit(uint32 maxPauses, uint64 window) private {
        if (maxPauses == 0 || window == 0) revert InvalidRateLimit(maxPauses, window);
        maxPausesPerWindow = maxPauses;
        rateWindow = window;
        emit RateLimitChanged(maxPauses, window);
    }
}
