// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DRILL ATTACKER: malicious oracle swap
/// @notice For drills only. A price source that reports whatever its owner sets. The oracle-swap drill has a
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

    function setFakePrice(uint256 price_) external {
        if (msg.sender != owner) revert NotOwner();
        price = price_;
    }
}
