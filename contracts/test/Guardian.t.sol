// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Guardian} from "../src/guardian/Guardian.sol";
import {ScopedPausable} from "../src/guardian/ScopedPausable.sol";
import {CollateralVault} from "../src/protocol/CollateralVault.sol";
import {DemoToken} from "../src/tokens/DemoToken.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {TestBase} from "./Vm.sol";

/// A target that claims to pause but does not: the guardian must notice.
contract LyingTarget {
    function isPaused(bytes32) external pure returns (bool) {
        return false;
    }

    function pausedUntil(bytes32) external pure returns (uint64) {
        return 0;
    }

    function pause(bytes32, uint64) external {}
}

contract GuardianTest is TestBase {
    address constant GOVERNANCE = address(0x5AFE);
    address constant RESPONDER = address(0xBEEF);
    address constant STRANGER = address(0xBAD);
    bytes32 constant PROTOCOL = bytes32(0);
    bytes32 constant MARKET = keccak256("ETH-USD");

    Guardian guardian;
    CollateralVault vault;

    function setUp() public {
        vm.warp(1_700_000_000);
        address[] memory responders = new address[](1);
        responders[0] = RESPONDER;
        guardian = new Guardian(GOVERNANCE, responders, 1 days, 3, 1 hours);
        DemoToken usd = new DemoToken("Demo USD", "dUSD", 18, address(this));
        vault = new CollateralVault(IERC20(address(usd)), GOVERNANCE, address(guardian));
    }

    function testResponderPausesWithBoundedExpiry() public {
        vm.prank(RESPONDER);
        guardian.pause(address(vault), PROTOCOL, "exploit");
        assertTrue(vault.paused(), "not paused");
        assertEq(vault.pausedUntil(PROTOCOL), block.timestamp + 1 days, "expiry");
        vm.warp(block.timestamp + 1 days);
        assertTrue(!vault.paused(), "pause did not expire");
    }

    function testStrangerCannotPause() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STRANGER, guardian.RESPONDER_ROLE())
        );
        vm.prank(STRANGER);
        guardian.pause(address(vault), PROTOCOL, "grief");
    }

    function testPausingTwiceIsANoOp() public {
        vm.startPrank(RESPONDER);
        guardian.pause(address(vault), MARKET, "first");
        uint64 until = vault.pausedUntil(MARKET);
        vm.warp(block.timestamp + 10 minutes);
        guardian.pause(address(vault), MARKET, "second");
        vm.stopPrank();
        assertEq(vault.pausedUntil(MARKET), until, "second pause moved the expiry");
        assertEq(guardian.pausesLeft(RESPONDER), 2, "a no-op consumed the rate limit");
    }

    function testNobodyButGovernanceUnpauses() public {
        vm.prank(RESPONDER);
        guardian.pause(address(vault), PROTOCOL, "exploit");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(guardian)));
        vm.prank(address(guardian));
        vault.unpause(PROTOCOL);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, RESPONDER));
        vm.prank(RESPONDER);
        vault.unpause(PROTOCOL);
        // the pauser cannot shorten a pause either
        uint64 shorter = uint64(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(ScopedPausable.InvalidPauseExpiry.selector, shorter));
        vm.prank(address(guardian));
        vault.pause(PROTOCOL, shorter);
        vm.prank(GOVERNANCE);
        vault.unpause(PROTOCOL);
        assertTrue(!vault.paused(), "governance could not unpause");
    }

    function testRateLimitPerResponder() public {
        vm.startPrank(RESPONDER);
        guardian.pause(address(vault), keccak256("A"), "1");
        guardian.pause(address(vault), keccak256("B"), "2");
        guardian.pause(address(vault), keccak256("C"), "3");
        vm.expectRevert(
            abi.encodeWithSelector(Guardian.RateLimited.selector, RESPONDER, uint64(block.timestamp + 1 hours))
        );
        guardian.pause(address(vault), keccak256("D"), "4");
        vm.warp(block.timestamp + 1 hours);
        guardian.pause(address(vault), keccak256("D"), "4");
        vm.stopPrank();
        assertTrue(vault.isPaused(keccak256("D")), "not paused after the window");
    }

    function testOnlyGovernanceExtendsWithinBounds() public {
        vm.prank(RESPONDER);
        guardian.pause(address(vault), PROTOCOL, "exploit");
        uint64 later = uint64(block.timestamp + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, RESPONDER, guardian.GOVERNANCE_ROLE())
        );
        vm.prank(RESPONDER);
        guardian.extendPause(address(vault), PROTOCOL, later, "longer");
        uint64 tooLate = uint64(block.timestamp + 91 days);
        vm.expectRevert(abi.encodeWithSelector(Guardian.ExtensionTooLong.selector, tooLate, uint64(block.timestamp + 90 days)));
        vm.prank(GOVERNANCE);
        guardian.extendPause(address(vault), PROTOCOL, tooLate, "forever");
        vm.prank(GOVERNANCE);
        guardian.extendPause(address(vault), PROTOCOL, later, "investigation");
        vm.warp(block.timestamp + 29 days);
        assertTrue(vault.paused(), "extension did not hold");
    }

    function testDurationBounds() public {
        vm.startPrank(GOVERNANCE);
        vm.expectRevert(abi.encodeWithSelector(Guardian.InvalidDuration.selector, uint64(15 days)));
        guardian.setPauseDuration(15 days);
        vm.expectRevert(abi.encodeWithSelector(Guardian.InvalidDuration.selector, uint64(10 minutes)));
        guardian.setPauseDuration(10 minutes);
        guardian.setPauseDuration(2 days);
        vm.stopPrank();
        assertEq(guardian.pauseDuration(), 2 days, "duration");
    }

    function testTargetThatDoesNotPauseIsRejected() public {
        LyingTarget liar = new LyingTarget();
        vm.expectRevert(abi.encodeWithSelector(Guardian.TargetNotPaused.selector, address(liar), PROTOCOL));
        vm.prank(RESPONDER);
        guardian.pause(address(liar), PROTOCOL, "exploit");
    }
}
