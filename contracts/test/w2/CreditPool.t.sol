// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {CreditPool} from "../../src/w2/lending/CreditPool.sol";
import {SavingsVault} from "../../src/w2/vaults/SavingsVault.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";
import {HarborTest, MiniPair} from "./HarborTest.sol";

contract CreditPoolTest is HarborTest {
    address constant GUARDIAN = address(0x6A4D);
    address constant SUPPLIER = address(0x5019);
    address constant BORROWER = address(0xB0B);
    address constant LIQUIDATOR = address(0x11D);
    uint256 constant RATE = uint256(0.05e18) / 365 days; // 5% a year

    IssuedToken usd;
    IssuedToken weth;
    MiniPair pair;
    SavingsVault vault;
    CreditPool pool;

    function setUp() public {
        vm.warp(1_700_000_000);
        usd = new IssuedToken("Harbor USD", "hUSD", 6, address(this));
        weth = new IssuedToken("Wrapped Ether", "WETH", 18, address(this));
        pair = seededPair(weth, usd, 1_000e18, 3_000_000e6); // 3,000 hUSD per WETH
        vault = new SavingsVault(IERC20(address(usd)), "Harbor Savings hUSD", "svhUSD", address(this), GUARDIAN);
        pool = new CreditPool(IERC20(address(usd)), RATE, address(this), GUARDIAN);
        pool.configureCollateral(address(weth), CreditPool.Pricing.PairSpot, address(pair), 7_500, 8_500);
        pool.configureCollateral(address(vault), CreditPool.Pricing.VaultShare, address(vault), 9_000, 9_500);
        usd.mint(SUPPLIER, 1_000_000e6);
        vm.startPrank(SUPPLIER);
        usd.approve(address(pool), type(uint256).max);
        pool.supply(1_000_000e6);
        vm.stopPrank();
        weth.mint(BORROWER, 10e18);
        vm.prank(BORROWER);
        weth.approve(address(pool), type(uint256).max);
    }

    function _pledge(uint256 amount) private {
        vm.prank(BORROWER);
        pool.depositCollateral(address(weth), amount);
    }

    function testBorrowWithinLimitAndRepayWithInterest() public {
        _pledge(10e18);
        (uint256 limit,, uint256 debt) = pool.accountLiquidity(BORROWER);
        assertEq(limit, 22_500e6, "75% of 30,000");
        assertEq(debt, 0, "no debt yet");
        vm.prank(BORROWER);
        pool.borrow(22_000e6);
        assertEq(usd.balanceOf(BORROWER), 22_000e6, "borrowed cash");
        vm.expectRevert(abi.encodeWithSelector(CreditPool.Undercollateralized.selector, 23_000e6, 22_500e6));
        vm.prank(BORROWER);
        pool.borrow(1_000e6);

        vm.warp(block.timestamp + 365 days);
        uint256 owed = pool.debtOf(BORROWER);
        assertApprox(owed, 23_100e6, 1e6, "5% interest over a year");
        usd.mint(BORROWER, owed - 22_000e6);
        vm.startPrank(BORROWER);
        usd.approve(address(pool), owed);
        pool.repay(BORROWER, type(uint256).max);
        pool.withdrawCollateral(address(weth), 10e18);
        vm.stopPrank();
        assertEq(pool.debtOf(BORROWER), 0, "repaid");
        assertApprox(pool.supplyBalanceOf(SUPPLIER), 1_001_100e6, 1e6, "the supplier earned the interest");
    }

    function testOneLargeBuyOnThePairRaisesTheBorrowingLimit() public {
        _pledge(10e18);
        (uint256 before,,) = pool.accountLiquidity(BORROWER);
        buyFrom(pair, usd, 1_000_000e6, address(0xDEAD)); // somebody buys WETH on the priced pair
        (uint256 afterBuy,,) = pool.accountLiquidity(BORROWER);
        assertTrue(afterBuy > before * 17 / 10, "spot valuation follows one swap");
    }

    function testUnderwaterAccountIsLiquidatedWithBonus() public {
        _pledge(10e18);
        vm.prank(BORROWER);
        pool.borrow(22_000e6);
        vm.expectRevert(abi.encodeWithSelector(CreditPool.Healthy.selector, BORROWER));
        pool.liquidate(BORROWER, address(weth), 1_000e6);

        buyFrom(pair, weth, 150e18, address(0xDEAD)); // WETH falls about 25%
        usd.mint(LIQUIDATOR, 20_000e6);
        vm.startPrank(LIQUIDATOR);
        usd.approve(address(pool), type(uint256).max);
        uint256 seized = pool.liquidate(BORROWER, address(weth), 20_000e6);
        vm.stopPrank();
        uint256 repaid = 20_000e6 - usd.balanceOf(LIQUIDATOR);
        assertEq(repaid, 11_000e6, "half the debt at most");
        uint256 seizedValue = pool.valueOf(address(weth), seized);
        assertApprox(seizedValue, repaid * 108 / 100, 1e6, "8% bonus");
        assertEq(weth.balanceOf(LIQUIDATOR), seized, "collateral to the liquidator");
    }

    function testVaultSharesAreValuedAtTheVaultSharePrice() public {
        usd.mint(BORROWER, 10_000e6);
        vm.startPrank(BORROWER);
        usd.approve(address(vault), type(uint256).max);
        vault.deposit(10_000e6, BORROWER);
        vault.approve(address(pool), type(uint256).max);
        pool.depositCollateral(address(vault), 10_000e6);
        vm.stopPrank();
        (uint256 limit,,) = pool.accountLiquidity(BORROWER);
        assertEq(limit, 9_000e6, "90% of the shares' value");
        usd.mint(address(this), 1_000e6);
        usd.approve(address(vault), 1_000e6);
        vault.distributeYield(1_000e6);
        (limit,,) = pool.accountLiquidity(BORROWER);
        assertEq(limit, 9_900e6, "yield raises the shares' value");
    }

    function testPauseStopsBorrowingButNotRepaying() public {
        _pledge(10e18);
        vm.prank(BORROWER);
        pool.borrow(10_000e6);
        vm.expectRevert(abi.encodeWithSelector(CreditPool.NotGuardian.selector, BORROWER));
        vm.prank(BORROWER);
        pool.pause();
        vm.prank(GUARDIAN);
        pool.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(BORROWER);
        pool.borrow(1_000e6);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(SUPPLIER);
        pool.withdraw(1_000e6);
        vm.startPrank(BORROWER);
        usd.approve(address(pool), type(uint256).max);
        pool.repay(BORROWER, 10_000e6);
        vm.stopPrank();
        assertEq(pool.debtOf(BORROWER), 0, "repaid while paused");
        vm.expectRevert();
        vm.prank(GUARDIAN);
        pool.unpause();
        pool.unpause();
        assertTrue(!pool.paused(), "the owner unpauses");
    }

    function testWithdrawalsAreLimitedByCash() public {
        _pledge(10e18);
        vm.prank(BORROWER);
        pool.borrow(20_000e6);
        vm.expectRevert(abi.encodeWithSelector(CreditPool.InsufficientCash.selector, 980_000e6, 990_000e6));
        vm.prank(SUPPLIER);
        pool.withdraw(990_000e6);
        vm.prank(SUPPLIER);
        pool.withdraw(980_000e6);
        assertEq(pool.cash(), 0, "the whole cash went out in one withdrawal");
    }
}
