// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {PerpExchange} from "../../src/w2/perps/PerpExchange.sol";
import {PushAggregator} from "../../src/w2/oracles/PushAggregator.sol";
import {IPriceFeed} from "../../src/w2/interfaces/IPriceFeed.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";
import {HarborTest} from "./HarborTest.sol";

contract PerpExchangeTest is HarborTest {
    address constant GUARDIAN = address(0x6A4D);
    address constant TRANSMITTER = address(0x4EE9);
    address constant LP = address(0x11);
    address constant TRADER = address(0x7ADE);
    address constant KEEPER = address(0x1100);
    bytes32 constant ETH = keccak256("ETH-PERP");
    bytes32 constant BTC = keccak256("BTC-PERP");
    uint256 constant T0 = 1_700_000_000;

    IssuedToken usd;
    PushAggregator ethFeed;
    PushAggregator btcFeed;
    PerpExchange perps;

    function setUp() public {
        vm.warp(T0);
        usd = new IssuedToken("Harbor USD", "hUSD", 6, address(this));
        ethFeed = new PushAggregator(8, "ETH / USD", 3_000e8, TRANSMITTER, address(this));
        btcFeed = new PushAggregator(8, "BTC / USD", 60_000e8, TRANSMITTER, address(this));
        perps = new PerpExchange(IERC20(address(usd)), address(this), GUARDIAN);
        perps.listMarket(ETH, IPriceFeed(address(ethFeed)), 10, 500, 10);
        perps.listMarket(BTC, IPriceFeed(address(btcFeed)), 10, 500, 10);
        _fund(LP, 1_000_000e6);
        vm.prank(LP);
        perps.addLiquidity(1_000_000e6);
        _fund(TRADER, 100_000e6);
    }

    function _fund(address who, uint256 amount) private {
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(perps), type(uint256).max);
    }

    function _push(PushAggregator feed, int256 answer) private {
        vm.prank(TRANSMITTER);
        feed.transmit(answer);
    }

    function testFeedRoundsAreChainlinkShaped() public {
        vm.warp(T0 + 60);
        _push(ethFeed, 3_100e8);
        (uint80 round, int256 answer,, uint256 updatedAt, uint80 answeredIn) = ethFeed.latestRoundData();
        assertEq(round, 2, "second round");
        assertTrue(answer == 3_100e8 && answeredIn == round, "answer");
        assertEq(updatedAt, T0 + 60, "updatedAt");
        (, int256 first,,,) = ethFeed.getRoundData(1);
        assertTrue(first == 3_000e8, "history kept");
        vm.expectRevert(abi.encodeWithSelector(PushAggregator.NotTransmitter.selector, TRADER));
        vm.prank(TRADER);
        ethFeed.transmit(1);
        vm.expectRevert(abi.encodeWithSelector(PushAggregator.NonPositiveAnswer.selector, int256(0)));
        vm.prank(TRANSMITTER);
        ethFeed.transmit(0);
    }

    function testLongProfitIsPaidByThePool() public {
        vm.prank(TRADER);
        perps.openPosition(ETH, 10e18, 3_030e6); // 30,000 notional, 10x after the 0.1% fee
        assertEq(perps.markPrice(ETH), 3_000e6, "mark from the feed");
        _push(ethFeed, 3_300e8);
        vm.prank(TRADER);
        uint256 payout = perps.closePosition(ETH);
        assertEq(payout, 3_000e6 + 3_000e6 - 33e6, "margin + 10% move x10 - closing fee");
        assertEq(perps.poolAssets(), 1_000_000e6 + 30e6 + 33e6 - 3_000e6, "pool paid the profit, kept the fees");
        vm.expectRevert(abi.encodeWithSelector(PerpExchange.TooMuchLeverage.selector, 33_000e6, 29_670e6));
        vm.prank(TRADER);
        perps.openPosition(ETH, 10e18, 3_000e6);
    }

    function testStaleAnswerIsStillTheMark() public {
        vm.warp(T0 + 3 days); // the transmitter stopped three days ago
        vm.prank(TRADER);
        perps.openPosition(ETH, 10e18, 3_030e6);
        (, , uint256 entry) = perps.positions(ETH, TRADER);
        assertEq(entry, 3_000e6, "no staleness check: the old answer marks the trade");
    }

    function testShortUnderMaintenanceIsLiquidated() public {
        vm.prank(TRADER);
        perps.openPosition(BTC, -1e18, 6_060e6); // 60,000 short at 10x
        vm.expectRevert();
        vm.prank(KEEPER);
        perps.liquidate(BTC, TRADER);
        _push(btcFeed, 65_500e8); // loss 5,500 of 6,000 margin
        vm.prank(KEEPER);
        uint256 reward = perps.liquidate(BTC, TRADER);
        assertEq(reward, 500e6, "the equity left, under 1% of notional");
        assertEq(usd.balanceOf(KEEPER), 500e6, "paid to the keeper");
        assertEq(perps.poolAssets(), 1_000_000e6 + 60e6 + 5_500e6, "the pool keeps the loss");
    }

    function testPauseIsPerMarket() public {
        vm.expectRevert(abi.encodeWithSelector(PerpExchange.NotGuardian.selector, TRADER));
        vm.prank(TRADER);
        perps.pauseMarket(ETH);
        vm.prank(TRADER);
        perps.openPosition(ETH, 1e18, 1_000e6);
        vm.prank(GUARDIAN);
        perps.pauseMarket(ETH);
        assertTrue(perps.isMarketPaused(ETH) && !perps.isMarketPaused(BTC), "one market paused");
        vm.expectRevert(abi.encodeWithSelector(PerpExchange.MarketIsPaused.selector, ETH));
        vm.prank(TRADER);
        perps.closePosition(ETH);
        vm.prank(TRADER);
        perps.openPosition(BTC, 1e17, 1_000e6);
        vm.expectRevert();
        vm.prank(GUARDIAN);
        perps.unpauseMarket(ETH);
        perps.unpauseMarket(ETH);
        vm.prank(TRADER);
        perps.closePosition(ETH);
    }

    function testLiquidityProvidersShareThePool() public {
        _fund(address(0x22), 500_000e6);
        vm.prank(address(0x22));
        uint256 shares = perps.addLiquidity(500_000e6);
        assertEq(shares, 500_000e6, "same share price");
        vm.prank(LP);
        uint256 out = perps.removeLiquidity(900_000e6);
        assertEq(out, 900_000e6, "most of the pool leaves in one transaction");
    }
}
