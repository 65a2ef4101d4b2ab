// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ScopedPausable} from "../guardian/ScopedPausable.sol";

/// @title CollateralVault
/// @notice Holds every token of the protocol: traders' free collateral, margin locked in open positions, and the
///         liquidity pool (LP shares) that is the counterparty of every trade. Only the market moves margin and
///         settles profit and loss. Pausing the whole vault stops every value-moving function of the protocol.
contract CollateralVault is ScopedPausable {
    using SafeERC20 for IERC20;

    bytes32 public constant DEPOSITS = keccak256("DEPOSITS");
    bytes32 public constant WITHDRAWALS = keccak256("WITHDRAWALS");

    IERC20 public immutable asset;
    address public market;

    mapping(address account => uint256) public balanceOf; // free collateral
    uint256 public totalFree;
    uint256 public lockedMargin;
    uint256 public poolAssets;
    uint256 public totalShares;
    mapping(address provider => uint256) public sharesOf;

    event Deposit(address indexed account, uint256 amount);
    event Withdraw(address indexed account, uint256 amount);
    event LiquidityAdded(address indexed provider, uint256 amount, uint256 shares);
    event LiquidityRemoved(address indexed provider, uint256 amount, uint256 shares);
    event MarginLocked(address indexed account, uint256 amount);
    event Settled(address indexed account, uint256 margin, int256 pnl, uint256 fee, uint256 payout);
    event Liquidated(address indexed account, address indexed liquidator, uint256 margin, uint256 reward);
    event MarketChanged(address indexed market);

    error NotMarket(address caller);
    error InsufficientBalance(uint256 available, uint256 wanted);
    error ZeroAmount();

    constructor(IERC20 asset_, address owner_, address pauser_) ScopedPausable(owner_, pauser_) {
        asset = asset_;
    }

    modifier onlyMarket() {
        if (msg.sender != market) revert NotMarket(msg.sender);
        _;
    }

    function setMarket(address market_) external onlyOwner {
        market = market_;
        emit MarketChanged(market_);
    }

    // --- traders ---
    function deposit(uint256 amount) external {
        _requireActive(DEPOSITS, PROTOCOL_SCOPE);
        if (amount == 0) revert ZeroAmount();
        asset.safeTransferFrom(msg.sender, address(this), amount);
        balanceOf[msg.sender] += amount;
        totalFree += amount;
        emit Deposit(msg.sender, amount);
    }

    function withdraw(uint256 amount) external {
        _requireActive(WITHDRAWALS, PROTOCOL_SCOPE);
        _debitFree(msg.sender, amount);
        asset.safeTransfer(msg.sender, amount);
        emit Withdraw(msg.sender, amount);
    }

    // --- liquidity providers ---
    function addLiquidity(uint256 amount) external returns (uint256 shares) {
        _requireActive(DEPOSITS, PROTOCOL_SCOPE);
        if (amount == 0) revert ZeroAmount();
        shares = totalShares == 0 || poolAssets == 0 ? amount : Math.mulDiv(amount, totalShares, poolAssets);
        asset.safeTransferFrom(msg.sender, address(this), amount);
        poolAssets += amount;
        totalShares += shares;
        sharesOf[msg.sender] += shares;
        emit LiquidityAdded(msg.sender, amount, shares);
    }

    function removeLiquidity(uint256 shares) external returns (uint256 amount) {
        _requireActive(WITHDRAWALS, PROTOCOL_SCOPE);
        if (shares == 0) revert ZeroAmount();
        if (sharesOf[msg.sender] < shares) revert InsufficientBalance(sharesOf[msg.sender], shares);
        amount = Math.mulDiv(shares, poolAssets, totalShares);
        sharesOf[msg.sender] -= shares;
        totalShares -= shares;
        poolAssets -= amount;
        asset.safeTransfer(msg.sender, amount);
        emit LiquidityRemoved(msg.sender, amount, shares);
    }

    // --- the market ---
    function lockMargin(address account, uint256 amount) external onlyMarket {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        _debitFree(account, amount);
        lockedMargin += amount;
        emit MarginLocked(account, amount);
    }

    /// Close a position: margin + pnl - fee goes back to the trader's free balance. Profits are paid by the pool
    /// (at most what it holds); losses and fees go to the pool (at most the margin).
    function settle(address account, uint256 margin, int256 pnl, uint256 fee) external onlyMarket returns (uint256 payout) {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        lockedMargin -= margin;
        int256 net = int256(margin) + pnl - int256(fee);
        if (net >= int256(margin)) {
            uint256 gain = Math.min(uint256(net) - margin, poolAssets);
            poolAssets -= gain;
            payout = margin + gain;
        } else {
            payout = net > 0 ? uint256(net) : 0;
            poolAssets += margin - payout;
        }
        balanceOf[account] += payout;
        totalFree += payout;
        emit Settled(account, margin, pnl, fee, payout);
    }

    /// Liquidate a position: the liquidator earns `reward` (at most the margin), the rest goes to the pool.
    function liquidate(address account, uint256 margin, uint256 reward, address liquidator) external onlyMarket {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        reward = Math.min(reward, margin);
        lockedMargin -= margin;
        poolAssets += margin - reward;
        balanceOf[liquidator] += reward;
        totalFree += reward;
        emit Liquidated(account, liquidator, margin, reward);
    }

    function _debitFree(address account, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        uint256 available = balanceOf[account];
        if (available < amount) revert InsufficientBalance(available, amount);
        balanceOf[account] = available - amount;
        totalFree -= amount;
    }
}
