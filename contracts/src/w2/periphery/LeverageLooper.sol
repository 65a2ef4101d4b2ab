// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {CreditPool} from "../lending/CreditPool.sol";
import {IV2Pair, IV2Callee} from "../interfaces/IV2Pair.sol";
import {V2Swap} from "../libraries/V2Swap.sol";

/// @title LeverageLooper
/// @notice A user's own leverage account on the credit pool: one flash swap borrows more of the collateral
///         asset, the whole stack is posted as collateral, and the cash borrowed against it repays the swap.
contract LeverageLooper is IV2Callee {
    using SafeERC20 for IERC20;

    address public immutable owner;
    CreditPool public immutable pool;
    IERC20 public immutable asset;
    IERC20 public immutable cash;

    error NotOwner();
    error UnexpectedCallback();

    constructor(CreditPool pool_, IERC20 asset_) {
        owner = msg.sender;
        pool = pool_;
        asset = asset_;
        cash = pool_.cashToken();
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Multiply the asset held here: flash-swap `extra` more from `pair` and repay it in cash.
    function lever(IV2Pair pair, uint256 extra) external onlyOwner {
        (uint256 out0, uint256 out1) = pair.token0() == address(asset) ? (extra, uint256(0)) : (uint256(0), extra);
        pair.swap(out0, out1, address(this), abi.encode(pair));
    }

    function uniswapV2Call(address sender, uint256 amount0, uint256 amount1, bytes calldata data) external {
        IV2Pair pair = abi.decode(data, (IV2Pair));
        if (msg.sender != address(pair) || sender != address(this)) revert UnexpectedCallback();
        (uint256 cashReserve, uint256 assetReserve) = V2Swap.reserves(pair, address(cash)); // before the swap
        uint256 owed = V2Swap.amountIn(amount0 + amount1, cashReserve, assetReserve);
        uint256 held = asset.balanceOf(address(this));
        asset.forceApprove(address(pool), held);
        pool.depositCollateral(address(asset), held);
        pool.borrow(owed);
        cash.safeTransfer(address(pair), owed);
    }

    /// @notice Repay the debt with cash sent here, take the collateral back, and hand everything to the owner.
    function unwind() external onlyOwner {
        uint256 debt = pool.debtOf(address(this));
        if (debt > 0) {
            cash.forceApprove(address(pool), debt);
            pool.repay(address(this), debt);
        }
        uint256 posted = pool.collateralOf(address(this), address(asset));
        if (posted > 0) pool.withdrawCollateral(address(asset), posted);
        asset.safeTransfer(owner, asset.balanceOf(address(this)));
        cash.safeTransfer(owner, cash.balanceOf(address(this)));
    }
}
