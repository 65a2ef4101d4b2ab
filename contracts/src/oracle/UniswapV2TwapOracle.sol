// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IUniswapV2Pair} from "../interfaces/IUniswapV2Pair.sol";

/// @notice Time-weighted average price of `base` in `quote` over a Uniswap V2 pair, from the pair's cumulative
///         prices. `update()` (called by a keeper) closes a window of at least `period` seconds; `price()` is the
///         average over the last closed window, so one block of spot manipulation barely moves it.
contract UniswapV2TwapOracle {
    IUniswapV2Pair public immutable pair;
    address public immutable base;
    bool private immutable _baseIsToken0;
    uint32 public immutable period;

    uint256 public cumulativeLast;
    uint32 public timestampLast;
    uint256 private _averageUQ112; // UQ112x112 average price of base in quote
    uint32 public averageUpdatedAt;

    event Updated(uint256 price, uint32 timestamp, uint32 window);

    error PeriodNotElapsed(uint32 elapsed, uint32 period);
    error NotInitialized();
    /// The block time is earlier than a recorded one: a TWAP across a clock that went back would be garbage.
    error ClockWentBackwards(uint32 timestamp, uint32 recorded);

    constructor(IUniswapV2Pair pair_, address base_, uint32 period_) {
        pair = pair_;
        base = base_;
        period = period_;
        _baseIsToken0 = pair_.token0() == base_;
        (cumulativeLast, timestampLast) = _currentCumulative();
    }

    /// Close the current window if it is at least `period` long. Returns false (no-op) otherwise.
    function update() external returns (bool) {
        (uint256 cumulative, uint32 timestamp) = _currentCumulative();
        uint32 elapsed = _elapsed(timestampLast, timestamp);
        if (elapsed < period) return false;
        unchecked {
            _averageUQ112 = (cumulative - cumulativeLast) / elapsed;
        }
        cumulativeLast = cumulative;
        timestampLast = timestamp;
        averageUpdatedAt = timestamp;
        emit Updated(price(), timestamp, elapsed);
        return true;
    }

    /// Average price of `base` in `quote` over the last closed window, 18 decimals.
    function price() public view returns (uint256) {
        if (averageUpdatedAt == 0) revert NotInitialized();
        return Math.mulDiv(_averageUQ112, 1e18, 2 ** 112);
    }

    /// The pair's cumulative price of `base` extrapolated to now (what the pair would record this block).
    function _currentCumulative() private view returns (uint256 cumulative, uint32 timestamp) {
        timestamp = uint32(block.timestamp);
        cumulative = _baseIsToken0 ? pair.price0CumulativeLast() : pair.price1CumulativeLast();
        (uint112 reserve0, uint112 reserve1, uint32 pairTimestamp) = pair.getReserves();
        if (pairTimestamp != timestamp && reserve0 != 0 && reserve1 != 0) {
            uint32 elapsed = _elapsed(pairTimestamp, timestamp);
            unchecked {
                uint256 spotUQ112 = _baseIsToken0
                    ? (uint256(reserve1) << 112) / reserve0
                    : (uint256(reserve0) << 112) / reserve1;
                cumulative += spotUQ112 * elapsed;
            }
        }
    }

    /// Seconds from `recorded` to `timestamp` on the pair's 32-bit clock. The difference wraps forward as the pair's
    /// timestamps do (in 2106); one over 2^31 s (68 years) can only be a clock that went backwards, and an unchecked
    /// difference would then count ~136 years of the spot price into the cumulative.
    function _elapsed(uint32 recorded, uint32 timestamp) private pure returns (uint32 elapsed) {
        unchecked {
            elapsed = timestamp - recorded;
        }
        if (elapsed > type(uint32).max / 2) revert ClockWentBackwards(timestamp, recorded);
    }
}
