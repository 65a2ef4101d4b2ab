// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";
import {CreditPool} from "../lending/CreditPool.sol";
import {IV2Pair} from "../interfaces/IV2Pair.sol";
import {V2Swap} from "../libraries/V2Swap.sol";

/// @title FlashLiquidator
/// @notice A keeper's liquidation bot with no capital of its own: a flash loan repays an unhealthy account's debt,
///         the seized collateral is sold on a pair, the loan is repaid, the bonus is the keeper's.
contract FlashLiquidator is IERC3156FlashBorrower {
    using SafeERC20 for IERC20;

    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    address public immutable owner;
    CreditPool public immutable pool;
    IERC3156FlashLender public immutable lender;
    IERC20 public immutable cash;

    error NotOwner();
    error UnexpectedCallback();

    constructor(CreditPool pool_, IERC3156FlashLender lender_) {
        owner = msg.sender;
        pool = pool_;
        lender = lender_;
        cash = pool_.cashToken();
    }

    /// @notice Liquidate `account`'s `collateral` repaying `repayAmount`, selling the collateral on `pair`.
    function liquidate(address account, address collateral, uint256 repayAmount, IV2Pair pair) external {
        if (msg.sender != owner) revert NotOwner();
        lender.flashLoan(this, address(cash), repayAmount, abi.encode(account, collateral, pair));
        cash.safeTransfer(owner, cash.balanceOf(address(this)));
    }

    function onFlashLoan(address initiator, address token, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        if (msg.sender != address(lender) || initiator != address(this) || token != address(cash)) {
            revert UnexpectedCallback();
        }
        (address account, address collateral, IV2Pair pair) = abi.decode(data, (address, address, IV2Pair));
        cash.forceApprove(address(pool), amount);
        uint256 seized = pool.liquidate(account, collateral, amount);
        V2Swap.sell(pair, collateral, seized, address(this));
        cash.forceApprove(address(lender), amount + fee);
        return CALLBACK_SUCCESS;
    }
}
