// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title PushAggregator
/// @notice A price feed that transmitters push round by round, read like a Chainlink aggregator
///         (`latestRoundData`, `getRoundData`, `AnswerUpdated`, `NewRound`).
contract PushAggregator is Ownable {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    uint8 public immutable decimals;
    uint256 public constant version = 4;
    string public description;
    uint80 public latestRound;
    mapping(address => bool) public isTransmitter;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event TransmitterSet(address indexed transmitter, bool allowed);

    error NotTransmitter(address caller);
    error NonPositiveAnswer(int256 answer);
    error NoSuchRound(uint80 roundId);

    constructor(uint8 decimals_, string memory description_, int256 firstAnswer, address transmitter, address owner_)
        Ownable(owner_)
    {
        decimals = decimals_;
        description = description_;
        _setTransmitter(transmitter, true);
        _record(firstAnswer);
    }

    function setTransmitter(address transmitter, bool allowed) external onlyOwner {
        _setTransmitter(transmitter, allowed);
    }

    /// @notice Publish a new answer as the next round.
    function transmit(int256 answer) external {
        if (!isTransmitter[msg.sender]) revert NotTransmitter(msg.sender);
        _record(answer);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }

    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        Round memory round = _rounds[roundId];
        if (round.updatedAt == 0) revert NoSuchRound(roundId);
        return (roundId, round.answer, round.startedAt, round.updatedAt, roundId);
    }

    function latestAnswer() external view returns (int256) {
        return _rounds[latestRound].answer;
    }

    function latestTimestamp() external view returns (uint256) {
        return _rounds[latestRound].updatedAt;
    }

    function _record(int256 answer) private {
        if (answer <= 0) revert NonPositiveAnswer(answer);
        uint80 roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round(answer, uint64(block.timestamp), uint64(block.timestamp));
        emit NewRound(roundId, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, roundId, block.timestamp);
    }

    function _setTransmitter(address transmitter, bool allowed) private {
        isTransmitter[transmitter] = allowed;
        emit TransmitterSet(transmitter, allowed);
    }
}
