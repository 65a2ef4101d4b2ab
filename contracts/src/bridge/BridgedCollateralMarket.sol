// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ScopedPausable} from "../guardian/ScopedPausable.sol";
import {IAggregatorV3} from "../interfaces/IAggregatorV3.sol";

/// @title BridgedCollateralMarket
/// @notice A small collateralised lending market on the remote chain: accounts post the bridged token as
///         collateral, priced by the relayed feed, and borrow the market's dollar asset against it up to a
///         loan-to-value limit; above the liquidation threshold anyone may repay the debt and seize collateral at a
///         bonus. Pauses (through the Guardian): the whole market (everything stands still, repayments and
///         liquidations included, so no borrower is liquidated for being unable to repay), or the BORROWS or
///         LIQUIDATIONS function group (repaying stays open). It trusts one price, the relayed feed's: a false relayed
///         price is exactly what it cannot see.
contract BridgedCollateralMarket is ScopedPausable {
    using SafeERC20 for IERC20;

    bytes32 public constant BORROWS = keccak256("BORROWS");
    bytes32 public constant LIQUIDATIONS = keccak256("LIQUIDATIONS");
    uint256 private constant BPS = 10_000;

    IERC20 public immutable collateral;
    IERC20 public immutable debtAsset;
    IAggregatorV3 public immutable priceFeed;
    uint256 public immutable loanToValueBps;
    uint256 public immutable liquidationThresholdBps;
    uint256 public immutable liquidationBonusBps;
    uint256 public immutable maxPriceAge;

    mapping(address account => uint256) public collateralOf;
    mapping(address account => uint256) public debtOf;
    uint256 public totalCollateral;
    uint256 public totalDebt;

    event CollateralDeposited(address indexed account, uint256 amount);
    event CollateralWithdrawn(address indexed account, uint256 amount);
    event Borrowed(address indexed account, uint256 amount, uint256 price);
    event Repaid(address indexed account, address indexed payer, uint256 amount);
    event Liquidated(
        address indexed account, address indexed liquidator, uint256 debtRepaid, uint256 collateralSeized, uint256 price
    );

    error ZeroAmount();
    error BadPrice(int256 answer, uint256 updatedAt);
    error Undercollateralised(uint256 debt, uint256 limit);
    error Healthy(uint256 debt, uint256 limit);
    error InsufficientCollateral(uint256 available, uint256 wanted);

    struct Params {
        uint256 loanToValueBps;
        uint256 liquidationThresholdBps;
        uint256 liquidationBonusBps;
        uint256 maxPriceAge;
    }

    constructor(
        IERC20 collateral_,
        IERC20 debtAsset_,
        IAggregatorV3 priceFeed_,
        Params memory params,
        address owner_,
        address pauser_
    ) ScopedPausable(owner_, pauser_) {
        collateral = collateral_;
        debtAsset = debtAsset_;
        priceFeed = priceFeed_;
        loanToValueBps = params.loanToValueBps;
        liquidationThresholdBps = params.liquidationThresholdBps;
        liquidationBonusBps = params.liquidationBonusBps;
        maxPriceAge = params.maxPriceAge;
    }

    function depositCollateral(uint256 amount) external {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        if (amount == 0) revert ZeroAmount();
        collateralOf[msg.sender] += amount;
        totalCollateral += amount;
        collateral.safeTransferFrom(msg.sender, address(this), amount);
        emit CollateralDeposited(msg.sender, amount);
    }

    function withdrawCollateral(uint256 amount) external {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        uint256 held = collateralOf[msg.sender];
        if (amount == 0) revert ZeroAmount();
        if (amount > held) revert InsufficientCollateral(held, amount);
        collateralOf[msg.sender] = held - amount;
        totalCollateral -= amount;
        if (debtOf[msg.sender] > 0) _requireWithin(msg.sender, loanToValueBps, price());
        collateral.safeTransfer(msg.sender, amount);
        emit CollateralWithdrawn(msg.sender, amount);
    }

    function borrow(uint256 amount) external {
        _requireActive(BORROWS, PROTOCOL_SCOPE);
        if (amount == 0) revert ZeroAmount();
        uint256 currentPrice = price();
        debtOf[msg.sender] += amount;
        totalDebt += amount;
        _requireWithin(msg.sender, loanToValueBps, currentPrice);
        debtAsset.safeTransfer(msg.sender, amount);
        emit Borrowed(msg.sender, amount, currentPrice);
    }

    function repay(address account, uint256 amount) external {
        _requireActive(PROTOCOL_SCOPE, PROTOCOL_SCOPE);
        amount = Math.min(amount, debtOf[account]);
        if (amount == 0) revert ZeroAmount();
        debtOf[account] -= amount;
        totalDebt -= amount;
        debtAsset.safeTransferFrom(msg.sender, address(this), amount);
        emit Repaid(account, msg.sender, amount);
    }

    /// Repay all of `account`'s debt and take its value plus the bonus in collateral (at most all of it).
    function liquidate(address account) external {
        _requireActive(LIQUIDATIONS, PROTOCOL_SCOPE);
        uint256 currentPrice = price();
        uint256 debt = debtOf[account];
        uint256 limit = borrowLimit(account, liquidationThresholdBps, currentPrice);
        if (debt == 0 || debt <= limit) revert Healthy(debt, limit);
        uint256 seized = Math.min(
            collateralOf[account],
            Math.mulDiv(debt * (BPS + liquidationBonusBps) / BPS, 10 ** priceFeed.decimals(), currentPrice)
        );
        debtOf[account] = 0;
        totalDebt -= debt;
        collateralOf[account] -= seized;
        totalCollateral -= seized;
        debtAsset.safeTransferFrom(msg.sender, address(this), debt);
        collateral.safeTransfer(msg.sender, seized);
        emit Liquidated(account, msg.sender, debt, seized, currentPrice);
    }

    /// The collateral's price from the relayed feed; reverts when it is not positive, not complete, or too old.
    function price() public view returns (uint256) {
        (uint80 roundId, int256 answer,, uint256 updatedAt, uint80 answeredInRound) = priceFeed.latestRoundData();
        // A source clock slightly ahead of this chain's is not staleness.
        uint256 age = block.timestamp > updatedAt ? block.timestamp - updatedAt : 0;
        if (answer <= 0 || answeredInRound < roundId || age > maxPriceAge) revert BadPrice(answer, updatedAt);
        return uint256(answer);
    }

    /// Debt `account` may carry at `ratioBps` of its collateral's value.
    function borrowLimit(address account, uint256 ratioBps, uint256 currentPrice) public view returns (uint256) {
        uint256 value = Math.mulDiv(collateralOf[account], currentPrice, 10 ** priceFeed.decimals());
        return value * ratioBps / BPS;
    }

    /// True when `account` can be liquidated at the current price.
    function isLiquidatable(address account) external view returns (bool) {
        return debtOf[account] > borrowLimit(account, liquidationThresholdBps, price());
    }

    function _requireWithin(address account, uint256 ratioBps, uint256 currentPrice) private view {
        uint256 limit = borrowLimit(account, ratioBps, currentPrice);
        if (debtOf[account] > limit) revert Undercollateralised(debtOf[account], limit);
    }
}
