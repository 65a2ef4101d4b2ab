// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {BridgeEndpoint} from "../src/bridge/BridgeEndpoint.sol";
import {BridgeEscrow} from "../src/bridge/BridgeEscrow.sol";
import {BridgeMessage} from "../src/bridge/BridgeMessage.sol";
import {BridgeMinter} from "../src/bridge/BridgeMinter.sol";
import {BridgedToken} from "../src/bridge/BridgedToken.sol";
import {LegacyBridgeMinter} from "../src/bridge/LegacyBridgeMinter.sol";
import {DemoToken} from "../src/tokens/DemoToken.sol";
import {TestBase} from "./Vm.sol";

/// The cheatcodes these tests need beyond Vm.sol: switching chains and signing as the relayer.
interface BridgeVm {
    function chainId(uint256 newChainId) external;
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address);
}

/// Both chains in one EVM: the escrow "lives" on chain A and the minters on chain B; each test switches
/// block.chainid to the chain it acts on.
contract BridgeEndpointsTest is TestBase {
    BridgeVm constant chains = BridgeVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    uint256 constant CHAIN_A = 31337;
    uint256 constant CHAIN_B = 31338;
    uint256 constant RELAYER_KEY = 0xA11CE;
    uint256 constant ATTACKER_KEY = 0xBAD;
    address constant GUARDIAN = address(0x6A4D);
    address constant USER = address(0x1234);

    address relayer;
    DemoToken home;
    BridgedToken wrapped;
    BridgeEscrow escrow;
    BridgeMinter minter;
    LegacyBridgeMinter legacy;

    function setUp() public {
        relayer = chains.addr(RELAYER_KEY);
        home = new DemoToken("Alpha", "ALP", 18, address(this));
        escrow = new BridgeEscrow(IERC20(address(home)), address(this), relayer, GUARDIAN);
        wrapped = new BridgedToken("Bridged Alpha", "bALP", address(this));
        minter = new BridgeMinter(wrapped, address(this), relayer, GUARDIAN);
        legacy = new LegacyBridgeMinter(wrapped, address(this), relayer, GUARDIAN);
        wrapped.grantRole(wrapped.MINTER_ROLE(), address(minter));
        wrapped.grantRole(wrapped.MINTER_ROLE(), address(legacy));
        escrow.setRemote(CHAIN_B, address(minter));
        minter.setRemote(CHAIN_A, address(escrow));
        legacy.setRemote(CHAIN_A, address(escrow));
        home.mint(USER, 1_000e18);
        vm.prank(USER);
        home.approve(address(escrow), type(uint256).max);
    }

    function _lock(uint256 amount) internal returns (BridgeMessage.Message memory message) {
        chains.chainId(CHAIN_A);
        uint64 nonce = escrow.outboundNonce(CHAIN_B) + 1;
        vm.prank(USER);
        escrow.lock(CHAIN_B, USER, amount);
        message = BridgeMessage.Message(CHAIN_A, address(escrow), CHAIN_B, address(minter), nonce, USER, USER, amount);
    }

    function _sign(uint256 key, BridgeMessage.Message memory message) internal view returns (bytes memory) {
        bytes32 digest = MessageHashUtils.toEthSignedMessageHash(BridgeMessage.id(message));
        (uint8 v, bytes32 r, bytes32 s) = chains.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function testLockMintBurnReleaseRoundTrip() public {
        BridgeMessage.Message memory deposit = _lock(100e18);
        assertEq(escrow.totalLocked(), 100e18, "locked");
        assertEq(home.balanceOf(address(escrow)), 100e18, "escrow balance");

        chains.chainId(CHAIN_B);
        minter.mint(deposit, _sign(RELAYER_KEY, deposit));
        assertEq(wrapped.balanceOf(USER), 100e18, "minted");
        assertTrue(minter.delivered(BridgeMessage.id(deposit)), "delivered flag");
        assertTrue(minter.messageId(deposit) == BridgeMessage.id(deposit), "id view");

        vm.prank(USER);
        minter.burn(CHAIN_A, USER, 40e18);
        assertEq(wrapped.totalSupply(), 60e18, "burned");
        BridgeMessage.Message memory withdrawal =
            BridgeMessage.Message(CHAIN_B, address(minter), CHAIN_A, address(escrow), 1, USER, USER, 40e18);

        chains.chainId(CHAIN_A);
        escrow.release(withdrawal, _sign(RELAYER_KEY, withdrawal));
        assertEq(home.balanceOf(USER), 940e18, "released");
        assertEq(escrow.totalLocked(), 60e18, "escrow equals wrapped supply");
    }

    function testNoncesCountPerRoute() public {
        _lock(1e18);
        _lock(1e18);
        assertEq(escrow.outboundNonce(CHAIN_B), 2, "route nonce");
        assertEq(escrow.outboundNonce(1), 0, "other route untouched");
        vm.expectRevert(abi.encodeWithSelector(BridgeEndpoint.UnknownRoute.selector, uint256(1)));
        vm.prank(USER);
        escrow.lock(1, USER, 1e18);
    }

    function testReplayIsRejected() public {
        BridgeMessage.Message memory deposit = _lock(100e18);
        bytes memory signature = _sign(RELAYER_KEY, deposit);
        chains.chainId(CHAIN_B);
        minter.mint(deposit, signature);
        vm.expectRevert(abi.encodeWithSelector(BridgeEndpoint.AlreadyDelivered.selector, BridgeMessage.id(deposit)));
        minter.mint(deposit, signature);
        assertEq(wrapped.totalSupply(), 100e18, "minted once");
    }

    function testLegacyMinterAcceptsAMessageAddressedToTheCurrentMinter() public {
        BridgeMessage.Message memory deposit = _lock(100e18);
        bytes memory signature = _sign(RELAYER_KEY, deposit);
        chains.chainId(CHAIN_B);
        minter.mint(deposit, signature);
        legacy.mint(deposit, signature); // the known flaw: no destination-contract check, its own replay set
        assertEq(wrapped.totalSupply(), 200e18, "minted twice");
        BridgeMessage.Message memory toLegacy = deposit;
        toLegacy.destinationContract = address(legacy);
        toLegacy.nonce = 99;
        bytes memory legacySignature = _sign(RELAYER_KEY, toLegacy);
        vm.expectRevert(
            abi.encodeWithSelector(BridgeEndpoint.WrongDestination.selector, CHAIN_B, address(legacy))
        );
        minter.mint(toLegacy, legacySignature); // the current minter does check where a message is addressed
    }

    function testSignatureOfAnotherKeyIsRejected() public {
        BridgeMessage.Message memory deposit = _lock(100e18);
        bytes memory signature = _sign(ATTACKER_KEY, deposit);
        chains.chainId(CHAIN_B);
        vm.expectRevert(abi.encodeWithSelector(BridgeEndpoint.UnauthorisedSigner.selector, chains.addr(ATTACKER_KEY)));
        minter.mint(deposit, signature);
    }

    function testMessageFromAnUnknownOriginIsRejected() public {
        BridgeMessage.Message memory forged =
            BridgeMessage.Message(CHAIN_A, address(0xE5C0), CHAIN_B, address(minter), 1, USER, USER, 1e18);
        bytes memory signature = _sign(RELAYER_KEY, forged);
        chains.chainId(CHAIN_B);
        vm.expectRevert(abi.encodeWithSelector(BridgeEndpoint.UnknownOrigin.selector, CHAIN_A, address(0xE5C0)));
        minter.mint(forged, signature);
    }

    function testEscrowNeverReleasesMoreThanLocked() public {
        _lock(10e18);
        BridgeMessage.Message memory tooMuch =
            BridgeMessage.Message(CHAIN_B, address(minter), CHAIN_A, address(escrow), 7, USER, USER, 11e18);
        home.mint(address(escrow), 1e18); // a donation is not locked value
        bytes memory signature = _sign(RELAYER_KEY, tooMuch);
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", uint256(0x11))); // totalLocked underflows
        escrow.release(tooMuch, signature);
    }

    function testGuardianPausesButOnlyTheAdminUnpauses() public {
        vm.prank(GUARDIAN);
        escrow.pause();
        vm.expectRevert(Pausable.EnforcedPause.selector);
        vm.prank(USER);
        escrow.lock(CHAIN_B, USER, 1e18);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, GUARDIAN, escrow.DEFAULT_ADMIN_ROLE()
            )
        );
        vm.prank(GUARDIAN);
        escrow.unpause();
        escrow.unpause();
        assertTrue(!escrow.paused(), "admin unpaused");
        vm.expectRevert(abi.encodeWithSelector(BridgeEndpoint.NotGuardian.selector, USER));
        vm.prank(USER);
        escrow.pause();
    }

    function testPausedMinterRefusesDeliveries() public {
        BridgeMessage.Message memory deposit = _lock(5e18);
        vm.prank(GUARDIAN);
        minter.pause();
        chains.chainId(CHAIN_B);
        bytes memory signature = _sign(RELAYER_KEY, deposit);
        vm.expectRevert(Pausable.EnforcedPause.selector);
        minter.mint(deposit, signature);
        minter.unpause();
        minter.mint(deposit, signature);
        assertEq(wrapped.balanceOf(USER), 5e18, "delivered after the pause");
    }

    function testOnlyMintersMintTheWrappedToken() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector, USER, wrapped.MINTER_ROLE()
            )
        );
        vm.prank(USER);
        wrapped.mint(USER, 1);
    }
}
