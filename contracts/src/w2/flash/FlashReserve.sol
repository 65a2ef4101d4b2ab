// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";

/// @title FlashReserve
/// @notice ERC-3156 flash loans of the tokens the reserve holds, for a fee in basis points.
contract FlashReserve is IERC3156FlashLender, Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    uint256 public feeBps;
    mapping(address => bool) public isSupported;

    event FlashLoan(address indexed receiver, address indexed token, uint256 amount, uint256 fee);
    event TokenSupported(address indexed token, bool supported);

    error Unsupported(address token);
    error TooLarge(uint256 available, uint256 requested);
    error CallbackFailed();

    constructor(uint256 feeBps_, address owner_) Ownable(owner_) {
        feeBps = feeBps_;
    }

    function setSupported(address token, bool supported) external onlyOwner {
        isSupported[token] = supported;
        emit TokenSupported(token, supported);
    }

    function retrieve(address token, address to, uint256 amount) external onlyOwner {
        IERC20(token).safeTransfer(to, amount);
    }

    function maxFlashLoan(address token) public view returns (uint256) {
        return isSupported[token] ? IERC20(token).balanceOf(address(this)) : 0;
    }

    function flashFee(address token, uint256 amount) public view returns (uint256) {
        if (!isSupported[token]) revert Unsupported(token);
        return amount * feeBps / 10_000;
    }

    function flashLoan(IERC3156FlashBorrower receiver, address token, uint256 amount, bytes calldata data)
        external
        nonReentrant
        returns (bool)
    {
        uint256 available = maxFlashLoan(token);
        if (amount > available) revert TooLarge(available, amount);
        uint256 fee = flashFee(token, amount);
        IERC20(token).safeTransfer(address(receiver), amount);
        if (receiver.onFlashLoan(msg.sender, token, amount, fee, data) != CALLBACK_SUCCESS) revert CallbackFailed();
        IERC20(token).safeTransferFrom(address(receiver), address(this), amount + fee);
        emit FlashLoan(address(receiver), token, amount, fee);
        return true;
    }
}
