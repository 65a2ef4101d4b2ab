// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BridgeMessage} from "./BridgeMessage.sol";
import {BridgeMinter} from "./BridgeMinter.sol";
import {BridgedToken} from "./BridgedToken.sol";

/// @title LegacyBridgeMinter
/// @notice DELIBERATELY VULNERABLE, for drills: the first version of the minter, left with MINTER_ROLE after the
///         migration to BridgeMinter. It checks the destination chain but not the destination contract, and keeps
///         its own replay set: a message already delivered to the current minter (its signature is public in that
///         transaction) is accepted here a second time and mints again.
contract LegacyBridgeMinter is BridgeMinter {
    constructor(BridgedToken token_, address admin, address relayer, address guardian)
        BridgeMinter(token_, admin, relayer, guardian)
    {}

    function _checkRoute(BridgeMessage.Message calldata message) internal view override {
        if (message.destinationChainId != block.chainid) {
            revert WrongDestination(message.destinationChainId, message.destinationContract);
        }
        address origin = remotes[message.originChainId];
        if (origin == address(0) || origin != message.originContract) {
            revert UnknownOrigin(message.originChainId, message.originContract);
        }
    }
}
