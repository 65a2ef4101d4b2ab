// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IPriceOracle} from "../interfaces/IPriceOracle.sol";

/// @title OptionsHouse
/// @notice European, cash-settled options on one underlying, paid in the quote token. Anyone opens a series
///         (call or put, strike, expiry, premium per option); writers lock the most a series can pay (a call's
///         payoff is capped); buyers pay the premium. At expiry the series settles once on the oracle's average
///         price; holders exercise, writers share what is left with the premiums.
contract OptionsHouse is AccessControl, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    uint256 private constant OPTION = 1e18; // one option on one whole unit of the underlying

    struct Series {
        bool isCall;
        uint64 expiry;
        uint256 strike; // quote units per whole underlying
        uint256 cap; // calls: the settlement price above which the payoff stops growing
        uint256 premium; // quote units per option
        uint256 written;
        uint256 sold;
        uint256 collateral;
        uint256 premiums;
        bool settled;
        uint256 settlementPrice;
        uint256 payoff; // quote units per option, once settled
        uint256 writerPool; // what writers share, once settled
        uint256 unredeemed; // written options whose writers have not redeemed
    }

    IERC20 public immutable quote;
    IPriceOracle public oracle;
    Series[] private _series;
    mapping(uint256 => mapping(address => uint256)) public writtenBy;
    mapping(uint256 => mapping(address => uint256)) public heldBy;

    event SeriesOpened(
        uint256 indexed seriesId, address indexed creator, bool isCall, uint256 strike, uint256 cap, uint64 expiry, uint256 premium
    );
    event Written(uint256 indexed seriesId, address indexed writer, uint256 amount, uint256 collateral);
    event Bought(uint256 indexed seriesId, address indexed buyer, uint256 amount, uint256 cost);
    event Settled(uint256 indexed seriesId, uint256 price, uint256 payoff);
    event Exercised(uint256 indexed seriesId, address indexed holder, uint256 amount, uint256 paid);
    event Redeemed(uint256 indexed seriesId, address indexed writer, uint256 amount, uint256 paid);
    event OracleChanged(address previous, address current);

    error UnknownSeries(uint256 seriesId);
    error BadSeries();
    error Expired(uint256 seriesId);
    error NotExpired(uint256 seriesId);
    error NotSettled(uint256 seriesId);
    error NotEnoughWritten(uint256 available, uint256 requested);
    error CostAboveLimit(uint256 cost, uint256 limit);
    error NothingToClaim();

    constructor(IERC20 quote_, IPriceOracle oracle_, address admin, address pauser) {
        quote = quote_;
        oracle = oracle_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, pauser);
    }

    // --- administration ---

    function pause() external {
        if (!hasRole(PAUSER_ROLE, msg.sender) && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert AccessControlUnauthorizedAccount(msg.sender, PAUSER_ROLE);
        }
        _pause();
    }

    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    function setOracle(IPriceOracle oracle_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        emit OracleChanged(address(oracle), address(oracle_));
        oracle = oracle_;
    }

    // --- views ---

    function seriesCount() external view returns (uint256) {
        return _series.length;
    }

    function series(uint256 id) external view returns (Series memory) {
        return _get(id);
    }

    /// @notice Quote units locked per option written: the most one option can pay.
    function collateralPerOption(uint256 id) public view returns (uint256) {
        Series storage s = _get(id);
        return s.isCall ? s.cap - s.strike : s.strike;
    }

    // --- market ---

    function openSeries(bool isCall, uint256 strike, uint256 cap, uint64 expiry, uint256 premium)
        external
        whenNotPaused
        returns (uint256 id)
    {
        if (strike == 0 || expiry <= block.timestamp || (isCall && cap <= strike)) revert BadSeries();
        id = _series.length;
        Series storage s = _series.push();
        s.isCall = isCall;
        s.expiry = expiry;
        s.strike = strike;
        s.cap = isCall ? cap : 0;
        s.premium = premium;
        emit SeriesOpened(id, msg.sender, isCall, strike, s.cap, expiry, premium);
    }

    function write(uint256 id, uint256 amount) external nonReentrant whenNotPaused returns (uint256 collateral) {
        Series storage s = _live(id);
        collateral = Math.mulDiv(amount, collateralPerOption(id), OPTION, Math.Rounding.Ceil);
        quote.safeTransferFrom(msg.sender, address(this), collateral);
        s.written += amount;
        s.collateral += collateral;
        writtenBy[id][msg.sender] += amount;
        emit Written(id, msg.sender, amount, collateral);
    }

    function buy(uint256 id, uint256 amount, uint256 maxCost) external nonReentrant whenNotPaused returns (uint256 cost) {
        Series storage s = _live(id);
        if (s.sold + amount > s.written) revert NotEnoughWritten(s.written - s.sold, amount);
        cost = Math.mulDiv(amount, s.premium, OPTION, Math.Rounding.Ceil);
        if (cost > maxCost) revert CostAboveLimit(cost, maxCost);
        quote.safeTransferFrom(msg.sender, address(this), cost);
        s.sold += amount;
        s.premiums += cost;
        heldBy[id][msg.sender] += amount;
        emit Bought(id, msg.sender, amount, cost);
    }

    /// @notice Fix the series' payoff at the oracle's price, once, at or after expiry.
    function settle(uint256 id) public whenNotPaused returns (uint256 payoff) {
        Series storage s = _get(id);
        if (block.timestamp < s.expiry) revert NotExpired(id);
        if (s.settled) return s.payoff;
        uint256 price = oracle.price();
        if (s.isCall) payoff = price <= s.strike ? 0 : Math.min(price, s.cap) - s.strike;
        else payoff = price >= s.strike ? 0 : s.strike - price;
        s.settled = true;
        s.settlementPrice = price;
        s.payoff = payoff;
        s.writerPool = s.collateral + s.premiums - s.sold * payoff / OPTION;
        s.unredeemed = s.written;
        emit Settled(id, price, payoff);
    }

    /// @notice Holders collect their payoff (the series settles first if nobody did).
    function exercise(uint256 id) external nonReentrant whenNotPaused returns (uint256 paid) {
        settle(id);
        uint256 held = heldBy[id][msg.sender];
        if (held == 0) revert NothingToClaim();
        heldBy[id][msg.sender] = 0;
        paid = held * _series[id].payoff / OPTION;
        if (paid > 0) quote.safeTransfer(msg.sender, paid);
        emit Exercised(id, msg.sender, held, paid);
    }

    /// @notice Writers take their share of the collateral left and of the premiums.
    function redeem(uint256 id) external nonReentrant whenNotPaused returns (uint256 paid) {
        settle(id);
        Series storage s = _series[id];
        uint256 amount = writtenBy[id][msg.sender];
        if (amount == 0) revert NothingToClaim();
        writtenBy[id][msg.sender] = 0;
        paid = s.writerPool * amount / s.unredeemed;
        s.writerPool -= paid;
        s.unredeemed -= amount;
        if (paid > 0) quote.safeTransfer(msg.sender, paid);
        emit Redeemed(id, msg.sender, amount, paid);
    }

    function _get(uint256 id) private view returns (Series storage) {
        if (id >= _series.length) revert UnknownSeries(id);
        return _series[id];
    }

    function _live(uint256 id) private view returns (Series storage s) {
        s = _get(id);
        if (block.timestamp >= s.expiry) revert Expired(id);
    }
}
