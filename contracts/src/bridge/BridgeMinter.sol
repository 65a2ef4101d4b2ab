// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BridgeEndpoint} from "./BridgeEndpoint.sol";
import {BridgeMessage} from "./BridgeMessage.sol";
import {BridgedToken} from "./BridgedToken.sol";

/// @title BridgeMinter
/// @notice The remote-chain end of a lock/mint bridge: `mint` issues the wrapped token for a relayer-signed lock
///         message from the home chain's escrow; `burn` destroys the holder's wrapped tokens and sends a message that
///         releases the locked tokens on the home chain.
contract BridgeMinter is BridgeEndpoint {
    BridgedToken public immutable token;

    constructor(BridgedToken token_, address admin, address relayer, address guardian)
        BridgeEndpoint(admin, relayer, guardian)
    {
        token = token_;
    }

    function mint(BridgeMessage.Message calldata message, bytes calldata signature) external whenNotPaused {
        _accept(message, signature);
        token.mint(message.recipient, message.amount);
    }

    function burn(uint256 destinationChainId, address recipient, uint256 amount)
        external
        whenNotPaused
        returns (bytes32 id)
    {
        id = _send(destinationChainId, recipient, amount);
        token.burn(msg.sender, amount);
    }
}
