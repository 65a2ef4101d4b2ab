// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title SavingsVault
/// @notice A savings vault with ERC-4626 deposit and redeem: depositors get shares of everything the vault holds,
///         and the yield its strategy brings back raises the value of every share. A share is worth the vault's
///         asset balance divided by the share supply.
contract SavingsVault is ERC20, Ownable, Pausable {
    using SafeERC20 for IERC20;

    IERC20 public immutable asset;
    address public guardian;

    event Deposit(address indexed sender, address indexed owner, uint256 assets, uint256 shares);
    event Withdraw(
        address indexed sender, address indexed receiver, address indexed owner, uint256 assets, uint256 shares
    );
    event YieldDistributed(address indexed from, uint256 assets);
    event Swept(address indexed token, address indexed to, uint256 amount);
    event GuardianChanged(address indexed previous, address indexed current);

    error NotGuardian(address caller);
    error ZeroAmount();

    constructor(IERC20 asset_, string memory name_, string memory symbol_, address owner_, address guardian_)
        ERC20(name_, symbol_)
        Ownable(owner_)
    {
        asset = asset_;
        guardian = guardian_;
    }

    // --- administration ---

    /// @notice Stop deposits and withdrawals (the guardian or the owner).
    function freeze() external {
        if (msg.sender != guardian && msg.sender != owner()) revert NotGuardian(msg.sender);
        _pause();
    }

    function unfreeze() external onlyOwner {
        _unpause();
    }

    function setGuardian(address guardian_) external onlyOwner {
        emit GuardianChanged(guardian, guardian_);
        guardian = guardian_;
    }

    /// @notice Recover tokens sent to the vault by mistake.
    function sweep(address token, address to, uint256 amount) external onlyOwner {
        IERC20(token).safeTransfer(to, amount);
        emit Swept(token, to, amount);
    }

    // --- views ---

    function decimals() public view override returns (uint8) {
        return IERC20Metadata(address(asset)).decimals();
    }

    function totalAssets() public view returns (uint256) {
        return asset.balanceOf(address(this));
    }

    function convertToShares(uint256 assets) public view returns (uint256) {
        uint256 supply = totalSupply();
        return supply == 0 ? assets : assets * supply / totalAssets();
    }

    function convertToAssets(uint256 shares) public view returns (uint256) {
        uint256 supply = totalSupply();
        return supply == 0 ? shares : shares * totalAssets() / supply;
    }

    function previewDeposit(uint256 assets) external view returns (uint256) {
        return convertToShares(assets);
    }

    function previewRedeem(uint256 shares) external view returns (uint256) {
        return convertToAssets(shares);
    }

    function maxWithdraw(address owner_) external view returns (uint256) {
        return convertToAssets(balanceOf(owner_));
    }

    // --- deposits and withdrawals ---

    function deposit(uint256 assets, address receiver) external whenNotPaused returns (uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        shares = convertToShares(assets);
        asset.safeTransferFrom(msg.sender, address(this), assets);
        _mint(receiver, shares);
        emit Deposit(msg.sender, receiver, assets, shares);
    }

    function redeem(uint256 shares, address receiver, address owner_) external whenNotPaused returns (uint256 assets) {
        assets = convertToAssets(shares);
        if (assets == 0) revert ZeroAmount();
        _exit(owner_, receiver, assets, shares);
    }

    function withdraw(uint256 assets, address receiver, address owner_) external whenNotPaused returns (uint256 shares) {
        if (assets == 0) revert ZeroAmount();
        shares = Math.mulDiv(assets, totalSupply(), totalAssets(), Math.Rounding.Ceil);
        _exit(owner_, receiver, assets, shares);
    }

    /// @notice The strategy's profit comes back: every share is worth more.
    function distributeYield(uint256 assets) external {
        asset.safeTransferFrom(msg.sender, address(this), assets);
        emit YieldDistributed(msg.sender, assets);
    }

    function _exit(address owner_, address receiver, uint256 assets, uint256 shares) private {
        if (msg.sender != owner_) _spendAllowance(owner_, msg.sender, shares);
        _burn(owner_, shares);
        asset.safeTransfer(receiver, assets);
        emit Withdraw(msg.sender, receiver, owner_, assets, shares);
    }
}
