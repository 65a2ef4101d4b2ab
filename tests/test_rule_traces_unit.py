"""Which mined transactions the built-in rules say they will trace, on the test kit (no node): the engine asks them
before any rule runs and fetches those traces together; a swap through a router is not traced, a flash swap (the
pair paid out before it was paid) is, and so is a transaction in which the protocol acted."""

from __future__ import annotations

from fixtures.detect.paper import ETH, LENDING, POOL, USD, USER, E, manifest, priced, transfer

from watchdog.detect.testing import RuleKit, address, frame, log, tx
from watchdog.rules.flash_loan import FlashLoan
from watchdog.rules.price_manipulation import PriceManipulation

ROUTER, BORROWER = address(0xF10), address(0xF11)
SWAP = ("Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, "
        "address indexed to)")


def asking(rule) -> tuple[RuleKit, list[str]]:
    """A kit whose chain records the traces the engine asks for ahead of the rules."""
    kit = RuleKit(rule, manifest())
    priced(kit.chain)
    asked: list[str] = []
    kit.chain.has_trace = lambda _hash: False  # type: ignore[attr-defined]
    kit.chain.prefetch_traces = lambda hashes, positions, size: asked.extend(hashes)  # type: ignore[attr-defined]
    return kit, asked


def test_a_router_swap_is_not_traced_and_a_flash_swap_is() -> None:
    kit, asked = asking(FlashLoan)
    swap = tx(USER, ROUTER)
    kit.run(swap, logs=[transfer(USD, USER, POOL, 4_000 * E), transfer(ETH, POOL, USER, 2 * E),
                        log(POOL, SWAP, ROUTER, 4_000 * E, 0, 0, 2 * E, USER)])
    assert asked == []
    flash = tx(USER, BORROWER)
    logs = [transfer(ETH, POOL, BORROWER, 2 * E), transfer(USD, BORROWER, POOL, 4_020 * E),
            log(POOL, SWAP, BORROWER, 4_020 * E, 0, 0, 2 * E, BORROWER)]
    callback = frame(POOL, BORROWER, "uniswapV2Call(address,uint256,uint256,bytes)", BORROWER, 0, 2 * E, b"x")
    found = kit.run(flash, logs=logs, trace=frame(USER, BORROWER, calls=[frame(BORROWER, POOL, calls=[callback])]))
    assert asked == [flash.hash]
    assert [f.evidence["loans"][0]["kind"] for f in found] == ["flash-swap:uniswapV2Call"]


def test_a_transaction_in_which_the_protocol_acted_is_traced_for_the_price_it_consumed() -> None:
    kit, asked = asking(PriceManipulation)
    deposit, transfer_only = tx(USER, LENDING), tx(USER, address(0xF12))
    kit.run(deposit, logs=[transfer(USD, USER, LENDING, 100 * E)])
    kit.run(transfer_only, logs=[transfer(USD, USER, address(0xF12), 100 * E)])
    assert asked == [deposit.hash]
