// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A token transfer between two bridge endpoints. Its id commits to both ends of the route (chain and
///         contract), the route's nonce and the transfer itself, so one signed message is valid at exactly one
///         destination, once.
library BridgeMessage {
    struct Message {
        uint256 originChainId;
        address originContract;
        uint256 destinationChainId;
        address destinationContract;
        uint64 nonce;
        address sender;
        address recipient;
        uint256 amount;
    }

    function id(Message memory message) internal pure returns (bytes32) {
        return keccak256(abi.encode(message));
    }
}
