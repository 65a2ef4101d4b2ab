// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {UniswapV2TwapOracle} from "../src/oracle/UniswapV2TwapOracle.sol";
import {IUniswapV2Pair} from "../src/interfaces/IUniswapV2Pair.sol";
import {TestBase} from "./Vm.sol";

/// The reads the oracle makes of a Uniswap V2 pair, with reserves, cumulatives and the pair's clock set by the test.
contract PairReads {
    address public token0 = address(0xA);
    address public token1 = address(0xB);
    uint112 reserve0;
    uint112 reserve1;
    uint32 timestampLast;
    uint256 public price0CumulativeLast;
    uint256 public price1CumulativeLast;

    function set(uint112 r0, uint112 r1, uint32 timestamp, uint256 cumulative0) external {
        (reserve0, reserve1, timestampLast, price0CumulativeLast) = (r0, r1, timestamp, cumulative0);
    }

    function getReserves() external view returns (uint112, uint112, uint32) {
        return (reserve0, reserve1, timestampLast);
    }
}

contract UniswapV2TwapOracleTest is TestBase {
    uint32 constant PERIOD = 600;
    uint32 constant START = 1_800_000_000;
    PairReads pair;
    UniswapV2TwapOracle twap;

    function setUp() public {
        vm.warp(START);
        pair = new PairReads();
        pair.set(1e18, 3_000e18, START, 0); // token0 (base) at 3,000 quote
        twap = new UniswapV2TwapOracle(IUniswapV2Pair(address(pair)), address(0xA), PERIOD);
    }

    function testWindowClosesAfterThePeriodAtTheAveragePrice() public {
        vm.warp(START + PERIOD - 1);
        assertTrue(!twap.update(), "window closed early");
        vm.warp(START + PERIOD);
        assertTrue(twap.update(), "window not closed");
        assertEq(twap.price(), 3_000e18, "average price");
        assertEq(twap.timestampLast(), START + PERIOD, "checkpoint");
    }

    function testAClockThatWentBackBehindThePairReverts() public {
        pair.set(1e18, 3_000e18, START + 300, 0); // the pair last traded 300 s after the time the chain now shows
        vm.expectRevert(abi.encodeWithSelector(UniswapV2TwapOracle.ClockWentBackwards.selector, START, START + 300));
        twap.update();
    }

    function testAClockThatWentBackBehindTheLastWindowReverts() public {
        vm.warp(START + PERIOD);
        twap.update();
        vm.warp(START + PERIOD - 10);
        pair.set(1e18, 3_000e18, START + PERIOD - 20, 0);
        vm.expectRevert(
            abi.encodeWithSelector(UniswapV2TwapOracle.ClockWentBackwards.selector, START + PERIOD - 10, START + PERIOD)
        );
        twap.update();
    }

    function testThePairsClockWrapsForwardIn2106() public {
        uint32 beforeWrap = type(uint32).max - 100;
        vm.warp(beforeWrap);
        pair.set(1e18, 3_000e18, beforeWrap, 0);
        twap = new UniswapV2TwapOracle(IUniswapV2Pair(address(pair)), address(0xA), PERIOD);
        vm.warp(uint256(beforeWrap) + PERIOD); // the pair's 32-bit clock has wrapped past zero
        assertTrue(twap.update(), "window across the wrap not closed");
        assertEq(twap.price(), 3_000e18, "average price across the wrap");
    }
}
