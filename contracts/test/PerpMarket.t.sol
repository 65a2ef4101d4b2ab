// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ScopedPausable} from "../src/guardian/ScopedPausable.sol";
import {CollateralVault} from "../src/protocol/CollateralVault.sol";
import {PerpMarket, IPriceSource} from "../src/protocol/PerpMarket.sol";
import {DemoToken} from "../src/tokens/DemoToken.sol";
import {TestBase} from "./Vm.sol";

contract SettablePrice is IPriceSource {
    uint256 public price = 3_000e18;

    function set(uint256 price_) external {
        price = price_;
    }
}

contract PerpMarketTest is TestBase {
    address constant GOVERNANCE = address(0x5AFE);
    address constant PAUSER = address(0x6A4D);
    address constant TRADER = address(0x7ADE);
    address constant LP = address(0x11);
    address constant KEEPER = address(0x4EE9);
    uint256 constant POOL = 1_000_000e18;

    DemoToken usd;
    CollateralVault vault;
    PerpMarket market;
    SettablePrice oracle;

    function setUp() public {
        vm.warp(1_700_000_000);
        usd = new DemoToken("Demo USD", "dUSD", 18, address(this));
        oracle = new SettablePrice();
        vault = new CollateralVault(IERC20(address(usd)), address(this), PAUSER);
        market = new PerpMarket("ETH-USD", vault, oracle, 10_000_000e18, address(this), PAUSER);
        vault.setMarket(address(market));
        _fund(LP, POOL);
        vm.prank(LP);
        vault.addLiquidity(POOL);
        _fund(TRADER, 100_000e18);
        vm.prank(TRADER);
        vault.deposit(100_000e18);
    }

    function _fund(address who, uint256 amount) private {
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(vault), type(uint256).max);
    }

    /// Tokens held always cover what the vault owes: free balances, locked margin, and the pool.
    function _checkSolvent() private view {
        uint256 owed = vault.totalFree() + vault.lockedMargin() + vault.poolAssets();
        require(usd.balanceOf(address(vault)) >= owed, "vault insolvent");
    }

    function testLeverageIsCapped() public {
        vm.expectRevert(abi.encodeWithSelector(PerpMarket.LeverageTooHigh.selector, 33_000e18, 30_000e18));
        vm.prank(TRADER);
        market.openPosition(11e18, 3_000e18);
    }

    function testCloseSettlesPnlAgainstThePool() public {
        vm.prank(TRADER);
        market.openPosition(10e18, 10_000e18);
        oracle.set(3_300e18);
        vm.prank(TRADER);
        uint256 payout = market.closePosition();
        uint256 fee = (30_000e18 + 33_000e18) * 10 / 10_000;
        assertEq(payout, 10_000e18 + 3_000e18 - fee, "payout");
        assertEq(vault.poolAssets(), POOL - 3_000e18 + fee, "pool");
        assertEq(vault.lockedMargin(), 0, "margin left locked");
        _checkSolvent();
    }

    function testLiquidationOnlyBelowMaintenance() public {
        vm.prank(TRADER);
        market.openPosition(10e18, 3_000e18); // 10x long
        oracle.set(2_850e18); // equity 1,500 > maintenance 1,425
        vm.expectRevert();
        vm.prank(KEEPER);
        market.liquidate(TRADER);
        oracle.set(2_800e18); // equity 1,000 < maintenance 1,400
        vm.prank(KEEPER);
        market.liquidate(TRADER);
        assertEq(vault.balanceOf(KEEPER), 280e18, "liquidation reward");
        assertEq(vault.poolAssets(), POOL + 3_000e18 - 280e18, "pool keeps the rest of the margin");
        _checkSolvent();
    }

    function testPausedScopesBlockTheirFunctions() public {
        vm.prank(TRADER);
        market.openPosition(1e18, 1_000e18);
        vm.prank(PAUSER);
        market.pause(market.marketId(), uint64(block.timestamp + 1 hours));
        vm.expectRevert(abi.encodeWithSelector(ScopedPausable.EnforcedPause.selector, market.marketId()));
        vm.prank(TRADER);
        market.closePosition();
        vm.prank(TRADER);
        vault.withdraw(1_000e18); // the vault is not paused
        vm.prank(PAUSER);
        vault.pause(bytes32(0), uint64(block.timestamp + 1 hours));
        vm.expectRevert(abi.encodeWithSelector(ScopedPausable.EnforcedPause.selector, bytes32(0)));
        vm.prank(TRADER);
        vault.withdraw(1_000e18);
    }

    function testLiquidationsWaitOutAGracePeriodAfterAPause() public {
        vm.prank(TRADER);
        market.openPosition(10e18, 3_000e18);
        vm.prank(PAUSER);
        vault.pause(bytes32(0), uint64(block.timestamp + 1 hours));
        vm.warp(block.timestamp + 2 hours); // the pause expired an hour ago
        oracle.set(2_800e18);
        market.pause(market.LIQUIDATIONS(), uint64(block.timestamp + 1 days));
        market.unpause(market.LIQUIDATIONS()); // governance reopens liquidations now
        uint256 resumesAt = block.timestamp + 1 hours;
        vm.expectRevert(abi.encodeWithSelector(PerpMarket.LiquidationGrace.selector, resumesAt));
        vm.prank(KEEPER);
        market.liquidate(TRADER);
        vm.warp(resumesAt);
        vm.prank(KEEPER);
        market.liquidate(TRADER);
        assertEq(market.positionOf(TRADER).margin, 0, "not liquidated after the grace period");
    }

    /// Whatever the size, direction and price move, settlement never creates or destroys tokens and the trader
    /// never receives more than margin plus the pool.
    function testFuzzSettlementConservesValue(uint64 sizeSeed, bool long, uint64 exitSeed) public {
        uint256 size = uint256(sizeSeed) % 30e18 + 1e15;
        uint256 exitPrice = uint256(exitSeed) % 10_000e18 + 1e18;
        vm.prank(TRADER);
        market.openPosition(long ? int256(size) : -int256(size), 10_000e18);
        oracle.set(exitPrice);
        uint256 before = vault.totalFree() + vault.lockedMargin() + vault.poolAssets();
        vm.prank(TRADER);
        uint256 payout = market.closePosition();
        uint256 afterwards = vault.totalFree() + vault.lockedMargin() + vault.poolAssets();
        assertEq(afterwards, before, "settlement changed the total owed");
        assertTrue(payout <= 10_000e18 + POOL, "payout above margin plus pool");
        _checkSolvent();
    }
}
