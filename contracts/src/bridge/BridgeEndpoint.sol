// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {BridgeMessage} from "./BridgeMessage.sol";

/// @notice One end of a lock/mint token bridge: sends messages with a per-route nonce and accepts messages from
///         the registered endpoint of another chain when an authorised relayer signed their id (EIP-191). Anyone
///         may submit a signed message (the relayer normally does); each id is accepted once.
/// @dev Roles: the admin (governance) sets routes, relayers and guardians and is the only one that unpauses;
///      a guardian can pause and nothing else; a relayer's signature authorises a delivery.
abstract contract BridgeEndpoint is AccessControl, Pausable {
    using BridgeMessage for BridgeMessage.Message;

    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    mapping(uint256 chainId => address endpoint) public remotes;
    mapping(uint256 destinationChainId => uint64) public outboundNonce;
    mapping(bytes32 id => bool) public delivered;

    event RemoteSet(uint256 indexed chainId, address endpoint);
    event MessageSent(
        bytes32 indexed id,
        uint256 indexed destinationChainId,
        uint64 indexed nonce,
        address sender,
        address recipient,
        uint256 amount
    );
    event MessageDelivered(
        bytes32 indexed id,
        uint256 indexed originChainId,
        uint64 indexed nonce,
        address sender,
        address recipient,
        uint256 amount
    );

    error NotGuardian(address caller);
    error UnknownRoute(uint256 chainId);
    error WrongDestination(uint256 chainId, address endpoint);
    error UnknownOrigin(uint256 chainId, address endpoint);
    error AlreadyDelivered(bytes32 id);
    error UnauthorisedSigner(address signer);
    error InvalidTransfer();

    constructor(address admin, address relayer, address guardian) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RELAYER_ROLE, relayer);
        _grantRole(GUARDIAN_ROLE, guardian);
    }

    function pause() external {
        if (!hasRole(GUARDIAN_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotGuardian(msg.sender);
        }
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// Register the endpoint on `chainId` that this one sends to and accepts messages from.
    function setRemote(uint256 chainId, address endpoint) external onlyRole(DEFAULT_ADMIN_ROLE) {
        remotes[chainId] = endpoint;
        emit RemoteSet(chainId, endpoint);
    }

    /// The id a relayer signs for `message` (what MessageSent and MessageDelivered carry).
    function messageId(BridgeMessage.Message calldata message) external pure returns (bytes32) {
        return message.id();
    }

    function _send(uint256 destinationChainId, address recipient, uint256 amount) internal returns (bytes32 id) {
        address remote = remotes[destinationChainId];
        if (remote == address(0)) revert UnknownRoute(destinationChainId);
        if (amount == 0 || recipient == address(0)) revert InvalidTransfer();
        uint64 nonce = ++outboundNonce[destinationChainId];
        BridgeMessage.Message memory message = BridgeMessage.Message(
            block.chainid, address(this), destinationChainId, remote, nonce, msg.sender, recipient, amount
        );
        id = message.id();
        emit MessageSent(id, destinationChainId, nonce, msg.sender, recipient, amount);
    }

    /// Check route, replay and signature, then mark the message delivered. The caller pays out.
    function _accept(BridgeMessage.Message calldata message, bytes calldata signature) internal returns (bytes32 id) {
        _checkRoute(message);
        id = message.id();
        if (delivered[id]) revert AlreadyDelivered(id);
        address signer = ECDSA.recover(MessageHashUtils.toEthSignedMessageHash(id), signature);
        if (!hasRole(RELAYER_ROLE, signer)) revert UnauthorisedSigner(signer);
        delivered[id] = true;
        emit MessageDelivered(
            id, message.originChainId, message.nonce, message.sender, message.recipient, message.amount
        );
    }

    function _checkRoute(BridgeMessage.Message calldata message) internal view virtual {
        if (message.destinationChainId != block.chainid || message.destinationContract != address(this)) {
            revert WrongDestination(message.destinationChainId, message.destinationContract);
        }
        address origin = remotes[message.originChainId];
        if (origin == address(0) || origin != message.originContract) {
            revert UnknownOrigin(message.originChainId, message.originContract);
        }
    }
}
