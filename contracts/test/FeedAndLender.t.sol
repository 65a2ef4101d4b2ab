// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IFlashLoanSimpleReceiver} from "../src/interfaces/IFlashLoanSimpleReceiver.sol";
import {FlashLender} from "../src/lending/FlashLender.sol";
import {PriceFeed} from "../src/oracle/PriceFeed.sol";
import {DemoToken} from "../src/tokens/DemoToken.sol";
import {TestBase} from "./Vm.sol";

contract Borrower is IFlashLoanSimpleReceiver {
    bool public repay;

    function setRepay(bool repay_) external {
        repay = repay_;
    }

    function executeOperation(address asset, uint256 amount, uint256 premium, address, bytes calldata)
        external
        returns (bool)
    {
        if (repay) IERC20(asset).approve(msg.sender, amount + premium);
        return true;
    }
}

contract FeedAndLenderTest is TestBase {
    address constant KEEPER = address(0x4EE9);
    PriceFeed feed;
    FlashLender lender;
    DemoToken usd;
    Borrower borrower;

    function setUp() public {
        vm.warp(1_700_000_000);
        feed = new PriceFeed(8, "ETH / USD", 3_000e8, KEEPER, address(this));
        usd = new DemoToken("Demo USD", "dUSD", 18, address(this));
        lender = new FlashLender(address(this));
        borrower = new Borrower();
        usd.mint(address(lender), 1_000_000e18);
        usd.mint(address(borrower), 1_000e18);
    }

    function testFeedRoundsAdvanceAndKeepHistory() public {
        vm.warp(block.timestamp + 60);
        vm.prank(KEEPER);
        feed.updateAnswer(3_100e8);
        (uint80 round, int256 answer,, uint256 updatedAt, uint80 answeredIn) = feed.latestRoundData();
        assertEq(round, 2, "round");
        assertTrue(answer == 3_100e8 && answeredIn == round, "answer");
        assertEq(updatedAt, block.timestamp, "updatedAt");
        (, int256 first,,,) = feed.getRoundData(1);
        assertTrue(first == 3_000e8, "history");
        vm.expectRevert(abi.encodeWithSelector(PriceFeed.NotUpdater.selector, address(0xBAD)));
        vm.prank(address(0xBAD));
        feed.updateAnswer(1);
    }

    function testFlashLoanChargesThePremium() public {
        borrower.setRepay(true);
        lender.flashLoanSimple(address(borrower), address(usd), 100_000e18, "", 0);
        assertEq(usd.balanceOf(address(lender)), 1_000_000e18 + 50e18, "premium of 5 bps kept by the pool");
    }

    function testUnpaidFlashLoanReverts() public {
        borrower.setRepay(false);
        vm.expectRevert();
        lender.flashLoanSimple(address(borrower), address(usd), 100_000e18, "", 0);
        assertEq(usd.balanceOf(address(lender)), 1_000_000e18, "pool changed");
    }

    function testCannotBorrowMoreThanThePool() public {
        vm.expectRevert(
            abi.encodeWithSelector(FlashLender.InsufficientLiquidity.selector, address(usd), 1_000_000e18, 1_000_001e18)
        );
        lender.flashLoanSimple(address(borrower), address(usd), 1_000_001e18, "", 0);
    }
}
