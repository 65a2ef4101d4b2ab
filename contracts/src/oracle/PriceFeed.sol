// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";

/// @notice A push price feed with Chainlink's consumer interface and events (AggregatorV3 + the legacy
///         AnswerUpdated / NewRound events), written by one updater (the keeper).
contract PriceFeed is IAggregatorV3, Ownable {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    address public updater;
    uint80 public latestRound;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event UpdaterChanged(address indexed updater);

    error NotUpdater(address caller);
    error NoData();

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer, address updater_, address owner_)
        Ownable(owner_)
    {
        decimals = decimals_;
        description = description_;
        updater = updater_;
        _record(initialAnswer, block.timestamp);
    }

    function setUpdater(address updater_) external onlyOwner {
        updater = updater_;
        emit UpdaterChanged(updater_);
    }

    /// Publish a new answer as a new round.
    function updateAnswer(int256 answer) external {
        if (msg.sender != updater && msg.sender != owner()) revert NotUpdater(msg.sender);
        _record(answer, block.timestamp);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory round = _rounds[roundId];
        if (round.updatedAt == 0) revert NoData();
        return (roundId, round.answer, round.startedAt, round.updatedAt, roundId);
    }

    function latestAnswer() external view returns (int256) {
        return _rounds[latestRound].answer;
    }

    function latestTimestamp() external view returns (uint256) {
        return _rounds[latestRound].updatedAt;
    }

    function _record(int256 answer, uint256 timestamp) private {
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round(answer, uint64(timestamp), uint64(timestamp));
        emit NewRound(roundId, msg.sender, timestamp);
        emit AnswerUpdated(answer, roundId, timestamp);
    }
}
