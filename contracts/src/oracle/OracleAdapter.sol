// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts/proxy/utils/UUPSUpgradeable.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";
import {IUniswapV2Pair} from "../interfaces/IUniswapV2Pair.sol";
import {UniswapV2TwapOracle} from "./UniswapV2TwapOracle.sol";

/// @notice The protocol's price source for `base` in `quote` (18 decimals), switchable by governance between the
///         AMM spot price (manipulable within one transaction), the AMM TWAP, and the push feed. It lives behind an
///         ERC-1967 proxy (UUPS): governance can upgrade it, which is also what a compromised governance abuses.
contract OracleAdapter is Initializable, UUPSUpgradeable {
    enum Source {
        Spot,
        Twap,
        Feed
    }

    address public owner;
    IUniswapV2Pair public pair;
    address public base;
    UniswapV2TwapOracle public twap;
    IAggregatorV3 public feed;
    Source public source;
    /// Oldest feed answer accepted, in seconds; 0 accepts any age (the stale-oracle weakness).
    uint256 public maxStaleness;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event SourceChanged(Source source);
    event MaxStalenessChanged(uint256 maxStaleness);

    error NotOwner(address caller);
    error StalePrice(uint256 updatedAt, uint256 maxStaleness);
    error InvalidPrice(int256 answer);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor() {
        _disableInitializers();
    }

    function initialize(IUniswapV2Pair pair_, address base_, UniswapV2TwapOracle twap_, IAggregatorV3 feed_, Source source_, address owner_)
        external
        initializer
    {
        pair = pair_;
        base = base_;
        twap = twap_;
        feed = feed_;
        source = source_;
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
        emit SourceChanged(source_);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function setSource(Source source_) external onlyOwner {
        source = source_;
        emit SourceChanged(source_);
    }

    function setMaxStaleness(uint256 maxStaleness_) external onlyOwner {
        maxStaleness = maxStaleness_;
        emit MaxStalenessChanged(maxStaleness_);
    }

    /// Price of one `base` in `quote`, 18 decimals, from the selected source.
    function price() external view virtual returns (uint256) {
        if (source == Source.Spot) return spotPrice();
        if (source == Source.Twap) return twap.price();
        return feedPrice();
    }

    function spotPrice() public view returns (uint256) {
        (uint112 reserve0, uint112 reserve1,) = pair.getReserves();
        return pair.token0() == base
            ? Math.mulDiv(reserve1, 1e18, reserve0)
            : Math.mulDiv(reserve0, 1e18, reserve1);
    }

    function twapPrice() external view returns (uint256) {
        return twap.price();
    }

    function feedPrice() public view returns (uint256) {
        (, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        if (answer <= 0) revert InvalidPrice(answer);
        if (maxStaleness != 0 && block.timestamp - updatedAt > maxStaleness) revert StalePrice(updatedAt, maxStaleness);
        return uint256(answer) * 10 ** (18 - feed.decimals());
    }

    function _authorizeUpgrade(address) internal view override onlyOwner {}
}
