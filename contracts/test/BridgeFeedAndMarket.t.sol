// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {BridgedCollateralMarket} from "../src/bridge/BridgedCollateralMarket.sol";
import {RelayedPriceFeed} from "../src/bridge/RelayedPriceFeed.sol";
import {ScopedPausable} from "../src/guardian/ScopedPausable.sol";
import {IAggregatorV3} from "../src/interfaces/IAggregatorV3.sol";
import {DemoToken} from "../src/tokens/DemoToken.sol";
import {TestBase} from "./Vm.sol";

contract BridgeFeedAndMarketTest is TestBase {
    address constant RELAYER = address(0x4E1A);
    address constant GUARDIAN = address(0x6A4D);
    address constant BORROWER = address(0xB0);
    address constant LIQUIDATOR = address(0x11);
    address constant SOURCE_FEED = address(0xFEED);
    uint256 constant T0 = 1_700_000_000;

    RelayedPriceFeed feed;
    DemoToken collateral; // stands in for the bridged token: the market only sees an ERC-20
    DemoToken usd;
    BridgedCollateralMarket market;

    function setUp() public {
        vm.warp(T0);
        feed = new RelayedPriceFeed(8, "ALP / USD", 31337, SOURCE_FEED, address(this), RELAYER);
        vm.prank(RELAYER);
        feed.relay(1, 2e8, T0);
        collateral = new DemoToken("Bridged Alpha", "bALP", 18, address(this));
        usd = new DemoToken("Demo USD", "dUSD", 18, address(this));
        market = new BridgedCollateralMarket(
            IERC20(address(collateral)),
            IERC20(address(usd)),
            IAggregatorV3(address(feed)),
            BridgedCollateralMarket.Params(7_000, 8_000, 500, 1 hours),
            address(this),
            GUARDIAN
        );
        usd.mint(address(market), 1_000_000e18);
        collateral.mint(BORROWER, 1_000e18);
        usd.mint(LIQUIDATOR, 10_000e18);
        vm.prank(BORROWER);
        collateral.approve(address(market), type(uint256).max);
        vm.prank(LIQUIDATOR);
        usd.approve(address(market), type(uint256).max);
    }

    function _relay(uint80 sourceRound, int256 answer) internal {
        vm.prank(RELAYER);
        feed.relay(sourceRound, answer, block.timestamp);
    }

    function testRelayedRoundsMirrorTheSource() public {
        vm.warp(T0 + 60);
        _relay(5, 2.1e8);
        (uint80 round, int256 answer,, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertEq(round, 2, "local round");
        assertTrue(answer == 2.1e8 && answeredIn == round, "answer");
        assertEq(updatedAt, T0 + 60, "source time");
        (uint80 sourceRound, uint256 relayedAt) = feed.sourceOf(2);
        assertEq(sourceRound, 5, "source round");
        assertEq(relayedAt, T0 + 60, "relayed at");
    }

    function testOldSourceRoundsAndStrangersAreRefused() public {
        _relay(3, 2e8);
        vm.expectRevert(abi.encodeWithSelector(RelayedPriceFeed.StaleSourceRound.selector, uint80(3), uint80(3)));
        vm.prank(RELAYER);
        feed.relay(3, 5e8, block.timestamp);
        vm.expectRevert(abi.encodeWithSelector(RelayedPriceFeed.InvalidAnswer.selector, int256(0)));
        vm.prank(RELAYER);
        feed.relay(4, 0, block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, BORROWER, feed.RELAYER_ROLE()
            )
        );
        vm.prank(BORROWER);
        feed.relay(9, 1e8, block.timestamp);
    }

    function testBorrowUpToTheLoanToValue() public {
        vm.startPrank(BORROWER);
        market.depositCollateral(100e18); // worth $200
        vm.expectRevert(abi.encodeWithSelector(BridgedCollateralMarket.Undercollateralised.selector, 141e18, 140e18));
        market.borrow(141e18);
        market.borrow(140e18);
        vm.stopPrank();
        assertEq(usd.balanceOf(BORROWER), 140e18, "borrowed");
        assertEq(market.totalDebt(), 140e18, "debt");
    }

    function testLiquidationBelowTheThreshold() public {
        vm.startPrank(BORROWER);
        market.depositCollateral(100e18);
        market.borrow(140e18);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(BridgedCollateralMarket.Healthy.selector, 140e18, 160e18));
        vm.prank(LIQUIDATOR);
        market.liquidate(BORROWER);

        _relay(2, 1.6e8); // collateral worth $160, threshold $128 < debt $140
        assertTrue(market.isLiquidatable(BORROWER), "liquidatable");
        vm.prank(LIQUIDATOR);
        market.liquidate(BORROWER);
        // $140 of debt plus a 5% bonus = $147 of collateral at $1.60 = 91.875 tokens
        assertEq(collateral.balanceOf(LIQUIDATOR), 91.875e18, "seized");
        assertEq(market.debtOf(BORROWER), 0, "debt cleared");
        assertEq(market.collateralOf(BORROWER), 8.125e18, "rest stays with the borrower");
    }

    function testStalePriceStopsBorrowing() public {
        vm.prank(BORROWER);
        market.depositCollateral(100e18);
        vm.warp(T0 + 1 hours + 1);
        vm.expectRevert(abi.encodeWithSelector(BridgedCollateralMarket.BadPrice.selector, int256(2e8), T0));
        vm.prank(BORROWER);
        market.borrow(1e18);
    }

    function testBorrowsPauseLeavesRepayOpenAndAFullPauseStopsIt() public {
        vm.startPrank(BORROWER);
        market.depositCollateral(100e18);
        market.borrow(100e18);
        vm.stopPrank();
        vm.prank(GUARDIAN);
        market.pause(market.BORROWS(), uint64(block.timestamp + 1 days));
        vm.expectRevert(abi.encodeWithSelector(ScopedPausable.EnforcedPause.selector, market.BORROWS()));
        vm.prank(BORROWER);
        market.borrow(1e18);
        vm.startPrank(BORROWER);
        usd.approve(address(market), 100e18);
        market.repay(BORROWER, 60e18);
        vm.stopPrank();
        vm.prank(GUARDIAN);
        market.pause(bytes32(0), uint64(block.timestamp + 1 days));
        vm.expectRevert(abi.encodeWithSelector(ScopedPausable.EnforcedPause.selector, bytes32(0)));
        vm.prank(BORROWER);
        market.repay(BORROWER, 40e18);
        market.unpause(bytes32(0)); // governance
        vm.startPrank(BORROWER);
        market.repay(BORROWER, 40e18);
        market.withdrawCollateral(100e18);
        vm.stopPrank();
        assertEq(collateral.balanceOf(BORROWER), 1_000e18, "collateral back");
    }
}
