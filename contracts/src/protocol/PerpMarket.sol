// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";
import {ScopedPausable} from "../guardian/ScopedPausable.sol";
import {CollateralVault} from "./CollateralVault.sol";

interface IPriceSource {
    function price() external view returns (uint256);
}

/// @title PerpMarket
/// @notice A cash-settled perpetual market on one asset (e.g. ETH-USD), margined in the vault's dollar token.
///         Traders open one long or short position with up to `maxLeverage`; profit and loss settle against the
///         vault's liquidity pool at the oracle price on close; under-margined positions are liquidated by
///         anyone for a reward. Every price comes from the oracle adapter: if that reads an AMM spot price, a
///         flash loan can move the price between open and close, which is what the drills exploit.
contract PerpMarket is ScopedPausable {
    bytes32 public constant TRADING = keccak256("TRADING");
    bytes32 public constant LIQUIDATIONS = keccak256("LIQUIDATIONS");
    uint256 private constant BPS = 10_000;

    struct Position {
        int256 size; // base units (18 decimals), positive long, negative short
        uint256 margin; // quote units locked in the vault
        uint256 entryPrice; // quote per base, 18 decimals
    }

    bytes32 public immutable marketId;
    CollateralVault public immutable vault;
    IPriceSource public oracle;

    uint256 public maxLeverage = 10;
    uint256 public maintenanceMarginBps = 500;
    uint256 public feeBps = 10;
    uint256 public liquidationRewardBps = 100;
    uint256 public maxOpenInterest; // quote notional, checked at the open price
    /// After a pause ends, traders get this long to add margin or close before liquidations resume.
    uint256 public liquidationGracePeriod = 1 hours;

    uint256 public longSize;
    uint256 public shortSize;
    mapping(address account => Position) private _positions;

    event PositionOpened(address indexed account, int256 size, uint256 margin, uint256 price);
    event PositionClosed(address indexed account, int256 size, uint256 price, int256 pnl, uint256 fee, uint256 payout);
    event PositionLiquidated(address indexed account, address indexed liquidator, int256 size, uint256 price, int256 pnl, uint256 reward);
    event OracleChanged(address indexed oracle);
    event RiskParametersChanged(uint256 maxLeverage, uint256 maintenanceMarginBps, uint256 feeBps, uint256 maxOpenInterest);

    error PositionExists(address account);
    error NoPosition(address account);
    error LeverageTooHigh(uint256 notional, uint256 limit);
    error OpenInterestTooHigh(uint256 openInterest, uint256 limit);
    error NotLiquidatable(address account, int256 equity, uint256 maintenance);
    error InvalidSize();
    error LiquidationGrace(uint256 resumesAt);

    constructor(string memory symbol, CollateralVault vault_, IPriceSource oracle_, uint256 maxOpenInterest_, address owner_, address pauser_)
        ScopedPausable(owner_, pauser_)
    {
        marketId = keccak256(bytes(symbol));
        vault = vault_;
        oracle = oracle_;
        maxOpenInterest = maxOpenInterest_;
        emit OracleChanged(address(oracle_));
    }

    // --- governance ---
    function setOracle(IPriceSource oracle_) external onlyOwner {
        oracle = oracle_;
        emit OracleChanged(address(oracle_));
    }

    function setRiskParameters(uint256 maxLeverage_, uint256 maintenanceMarginBps_, uint256 feeBps_, uint256 maxOpenInterest_)
        external
        onlyOwner
    {
        maxLeverage = maxLeverage_;
        maintenanceMarginBps = maintenanceMarginBps_;
        feeBps = feeBps_;
        maxOpenInterest = maxOpenInterest_;
        emit RiskParametersChanged(maxLeverage_, maintenanceMarginBps_, feeBps_, maxOpenInterest_);
    }

    // --- traders ---
    /// Open a position of `size` base units, locking `margin` of the caller's free vault balance.
    function openPosition(int256 size, uint256 margin) external {
        _requireActive(marketId, TRADING);
        if (size == 0 || margin == 0) revert InvalidSize();
        if (_positions[msg.sender].size != 0) revert PositionExists(msg.sender);
        uint256 price = oracle.price();
        uint256 notional = _notional(size, price);
        if (notional > margin * maxLeverage) revert LeverageTooHigh(notional, margin * maxLeverage);
        uint256 openInterest = _notional(int256(longSize + shortSize), price) + notional;
        if (openInterest > maxOpenInterest) revert OpenInterestTooHigh(openInterest, maxOpenInterest);
        if (size > 0) longSize += uint256(size);
        else shortSize += uint256(-size);
        _positions[msg.sender] = Position(size, margin, price);
        vault.lockMargin(msg.sender, margin);
        emit PositionOpened(msg.sender, size, margin, price);
    }

    /// Close the caller's position at the oracle price; profit and loss settle in the vault.
    function closePosition() external returns (uint256 payout) {
        _requireActive(marketId, TRADING);
        Position memory pos = _take(msg.sender);
        uint256 price = oracle.price();
        int256 pnl = _pnl(pos, price);
        uint256 fee = (_notional(pos.size, pos.entryPrice) + _notional(pos.size, price)) * feeBps / BPS;
        payout = vault.settle(msg.sender, pos.margin, pnl, fee);
        emit PositionClosed(msg.sender, pos.size, price, pnl, fee, payout);
    }

    /// Liquidate `account` when its equity is below the maintenance margin; the caller earns a reward.
    function liquidate(address account) external {
        _requireActive(marketId, LIQUIDATIONS);
        uint256 resumesAt = lastResume() + liquidationGracePeriod;
        if (block.timestamp < resumesAt) revert LiquidationGrace(resumesAt);
        Position memory pos = _positions[account];
        if (pos.size == 0) revert NoPosition(account);
        uint256 price = oracle.price();
        int256 pnl = _pnl(pos, price);
        int256 equity = int256(pos.margin) + pnl;
        uint256 notional = _notional(pos.size, price);
        uint256 maintenance = notional * maintenanceMarginBps / BPS;
        if (equity >= int256(maintenance)) revert NotLiquidatable(account, equity, maintenance);
        _take(account);
        uint256 reward = notional * liquidationRewardBps / BPS;
        vault.liquidate(account, pos.margin, reward, msg.sender);
        emit PositionLiquidated(account, msg.sender, pos.size, price, pnl, reward);
    }

    // --- views ---
    /// The latest end of a pause that stopped liquidations here: the whole market contract, this market, the
    /// liquidation group, or the whole vault.
    function lastResume() public view returns (uint256 latest) {
        bytes32[3] memory scopes = [PROTOCOL_SCOPE, marketId, LIQUIDATIONS];
        for (uint256 i = 0; i < scopes.length; i++) {
            latest = Math.max(latest, resumedAt(scopes[i]));
        }
        latest = Math.max(latest, vault.resumedAt(PROTOCOL_SCOPE));
    }

    function positionOf(address account) external view returns (Position memory) {
        return _positions[account];
    }

    function unrealizedPnl(address account) external view returns (int256) {
        Position memory pos = _positions[account];
        return pos.size == 0 ? int256(0) : _pnl(pos, oracle.price());
    }

    function isLiquidatable(address account) external view returns (bool) {
        Position memory pos = _positions[account];
        if (pos.size == 0) return false;
        uint256 price = oracle.price();
        return int256(pos.margin) + _pnl(pos, price) < int256(_notional(pos.size, price) * maintenanceMarginBps / BPS);
    }

    function _take(address account) private returns (Position memory pos) {
        pos = _positions[account];
        if (pos.size == 0) revert NoPosition(account);
        delete _positions[account];
        if (pos.size > 0) longSize -= uint256(pos.size);
        else shortSize -= uint256(-pos.size);
    }

    function _pnl(Position memory pos, uint256 price) private pure returns (int256) {
        return pos.size * (int256(price) - int256(pos.entryPrice)) / 1e18;
    }

    function _notional(int256 size, uint256 price) private pure returns (uint256) {
        return Math.mulDiv(SignedMath.abs(size), price, 1e18);
    }
}
