// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {SavingsVault} from "../../src/w2/vaults/SavingsVault.sol";
import {DonationFrontrunner} from "../../src/w2/attack/DonationFrontrunner.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";
import {HarborTest} from "./HarborTest.sol";

contract SavingsVaultTest is HarborTest {
    address constant GUARDIAN = address(0x6A4D);
    address constant ALICE = address(0xA11CE);
    address constant BOB = address(0xB0B);
    address constant MALLORY = address(0xBAD);

    IssuedToken usd;
    SavingsVault vault;

    function setUp() public {
        usd = new IssuedToken("Harbor USD", "hUSD", 6, address(this));
        vault = new SavingsVault(IERC20(address(usd)), "Harbor Savings hUSD", "svhUSD", address(this), GUARDIAN);
        _fund(ALICE, 100_000e6);
        _fund(BOB, 100_000e6);
    }

    function _fund(address who, uint256 amount) private {
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(vault), type(uint256).max);
    }

    function testYieldRaisesTheSharePriceForEveryHolder() public {
        vm.prank(ALICE);
        assertEq(vault.deposit(10_000e6, ALICE), 10_000e6, "first shares one to one");
        usd.mint(address(this), 1_000e6);
        usd.approve(address(vault), 1_000e6);
        vault.distributeYield(1_000e6);
        vm.prank(BOB);
        assertEq(vault.deposit(11_000e6, BOB), 10_000e6, "later shares at the new price");
        vm.prank(ALICE);
        assertEq(vault.redeem(10_000e6, ALICE, ALICE), 11_000e6, "alice gets her yield");
        vm.prank(BOB);
        vault.withdraw(11_000e6, BOB, BOB);
        assertEq(vault.balanceOf(BOB), 0, "bob leaves whole");
    }

    function testDonationToAnEmptyVaultStealsTheNextDeposit() public {
        vm.startPrank(MALLORY);
        DonationFrontrunner attacker = new DonationFrontrunner(vault);
        vm.stopPrank();
        usd.mint(address(attacker), 50_000e6 + 1);
        vm.prank(MALLORY);
        attacker.prime();
        vm.prank(ALICE);
        assertEq(vault.deposit(40_000e6, ALICE), 0, "alice's shares round down to nothing");
        vm.prank(MALLORY);
        attacker.cashOut();
        assertEq(usd.balanceOf(MALLORY), 90_000e6 + 1, "the donation back plus alice's deposit");
    }

    function testFreezeStopsDepositsAndWithdrawals() public {
        vm.prank(ALICE);
        vault.deposit(1_000e6, ALICE);
        vm.expectRevert(abi.encodeWithSelector(SavingsVault.NotGuardian.selector, BOB));
        vm.prank(BOB);
        vault.freeze();
        vm.prank(GUARDIAN);
        vault.freeze();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(ALICE);
        vault.redeem(1_000e6, ALICE, ALICE);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(BOB);
        vault.deposit(1_000e6, BOB);
        vault.unfreeze();
        vm.prank(ALICE);
        vault.redeem(1_000e6, ALICE, ALICE);
    }

    function testOnlyTheOwnerSweepsAndItCanSweepTheAsset() public {
        vm.prank(ALICE);
        vault.deposit(10_000e6, ALICE);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, MALLORY));
        vm.prank(MALLORY);
        vault.sweep(address(usd), MALLORY, 10_000e6);
        vault.sweep(address(usd), address(0xCAFE), 10_000e6);
        assertEq(vault.convertToAssets(10_000e6), 0, "the owner key can empty the vault");
    }
}
