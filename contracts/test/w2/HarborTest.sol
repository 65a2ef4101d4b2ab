// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IV2Callee} from "../../src/w2/interfaces/IV2Pair.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";

/// @notice The forge cheatcodes the Harbor tests use.
interface Cheats {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function expectRevert(bytes4 selector) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert() external;
}

/// @notice A constant-product pair with Uniswap V2's fee, cumulative prices and flash swaps, for unit tests
///         (the devnet and the Python tests use the real Uniswap V2 bytecode).
contract MiniPair {
    address public token0;
    address public token1;
    uint112 private _reserve0;
    uint112 private _reserve1;
    uint32 private _lastTimestamp;
    uint256 public price0CumulativeLast;
    uint256 public price1CumulativeLast;

    constructor(address a, address b) {
        (token0, token1) = a < b ? (a, b) : (b, a);
    }

    function getReserves() external view returns (uint112, uint112, uint32) {
        return (_reserve0, _reserve1, _lastTimestamp);
    }

    function sync() public {
        _update(IERC20(token0).balanceOf(address(this)), IERC20(token1).balanceOf(address(this)));
    }

    function swap(uint256 out0, uint256 out1, address to, bytes calldata data) external {
        (uint256 r0, uint256 r1) = (_reserve0, _reserve1);
        require(out0 < r0 && out1 < r1, "liquidity");
        if (out0 > 0) IERC20(token0).transfer(to, out0);
        if (out1 > 0) IERC20(token1).transfer(to, out1);
        if (data.length > 0) IV2Callee(to).uniswapV2Call(msg.sender, out0, out1, data);
        uint256 b0 = IERC20(token0).balanceOf(address(this));
        uint256 b1 = IERC20(token1).balanceOf(address(this));
        uint256 in0 = b0 > r0 - out0 ? b0 - (r0 - out0) : 0;
        uint256 in1 = b1 > r1 - out1 ? b1 - (r1 - out1) : 0;
        require((b0 * 1000 - in0 * 3) * (b1 * 1000 - in1 * 3) >= r0 * r1 * 1_000_000, "K");
        _update(b0, b1);
    }

    function _update(uint256 b0, uint256 b1) private {
        uint32 elapsed = uint32(block.timestamp) - _lastTimestamp;
        if (elapsed > 0 && _reserve0 > 0 && _reserve1 > 0) {
            unchecked {
                price0CumulativeLast += (uint256(_reserve1) << 112) / _reserve0 * elapsed;
                price1CumulativeLast += (uint256(_reserve0) << 112) / _reserve1 * elapsed;
            }
        }
        (_reserve0, _reserve1, _lastTimestamp) = (uint112(b0), uint112(b1), uint32(block.timestamp));
    }
}

abstract contract HarborTest {
    Cheats internal constant vm = Cheats(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        require(a == b, what);
    }

    function assertTrue(bool condition, string memory what) internal pure {
        require(condition, what);
    }

    function assertApprox(uint256 a, uint256 b, uint256 tolerance, string memory what) internal pure {
        require(a + tolerance >= b && b + tolerance >= a, what);
    }

    /// @dev A pair of `a` and `b` seeded with the given amounts, minted by this test (the issuer).
    function seededPair(IssuedToken a, IssuedToken b, uint256 amountA, uint256 amountB) internal returns (MiniPair pair) {
        pair = new MiniPair(address(a), address(b));
        a.mint(address(pair), amountA);
        b.mint(address(pair), amountB);
        pair.sync();
    }

    /// @dev Buy `token` from `pair` with `amountIn` of the other token, minted for the trade (a market move).
    function buyFrom(MiniPair pair, IssuedToken paid, uint256 amountIn, address to) internal returns (uint256 out) {
        (uint112 r0, uint112 r1,) = pair.getReserves();
        bool paidIs0 = pair.token0() == address(paid);
        (uint256 rIn, uint256 rOut) = paidIs0 ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        out = amountIn * 997 * rOut / (rIn * 1000 + amountIn * 997);
        paid.mint(address(pair), amountIn);
        pair.swap(paidIs0 ? 0 : out, paidIs0 ? out : 0, to, "");
    }
}
