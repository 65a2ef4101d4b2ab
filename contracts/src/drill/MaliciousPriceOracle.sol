// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DRILL ATTACKER: malicious oracle upgrade
/// @notice For drills only. A price source that reports whatever its owner sets. The malicious-upgrade drill has a
///         compromised governance swap the market's oracle for this contract (`PerpMarket.setOracle`), after which
///         the attacker opens at a low price and closes at a high one.
contract MaliciousPriceOracle {
    address public immutable owner;
    uint256 public price;

    error NotOwner();

    constructor(uint256 initialPrice) {
        owner = msg.sender;
        price = initialPrice;
    }

    function setPrice(uint256 price_) external {
        if (msg.sender != owner) revert NotOwner();
        price = price_;
    }
}
