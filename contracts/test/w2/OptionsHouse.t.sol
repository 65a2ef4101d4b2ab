// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {OptionsHouse} from "../../src/w2/options/OptionsHouse.sol";
import {PairTwapOracle} from "../../src/w2/oracles/PairTwapOracle.sol";
import {IV2Pair} from "../../src/w2/interfaces/IV2Pair.sol";
import {IPriceOracle} from "../../src/w2/interfaces/IPriceOracle.sol";
import {IssuedToken} from "../../src/w2/tokens/IssuedToken.sol";
import {HarborTest, MiniPair} from "./HarborTest.sol";

contract OptionsHouseTest is HarborTest {
    address constant PAUSER = address(0x6A4D);
    address constant WRITER = address(0x3717);
    address constant BUYER = address(0xB0B);
    uint256 constant WINDOW = 600;
    uint256 constant T0 = 1_700_000_000;

    IssuedToken usd;
    IssuedToken hbr;
    MiniPair pair;
    PairTwapOracle twap;
    OptionsHouse house;

    function setUp() public {
        vm.warp(T0);
        usd = new IssuedToken("Harbor USD", "hUSD", 6, address(this));
        hbr = new IssuedToken("Harbor", "HBR", 18, address(this));
        pair = seededPair(hbr, usd, 500_000e18, 1_000_000e6); // 2 hUSD per HBR
        twap = new PairTwapOracle(IV2Pair(address(pair)), address(hbr), WINDOW, 60);
        house = new OptionsHouse(IERC20(address(usd)), IPriceOracle(address(twap)), address(this), PAUSER);
        _fund(WRITER, 1_000_000e6);
        _fund(BUYER, 1_000_000e6);
    }

    function _fund(address who, uint256 amount) private {
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(address(house), type(uint256).max);
    }

    /// @dev A call struck at 2.2 and capped at 4 (1.8 collateral per option), 0.05 premium, 1,000 written, 400 sold.
    function _callSeries(uint64 expiry) private returns (uint256 id) {
        vm.startPrank(WRITER);
        id = house.openSeries(true, 2.2e6, 4e6, expiry, 0.05e6);
        house.write(id, 1_000e18);
        vm.stopPrank();
        vm.prank(BUYER);
        house.buy(id, 400e18, 20e6);
    }

    function testTwapNeedsAWindowOfHistoryAndAveragesOverIt() public {
        vm.expectRevert(abi.encodeWithSelector(PairTwapOracle.HistoryTooShort.selector, WINDOW));
        twap.price();
        vm.warp(T0 + WINDOW);
        assertTrue(twap.update(), "observation recorded");
        assertTrue(!twap.update(), "at most one per minGap");
        assertApprox(twap.price(), 2e6, 1, "steady price");

        buyFrom(pair, usd, 414_214e6, address(0xDEAD)); // spot doubles to about 4
        vm.warp(T0 + WINDOW + 60);
        uint256 brief = twap.price();
        assertTrue(brief > 2.1e6 && brief < 2.3e6, "one minute moves the average a little");

        vm.warp(T0 + 2 * WINDOW); // held for a whole window
        assertApprox(twap.price(), 4e6, 0.01e6, "the held price is the average");
    }

    function testHonestCallExpiresWorthlessAndWritersKeepCollateralAndPremium() public {
        uint256 id = _callSeries(uint64(T0 + 1 days));
        assertEq(house.collateralPerOption(id), 1.8e6, "cap minus strike");
        assertEq(usd.balanceOf(address(house)), 1_820e6, "collateral and premium");
        vm.expectRevert(abi.encodeWithSelector(OptionsHouse.NotEnoughWritten.selector, 600e18, 700e18));
        vm.prank(BUYER);
        house.buy(id, 700e18, 100e6);

        vm.warp(T0 + 1 days);
        vm.expectRevert(abi.encodeWithSelector(OptionsHouse.Expired.selector, id));
        vm.prank(BUYER);
        house.buy(id, 1e18, 1e6);
        vm.prank(BUYER);
        assertEq(house.exercise(id), 0, "out of the money");
        vm.prank(WRITER);
        assertEq(house.redeem(id), 1_820e6, "the writer keeps everything");
        OptionsHouse.Series memory s = house.series(id);
        assertApprox(s.settlementPrice, 2e6, 1, "settled on the average");
    }

    function testPutPaysStrikeMinusSettlement() public {
        vm.startPrank(WRITER);
        uint256 id = house.openSeries(false, 2.5e6, 0, uint64(T0 + 1 days), 0.6e6);
        house.write(id, 100e18);
        vm.stopPrank();
        vm.prank(BUYER);
        house.buy(id, 100e18, 60e6);
        vm.warp(T0 + 1 days);
        vm.prank(BUYER);
        uint256 paid = house.exercise(id);
        assertApprox(paid, 50e6, 1e3, "0.5 per put");
        vm.prank(WRITER);
        assertApprox(house.redeem(id), 250e6 + 60e6 - 50e6, 1e3, "collateral plus premium minus payoff");
    }

    function testSettlementPriceHeldUpForAWindowPaysTheCalls() public {
        uint64 expiry = uint64(T0 + 1 days);
        uint256 id = _callSeries(expiry);
        vm.warp(expiry - WINDOW);
        twap.update();
        buyFrom(pair, usd, 414_214e6, address(0xDEAD)); // pushed to about 4 and held until expiry
        vm.warp(expiry);
        vm.prank(BUYER);
        uint256 paid = house.exercise(id);
        assertApprox(paid, 720e6, 5e6, "400 calls at the cap's 1.8");
        vm.prank(WRITER);
        assertApprox(house.redeem(id), 1_820e6 - 720e6, 5e6, "the writer pays");
    }

    function testPauseStopsSettlementAndExercise() public {
        uint256 id = _callSeries(uint64(T0 + 1 days));
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, BUYER, house.PAUSER_ROLE()));
        vm.prank(BUYER);
        house.pause();
        vm.prank(PAUSER);
        house.pause();
        vm.warp(T0 + 1 days);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        house.settle(id);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(BUYER);
        house.exercise(id);
        house.unpause();
        vm.prank(BUYER);
        house.exercise(id);
    }

    function testOnlyTheAdminChangesTheOracle() public {
        vm.expectRevert();
        vm.prank(BUYER);
        house.setOracle(IPriceOracle(address(0xBAD)));
        house.setOracle(IPriceOracle(address(0xBAD)));
        assertTrue(address(house.oracle()) == address(0xBAD), "admin changed it");
    }
}
