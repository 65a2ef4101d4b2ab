// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IV2Pair} from "../interfaces/IV2Pair.sol";
import {IShareVault} from "../interfaces/IShareVault.sol";

/// @title CreditPool
/// @notice Over-collateralised loans of one cash token (a dollar stablecoin). Suppliers lend the cash and earn
///         the borrowers' interest; borrowers post listed collateral, valued either at the reserves of an AMM pair
///         against the cash token, or, for vault shares, at the vault's own share price. Accounts below their
///         liquidation limit can be liquidated, half of the debt at a time, with a bonus on the collateral.
contract CreditPool is Ownable, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum Pricing {
        Unlisted,
        PairSpot,
        VaultShare
    }

    struct CollateralConfig {
        Pricing pricing;
        address source; // the pair (PairSpot) or the vault (VaultShare)
        uint16 borrowBps; // share of the value that may be borrowed
        uint16 liquidationBps; // share of the value above which debt can be liquidated
    }

    uint256 private constant BPS = 10_000;
    uint256 private constant WAD = 1e18;
    uint256 public constant CLOSE_FACTOR_BPS = 5_000;
    uint256 public constant LIQUIDATION_BONUS_BPS = 800;

    IERC20 public immutable cashToken;
    address public guardian;
    uint256 public ratePerSecond; // WAD-scaled borrow rate per second
    uint256 public borrowIndex = WAD;
    uint256 public lastAccrual;
    uint256 public cash; // cash held for suppliers (tokens sent to the pool directly are not counted)
    uint256 public totalScaledDebt;
    uint256 public totalSupplyShares;

    mapping(address => uint256) public supplySharesOf;
    mapping(address => uint256) public scaledDebtOf;
    mapping(address => CollateralConfig) public collateralConfig;
    mapping(address => mapping(address => uint256)) public collateralOf; // account => asset => amount
    address[] public collateralAssets;

    event Supplied(address indexed account, uint256 amount, uint256 shares);
    event Withdrawn(address indexed account, uint256 amount, uint256 shares);
    event CollateralDeposited(address indexed account, address indexed asset, uint256 amount);
    event CollateralWithdrawn(address indexed account, address indexed asset, uint256 amount);
    event Borrowed(address indexed account, uint256 amount);
    event Repaid(address indexed payer, address indexed account, uint256 amount);
    event Liquidated(
        address indexed liquidator, address indexed account, address indexed asset, uint256 repaid, uint256 seized
    );
    event CollateralConfigured(
        address indexed asset, Pricing pricing, address source, uint16 borrowBps, uint16 liquidationBps
    );
    event GuardianChanged(address indexed previous, address indexed current);
    event RateChanged(uint256 ratePerSecond);

    error NotGuardian(address caller);
    error BadConfig();
    error NotListed(address asset);
    error ZeroAmount();
    error InsufficientCash(uint256 available, uint256 requested);
    error InsufficientSupply(uint256 shares, uint256 needed);
    error Undercollateralized(uint256 debt, uint256 limit);
    error Healthy(address account);
    error NothingToSeize(address account, address asset);

    constructor(IERC20 cashToken_, uint256 ratePerSecond_, address owner_, address guardian_) Ownable(owner_) {
        cashToken = cashToken_;
        ratePerSecond = ratePerSecond_;
        guardian = guardian_;
        lastAccrual = block.timestamp;
    }

    modifier onlyGuardianOrOwner() {
        if (msg.sender != guardian && msg.sender != owner()) revert NotGuardian(msg.sender);
        _;
    }

    // --- administration ---

    function pause() external onlyGuardianOrOwner {
        _pause();
    }

    function unpause() external onlyOwner {
        _unpause();
    }

    function setGuardian(address guardian_) external onlyOwner {
        emit GuardianChanged(guardian, guardian_);
        guardian = guardian_;
    }

    function setRate(uint256 ratePerSecond_) external onlyOwner {
        accrue();
        ratePerSecond = ratePerSecond_;
        emit RateChanged(ratePerSecond_);
    }

    /// @notice List a collateral asset, or change how it is priced and how much it lends.
    function configureCollateral(
        address asset,
        Pricing pricing,
        address source,
        uint16 borrowBps,
        uint16 liquidationBps
    ) external onlyOwner {
        if (pricing == Pricing.Unlisted || borrowBps > liquidationBps || liquidationBps >= BPS) revert BadConfig();
        if (collateralConfig[asset].pricing == Pricing.Unlisted) collateralAssets.push(asset);
        collateralConfig[asset] = CollateralConfig(pricing, source, borrowBps, liquidationBps);
        emit CollateralConfigured(asset, pricing, source, borrowBps, liquidationBps);
    }

    // --- interest ---

    function accrue() public {
        if (block.timestamp == lastAccrual) return;
        borrowIndex = currentIndex();
        lastAccrual = block.timestamp;
    }

    function currentIndex() public view returns (uint256) {
        return borrowIndex + borrowIndex * ratePerSecond * (block.timestamp - lastAccrual) / WAD;
    }

    function totalDebt() public view returns (uint256) {
        return Math.mulDiv(totalScaledDebt, currentIndex(), WAD, Math.Rounding.Ceil);
    }

    function debtOf(address account) public view returns (uint256) {
        return Math.mulDiv(scaledDebtOf[account], currentIndex(), WAD, Math.Rounding.Ceil);
    }

    /// @notice Everything suppliers own: cash plus what borrowers owe.
    function totalSupplied() public view returns (uint256) {
        return cash + totalDebt();
    }

    function supplyBalanceOf(address account) external view returns (uint256) {
        return totalSupplyShares == 0 ? 0 : supplySharesOf[account] * totalSupplied() / totalSupplyShares;
    }

    // --- suppliers ---

    function supply(uint256 amount) external nonReentrant whenNotPaused returns (uint256 shares) {
        accrue();
        uint256 assets = totalSupplied();
        shares = totalSupplyShares == 0 || assets == 0 ? amount : amount * totalSupplyShares / assets;
        if (shares == 0) revert ZeroAmount();
        cashToken.safeTransferFrom(msg.sender, address(this), amount);
        cash += amount;
        totalSupplyShares += shares;
        supplySharesOf[msg.sender] += shares;
        emit Supplied(msg.sender, amount, shares);
    }

    function withdraw(uint256 amount) external nonReentrant whenNotPaused returns (uint256 shares) {
        accrue();
        if (amount == 0) revert ZeroAmount();
        shares = Math.mulDiv(amount, totalSupplyShares, totalSupplied(), Math.Rounding.Ceil);
        if (shares > supplySharesOf[msg.sender]) revert InsufficientSupply(supplySharesOf[msg.sender], shares);
        if (amount > cash) revert InsufficientCash(cash, amount);
        supplySharesOf[msg.sender] -= shares;
        totalSupplyShares -= shares;
        cash -= amount;
        cashToken.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount, shares);
    }

    // --- borrowers ---

    function depositCollateral(address asset, uint256 amount) external nonReentrant whenNotPaused {
        if (collateralConfig[asset].pricing == Pricing.Unlisted) revert NotListed(asset);
        if (amount == 0) revert ZeroAmount();
        IERC20(asset).safeTransferFrom(msg.sender, address(this), amount);
        collateralOf[msg.sender][asset] += amount;
        emit CollateralDeposited(msg.sender, asset, amount);
    }

    function withdrawCollateral(address asset, uint256 amount) external nonReentrant whenNotPaused {
        accrue();
        collateralOf[msg.sender][asset] -= amount;
        _requireWithinLimit(msg.sender);
        IERC20(asset).safeTransfer(msg.sender, amount);
        emit CollateralWithdrawn(msg.sender, asset, amount);
    }

    function borrow(uint256 amount) external nonReentrant whenNotPaused {
        accrue();
        if (amount == 0) revert ZeroAmount();
        if (amount > cash) revert InsufficientCash(cash, amount);
        uint256 scaled = Math.mulDiv(amount, WAD, borrowIndex, Math.Rounding.Ceil);
        scaledDebtOf[msg.sender] += scaled;
        totalScaledDebt += scaled;
        cash -= amount;
        _requireWithinLimit(msg.sender);
        cashToken.safeTransfer(msg.sender, amount);
        emit Borrowed(msg.sender, amount);
    }

    /// @notice Repay `amount` (at most the whole debt) of `account`'s debt; allowed while paused.
    function repay(address account, uint256 amount) external nonReentrant returns (uint256 repaid) {
        accrue();
        repaid = _reduceDebt(account, amount);
        cashToken.safeTransferFrom(msg.sender, address(this), repaid);
        cash += repaid;
        emit Repaid(msg.sender, account, repaid);
    }

    /// @notice Repay part of an unhealthy account's debt and take its collateral with a bonus.
    function liquidate(address account, address asset, uint256 repayAmount)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 seized)
    {
        accrue();
        (, uint256 liquidationLimit, uint256 debt) = accountLiquidity(account);
        if (debt <= liquidationLimit) revert Healthy(account);
        repayAmount = Math.min(repayAmount, debt * CLOSE_FACTOR_BPS / BPS);
        uint256 held = collateralOf[account][asset];
        uint256 heldValue = valueOf(asset, held);
        if (held == 0 || heldValue == 0) revert NothingToSeize(account, asset);
        uint256 withBonus = repayAmount * (BPS + LIQUIDATION_BONUS_BPS) / BPS;
        if (withBonus >= heldValue) {
            seized = held; // the collateral covers less than the bonus: take it all, repay what it is worth
            repayAmount = heldValue * BPS / (BPS + LIQUIDATION_BONUS_BPS);
        } else {
            seized = Math.mulDiv(withBonus, held, heldValue);
        }
        repayAmount = _reduceDebt(account, repayAmount);
        cashToken.safeTransferFrom(msg.sender, address(this), repayAmount);
        cash += repayAmount;
        collateralOf[account][asset] = held - seized;
        IERC20(asset).safeTransfer(msg.sender, seized);
        emit Liquidated(msg.sender, account, asset, repayAmount, seized);
    }

    // --- valuation ---

    /// @notice Value of `amount` of a collateral asset in the cash token.
    function valueOf(address asset, uint256 amount) public view returns (uint256) {
        CollateralConfig memory config = collateralConfig[asset];
        if (config.pricing == Pricing.PairSpot) {
            IV2Pair pair = IV2Pair(config.source);
            (uint112 r0, uint112 r1,) = pair.getReserves();
            (uint256 assetReserve, uint256 cashReserve) = pair.token0() == asset ? (r0, r1) : (r1, r0);
            return assetReserve == 0 ? 0 : Math.mulDiv(amount, cashReserve, assetReserve);
        }
        if (config.pricing == Pricing.VaultShare) return IShareVault(config.source).convertToAssets(amount);
        return 0;
    }

    /// @notice What the account may borrow in total, the debt above which it can be liquidated, and its debt.
    function accountLiquidity(address account)
        public
        view
        returns (uint256 borrowLimit, uint256 liquidationLimit, uint256 debt)
    {
        for (uint256 i; i < collateralAssets.length; ++i) {
            address asset = collateralAssets[i];
            uint256 amount = collateralOf[account][asset];
            if (amount == 0) continue;
            uint256 value = valueOf(asset, amount);
            CollateralConfig memory config = collateralConfig[asset];
            borrowLimit += value * config.borrowBps / BPS;
            liquidationLimit += value * config.liquidationBps / BPS;
        }
        debt = debtOf(account);
    }

    /// @notice What the account can borrow right now (limited by its collateral and by the pool's cash), less the
    ///         two units that rounding the new debt up through the borrow index may add.
    function borrowable(address account) external view returns (uint256) {
        (uint256 limit,, uint256 debt) = accountLiquidity(account);
        return limit <= debt + 2 ? 0 : Math.min(limit - debt - 2, cash);
    }

    function collateralCount() external view returns (uint256) {
        return collateralAssets.length;
    }

    function _requireWithinLimit(address account) private view {
        (uint256 limit,, uint256 debt) = accountLiquidity(account);
        if (debt > limit) revert Undercollateralized(debt, limit);
    }

    function _reduceDebt(address account, uint256 amount) private returns (uint256) {
        uint256 debt = debtOf(account);
        if (amount == 0 || debt == 0) revert ZeroAmount();
        uint256 scaled;
        if (amount >= debt) {
            amount = debt;
            scaled = scaledDebtOf[account];
        } else {
            scaled = amount * WAD / borrowIndex;
        }
        scaledDebtOf[account] -= scaled;
        totalScaledDebt -= scaled;
        return amount;
    }
}
