// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";
import {CreditPool} from "../../src/w2/lending/CreditPool.sol";
import {FlashReserve} from "../../src/w2/flash/FlashReserve.sol";
import {FlashLiquidator} from "../../src/w2/periphery/FlashLiquidator.sol";
import {LeverageLooper} from "../../src/w2/periphery/LeverageLooper.sol";
import {PairArbitrageur} from "../../src/w2/periphery/PairArbitrageur.sol";
import {SpotPumpBorrower} from "../../src/w2/attack/SpotPumpBorrower.sol";
import {IV2Pair} from "../../src/w2/interfaces/IV2Pair.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";
import {HarborTest, MiniPair} from "./HarborTest.sol";

/// @notice The flash reserve, the honest flash-funded helpers and the spot-pump attacker on one small market.
contract FlashAndPeripheryTest is HarborTest {
    address constant SUPPLIER = address(0x5019);
    address constant USER = address(0x05E5);
    address constant MALLORY = address(0xBAD);

    IssuedToken usd;
    IssuedToken weth;
    MiniPair priced; // the pair the credit pool reads
    MiniPair deep; // a second venue
    CreditPool pool;
    FlashReserve reserve;

    function setUp() public {
        vm.warp(1_700_000_000);
        usd = new IssuedToken("Harbor USD", "hUSD", 6, address(this));
        weth = new IssuedToken("Wrapped Ether", "WETH", 18, address(this));
        priced = seededPair(weth, usd, 1_000e18, 3_000_000e6);
        deep = seededPair(weth, usd, 2_000e18, 6_000_000e6);
        pool = new CreditPool(IERC20(address(usd)), 0, address(this), address(this));
        pool.configureCollateral(address(weth), CreditPool.Pricing.PairSpot, address(priced), 7_500, 8_500);
        usd.mint(SUPPLIER, 5_000_000e6);
        vm.startPrank(SUPPLIER);
        usd.approve(address(pool), type(uint256).max);
        pool.supply(5_000_000e6);
        vm.stopPrank();
        reserve = new FlashReserve(5, address(this));
        reserve.setSupported(address(usd), true);
        usd.mint(address(reserve), 1_000_000e6);
    }

    function testLeverageLoopTriplesTheCollateral() public {
        vm.startPrank(USER);
        LeverageLooper looper = new LeverageLooper(pool, IERC20(address(weth)));
        vm.stopPrank();
        weth.mint(address(looper), 10e18);
        vm.prank(USER);
        looper.lever(IV2Pair(address(deep)), 20e18);
        assertEq(pool.collateralOf(address(looper), address(weth)), 30e18, "own 10 plus 20 flash-swapped");
        (uint256 limit,, uint256 debt) = pool.accountLiquidity(address(looper));
        assertTrue(debt > 60_000e6 && debt < limit, "borrowed what the swap cost, within the limit");
    }

    function testFlashLiquidationRepaysTheReserveWithItsFee() public {
        weth.mint(USER, 10e18);
        vm.startPrank(USER);
        weth.approve(address(pool), 10e18);
        pool.depositCollateral(address(weth), 10e18);
        pool.borrow(22_000e6);
        vm.stopPrank();
        buyFrom(priced, weth, 150e18, address(0xDEAD)); // the price falls
        FlashLiquidator bot = new FlashLiquidator(pool, IERC3156FlashLender(address(reserve)));
        bot.liquidate(USER, address(weth), 11_000e6, IV2Pair(address(deep)));
        assertEq(usd.balanceOf(address(reserve)), 1_000_000e6 + 5.5e6, "loan back with 5 bps");
        assertTrue(usd.balanceOf(address(this)) > 0, "the keeper kept the bonus");
        assertEq(pool.debtOf(USER), 11_000e6, "half the debt repaid");
    }

    function testArbitrageClosesTheGapBetweenVenues() public {
        buyFrom(priced, usd, 300_000e6, address(0xDEAD)); // WETH dearer on the priced pair
        PairArbitrageur arb = new PairArbitrageur();
        arb.arbitrage(IV2Pair(address(deep)), IV2Pair(address(priced)), address(weth), 30e18, 1);
        assertTrue(usd.balanceOf(address(this)) > 0, "profit in hUSD");
        vm.expectRevert();
        arb.arbitrage(IV2Pair(address(deep)), IV2Pair(address(priced)), address(weth), 200e18, 1);
    }

    function testSpotPumpBorrowsMoreThanTheFlashSwapCost() public {
        vm.startPrank(MALLORY);
        SpotPumpBorrower attacker =
            new SpotPumpBorrower(pool, IV2Pair(address(priced)), IV2Pair(address(deep)), IERC20(address(weth)));
        attacker.strike(3_000_000e6);
        vm.stopPrank();
        uint256 taken = usd.balanceOf(MALLORY);
        assertTrue(taken > 1_000_000e6, "over a million hUSD kept");
        assertTrue(pool.debtOf(address(attacker)) > 4_000_000e6, "the loan stays unpaid");
    }
}
