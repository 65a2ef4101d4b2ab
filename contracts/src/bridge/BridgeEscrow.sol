// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {BridgeEndpoint} from "./BridgeEndpoint.sol";
import {BridgeMessage} from "./BridgeMessage.sol";

/// @title BridgeEscrow
/// @notice The home-chain end of a lock/mint bridge: `lock` takes tokens in and sends a message to the minter of
///         the destination chain; `release` pays tokens out for a relayer-signed burn message from that minter.
///         `totalLocked` is what the wrapped supply on the other chains may never exceed.
contract BridgeEscrow is BridgeEndpoint {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    uint256 public totalLocked;

    constructor(IERC20 token_, address admin, address relayer, address guardian)
        BridgeEndpoint(admin, relayer, guardian)
    {
        token = token_;
    }

    function lock(uint256 destinationChainId, address recipient, uint256 amount)
        external
        whenNotPaused
        returns (bytes32 id)
    {
        id = _send(destinationChainId, recipient, amount);
        totalLocked += amount;
        token.safeTransferFrom(msg.sender, address(this), amount);
    }

    function release(BridgeMessage.Message calldata message, bytes calldata signature) external whenNotPaused {
        _accept(message, signature);
        // Underflows (reverts) when a message asks for more than is locked: the escrow never pays out unlocked funds.
        totalLocked -= message.amount;
        token.safeTransfer(message.recipient, message.amount);
    }
}
