// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IFlashLoanSimpleReceiver} from "../interfaces/IFlashLoanSimpleReceiver.sol";

/// @notice A flash-loan pool with Aave V3's `flashLoanSimple` interface, callback and `FlashLoan` event, lending
///         whatever tokens it holds for a premium (0.05% by default) that stays in the pool.
contract FlashLender is Ownable {
    using SafeERC20 for IERC20;

    uint128 public premiumBps = 5;

    event FlashLoan(
        address indexed target,
        address initiator,
        address indexed asset,
        uint256 amount,
        uint8 interestRateMode,
        uint256 premium,
        uint16 indexed referralCode
    );
    event PremiumChanged(uint128 premiumBps);

    error InsufficientLiquidity(address asset, uint256 available, uint256 wanted);
    error CallbackFailed(address receiver);

    constructor(address owner_) Ownable(owner_) {}

    function setPremium(uint128 premiumBps_) external onlyOwner {
        premiumBps = premiumBps_;
        emit PremiumChanged(premiumBps_);
    }

    function flashLoanSimple(address receiverAddress, address asset, uint256 amount, bytes calldata params, uint16 referralCode)
        external
    {
        uint256 available = IERC20(asset).balanceOf(address(this));
        if (amount > available) revert InsufficientLiquidity(asset, available, amount);
        uint256 premium = amount * premiumBps / 10_000;
        IERC20(asset).safeTransfer(receiverAddress, amount);
        if (!IFlashLoanSimpleReceiver(receiverAddress).executeOperation(asset, amount, premium, msg.sender, params)) {
            revert CallbackFailed(receiverAddress);
        }
        IERC20(asset).safeTransferFrom(receiverAddress, address(this), amount + premium);
        emit FlashLoan(receiverAddress, msg.sender, asset, amount, 0, premium, referralCode);
    }

    /// Return pool tokens to governance.
    function sweep(address asset, address to, uint256 amount) external onlyOwner {
        IERC20(asset).safeTransfer(to, amount);
    }
}
