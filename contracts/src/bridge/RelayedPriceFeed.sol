// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";

/// @notice A price feed on a remote chain that mirrors a Chainlink-style feed of the home chain, round by round,
///         written by the bridge relayer. Consumers see the Chainlink interface and events (AnswerUpdated, NewRound);
///         `updatedAt` is the source round's time, so a consumer's staleness check measures the age of the price
///         itself, not of the relay. Source rounds only move forward: an old round cannot be relayed over a newer one.
contract RelayedPriceFeed is IAggregatorV3, AccessControl {
    bytes32 public constant RELAYER_ROLE = keccak256("RELAYER_ROLE");

    struct Round {
        int256 answer;
        uint80 sourceRoundId;
        uint64 updatedAt;
        uint64 relayedAt;
    }

    uint8 public immutable decimals;
    uint256 public immutable sourceChainId;
    address public immutable sourceFeed;
    string public description;
    uint256 public constant version = 4;
    uint80 public latestRound;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event RoundRelayed(uint80 indexed roundId, uint80 indexed sourceRoundId, int256 answer, uint256 sourceUpdatedAt);

    error NoData();
    error StaleSourceRound(uint80 sourceRoundId, uint80 latestSourceRoundId);
    error InvalidAnswer(int256 answer);

    constructor(
        uint8 decimals_,
        string memory description_,
        uint256 sourceChainId_,
        address sourceFeed_,
        address admin,
        address relayer
    ) {
        decimals = decimals_;
        description = description_;
        sourceChainId = sourceChainId_;
        sourceFeed = sourceFeed_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RELAYER_ROLE, relayer);
    }

    /// Publish the source feed's round `sourceRoundId` (its answer and update time) as the next local round.
    function relay(uint80 sourceRoundId, int256 answer, uint256 sourceUpdatedAt) external onlyRole(RELAYER_ROLE) {
        uint80 latestSource = _rounds[latestRound].sourceRoundId;
        if (sourceRoundId <= latestSource) revert StaleSourceRound(sourceRoundId, latestSource);
        if (answer <= 0) revert InvalidAnswer(answer);
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round(answer, sourceRoundId, uint64(sourceUpdatedAt), uint64(block.timestamp));
        emit NewRound(roundId, msg.sender, sourceUpdatedAt);
        emit AnswerUpdated(answer, roundId, sourceUpdatedAt);
        emit RoundRelayed(roundId, sourceRoundId, answer, sourceUpdatedAt);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory round = _rounds[roundId];
        if (round.updatedAt == 0) revert NoData();
        return (roundId, round.answer, round.updatedAt, round.updatedAt, roundId);
    }

    /// The source round a local round mirrors, and when it was relayed here.
    function sourceOf(uint80 roundId) external view returns (uint80 sourceRoundId, uint256 relayedAt) {
        Round memory round = _rounds[roundId];
        return (round.sourceRoundId, round.relayedAt);
    }

    function latestAnswer() external view returns (int256) {
        return _rounds[latestRound].answer;
    }

    function latestTimestamp() external view returns (uint256) {
        return _rounds[latestRound].updatedAt;
    }
}
