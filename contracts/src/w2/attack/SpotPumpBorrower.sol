// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {CreditPool} from "../lending/CreditPool.sol";
import {IV2Pair, IV2Callee} from "../interfaces/IV2Pair.sol";
import {V2Swap} from "../libraries/V2Swap.sol";

/// @title SpotPumpBorrower
/// @notice Borrows against collateral that the lending pool values at a pair's spot price, after buying that
///         collateral on the same pair to pump it. `strike` does it in one transaction with cash from a flash
///         swap on another pair; `slice` does a small step with cash held here, one step per call.
///         The loans are never repaid.
contract SpotPumpBorrower is IV2Callee {
    using SafeERC20 for IERC20;

    address public immutable owner;
    CreditPool public immutable pool;
    IV2Pair public immutable pricedPair; // the pair the pool reads
    IV2Pair public immutable flashPair; // another pair of the cash token, lending the cash for one transaction
    IERC20 public immutable cash;
    IERC20 public immutable collateral;

    error NotOwner();
    error UnexpectedCallback();

    constructor(CreditPool pool_, IV2Pair pricedPair_, IV2Pair flashPair_, IERC20 collateral_) {
        owner = msg.sender;
        pool = pool_;
        pricedPair = pricedPair_;
        flashPair = flashPair_;
        collateral = collateral_;
        cash = pool_.cashToken();
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Flash-swap `flashCash`, pump and pledge, borrow everything allowed, repay the swap, keep the rest.
    function strike(uint256 flashCash) external onlyOwner {
        (uint256 out0, uint256 out1) =
            flashPair.token0() == address(cash) ? (flashCash, uint256(0)) : (uint256(0), flashCash);
        flashPair.swap(out0, out1, address(this), abi.encode(flashCash));
        cash.safeTransfer(owner, cash.balanceOf(address(this)));
    }

    function uniswapV2Call(address sender, uint256, uint256, bytes calldata data) external {
        if (msg.sender != address(flashPair) || sender != address(this)) revert UnexpectedCallback();
        uint256 flashCash = abi.decode(data, (uint256));
        _pumpPledgeBorrow(flashCash);
        cash.safeTransfer(address(flashPair), V2Swap.sameTokenRepay(flashCash));
    }

    /// @notice One small step with cash held here: buy, pledge, borrow all that the pumped price allows.
    function slice(uint256 spend) external onlyOwner {
        _pumpPledgeBorrow(spend);
    }

    function withdraw() external onlyOwner {
        cash.safeTransfer(owner, cash.balanceOf(address(this)));
    }

    function _pumpPledgeBorrow(uint256 spend) private {
        uint256 bought = V2Swap.sell(pricedPair, address(cash), spend, address(this));
        collateral.forceApprove(address(pool), bought);
        pool.depositCollateral(address(collateral), bought);
        uint256 room = pool.borrowable(address(this));
        if (room > 0) pool.borrow(room);
    }
}
