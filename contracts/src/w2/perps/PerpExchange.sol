// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IPriceFeed} from "../interfaces/IPriceFeed.sol";

/// @title PerpExchange
/// @notice Cash-settled perpetual futures on several markets, each marked by its own price feed. Traders post
///         margin in the settlement token and open one long or short per market; the liquidity pool is the
///         counterparty of every trade (it pays profits, keeps losses and fees). Each market can be paused on
///         its own.
contract PerpExchange is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Market {
        IPriceFeed feed;
        uint8 feedDecimals;
        uint16 maxLeverage;
        uint16 maintenanceBps;
        uint16 feeBps;
        bool listed;
        bool paused;
        uint256 longSize;
        uint256 shortSize;
    }

    struct Position {
        int256 size; // base units (18 decimals); positive is long
        uint256 margin; // settlement token
        uint256 entryPrice; // settlement token per whole base unit
    }

    uint256 private constant BPS = 10_000;
    uint256 private constant BASE_UNIT = 1e18;
    uint256 public constant LIQUIDATION_REWARD_BPS = 100;

    IERC20 public immutable settlementToken;
    uint256 private immutable _quoteUnit;
    address public guardian;
    bytes32[] public marketIds;
    mapping(bytes32 => Market) public markets;
    mapping(bytes32 => mapping(address => Position)) public positions;

    uint256 public poolAssets; // the counterparty pool, owned by liquidity providers
    uint256 public totalMargin; // traders' margin in open positions
    uint256 public totalLpShares;
    mapping(address => uint256) public lpSharesOf;

    event MarketListed(bytes32 indexed marketId, address feed, uint16 maxLeverage, uint16 maintenanceBps, uint16 feeBps);
    event FeedChanged(bytes32 indexed marketId, address previous, address current);
    event MarketPaused(bytes32 indexed marketId, address indexed by);
    event MarketUnpaused(bytes32 indexed marketId);
    event PositionOpened(
        bytes32 indexed marketId, address indexed trader, int256 size, uint256 margin, uint256 price, uint256 fee
    );
    event PositionClosed(
        bytes32 indexed marketId, address indexed trader, int256 size, int256 pnl, uint256 price, uint256 payout
    );
    event PositionLiquidated(
        bytes32 indexed marketId, address indexed trader, address indexed liquidator, int256 size, uint256 price, uint256 reward
    );
    event LiquidityAdded(address indexed provider, uint256 amount, uint256 shares);
    event LiquidityRemoved(address indexed provider, uint256 amount, uint256 shares);
    event GuardianChanged(address indexed previous, address indexed current);

    error NotGuardian(address caller);
    error UnknownMarket(bytes32 marketId);
    error MarketIsPaused(bytes32 marketId);
    error AlreadyListed(bytes32 marketId);
    error BadPrice(bytes32 marketId, int256 answer);
    error PositionExists(bytes32 marketId, address trader);
    error NoPosition(bytes32 marketId, address trader);
    error ZeroAmount();
    error TooMuchLeverage(uint256 notional, uint256 allowed);
    error AboveMaintenance(int256 equity, uint256 maintenance);

    constructor(IERC20 settlementToken_, address owner_, address guardian_) Ownable(owner_) {
        settlementToken = settlementToken_;
        _quoteUnit = 10 ** IERC20Metadata(address(settlementToken_)).decimals();
        guardian = guardian_;
    }

    // --- administration ---

    function listMarket(bytes32 id, IPriceFeed feed, uint16 maxLeverage, uint16 maintenanceBps, uint16 feeBps)
        external
        onlyOwner
    {
        if (markets[id].listed) revert AlreadyListed(id);
        markets[id] = Market(feed, feed.decimals(), maxLeverage, maintenanceBps, feeBps, true, false, 0, 0);
        marketIds.push(id);
        emit MarketListed(id, address(feed), maxLeverage, maintenanceBps, feeBps);
    }

    function setFeed(bytes32 id, IPriceFeed feed) external onlyOwner {
        Market storage market = _market(id);
        emit FeedChanged(id, address(market.feed), address(feed));
        market.feed = feed;
        market.feedDecimals = feed.decimals();
    }

    /// @notice Stop trading and liquidations in one market (the guardian or the owner).
    function pauseMarket(bytes32 id) external {
        if (msg.sender != guardian && msg.sender != owner()) revert NotGuardian(msg.sender);
        _market(id).paused = true;
        emit MarketPaused(id, msg.sender);
    }

    function unpauseMarket(bytes32 id) external onlyOwner {
        _market(id).paused = false;
        emit MarketUnpaused(id);
    }

    function setGuardian(address guardian_) external onlyOwner {
        emit GuardianChanged(guardian, guardian_);
        guardian = guardian_;
    }

    // --- views ---

    function marketCount() external view returns (uint256) {
        return marketIds.length;
    }

    function isMarketPaused(bytes32 id) external view returns (bool) {
        return _market(id).paused;
    }

    /// @notice The feed's latest answer in settlement-token units per whole base unit.
    function markPrice(bytes32 id) public view returns (uint256) {
        Market storage market = _market(id);
        (, int256 answer,,,) = market.feed.latestRoundData();
        if (answer <= 0) revert BadPrice(id, answer);
        return uint256(answer) * _quoteUnit / 10 ** market.feedDecimals;
    }

    /// @notice The trader's margin plus unrealised profit or loss at the mark price.
    function equityOf(bytes32 id, address trader) public view returns (int256) {
        Position memory position = positions[id][trader];
        if (position.size == 0) return 0;
        return int256(position.margin) + _pnl(position, markPrice(id));
    }

    // --- liquidity providers ---

    function addLiquidity(uint256 amount) external nonReentrant returns (uint256 shares) {
        if (amount == 0) revert ZeroAmount();
        shares = totalLpShares == 0 || poolAssets == 0 ? amount : amount * totalLpShares / poolAssets;
        settlementToken.safeTransferFrom(msg.sender, address(this), amount);
        poolAssets += amount;
        totalLpShares += shares;
        lpSharesOf[msg.sender] += shares;
        emit LiquidityAdded(msg.sender, amount, shares);
    }

    function removeLiquidity(uint256 shares) external nonReentrant returns (uint256 amount) {
        if (shares == 0) revert ZeroAmount();
        amount = shares * poolAssets / totalLpShares;
        lpSharesOf[msg.sender] -= shares;
        totalLpShares -= shares;
        poolAssets -= amount;
        settlementToken.safeTransfer(msg.sender, amount);
        emit LiquidityRemoved(msg.sender, amount, shares);
    }

    // --- traders ---

    /// @notice Open a position of `size` base units (negative: short) with `margin`, fee included.
    function openPosition(bytes32 id, int256 size, uint256 margin) external nonReentrant {
        Market storage market = _liveMarket(id);
        Position storage position = positions[id][msg.sender];
        if (position.size != 0) revert PositionExists(id, msg.sender);
        if (size == 0 || margin == 0) revert ZeroAmount();
        uint256 price = markPrice(id);
        uint256 notional = _abs(size) * price / BASE_UNIT;
        uint256 fee = notional * market.feeBps / BPS;
        if (margin <= fee) revert TooMuchLeverage(notional, 0);
        uint256 net = margin - fee;
        if (notional > net * market.maxLeverage) revert TooMuchLeverage(notional, net * market.maxLeverage);
        settlementToken.safeTransferFrom(msg.sender, address(this), margin);
        poolAssets += fee;
        totalMargin += net;
        positions[id][msg.sender] = Position(size, net, price);
        if (size > 0) market.longSize += uint256(size);
        else market.shortSize += uint256(-size);
        emit PositionOpened(id, msg.sender, size, net, price, fee);
    }

    function closePosition(bytes32 id) external nonReentrant returns (uint256 payout) {
        Market storage market = _liveMarket(id);
        Position memory position = _take(id, market, msg.sender);
        uint256 price = markPrice(id);
        int256 pnl = _pnl(position, price);
        int256 equity = int256(position.margin) + pnl - int256(_abs(position.size) * price / BASE_UNIT * market.feeBps / BPS);
        payout = equity > 0 ? uint256(equity) : 0;
        uint256 available = poolAssets + position.margin;
        if (payout > available) payout = available; // the pool cannot pay more than it has
        poolAssets = available - payout;
        if (payout > 0) settlementToken.safeTransfer(msg.sender, payout);
        emit PositionClosed(id, msg.sender, position.size, pnl, price, payout);
    }

    function addMargin(bytes32 id, uint256 amount) external nonReentrant {
        _liveMarket(id);
        Position storage position = positions[id][msg.sender];
        if (position.size == 0) revert NoPosition(id, msg.sender);
        settlementToken.safeTransferFrom(msg.sender, address(this), amount);
        position.margin += amount;
        totalMargin += amount;
    }

    /// @notice Close a position whose equity fell below the maintenance margin; the liquidator earns a reward.
    function liquidate(bytes32 id, address trader) external nonReentrant returns (uint256 reward) {
        Market storage market = _liveMarket(id);
        Position memory position = positions[id][trader];
        if (position.size == 0) revert NoPosition(id, trader);
        uint256 price = markPrice(id);
        uint256 notional = _abs(position.size) * price / BASE_UNIT;
        int256 equity = int256(position.margin) + _pnl(position, price);
        uint256 maintenance = notional * market.maintenanceBps / BPS;
        if (equity >= int256(maintenance)) revert AboveMaintenance(equity, maintenance);
        _take(id, market, trader);
        if (equity > 0) {
            reward = uint256(equity);
            uint256 cap = notional * LIQUIDATION_REWARD_BPS / BPS;
            if (reward > cap) reward = cap;
        }
        poolAssets = poolAssets + position.margin - reward;
        if (reward > 0) settlementToken.safeTransfer(msg.sender, reward);
        emit PositionLiquidated(id, trader, msg.sender, position.size, price, reward);
    }

    // --- internals ---

    function _market(bytes32 id) private view returns (Market storage market) {
        market = markets[id];
        if (!market.listed) revert UnknownMarket(id);
    }

    function _liveMarket(bytes32 id) private view returns (Market storage market) {
        market = _market(id);
        if (market.paused) revert MarketIsPaused(id);
    }

    function _take(bytes32 id, Market storage market, address trader) private returns (Position memory position) {
        position = positions[id][trader];
        if (position.size == 0) revert NoPosition(id, trader);
        delete positions[id][trader];
        totalMargin -= position.margin;
        if (position.size > 0) market.longSize -= uint256(position.size);
        else market.shortSize -= uint256(-position.size);
    }

    function _pnl(Position memory position, uint256 price) private pure returns (int256) {
        return position.size * (int256(price) - int256(position.entryPrice)) / int256(BASE_UNIT);
    }

    function _abs(int256 value) private pure returns (uint256) {
        return value >= 0 ? uint256(value) : uint256(-value);
    }
}
