// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IV2Pair} from "../interfaces/IV2Pair.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";

/// @title PairTwapOracle
/// @notice Time-weighted average price of `base` in the pair's other token, over the last `window` seconds,
///         from the pair's cumulative prices. Anyone records observations with `update()` (at most one per
///         `minGap` seconds); `price()` averages from the newest observation that is at least `window` old.
contract PairTwapOracle is IPriceOracle {
    struct Observation {
        uint64 timestamp;
        uint256 cumulative; // UQ112x112 price of base, summed over seconds
    }

    IV2Pair public immutable pair;
    address public immutable base;
    address public immutable quote;
    uint256 public immutable window;
    uint256 public immutable minGap;
    bool private immutable _baseIsToken0;
    uint256 private immutable _baseUnit;
    Observation[] public observations;

    event Observed(uint256 indexed index, uint256 timestamp, uint256 cumulative);

    error NotInPair(address token);
    error HistoryTooShort(uint256 window);

    constructor(IV2Pair pair_, address base_, uint256 window_, uint256 minGap_) {
        bool isToken0 = pair_.token0() == base_;
        if (!isToken0 && pair_.token1() != base_) revert NotInPair(base_);
        pair = pair_;
        base = base_;
        quote = isToken0 ? pair_.token1() : pair_.token0();
        window = window_;
        minGap = minGap_;
        _baseIsToken0 = isToken0;
        _baseUnit = 10 ** IERC20Metadata(base_).decimals();
        _observe();
    }

    /// @notice Record an observation if `minGap` seconds passed since the last one; true when recorded.
    function update() external returns (bool) {
        if (block.timestamp - observations[observations.length - 1].timestamp < minGap) return false;
        _observe();
        return true;
    }

    function observationCount() external view returns (uint256) {
        return observations.length;
    }

    /// @notice The cumulative price of base now, including the time since the pair's last update.
    function currentCumulative() public view returns (uint256 cumulative) {
        cumulative = _baseIsToken0 ? pair.price0CumulativeLast() : pair.price1CumulativeLast();
        (uint112 r0, uint112 r1, uint32 last) = pair.getReserves();
        uint32 elapsed;
        unchecked {
            elapsed = uint32(block.timestamp) - last; // wraps like the pair's own clock
        }
        if (elapsed > 0 && r0 > 0 && r1 > 0) {
            uint256 spot = _baseIsToken0 ? (uint256(r1) << 112) / r0 : (uint256(r0) << 112) / r1;
            unchecked {
                cumulative += spot * elapsed; // cumulative prices overflow by design
            }
        }
    }

    /// @notice Raw quote units per whole base token, averaged over at least the last `window` seconds.
    function price() external view returns (uint256) {
        uint256 i = observations.length;
        while (i > 0) {
            Observation memory past = observations[--i];
            uint256 age = block.timestamp - past.timestamp;
            if (age >= window && age > 0) {
                uint256 average;
                unchecked {
                    average = (currentCumulative() - past.cumulative) / age;
                }
                return Math.mulDiv(average, _baseUnit, 1 << 112);
            }
        }
        revert HistoryTooShort(window);
    }

    function _observe() private {
        uint256 cumulative = currentCumulative();
        observations.push(Observation(uint64(block.timestamp), cumulative));
        emit Observed(observations.length - 1, block.timestamp, cumulative);
    }
}
